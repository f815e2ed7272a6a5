/* random.c - RandomNormal, RandomUniform, RandomNormalLike, RandomUniformLike, Multinomial, Bernoulli.
 * A seeded node draws the same sequence on every run (the state is read-only during run); an unseeded node
 * draws a fresh seed per run from a process-wide counter mixed with the clock. splitmix64 generator. */
#include "../op_util.h"
#include "../infer_rules.h"
#include <math.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct {
  uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }
static double rng_normal(rng *r) { /* Box-Muller */
  double u1 = rng_uniform(r), u2 = rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
}

static atomic_uint_fast64_t g_counter;

static rng rng_for(const oxrt_node *node) {
  rng r;
  const oxrt_attr *a = oxrt_node_attr(node, "seed");
  if (a) {
    float f = a->f;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    r.s = 0x5eed000000000000ull ^ bits;
  } else {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    r.s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (atomic_fetch_add(&g_counter, 1) * 0xd1b54a32d192ed03ull);
  }
  return r;
}

static oxrt_status *check_float_dtype(int64_t dt) {
  if (!oxrt_dtype_is_valid((int)dt) || !(OXRT_TMASK_FLOATS & OXRT_TBIT(dt)))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "dtype %lld must be a floating-point type", (long long)dt);
  return NULL;
}

/* kind 0: normal(mean, scale); kind 1: uniform(low, high). `like` takes shape (and default dtype) from input 0. */
static oxrt_status *random_fill(oxrt_kernel_ctx *ctx, int kind, bool like) {
  int rank;
  int64_t dims[OXRT_MAX_RANK];
  int64_t dt;
  if (like) {
    const oxrt_value *x = oxrt_input(ctx, 0);
    OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
    rank = x->rank;
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)rank);
    dt = oxrt_attr_int(ctx->node, "dtype", x->dtype);
  } else {
    size_t n = 0;
    const int64_t *shape = oxrt_attr_ints(ctx->node, "shape", &n);
    if (!shape) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute 'shape' is required");
    if (n > OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape has too many dimensions");
    for (size_t i = 0; i < n; i++)
      if (shape[i] < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape[%zu] is negative", i);
    rank = (int)n;
    memcpy(dims, shape, sizeof(int64_t) * n);
    dt = oxrt_attr_int(ctx->node, "dtype", OXRT_FLOAT);
  }
  OXRT_TRY(check_float_dtype(dt));
  double a = kind == 0 ? oxrt_attr_float(ctx->node, "mean", 0.f) : oxrt_attr_float(ctx->node, "low", 0.f);
  double b = kind == 0 ? oxrt_attr_float(ctx->node, "scale", 1.f) : oxrt_attr_float(ctx->node, "high", 1.f);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, (oxrt_elem_type)dt, rank, dims, &y));
  rng r = rng_for(ctx->node);
  for (size_t i = 0; i < y->count; i++) {
    double v = kind == 0 ? a + b * rng_normal(&r) : a + (b - a) * rng_uniform(&r);
    oxrt_store_f64((oxrt_elem_type)dt, y->data, i, v);
  }
  return NULL;
}

static oxrt_status *rnormal_run(oxrt_kernel_ctx *ctx) { return random_fill(ctx, 0, false); }
static oxrt_status *runiform_run(oxrt_kernel_ctx *ctx) { return random_fill(ctx, 1, false); }
static oxrt_status *rnormal_like_run(oxrt_kernel_ctx *ctx) { return random_fill(ctx, 0, true); }
static oxrt_status *runiform_like_run(oxrt_kernel_ctx *ctx) { return random_fill(ctx, 1, true); }

/* Bernoulli: 1 with probability p (input), in dtype (default the input's type). */
static oxrt_status *bernoulli_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  int64_t dt = oxrt_attr_int(ctx->node, "dtype", x->dtype);
  if (!oxrt_dtype_is_valid((int)dt) || dt == OXRT_STRING || dt == OXRT_UNDEFINED || dt == OXRT_COMPLEX64 ||
      dt == OXRT_COMPLEX128)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "dtype %lld is not a numeric type", (long long)dt);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, (oxrt_elem_type)dt, x->rank, x->dims, &y));
  rng r = rng_for(ctx->node);
  for (size_t i = 0; i < x->count; i++) {
    double p = oxrt_load_f64(x->dtype, x->data, i);
    if (!(p >= 0 && p <= 1))
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "probability %g at element %zu is outside [0, 1]", p, i);
    oxrt_store_f64((oxrt_elem_type)dt, y->data, i, rng_uniform(&r) < p ? 1.0 : 0.0);
  }
  return NULL;
}

/* Multinomial: sample_size draws per batch row from softmax(input) (the input holds unnormalised log-probs). */
static oxrt_status *multinomial_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  if (x->rank != 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be [batch, classes], got rank %d", x->rank);
  int64_t dt = oxrt_attr_int(ctx->node, "dtype", OXRT_INT32), n = oxrt_attr_int(ctx->node, "sample_size", 1);
  if (dt != OXRT_INT32 && dt != OXRT_INT64)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "dtype must be int32 or int64, got %lld", (long long)dt);
  if (n < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sample_size must be non-negative");
  int64_t B = x->dims[0], C = x->dims[1], dims[2] = {B, n};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, (oxrt_elem_type)dt, 2, dims, &y));
  double *cdf = malloc(sizeof(double) * (size_t)(C + 1));
  if (!cdf) return OXRT_OOM();
  rng r = rng_for(ctx->node);
  for (int64_t b = 0; b < B; b++) {
    double mx = -INFINITY, acc = 0;
    for (int64_t c = 0; c < C; c++) mx = fmax(mx, oxrt_load_f64(x->dtype, x->data, (size_t)(b * C + c)));
    for (int64_t c = 0; c < C; c++) cdf[c] = (acc += exp(oxrt_load_f64(x->dtype, x->data, (size_t)(b * C + c)) - mx));
    for (int64_t k = 0; k < n; k++) {
      double u = rng_uniform(&r) * acc;
      int64_t lo = 0, hi = C ? C - 1 : 0;
      while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (cdf[mid] > u)
          hi = mid;
        else
          lo = mid + 1;
      }
      oxrt_store_i64((oxrt_elem_type)dt, y->data, (size_t)(b * n + k), lo);
    }
  }
  free(cdf);
  return NULL;
}

static const oxrt_op_impl rnormal_impls[] = {{.since_version = 1, .run = rnormal_run}, {.since_version = 22, .run = rnormal_run}};
static const oxrt_op_impl runiform_impls[] = {{.since_version = 1, .run = runiform_run},
                                              {.since_version = 22, .run = runiform_run}};
static const oxrt_op_impl rnormal_like_impls[] = {{.since_version = 1, .run = rnormal_like_run},
                                                  {.since_version = 22, .run = rnormal_like_run}};
static const oxrt_op_impl runiform_like_impls[] = {{.since_version = 1, .run = runiform_like_run},
                                                   {.since_version = 22, .run = runiform_like_run}};
static const oxrt_op_impl bernoulli_impls[] = {
    {.since_version = 15, .type_mask = OXRT_TMASK_FLOATS, .run = bernoulli_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = bernoulli_run}};
static const oxrt_op_impl multinomial_impls[] = {
    {.since_version = 7, .type_mask = OXRT_TMASK_FLOATS, .run = multinomial_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = multinomial_run}};

/* The shape of input 0; the element type `dtype` when given, else input 0's. */
static oxrt_status *infer_random_like(oxrt_infer_ctx *ctx) {
  oxrt_tshape x;
  if (!oxrt_infer_input(ctx, 0, &x)) return NULL;
  if (oxrt_node_attr(ctx->node, "dtype")) x.elem = (oxrt_elem_type)oxrt_attr_int(ctx->node, "dtype", 0);
  return oxrt_infer_output(ctx, 0, &x);
}

OXRT_REGISTER_OP(RandomNormal) = {"", "RandomNormal", OXRT_IMPLS(rnormal_impls), .flags = OXRT_OP_NONDETERMINISTIC};
OXRT_REGISTER_OP(RandomUniform) = {"", "RandomUniform", OXRT_IMPLS(runiform_impls), .flags = OXRT_OP_NONDETERMINISTIC};
OXRT_REGISTER_OP(RandomNormalLike) = {"", "RandomNormalLike", OXRT_IMPLS(rnormal_like_impls),
                                      .infer = infer_random_like, .flags = OXRT_OP_NONDETERMINISTIC};
OXRT_REGISTER_OP(RandomUniformLike) = {"", "RandomUniformLike", OXRT_IMPLS(runiform_like_impls),
                                       .infer = infer_random_like, .flags = OXRT_OP_NONDETERMINISTIC};
OXRT_REGISTER_OP(Bernoulli) = {"", "Bernoulli", OXRT_IMPLS(bernoulli_impls), .infer = infer_random_like,
                               .flags = OXRT_OP_NONDETERMINISTIC};
OXRT_REGISTER_OP(Multinomial) = {"", "Multinomial", OXRT_IMPLS(multinomial_impls), .flags = OXRT_OP_NONDETERMINISTIC};
