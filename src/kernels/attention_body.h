/* attention_body.h - the inner loops of attention.h (oxrt_attn_isa), included once per ISA. The including file
 * defines: AT_SET (exported table name), AT_V (vector type), AT_VN (lanes, dividing 16), AT_RB (keys or value
 * columns per tile: each is broadcast once per step), AT_NJ (query vectors per tile), AT_LD, AT_ST (unaligned),
 * AT_SET1, AT_FMA(a, b, c) = a*b + c, AT_MUL, AT_ADD, AT_SUB, AT_MAX(a, b) (b when either is NaN), AT_ZERO_LT(a, t)
 * (0 where a < t, else a; NaN kept).
 * Query rows lie along the lanes; mp, the row length of every lane-major buffer, is a multiple of AT_VN. */
#include "attention.h"
#include <math.h>

/* rb keys x nj query vectors of scores: both counts constant after inlining, so the sums stay in registers */
static inline __attribute__((always_inline)) void at_sc_tile(int rb, int nj, const float *k, int64_t ldk,
                                                             const float *qt, int64_t D, int64_t mp, AT_V vs,
                                                             float *st) {
  AT_V acc[AT_RB][AT_NJ];
#pragma GCC unroll 8
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int c = 0; c < nj; c++) acc[r][c] = AT_SET1(0.f);
  for (int64_t d = 0; d < D; d++) {
    AT_V qv[AT_NJ];
#pragma GCC unroll 4
    for (int c = 0; c < nj; c++) qv[c] = AT_LD(qt + d * mp + c * AT_VN);
#pragma GCC unroll 8
    for (int r = 0; r < rb; r++) {
      const AT_V kb = AT_SET1(k[r * ldk + d]);
#pragma GCC unroll 4
      for (int c = 0; c < nj; c++) acc[r][c] = AT_FMA(kb, qv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int c = 0; c < nj; c++) AT_ST(st + r * mp + c * AT_VN, AT_MUL(acc[r][c], vs));
}

/* rb value columns (e0..e0+rb) x nj query vectors of the output, over nk keys */
static inline __attribute__((always_inline)) void at_pv_tile(int rb, int nj, const float *v, int64_t ldv, int64_t nk,
                                                             const float *pt, int64_t mp, const float *alpha,
                                                             float *ot) {
  AT_V acc[AT_RB][AT_NJ];
#pragma GCC unroll 8
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int c = 0; c < nj; c++) {
      acc[r][c] = AT_LD(ot + r * mp + c * AT_VN);
      if (alpha) acc[r][c] = AT_MUL(acc[r][c], AT_LD(alpha + c * AT_VN));
    }
  for (int64_t j = 0; j < nk; j++) {
    AT_V pv[AT_NJ];
#pragma GCC unroll 4
    for (int c = 0; c < nj; c++) pv[c] = AT_LD(pt + j * mp + c * AT_VN);
#pragma GCC unroll 8
    for (int r = 0; r < rb; r++) {
      const AT_V vb = AT_SET1(v[j * ldv + r]);
#pragma GCC unroll 4
      for (int c = 0; c < nj; c++) acc[r][c] = AT_FMA(vb, pv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int c = 0; c < nj; c++) AT_ST(ot + r * mp + c * AT_VN, acc[r][c]);
}

/* The (rb, nj) instances: rb in [1, AT_RB], nj in [1, AT_NJ]; the full tile first (the common case). */
#define AT_NJ_CASES(F, rb, ...)                                                                                        \
  switch (nj) {                                                                                                        \
  case 1: F(rb, 1, __VA_ARGS__); break;                                                                                \
  case 2: F(rb, AT_NJ >= 2 ? 2 : 1, __VA_ARGS__); break;                                                               \
  case 3: F(rb, AT_NJ >= 3 ? 3 : 1, __VA_ARGS__); break;                                                               \
  default: F(rb, AT_NJ, __VA_ARGS__); break;                                                                           \
  }
#define AT_RB_CASES(F, ...)                                                                                            \
  switch (rb) {                                                                                                        \
  case 1: AT_NJ_CASES(F, 1, __VA_ARGS__) break;                                                                        \
  case 2: AT_NJ_CASES(F, AT_RB >= 2 ? 2 : 1, __VA_ARGS__) break;                                                       \
  case 3: AT_NJ_CASES(F, AT_RB >= 3 ? 3 : 1, __VA_ARGS__) break;                                                       \
  case 4: AT_NJ_CASES(F, AT_RB >= 4 ? 4 : 1, __VA_ARGS__) break;                                                       \
  case 5: AT_NJ_CASES(F, AT_RB >= 5 ? 5 : 1, __VA_ARGS__) break;                                                       \
  default: AT_NJ_CASES(F, AT_RB, __VA_ARGS__) break;                                                                   \
  }

static void at_scores(const float *k, int64_t ldk, int64_t nk, const float *qt, int64_t D, int64_t mp, float scale,
                      float *st) {
  const AT_V vs = AT_SET1(scale);
  const int64_t nv = mp / AT_VN;
  for (int64_t c0 = 0; c0 < nv; c0 += AT_NJ) {
    const int nj = (int)(nv - c0 < AT_NJ ? nv - c0 : AT_NJ);
    for (int64_t j = 0; j < nk; j += AT_RB) {
      const int rb = (int)(nk - j < AT_RB ? nk - j : AT_RB);
#define AT_SC(R, N, ...) at_sc_tile(R, N, k + j * ldk, ldk, qt + c0 * AT_VN, D, mp, vs, st + j * mp + c0 * AT_VN)
      AT_RB_CASES(AT_SC, 0)
#undef AT_SC
    }
  }
}

static void at_pv(const float *v, int64_t ldv, int64_t nk, const float *pt, int64_t Dv, int64_t mp, const float *alpha,
                  float *ot) {
  const int64_t nv = mp / AT_VN;
  for (int64_t c0 = 0; c0 < nv; c0 += AT_NJ) {
    const int nj = (int)(nv - c0 < AT_NJ ? nv - c0 : AT_NJ);
    const float *al = alpha ? alpha + c0 * AT_VN : NULL;
    for (int64_t e = 0; e < Dv; e += AT_RB) {
      const int rb = (int)(Dv - e < AT_RB ? Dv - e : AT_RB);
#define AT_PVT(R, N, ...) at_pv_tile(R, N, v + e, ldv, nk, pt + c0 * AT_VN, mp, al, ot + e * mp + c0 * AT_VN)
      AT_RB_CASES(AT_PVT, 0)
#undef AT_PVT
    }
  }
}

static void at_colmax(const float *st, int64_t nk, int64_t mp, float *mx) {
  for (int64_t c = 0; c < mp; c += AT_VN) {
    AT_V m = AT_LD(mx + c);
    for (int64_t j = 0; j < nk; j++) m = AT_MAX(AT_LD(st + j * mp + c), m);
    AT_ST(mx + c, m);
  }
}

/* Shifted scores are clamped at ATTN_EXP_FLOOR: the exp of anything lower (masked keys: -inf) would go through
 * subnormal intermediates, ~100 cycles each on x86; at_colsum then zeroes what came from the floor. */
static void at_colsub(float *st, int64_t nk, int64_t mp, const float *sh) {
  const AT_V lo = AT_SET1(ATTN_EXP_FLOOR);
  for (int64_t c = 0; c < mp; c += AT_VN) {
    const AT_V s = AT_LD(sh + c);
    for (int64_t j = 0; j < nk; j++) AT_ST(st + j * mp + c, AT_MAX(lo, AT_SUB(AT_LD(st + j * mp + c), s)));
  }
}

static void at_colsum(float *pt, int64_t nk, int64_t mp, float *sum) {
  const AT_V t = AT_SET1(ATTN_P_MIN);
  for (int64_t c = 0; c < mp; c += AT_VN) {
    AT_V s = AT_LD(sum + c);
    for (int64_t j = 0; j < nk; j++) {
      const AT_V p = AT_ZERO_LT(AT_LD(pt + j * mp + c), t);
      AT_ST(pt + j * mp + c, p);
      s = AT_ADD(s, p);
    }
    AT_ST(sum + c, s);
  }
}

static float at_sqnorm(const float *x, const float *add, int64_t n) {
  AT_V acc = AT_SET1(0.f);
  int64_t e = 0;
  for (; e + AT_VN <= n; e += AT_VN) {
    AT_V v = AT_LD(x + e);
    if (add) v = AT_ADD(v, AT_LD(add + e));
    acc = AT_FMA(v, v, acc);
  }
  float lanes[AT_VN], s = 0.f;
  AT_ST(lanes, acc);
  for (int c = 0; c < AT_VN; c++) s += lanes[c];
  for (; e < n; e++) {
    const float v = x[e] + (add ? add[e] : 0.f);
    s += v * v;
  }
  return s;
}

/* The max, or NaN when a NaN is among them (found through their sum, which -inf and +inf together also make
 * NaN: callers then take the careful path). */
static float at_vmax(const float *x, int64_t n) {
  AT_V m = AT_SET1(-INFINITY), sum = AT_SET1(0.f);
  int64_t e = 0;
  for (; e + AT_VN <= n; e += AT_VN) {
    const AT_V v = AT_LD(x + e);
    m = AT_MAX(v, m);
    sum = AT_ADD(sum, v);
  }
  float lanes[AT_VN], sl[AT_VN], r = -INFINITY, t = 0.f;
  AT_ST(lanes, m);
  AT_ST(sl, sum);
  for (int c = 0; c < AT_VN; c++) r = lanes[c] > r ? lanes[c] : r, t += sl[c];
  for (; e < n; e++) r = x[e] > r ? x[e] : r, t += x[e];
  return isnan(t) ? NAN : r;
}

const oxrt_attn_isa AT_SET = {at_scores, at_pv, at_colmax, at_colsub, at_colsum, at_sqnorm, at_vmax};
