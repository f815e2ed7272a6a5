/* vmath_body.h - the vmath algorithms written once over a small vector vocabulary; included by vmath.c
 * (scalar lanes, the portable path) and by vmath_avx2.c / vmath_avx512.c, each of which first defines:
 *   V, VM            vector and comparison-mask types; VN lanes
 *   VM_TABLE         name of the exported oxrt_vmath_table
 *   V_LD(p) V_ST(p, v) V_LDN(p, k) V_STN(p, v, k)   loads/stores; the N forms touch only k < VN lanes
 *   V_SET(c) V_ADD V_SUB V_MUL V_DIV V_FMA(a, b, c) = a*b + c, V_FNMA(a, b, c) = c - a*b
 *   V_MIN(a, b) V_MAX(a, b)  x86 semantics: b when either is NaN (so the possibly-NaN operand goes second)
 *   V_ABS(a) V_SIGN(a) (sign bit only) V_OR(a, b)   V_LT(a, b) V_SEL(m, a, b) (m ? a : b)
 *   V_ROUND(a) (to nearest)   V_LDEXP(p, n) p * 2^n for integral n in [-140, 140]   V_HSUM(a)
 *   V_MUL_ERR(a, b, p)  the rounding error a*b - p of p = fl(a*b), exactly
 *   VD_MEAN_VAR(x, n, mean, var)  mean and variance in double (ISA specific reduction)
 *
 * Accuracy (measured by tests/unit/test_vmath.c against double libm over the whole float range): exp 1.3 ulp,
 * tanh 1.5, erf 2.4, sigmoid 2.2, silu 3.5, gelu 5.0; gelu_tanh see there. Results below
 * FLT_MIN become 0 (except tanh and erf of subnormal x, which return about x). */
#include <float.h>

/* exp: x = n ln2 + r, |r| <= ln2/2 (Cody-Waite split of ln2, exact n*hi for |n| < 2^15), a degree-6
 * minimax polynomial for e^r (Cephes' coefficients), then scaling by 2^n through the exponent.
 * `lo` is a small correction added to r: it lets erfc pass an argument carrying more than float
 * precision. x is clamped so that n stays in [-127, 129] (over/underflow still come out as inf/0).
 * vm_exp_scaled: e^r for |r| <= ln2/2 (plus that correction), scaled by 2^n. */
static const float vm_exp_poly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                     4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
static inline V vm_exp_scaled(V r, V n) {
  V p = V_SET(vm_exp_poly[0]);
  _Pragma("GCC unroll 5") for (int k = 1; k < 6; k++) p = V_FMA(p, r, V_SET(vm_exp_poly[k]));
  p = V_FMA(p, V_MUL(r, r), V_ADD(r, V_SET(1.0f)));
  return V_LDEXP(p, n);
}
/* r = x - n ln2 with n = round(x / ln2), after clamping x (hi and lo parts of ln2). */
static inline V vm_exp_reduce(V x, V *n) {
  x = V_MIN(V_SET(88.8f), V_MAX(V_SET(-88.5f), x));
  *n = V_ROUND(V_MUL(x, V_SET(1.44269504088896341f)));
  V r = V_FNMA(*n, V_SET(0.693359375f), x);
  return V_FNMA(*n, V_SET(-2.12194440e-4f), r);
}
static inline V vm_exp2(V x, V lo) {
  V n, r = vm_exp_reduce(x, &n);
  return vm_exp_scaled(V_ADD(r, lo), n);
}
static inline V vm_exp(V x) {
  V n, r = vm_exp_reduce(x, &n);
  return vm_exp_scaled(r, n);
}

/* num / d; every divisor below lies in [1, 8]. A real divide: on current cores it beats reciprocal estimate
 * plus Newton steps (measured), and it is correctly rounded. */
static inline V vm_div(V num, V d) { return V_DIV(num, d); }

/* |y| < FLT_MIN -> 0 (keeps NaN). */
static inline V vm_flush(V y) { return V_SEL(V_LT(V_ABS(y), V_SET(FLT_MIN)), V_SET(0.0f), y); }

/* e = e^-|x| <= 1: 1 / (1 + e) for x >= 0, e / (1 + e) below; no cancellation, no overflow, and x < -87.3
 * (results below FLT_MIN) gives 0 through e. */
static inline V vm_sigmoid(V x) {
  const V e = vm_flush(vm_exp(V_SUB(V_SET(0.0f), V_ABS(x))));
  const V num = V_SEL(V_LT(x, V_SET(0.0f)), e, V_SET(1.0f));
  return vm_div(num, V_ADD(V_SET(1.0f), e));
}

/* x * sigmoid(ax) with e = e^-|ax| <= 1: x / (1 + e) for ax >= 0, x e / (1 + e) below, so e never
 * overflows; e below FLT_MIN is 0, so ax < -87.3 gives 0 (|results| < 1e-36) and x = -inf gives 0. */
static inline V vm_silu(V x, V alpha) {
  const V ax = V_MUL(alpha, x);
  const V e = vm_flush(vm_exp(V_SUB(V_SET(0.0f), V_ABS(ax))));
  const V y = V_MUL(x, vm_div(V_SEL(V_LT(ax, V_SET(0.0f)), e, V_SET(1.0f)), V_ADD(V_SET(1.0f), e)));
  return vm_flush(V_SEL(V_LT(ax, V_SET(-FLT_MAX)), V_SET(0.0f), y));
}

/* x sigmoid(x) = x/2 (1 + tanh(x/2)) for fused epilogues: tanh(h) = h P(h^2) / Q(h^2) on h clamped to [-9, 9], a
 * [4/4] rational fitted for least maximum error (2.7e-7 evaluated in float), 0 below x = -18 (|silu| < 3e-7
 * there). Absolute error under 4e-7 max(1, |x|): as tight as vm_silu where the result is near x, not a few ulp
 * in the negative tail, where results are small; about half vm_silu's instructions (no exp, no flushes). The
 * operators keep vm_silu; a conv's or GEMM's output pass (whose float32 sums carry larger errors) takes this. */
static inline V vm_silu_fast(V x) {
  const V hx = V_MUL(x, V_SET(0.5f));
  const V h = V_MIN(V_SET(9.0f), V_MAX(V_SET(-9.0f), hx)), z = V_MUL(h, h); /* NaN passes */
  V p = V_FMA(V_SET(1.318503795e-8f), z, V_SET(2.047242560e-5f));
  p = V_FMA(p, z, V_SET(3.486618400e-3f));
  p = V_FMA(p, z, V_SET(1.337322891e-1f));
  p = V_FMA(p, z, V_SET(9.999998808e-1f));
  V q = V_FMA(V_SET(7.702998914e-7f), z, V_SET(3.271444875e-4f));
  q = V_FMA(q, z, V_SET(2.584211901e-2f));
  q = V_FMA(q, z, V_SET(4.670652449e-1f));
  q = V_FMA(q, z, V_SET(1.0f));
  const V t = V_MIN(V_SET(1.0f), V_MUL(h, V_DIV(p, q)));
  return V_SEL(V_LT(x, V_SET(-18.0f)), V_SET(0.0f), V_FMA(hx, t, hx));
}

/* tanh on |x|, sign restored at the end (odd function; keeps -0): below 0.625 an odd polynomial (Cephes'
 * tanhf coefficients) so small arguments do not cancel, above (1 - e) / (1 + e) with e = e^-2|x| <= 0.29,
 * saturating at 9. */
static const float vm_tanh_poly[5] = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f, 1.33314422036e-1f,
                                      -3.33332819422e-1f};
static inline V vm_tanh(V x) {
  const V a = V_ABS(x), z = V_MUL(x, x);
  V p = V_SET(vm_tanh_poly[0]);
  _Pragma("GCC unroll 4") for (int k = 1; k < 5; k++) p = V_FMA(p, z, V_SET(vm_tanh_poly[k]));
  const V small = V_FMA(V_MUL(p, z), a, a);
  const V e = vm_exp(V_MUL(V_SET(-2.0f), V_MIN(V_SET(9.0f), a)));
  const V big = vm_div(V_SUB(V_SET(1.0f), e), V_ADD(V_SET(1.0f), e));
  return V_OR(V_SEL(V_LT(a, V_SET(0.625f)), small, big), V_SIGN(x));
}

/* erf(x)/x as a polynomial in x^2 on |x| <= 1 (least-squares minimax fit, relative error 1.2e-9). */
static inline V vm_erf_small(V x) {
  const V s = V_MUL(x, x);
  V p = V_SET(7.8527268632e-05f);
  p = V_FMA(p, s, V_SET(-8.0098491944e-04f));
  p = V_FMA(p, s, V_SET(5.1882883648e-03f));
  p = V_FMA(p, s, V_SET(-2.6853791166e-02f));
  p = V_FMA(p, s, V_SET(1.1283584650e-01f));
  p = V_FMA(p, s, V_SET(-3.7612625780e-01f));
  p = V_FMA(p, s, V_SET(1.1283791657e+00f));
  return V_MUL(p, x);
}

/* erfc(a) for a in [0.5, 10] as t e^(-a^2 + Q(t)), t = 1/(1 + a/2), Q a degree-9 fit (relative error
 * 1.4e-9 on that range). a^2 = s + s_lo is given with its rounding error and the exponent's argument is
 * kept as a float pair, so the tail keeps its relative accuracy (a^2 near 85 would otherwise lose ~40 ulp). */
static inline V vm_erfc_pos(V a, V s, V s_lo) {
  const V t = vm_div(V_SET(1.0f), V_FMA(V_SET(0.5f), a, V_SET(1.0f)));
  V q = V_SET(2.5658367747e-01f);
  q = V_FMA(q, t, V_SET(-1.2060773489e+00f));
  q = V_FMA(q, t, V_SET(2.2234967560e+00f));
  q = V_FMA(q, t, V_SET(-1.9203132752e+00f));
  q = V_FMA(q, t, V_SET(7.9153986533e-01f));
  q = V_FMA(q, t, V_SET(-3.9717401161e-01f));
  q = V_FMA(q, t, V_SET(1.5109382354e-01f));
  q = V_FMA(q, t, V_SET(3.6568760636e-01f));
  q = V_FMA(q, t, V_SET(1.0007323315e+00f));
  q = V_FMA(q, t, V_SET(-1.2655371988e+00f));
  /* hi + lo = q - s exactly (two-sum), then the remaining - s_lo joins lo */
  const V ms = V_SUB(V_SET(0.0f), s);
  const V hi = V_ADD(q, ms);
  const V bb = V_SUB(hi, q);
  const V lo = V_SUB(V_ADD(V_SUB(q, V_SUB(hi, bb)), V_SUB(ms, bb)), s_lo);
  return V_MUL(t, vm_exp2(hi, lo));
}

/* erf: the polynomial below 1, 1 - erfc above (erfc <= 0.16 there, so no cancellation); 1 from 4 on. */
static inline V vm_erf(V x) {
  const V a = V_MIN(V_SET(4.0f), V_ABS(x));
  const V s = V_MUL(a, a);
  const V big = V_SUB(V_SET(1.0f), vm_erfc_pos(a, s, V_MUL_ERR(a, a, s)));
  return V_OR(V_SEL(V_LT(a, V_SET(1.0f)), vm_erf_small(a), big), V_SIGN(x));
}

/* erfc(a) for a in [0, 10], as vm_erfc_pos but with Q fitted over the whole range, in t - 0.5 (the float
 * coefficients refitted one at a time; |Q error| 5.8e-8, 1.4e-7 with the float rounding of the Horner steps). */
static const float vm_erfc_q[10] = {1.4219395816e-01f,  -2.6188636199e-02f, -2.6210317016e-01f, 1.0775289685e-01f,
                                    2.7941030264e-01f,  -1.5758645535e-01f, -3.7506920099e-01f, 1.8936468661e-01f,
                                    1.3452855349e+00f,  -6.7179405689e-01f};
static inline V vm_erfc_all(V a, V s, V s_lo) {
  const V t = vm_div(V_SET(1.0f), V_FMA(V_SET(0.5f), a, V_SET(1.0f)));
  const V w = V_SUB(t, V_SET(0.5f));
  V q = V_SET(vm_erfc_q[0]);
  _Pragma("GCC unroll 9") for (int k = 1; k < 10; k++) q = V_FMA(q, w, V_SET(vm_erfc_q[k]));
  const V ms = V_SUB(V_SET(0.0f), s);
  const V hi = V_ADD(q, ms);
  const V bb = V_SUB(hi, q);
  const V lo = V_SUB(V_ADD(V_SUB(q, V_SUB(hi, bb)), V_SUB(ms, bb)), s_lo);
  return V_MUL(t, vm_exp2(hi, lo));
}

/* x Phi(x) = x/2 erfc(|u|) for x < 0 and x/2 (2 - erfc(|u|)) above, u = x/sqrt2: one erfc for every lane and
 * no separate erf polynomial near 0 (no cancellation: erfc(|u|) <= 1). u^2 is taken as x*x/2 from x
 * itself (exactly, with its rounding error) so the tail is accurate to the last bits. */
static inline V vm_gelu(V x) {
  const V u = V_MUL(x, V_SET(0.70710678118654752f));
  const V a = V_MIN(V_SET(10.0f), V_ABS(u));
  const V xc = V_MIN(V_SET(15.0f), V_MAX(V_SET(-15.0f), x)); /* keeps x*x and its error finite */
  const V xx = V_MUL(xc, xc);
  const V s = V_MUL(V_SET(0.5f), xx), s_lo = V_MUL(V_SET(0.5f), V_MUL_ERR(xc, xc, xx));
  const V ec = vm_erfc_all(a, s, s_lo);
  const V f = V_SEL(V_LT(x, V_SET(0.0f)), ec, V_SUB(V_SET(2.0f), ec)); /* halved with x: ec may be near FLT_MIN */
  const V y = V_MUL(V_MUL(V_SET(0.5f), x), f);
  return vm_flush(V_SEL(V_LT(x, V_SET(-14.0f)), V_SET(0.0f), y));
}

/* 0.5 x (1 + tanh(v)) = x sigmoid(2v), v = sqrt(2/pi) (x + 0.044715 x^3), evaluated like silu (no
 * cancellation for x < 0, no overflow in the tail; 0 below x = -10, |results| < 1e-36). The float rounding
 * of v is amplified by the exponential: about 12 ulp at x = -3, relative 1e-5 where the result is tiny. */
static inline V vm_gelu_tanh(V x) {
  const V xx = V_MUL(x, x);
  const V w = V_MUL(V_MUL(x, V_SET(1.5957691216057308f)), V_FMA(V_SET(0.044715f), xx, V_SET(1.0f)));
  const V e = vm_flush(vm_exp(V_SUB(V_SET(0.0f), V_ABS(w))));
  const V y = V_MUL(x, vm_div(V_SEL(V_LT(w, V_SET(0.0f)), e, V_SET(1.0f)), V_ADD(V_SET(1.0f), e)));
  return vm_flush(V_SEL(V_LT(x, V_SET(-FLT_MAX)), V_SET(0.0f), y));
}

/* ------------------------------------------------------------------ array loops */

#define VM_LOOP(name, EXPR)                                                                                            \
  static void name(const float *x, float *y, size_t n) {                                                               \
    size_t i = 0;                                                                                                      \
    for (; i + VN <= n; i += VN) {                                                                                     \
      const V v = V_LD(x + i);                                                                                         \
      V_ST(y + i, EXPR);                                                                                               \
    }                                                                                                                  \
    if (i < n) {                                                                                                       \
      const V v = V_LDN(x + i, n - i);                                                                                 \
      V_STN(y + i, EXPR, n - i);                                                                                       \
    }                                                                                                                  \
  }

VM_LOOP(vm_a_exp, vm_flush(vm_exp(v)))
VM_LOOP(vm_a_erf, vm_erf(v))

/* Lockstep forms: F_g computes F on VM_G vectors with the same operations (same results), issuing each step for
 * every vector before the next step. One vector's dependency chain (exp, a divide, polynomials: ~60-120 cycles of
 * latency) is longer than the core's scheduler sees ahead, so one vector at a time left the FMA units waiting:
 * 128x3072 floats, Zen 4, avx512 / avx2 ns per float: gelu 1.02 -> 0.71 / 1.95 -> 0.94 (with the one-erfc form),
 * gelu_tanh 0.54 -> 0.45 / 0.96 -> 0.68. */
#define VM_G 8
#define VM_EACH _Pragma("GCC unroll 8") for (int g = 0; g < VM_G; g++)

static inline void vm_sigmoid_g(const float *xp, float *yp) {
  V x[VM_G], n[VM_G], r[VM_G], p[VM_G];
  VM_EACH {
    x[g] = V_LD(xp + g * VN);
    r[g] = vm_exp_reduce(V_SUB(V_SET(0.0f), V_ABS(x[g])), &n[g]);
    p[g] = V_SET(vm_exp_poly[0]);
  }
  _Pragma("GCC unroll 5") for (int k = 1; k < 6; k++) VM_EACH p[g] = V_FMA(p[g], r[g], V_SET(vm_exp_poly[k]));
  VM_EACH {
    const V e = vm_flush(V_LDEXP(V_FMA(p[g], V_MUL(r[g], r[g]), V_ADD(r[g], V_SET(1.0f))), n[g]));
    V_ST(yp + g * VN, vm_div(V_SEL(V_LT(x[g], V_SET(0.0f)), e, V_SET(1.0f)), V_ADD(V_SET(1.0f), e)));
  }
}

static inline void vm_tanh_g(const float *xp, float *yp) {
  V x[VM_G], a[VM_G], z[VM_G], sp[VM_G], n[VM_G], r[VM_G], p[VM_G];
  VM_EACH {
    x[g] = V_LD(xp + g * VN);
    a[g] = V_ABS(x[g]), z[g] = V_MUL(x[g], x[g]);
    sp[g] = V_SET(vm_tanh_poly[0]);
    r[g] = vm_exp_reduce(V_MUL(V_SET(-2.0f), V_MIN(V_SET(9.0f), a[g])), &n[g]);
    p[g] = V_SET(vm_exp_poly[0]);
  }
  _Pragma("GCC unroll 5") for (int k = 1; k < 6; k++) VM_EACH {
    if (k < 5) sp[g] = V_FMA(sp[g], z[g], V_SET(vm_tanh_poly[k]));
    p[g] = V_FMA(p[g], r[g], V_SET(vm_exp_poly[k]));
  }
  VM_EACH {
    const V small = V_FMA(V_MUL(sp[g], z[g]), a[g], a[g]);
    const V e = V_LDEXP(V_FMA(p[g], V_MUL(r[g], r[g]), V_ADD(r[g], V_SET(1.0f))), n[g]);
    const V big = vm_div(V_SUB(V_SET(1.0f), e), V_ADD(V_SET(1.0f), e));
    V_ST(yp + g * VN, V_OR(V_SEL(V_LT(a[g], V_SET(0.625f)), small, big), V_SIGN(x[g])));
  }
}

/* An array loop over VM_G-vector groups (FG) and single vectors (F) for the rest. */
#define VM_LOOP_G(name, FG, F)                                                                                         \
  static void name(const float *x, float *y, size_t n) {                                                               \
    size_t i = 0;                                                                                                      \
    for (; i + VM_G * VN <= n; i += VM_G * VN) FG(x + i, y + i);                                                       \
    for (; i + VN <= n; i += VN) V_ST(y + i, F(V_LD(x + i)));                                                          \
    if (i < n) {                                                                                                       \
      const V v = V_LDN(x + i, n - i);                                                                                 \
      V_STN(y + i, F(v), n - i);                                                                                       \
    }                                                                                                                  \
  }
VM_LOOP_G(vm_a_sigmoid, vm_sigmoid_g, vm_sigmoid)
VM_LOOP_G(vm_a_tanh, vm_tanh_g, vm_tanh)

/* vm_gelu */
static inline void vm_gelu_g(const float *xp, float *yp) {
  V x[VM_G], t[VM_G], w[VM_G], s[VM_G], s_lo[VM_G], q[VM_G], hi[VM_G], lo[VM_G], n[VM_G], r[VM_G], p[VM_G];
  VM_EACH {
    x[g] = V_LD(xp + g * VN);
    const V a = V_MIN(V_SET(10.0f), V_ABS(V_MUL(x[g], V_SET(0.70710678118654752f))));
    const V xc = V_MIN(V_SET(15.0f), V_MAX(V_SET(-15.0f), x[g]));
    const V xx = V_MUL(xc, xc);
    s[g] = V_MUL(V_SET(0.5f), xx), s_lo[g] = V_MUL(V_SET(0.5f), V_MUL_ERR(xc, xc, xx));
    t[g] = vm_div(V_SET(1.0f), V_FMA(V_SET(0.5f), a, V_SET(1.0f)));
    w[g] = V_SUB(t[g], V_SET(0.5f));
    q[g] = V_SET(vm_erfc_q[0]);
  }
  _Pragma("GCC unroll 9") for (int k = 1; k < 10; k++) VM_EACH q[g] = V_FMA(q[g], w[g], V_SET(vm_erfc_q[k]));
  VM_EACH {
    const V ms = V_SUB(V_SET(0.0f), s[g]);
    hi[g] = V_ADD(q[g], ms);
    const V bb = V_SUB(hi[g], q[g]);
    lo[g] = V_SUB(V_ADD(V_SUB(q[g], V_SUB(hi[g], bb)), V_SUB(ms, bb)), s_lo[g]);
    r[g] = V_ADD(vm_exp_reduce(hi[g], &n[g]), lo[g]);
    p[g] = V_SET(vm_exp_poly[0]);
  }
  _Pragma("GCC unroll 5") for (int k = 1; k < 6; k++) VM_EACH p[g] = V_FMA(p[g], r[g], V_SET(vm_exp_poly[k]));
  VM_EACH {
    const V e = V_LDEXP(V_FMA(p[g], V_MUL(r[g], r[g]), V_ADD(r[g], V_SET(1.0f))), n[g]);
    const V erfc = V_MUL(t[g], e);
    const V f = V_SEL(V_LT(x[g], V_SET(0.0f)), erfc, V_SUB(V_SET(2.0f), erfc));
    const V y = V_MUL(V_MUL(V_SET(0.5f), x[g]), f);
    V_ST(yp + g * VN, vm_flush(V_SEL(V_LT(x[g], V_SET(-14.0f)), V_SET(0.0f), y)));
  }
}

VM_LOOP_G(vm_a_gelu, vm_gelu_g, vm_gelu)

/* vm_gelu_tanh */
static inline void vm_gelu_tanh_g(const float *xp, float *yp) {
  V x[VM_G], w[VM_G], n[VM_G], r[VM_G], p[VM_G];
  VM_EACH {
    x[g] = V_LD(xp + g * VN);
    const V xx = V_MUL(x[g], x[g]);
    w[g] = V_MUL(V_MUL(x[g], V_SET(1.5957691216057308f)), V_FMA(V_SET(0.044715f), xx, V_SET(1.0f)));
    r[g] = vm_exp_reduce(V_SUB(V_SET(0.0f), V_ABS(w[g])), &n[g]);
    p[g] = V_SET(vm_exp_poly[0]);
  }
  _Pragma("GCC unroll 5") for (int k = 1; k < 6; k++) VM_EACH p[g] = V_FMA(p[g], r[g], V_SET(vm_exp_poly[k]));
  VM_EACH {
    const V e = vm_flush(V_LDEXP(V_FMA(p[g], V_MUL(r[g], r[g]), V_ADD(r[g], V_SET(1.0f))), n[g]));
    const V y = V_MUL(x[g], vm_div(V_SEL(V_LT(w[g], V_SET(0.0f)), e, V_SET(1.0f)), V_ADD(V_SET(1.0f), e)));
    V_ST(yp + g * VN, vm_flush(V_SEL(V_LT(x[g], V_SET(-FLT_MAX)), V_SET(0.0f), y)));
  }
}

VM_LOOP_G(vm_a_gelu_tanh, vm_gelu_tanh_g, vm_gelu_tanh)

VM_LOOP(vm_a_silu_fast, vm_silu_fast(v))

static void vm_a_silu(const float *x, float *y, size_t n, float alpha) {
  const V al = V_SET(alpha);
  size_t i = 0;
  for (; i + VN <= n; i += VN) V_ST(y + i, vm_silu(V_LD(x + i), al));
  if (i < n) V_STN(y + i, vm_silu(V_LDN(x + i, n - i), al), n - i);
}

/* Two accumulators: the sum of a long row stays close to a pairwise sum. */
static float vm_a_exp_shift_sum(const float *x, float *y, size_t n, float shift) {
  const V sh = V_SET(shift);
  V s0 = V_SET(0.0f), s1 = V_SET(0.0f);
  size_t i = 0;
  for (; i + 2 * VN <= n; i += 2 * VN) {
    const V e0 = vm_flush(vm_exp(V_SUB(V_LD(x + i), sh)));
    const V e1 = vm_flush(vm_exp(V_SUB(V_LD(x + i + VN), sh)));
    V_ST(y + i, e0);
    V_ST(y + i + VN, e1);
    s0 = V_ADD(s0, e0);
    s1 = V_ADD(s1, e1);
  }
  for (; i + VN <= n; i += VN) {
    const V e0 = vm_flush(vm_exp(V_SUB(V_LD(x + i), sh)));
    V_ST(y + i, e0);
    s0 = V_ADD(s0, e0);
  }
  if (i < n) {
    /* masked-off lanes load 0, so their exp(0 - shift) must not count: store first, sum what was stored */
    const V e0 = vm_flush(vm_exp(V_SUB(V_LDN(x + i, n - i), sh)));
    V_STN(y + i, e0, n - i);
    s1 = V_ADD(s1, V_LDN(y + i, n - i));
  }
  return V_HSUM(V_ADD(s0, s1));
}

const oxrt_vmath_table VM_TABLE = {
    .exp = vm_a_exp,
    .sigmoid = vm_a_sigmoid,
    .tanh = vm_a_tanh,
    .erf = vm_a_erf,
    .silu = vm_a_silu,
    .silu_fast = vm_a_silu_fast,
    .gelu = vm_a_gelu,
    .gelu_tanh = vm_a_gelu_tanh,
    .exp_shift_sum = vm_a_exp_shift_sum,
    .mean_var = VD_MEAN_VAR,
};
