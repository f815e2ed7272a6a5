/* elementwise_unary.c - table-driven element-wise unary operators of ai.onnx.
 *
 * Every operator is described by a float32 loop, a float64 loop and, where the
 * spec allows integers, an exact int64 scalar function. float16/bfloat16 run
 * through the float32 loop in blocks. Large tensors are split over the pool.
 * The float32 loops are plain loops over restrict pointers so the compiler
 * vectorises them; exp/sigmoid/tanh/erf/gelu/swish call the per-ISA array
 * functions of kernels/vmath.h (a few ulp, no subnormal results).
 */
#if defined(__GNUC__) && !defined(__clang__)
/* errno from sqrtf etc. is never read; without it the loops vectorise. */
#pragma GCC optimize("-fno-math-errno", "-fno-trapping-math")
#endif
#include "elementwise.h"
#include "f32_view.h"
#include "../infer_rules.h"
#include "../../kernels/vmath.h"
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef struct {
  float alpha, beta, gamma, lambd, bias;
  int approx_tanh;
} uparams;

typedef void (*uf32_fn)(const float *restrict x, float *restrict y, size_t n, const uparams *p);
typedef void (*uf64_fn)(const double *restrict x, double *restrict y, size_t n, const uparams *p);
/* Exact integer function on the value widened to int64 (unsigned values keep their bits). */
typedef int64_t (*uint_fn)(int64_t x, bool is_unsigned, const uparams *p);

typedef struct {
  uf32_fn f32;
  uf64_fn f64;
  uint_fn i64;
} unary_desc;

/* ---------------------------------------------------------------- per-op loops */

#define PARAMS_LOCALS(T)                                                                                               \
  const T alpha = (T)p->alpha, beta = (T)p->beta, gamma = (T)p->gamma, lambd = (T)p->lambd, bias = (T)p->bias;         \
  const int approx_tanh = p->approx_tanh;                                                                              \
  (void)alpha, (void)beta, (void)gamma, (void)lambd, (void)bias, (void)approx_tanh

/* name##_f64: a loop over E64, an expression of `v` (and the parameters). */
#define UNARY_F64(name, E64)                                                                                           \
  static void name##_f64(const double *restrict x, double *restrict y, size_t n, const uparams *p) {                   \
    PARAMS_LOCALS(double);                                                                                             \
    for (size_t i = 0; i < n; i++) {                                                                                   \
      double v = x[i];                                                                                                 \
      y[i] = (E64);                                                                                                    \
    }                                                                                                                  \
  }

/* name##_f32 / name##_f64: E32 and E64 are expressions of `v` (and the parameters). */
#define UNARY_FLOAT(name, E32, E64)                                                                                    \
  OXRT_EW_CLONES                                                                                                       \
  static void name##_f32(const float *restrict x, float *restrict y, size_t n, const uparams *p) {                     \
    PARAMS_LOCALS(float);                                                                                              \
    for (size_t i = 0; i < n; i++) {                                                                                   \
      float v = x[i];                                                                                                  \
      y[i] = (E32);                                                                                                    \
    }                                                                                                                  \
  }                                                                                                                    \
  UNARY_F64(name, E64)

/* name##_f32 is the vmath array function CALL (of x, y, n and p); name##_f64 a loop over E64. */
#define UNARY_VMATH(name, CALL, E64)                                                                                   \
  static void name##_f32(const float *restrict x, float *restrict y, size_t n, const uparams *p) {                     \
    (void)p;                                                                                                           \
    CALL;                                                                                                              \
  }                                                                                                                    \
  UNARY_F64(name, E64)

static inline double sigmoid_d(double v) { return v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v)); }
static inline float softplus_f(float v) { return v > 0 ? v + log1pf(expf(-v)) : log1pf(expf(v)); }
static inline double softplus_d(double v) { return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)); }
static inline double gelu_d(double v, int approx) {
  if (approx) return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
  return 0.5 * v * (1.0 + erf(v * 0.7071067811865476));
}
static inline float clamp01f(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }
static inline double clamp01d(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

UNARY_FLOAT(abs, fabsf(v), fabs(v))
UNARY_FLOAT(neg, -v, -v)
UNARY_FLOAT(acos, acosf(v), acos(v))
UNARY_FLOAT(acosh, acoshf(v), acosh(v))
UNARY_FLOAT(asin, asinf(v), asin(v))
UNARY_FLOAT(asinh, asinhf(v), asinh(v))
UNARY_FLOAT(atan, atanf(v), atan(v))
UNARY_FLOAT(atanh, atanhf(v), atanh(v))
UNARY_FLOAT(ceil, ceilf(v), ceil(v))
UNARY_FLOAT(floor, floorf(v), floor(v))
UNARY_FLOAT(round, nearbyintf(v), nearbyint(v)) /* default rounding mode: halves to even */
UNARY_FLOAT(cos, cosf(v), cos(v))
UNARY_FLOAT(cosh, coshf(v), cosh(v))
UNARY_FLOAT(sin, sinf(v), sin(v))
UNARY_FLOAT(sinh, sinhf(v), sinh(v))
UNARY_FLOAT(tan, tanf(v), tan(v))
UNARY_VMATH(tanh, oxrt_vtanh_f32(x, y, n), tanh(v))
UNARY_VMATH(erf, oxrt_verf_f32(x, y, n), erf(v))
UNARY_VMATH(exp, oxrt_vexp_f32(x, y, n), exp(v))
UNARY_FLOAT(log, logf(v), log(v))
UNARY_FLOAT(sqrt_scalar, sqrtf(v), sqrt(v))
/* Strict ISO C mode keeps errno semantics on sqrtf, which blocks vectorisation: use SSE directly. */
static void sqrt_f32(const float *restrict x, float *restrict y, size_t n, const uparams *p) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(y + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
#endif
  sqrt_scalar_f32(x + i, y + i, n - i, p);
}
static void sqrt_f64(const double *restrict x, double *restrict y, size_t n, const uparams *p) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 2 <= n; i += 2) _mm_storeu_pd(y + i, _mm_sqrt_pd(_mm_loadu_pd(x + i)));
#endif
  sqrt_scalar_f64(x + i, y + i, n - i, p);
}
UNARY_FLOAT(reciprocal, 1.0f / v, 1.0 / v)
UNARY_VMATH(sigmoid, oxrt_vsigmoid_f32(x, y, n), sigmoid_d(v))
UNARY_FLOAT(sign, v > 0 ? 1.0f : v < 0 ? -1.0f : v, v > 0 ? 1.0 : v < 0 ? -1.0 : v) /* keeps 0 and NaN */
UNARY_FLOAT(relu, v < 0 ? 0.0f : v, v < 0 ? 0.0 : v) /* NaN passes, as in max(0, x) and the fused output pass */
UNARY_FLOAT(leakyrelu, v < 0 ? alpha * v : v, v < 0 ? alpha * v : v)
UNARY_FLOAT(thresholdedrelu, v > alpha ? v : 0.0f, v > alpha ? v : 0.0)
UNARY_FLOAT(elu, v < 0 ? alpha * expm1f(v) : v, v < 0 ? alpha * expm1(v) : v)
UNARY_FLOAT(selu, v > 0 ? gamma * v : gamma * alpha * expm1f(v), v > 0 ? gamma * v : gamma * alpha * expm1(v))
UNARY_FLOAT(celu, (v > 0 ? v : 0.0f) + (v < 0 ? alpha * expm1f(v / alpha) : 0.0f),
            (v > 0 ? v : 0.0) + (v < 0 ? alpha * expm1(v / alpha) : 0.0))
UNARY_FLOAT(hardsigmoid, clamp01f(alpha * v + beta), clamp01d(alpha * v + beta))
UNARY_FLOAT(hardswish, v * clamp01f(v * (1.0f / 6.0f) + 0.5f), v * clamp01d(v / 6.0 + 0.5))
UNARY_FLOAT(softplus, softplus_f(v), softplus_d(v))
UNARY_FLOAT(softsign, v / (1.0f + fabsf(v)), v / (1.0 + fabs(v)))
UNARY_FLOAT(shrink, v < -lambd ? v + bias : v > lambd ? v - bias : 0.0f,
            v < -lambd ? v + bias : v > lambd ? v - bias : 0.0)
UNARY_VMATH(gelu, p->approx_tanh ? oxrt_vgelu_tanh_f32(x, y, n) : oxrt_vgelu_f32(x, y, n), gelu_d(v, approx_tanh))
UNARY_FLOAT(mish, v * tanhf(softplus_f(v)), v * tanh(softplus_d(v)))
UNARY_VMATH(swish, oxrt_vsilu_f32(x, y, n, p->alpha), v * sigmoid_d(alpha * v))

/* Integer versions: exact, two's-complement wrapping (computed in uint64). */
static int64_t abs_i(int64_t x, bool u, const uparams *p) {
  (void)p;
  return u || x >= 0 ? x : (int64_t)(0 - (uint64_t)x);
}
static int64_t neg_i(int64_t x, bool u, const uparams *p) {
  (void)p, (void)u;
  return (int64_t)(0 - (uint64_t)x);
}
static int64_t relu_i(int64_t x, bool u, const uparams *p) {
  (void)p;
  return u || x > 0 ? x : 0;
}
static int64_t sign_i(int64_t x, bool u, const uparams *p) {
  (void)p;
  if (u) return x != 0;
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}
static int64_t bitwise_not_i(int64_t x, bool u, const uparams *p) {
  (void)p, (void)u;
  return ~x;
}
static int64_t shrink_i(int64_t x, bool u, const uparams *p) {
  /* lambd/bias are floats: compare and shift in double, then truncate like the reference's astype. */
  double v = u ? (double)(uint64_t)x : (double)x;
  double r = v < -p->lambd ? v + p->bias : v > p->lambd ? v - p->bias : 0.0;
  if (u) return r <= 0 ? 0 : r >= 18446744073709551615.0 ? (int64_t)UINT64_MAX : (int64_t)(uint64_t)r;
  return r <= -9223372036854775808.0 ? INT64_MIN : r >= 9223372036854775807.0 ? INT64_MAX : (int64_t)r;
}

/* ---------------------------------------------------------------- driver */

typedef struct {
  const unary_desc *d;
  const uparams *p;
  oxrt_elem_type t;
  const void *x;
  void *y;
} unary_job;

#define HALF_BLOCK 1024

static void unary_range(void *arg, size_t b, size_t e) {
  const unary_job *j = arg;
  switch (j->t) {
  case OXRT_FLOAT: j->d->f32((const float *)j->x + b, (float *)j->y + b, e - b, j->p); return;
  case OXRT_DOUBLE: j->d->f64((const double *)j->x + b, (double *)j->y + b, e - b, j->p); return;
  case OXRT_FLOAT16:
  case OXRT_BFLOAT16: {
    float in[HALF_BLOCK], out[HALF_BLOCK];
    const uint16_t *x = j->x;
    uint16_t *y = j->y;
    for (size_t s = b; s < e; s += HALF_BLOCK) {
      size_t n = e - s < HALF_BLOCK ? e - s : HALF_BLOCK;
      f32_widen(j->t, x + s, in, n);
      j->d->f32(in, out, n, j->p);
      f32_narrow(j->t, out, y + s, n);
    }
    return;
  }
  default: {
    bool u = oxrt_dtype_is_unsigned_int(j->t);
    for (size_t i = b; i < e; i++) oxrt_store_i64(j->t, j->y, i, j->d->i64(oxrt_load_i64(j->t, j->x, i), u, j->p));
    return;
  }
  }
}

static oxrt_status *unary_run(oxrt_kernel_ctx *ctx, const unary_desc *d, const uparams *p) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  bool is_float = x->dtype == OXRT_FLOAT || x->dtype == OXRT_DOUBLE || x->dtype == OXRT_FLOAT16 ||
                  x->dtype == OXRT_BFLOAT16;
  bool is_int = oxrt_dtype_is_signed_int(x->dtype) || oxrt_dtype_is_unsigned_int(x->dtype);
  if (!(is_float && d->f32) && !(is_int && d->i64))
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input 0: element type %s is not supported",
                      oxrt_elem_type_name(x->dtype));
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  unary_job j = {d, p, x->dtype, x->data, y->data};
  if (x->count) oxrt_parallel(ctx, x->count, is_float ? 16384 : 4096, unary_range, &j);
  return NULL;
}

static uparams read_params(const oxrt_node *n, float alpha_default) {
  uparams p = {0};
  p.alpha = oxrt_attr_float(n, "alpha", alpha_default);
  p.beta = oxrt_attr_float(n, "beta", 0.5f);
  p.gamma = oxrt_attr_float(n, "gamma", 1.05070102214813232421875f);
  p.lambd = oxrt_attr_float(n, "lambd", 0.5f);
  p.bias = oxrt_attr_float(n, "bias", 0.0f);
  return p;
}

/* One run function per operator: its descriptor and the default of `alpha`. */
#define UNARY_RUN(name, ALPHA, I64)                                                                                    \
  static oxrt_status *name##_run(oxrt_kernel_ctx *ctx) {                                                               \
    static const unary_desc d = {name##_f32, name##_f64, I64};                                                         \
    uparams p = read_params(ctx->node, ALPHA);                                                                         \
    return unary_run(ctx, &d, &p);                                                                                     \
  }

UNARY_RUN(abs, 0, abs_i)
UNARY_RUN(neg, 0, neg_i)
UNARY_RUN(acos, 0, NULL)
UNARY_RUN(acosh, 0, NULL)
UNARY_RUN(asin, 0, NULL)
UNARY_RUN(asinh, 0, NULL)
UNARY_RUN(atan, 0, NULL)
UNARY_RUN(atanh, 0, NULL)
UNARY_RUN(ceil, 0, NULL)
UNARY_RUN(floor, 0, NULL)
UNARY_RUN(round, 0, NULL)
UNARY_RUN(cos, 0, NULL)
UNARY_RUN(cosh, 0, NULL)
UNARY_RUN(sin, 0, NULL)
UNARY_RUN(sinh, 0, NULL)
UNARY_RUN(tan, 0, NULL)
UNARY_RUN(tanh, 0, NULL)
UNARY_RUN(erf, 0, NULL)
UNARY_RUN(exp, 0, NULL)
UNARY_RUN(log, 0, NULL)
UNARY_RUN(sqrt, 0, NULL)
UNARY_RUN(reciprocal, 0, NULL)
UNARY_RUN(sigmoid, 0, NULL)
UNARY_RUN(sign, 0, sign_i)
UNARY_RUN(relu, 0, relu_i)
UNARY_RUN(leakyrelu, 0.01f, NULL)
UNARY_RUN(thresholdedrelu, 1.0f, NULL)
UNARY_RUN(elu, 1.0f, NULL)
UNARY_RUN(celu, 1.0f, NULL)
UNARY_RUN(hardsigmoid, 0.2f, NULL)
UNARY_RUN(hardswish, 0, NULL)
UNARY_RUN(softplus, 0, NULL)
UNARY_RUN(softsign, 0, NULL)
UNARY_RUN(shrink, 0, shrink_i)
UNARY_RUN(mish, 0, NULL)
UNARY_RUN(swish, 1.0f, NULL)

static oxrt_status *selu_run(oxrt_kernel_ctx *ctx) {
  static const unary_desc d = {selu_f32, selu_f64, NULL};
  uparams p = read_params(ctx->node, 1.67326319217681884765625f);
  return unary_run(ctx, &d, &p);
}

static oxrt_status *gelu_run(oxrt_kernel_ctx *ctx) {
  static const unary_desc d = {gelu_f32, gelu_f64, NULL};
  uparams p = read_params(ctx->node, 0);
  const char *a = oxrt_attr_string(ctx->node, "approximate", "none");
  if (strcmp(a, "tanh") == 0) p.approx_tanh = 1;
  else if (strcmp(a, "none") != 0)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute approximate: expected \"none\" or \"tanh\", got \"%s\"", a);
  return unary_run(ctx, &d, &p);
}

static oxrt_status *bitwise_not_run(oxrt_kernel_ctx *ctx) {
  static const unary_desc d = {NULL, NULL, bitwise_not_i};
  uparams p = {0};
  return unary_run(ctx, &d, &p);
}

/* Not: bool -> bool. */
static oxrt_status *not_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->dtype != OXRT_BOOL)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected bool, got %s", oxrt_elem_type_name(x->dtype));
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_BOOL, x->rank, x->dims, &y));
  const uint8_t *a = x->data;
  uint8_t *o = y->data;
  for (size_t i = 0; i < x->count; i++) o[i] = !a[i];
  return NULL;
}

/* IsNaN / IsInf: any float type (float8 included) -> bool. */
static oxrt_status *float_class_run(oxrt_kernel_ctx *ctx, bool inf) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (!oxrt_dtype_is_float(x->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected a float type, got %s",
                      oxrt_elem_type_name(x->dtype));
  bool neg = oxrt_attr_int(ctx->node, "detect_negative", 1) != 0;
  bool pos = oxrt_attr_int(ctx->node, "detect_positive", 1) != 0;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_BOOL, x->rank, x->dims, &y));
  uint8_t *o = y->data;
  if (x->dtype == OXRT_FLOAT) {
    const float *a = x->data;
    if (!inf)
      for (size_t i = 0; i < x->count; i++) o[i] = a[i] != a[i];
    else
      for (size_t i = 0; i < x->count; i++) o[i] = (pos && a[i] == INFINITY) || (neg && a[i] == -INFINITY);
    return NULL;
  }
  for (size_t i = 0; i < x->count; i++) {
    double v = oxrt_load_f64(x->dtype, x->data, i);
    o[i] = inf ? (pos && v == INFINITY) || (neg && v == -INFINITY) : isnan(v);
  }
  return NULL;
}
static oxrt_status *isnan_run(oxrt_kernel_ctx *ctx) { return float_class_run(ctx, false); }
static oxrt_status *isinf_run(oxrt_kernel_ctx *ctx) { return float_class_run(ctx, true); }

/* ---------------------------------------------------------------- registration */

#define F OXRT_TMASK_FLOATS
#define F_SI (OXRT_TMASK_FLOATS | OXRT_TMASK_SINTS)
#define NUM OXRT_TMASK_NUMERIC
/* Versions after the first only widen the type lists, so one impl per operator
 * carries the union of its types. */
#define IMPL1(name, v, mask)                                                                                           \
  static const oxrt_op_impl name##_impls[] = {{.since_version = v, .type_mask = mask, .run = name##_run}};

IMPL1(abs, 1, NUM)
IMPL1(neg, 1, F_SI)
IMPL1(acos, 7, F)
IMPL1(acosh, 9, F)
IMPL1(asin, 7, F)
IMPL1(asinh, 9, F)
IMPL1(atan, 7, F)
IMPL1(atanh, 9, F)
IMPL1(ceil, 1, F)
IMPL1(floor, 1, F)
IMPL1(round, 11, F)
IMPL1(cos, 7, F)
IMPL1(cosh, 9, F)
IMPL1(sin, 7, F)
IMPL1(sinh, 9, F)
IMPL1(tan, 7, F)
IMPL1(tanh, 1, F)
IMPL1(erf, 9, F)
IMPL1(exp, 1, F)
IMPL1(log, 1, F)
IMPL1(sqrt, 1, F)
IMPL1(reciprocal, 1, F)
IMPL1(sigmoid, 1, F)
IMPL1(sign, 9, NUM)
IMPL1(leakyrelu, 1, F)
IMPL1(thresholdedrelu, 10, F)
IMPL1(elu, 1, F)
IMPL1(selu, 1, F)
IMPL1(celu, 12, F)
IMPL1(hardsigmoid, 1, F)
IMPL1(hardswish, 14, F)
IMPL1(softplus, 1, F)
IMPL1(softsign, 1, F)
IMPL1(shrink, 9, NUM)
IMPL1(gelu, 20, F)
IMPL1(mish, 18, F)
IMPL1(swish, 24, F)
IMPL1(bitwise_not, 18, OXRT_TMASK_INTS)
IMPL1(not, 1, OXRT_TBIT(OXRT_BOOL))
IMPL1(isnan, 9, F | OXRT_TMASK_FLOAT8)
IMPL1(isinf, 10, F | OXRT_TMASK_FLOAT8)
/* Relu accepts signed integers from opset 14. */
static const oxrt_op_impl relu_impls[] = {
    {.since_version = 1, .type_mask = F, .run = relu_run},
    {.since_version = 14, .type_mask = F_SI, .run = relu_run},
};


/* Same shape; a known content of fixed sizes is negated (Shape -> Neg chains). */
static oxrt_status *infer_neg(oxrt_infer_ctx *ctx) {
  const oxrt_known_ints *a = oxrt_infer_known(ctx, 0);
  bool fixed = a != NULL;
  for (int i = 0; a && i < a->n; i++) fixed &= a->v[i] >= 0 && !a->names[i]; /* -1 stands for "unknown" */
  if (fixed) {
    oxrt_known_ints r = *a;
    for (int i = 0; i < r.n; i++) r.v[i] = -a->v[i];
    oxrt_infer_set_known(ctx, 0, &r);
  }
  return oxrt_infer_same(ctx);
}

OXRT_REGISTER_OP(Abs) = {"", "Abs", OXRT_IMPLS(abs_impls), .infer = oxrt_infer_same, .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(Neg) = {"", "Neg", OXRT_IMPLS(neg_impls), .infer = infer_neg, .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(Acos) = {"", "Acos", OXRT_IMPLS(acos_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Acosh) = {"", "Acosh", OXRT_IMPLS(acosh_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Asin) = {"", "Asin", OXRT_IMPLS(asin_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Asinh) = {"", "Asinh", OXRT_IMPLS(asinh_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Atan) = {"", "Atan", OXRT_IMPLS(atan_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Atanh) = {"", "Atanh", OXRT_IMPLS(atanh_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Ceil) = {"", "Ceil", OXRT_IMPLS(ceil_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Floor) = {"", "Floor", OXRT_IMPLS(floor_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Round) = {"", "Round", OXRT_IMPLS(round_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Cos) = {"", "Cos", OXRT_IMPLS(cos_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Cosh) = {"", "Cosh", OXRT_IMPLS(cosh_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Sin) = {"", "Sin", OXRT_IMPLS(sin_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Sinh) = {"", "Sinh", OXRT_IMPLS(sinh_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Tan) = {"", "Tan", OXRT_IMPLS(tan_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Tanh) = {"", "Tanh", OXRT_IMPLS(tanh_impls), .infer = oxrt_infer_same,
                          .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(Erf) = {"", "Erf", OXRT_IMPLS(erf_impls), .infer = oxrt_infer_same, .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(Exp) = {"", "Exp", OXRT_IMPLS(exp_impls), .infer = oxrt_infer_same, .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(Log) = {"", "Log", OXRT_IMPLS(log_impls), .infer = oxrt_infer_same, .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(Sqrt) = {"", "Sqrt", OXRT_IMPLS(sqrt_impls), .infer = oxrt_infer_same,
                          .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(Reciprocal) = {"", "Reciprocal", OXRT_IMPLS(reciprocal_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Sigmoid) = {"", "Sigmoid", OXRT_IMPLS(sigmoid_impls), .infer = oxrt_infer_same,
                             .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(Sign) = {"", "Sign", OXRT_IMPLS(sign_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Relu) = {"", "Relu", OXRT_IMPLS(relu_impls), .infer = oxrt_infer_same,
                          .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(LeakyRelu) = {"", "LeakyRelu", OXRT_IMPLS(leakyrelu_impls), .infer = oxrt_infer_same,
                               .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(ThresholdedRelu) = {"", "ThresholdedRelu", OXRT_IMPLS(thresholdedrelu_impls),
                                     .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Elu) = {"", "Elu", OXRT_IMPLS(elu_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Selu) = {"", "Selu", OXRT_IMPLS(selu_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Celu) = {"", "Celu", OXRT_IMPLS(celu_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(HardSigmoid) = {"", "HardSigmoid", OXRT_IMPLS(hardsigmoid_impls), .infer = oxrt_infer_same,
                                 .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(HardSwish) = {"", "HardSwish", OXRT_IMPLS(hardswish_impls), .infer = oxrt_infer_same,
                               .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(Softplus) = {"", "Softplus", OXRT_IMPLS(softplus_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Softsign) = {"", "Softsign", OXRT_IMPLS(softsign_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Shrink) = {"", "Shrink", OXRT_IMPLS(shrink_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Gelu) = {"", "Gelu", OXRT_IMPLS(gelu_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Mish) = {"", "Mish", OXRT_IMPLS(mish_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Swish) = {"", "Swish", OXRT_IMPLS(swish_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(BitwiseNot) = {"", "BitwiseNot", OXRT_IMPLS(bitwise_not_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(Not) = {"", "Not", OXRT_IMPLS(not_impls), .infer = oxrt_infer_same};
OXRT_REGISTER_OP(IsNaN) = {"", "IsNaN", OXRT_IMPLS(isnan_impls)};
OXRT_REGISTER_OP(IsInf) = {"", "IsInf", OXRT_IMPLS(isinf_impls)};
