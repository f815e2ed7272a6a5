/* LRN.c - local response normalisation across channels:
 * y = x / (bias + alpha / size * sum of x^2 over channels [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta.
 * Works for any rank >= 2 ([N, C, spatial...]); (n, c) planes run in parallel. */
#include "f32_view.h"
#include "../infer_rules.h"
#include <math.h>

typedef struct {
  const float *x;
  float *y;
  size_t C, S;
  int64_t lo, hi;
  float alpha, beta, bias, size;
} lrn_job;

static void lrn_planes(void *arg, size_t beg, size_t end) {
  const lrn_job *J = arg;
  for (size_t p = beg; p < end; p++) {
    const int64_t c = (int64_t)(p % J->C);
    const size_t n0 = p - (size_t)c; /* plane of channel 0 in this batch */
    int64_t c0 = c - J->lo, c1 = c + J->hi;
    if (c0 < 0) c0 = 0;
    if (c1 > (int64_t)J->C - 1) c1 = (int64_t)J->C - 1;
    const float *x = J->x + p * J->S;
    float *y = J->y + p * J->S;
    for (size_t i = 0; i < J->S; i++) {
      float s = 0;
      for (int64_t k = c0; k <= c1; k++) {
        const float v = J->x[(n0 + (size_t)k) * J->S + i];
        s += v * v;
      }
      const float d = J->bias + J->alpha / J->size * s;
      y[i] = x[i] / (J->beta == 0.75f ? sqrtf(d * sqrtf(d)) : powf(d, J->beta));
    }
  }
}

static oxrt_status *lrn_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->rank < 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 2 (N, C, ...), got %d", x->rank);
  const int64_t size = oxrt_attr_int(ctx->node, "size", 0);
  if (size <= 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute size must be positive, got %lld", (long long)size);
  lrn_job J = {.alpha = oxrt_attr_float(ctx->node, "alpha", 1e-4f), .beta = oxrt_attr_float(ctx->node, "beta", 0.75f),
               .bias = oxrt_attr_float(ctx->node, "bias", 1.0f), .size = (float)size,
               .lo = (size - 1) / 2, .hi = size / 2};
  J.C = (size_t)x->dims[1];
  J.S = 1;
  for (int i = 2; i < x->rank; i++) J.S *= (size_t)x->dims[i];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  if (y->count == 0) return NULL;
  f32_views v;
  oxrt_status *st = f32_views_open(&v, 1, &x, y);
  if (!st) {
    J.x = v.in[0], J.y = v.y;
    oxrt_parallel(ctx, (size_t)x->dims[0] * J.C, J.S >= 1024 ? 1 : 1024 / (J.S + 1) + 1, lrn_planes, &J);
  }
  return f32_views_close(&v, y, st);
}

static const oxrt_op_impl lrn_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = lrn_run},
    {.since_version = 13, .type_mask = OXRT_TMASK_FLOATS, .run = lrn_run},
};
OXRT_REGISTER_OP(LRN) = {"", "LRN", OXRT_IMPLS(lrn_impls), .infer = oxrt_infer_same};
