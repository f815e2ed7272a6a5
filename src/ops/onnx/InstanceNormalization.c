/* InstanceNormalization.c - y = scale[c] * (x - mean) / sqrt(var + eps) + B[c], statistics per (n, c) plane.
 * Planes run in parallel. */
#include "f32_view.h"
#include "../infer_rules.h"
#include <math.h>

typedef struct {
  const float *x, *s, *b;
  float *y;
  size_t C, S;
  float eps;
} in_job;

static void in_planes(void *arg, size_t beg, size_t end) {
  const in_job *J = arg;
  for (size_t p = beg; p < end; p++) {
    const size_t c = p % J->C;
    const float *x = J->x + p * J->S;
    float *y = J->y + p * J->S;
    double mean, var;
    f32_mean_var(x, J->S, &mean, &var);
    const float a = (float)(J->s[c] / sqrt(var + (double)J->eps));
    const float b = (float)(J->b[c] - mean * a);
    for (size_t i = 0; i < J->S; i++) y[i] = x[i] * a + b;
  }
}

static oxrt_status *in_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *s = oxrt_input(ctx, 1), *b = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  OXRT_TRY(oxrt_check_tensor(s, 1, "scale"));
  OXRT_TRY(oxrt_check_tensor(b, 2, "B"));
  if (x->rank < 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 2 (N, C, ...), got %d", x->rank);
  const size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1];
  if (s->count != C || b->count != C)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scale and B must hold C=%zu values, got %zu and %zu", C, s->count, b->count);
  size_t S = 1;
  for (int i = 2; i < x->rank; i++) S *= (size_t)x->dims[i];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  if (y->count == 0) return NULL;
  f32_views v;
  oxrt_status *st = f32_views_open(&v, 3, (const oxrt_value *[]){x, s, b}, y);
  if (!st) {
    in_job J = {.x = v.in[0], .s = v.in[1], .b = v.in[2], .y = v.y, .C = C, .S = S,
                .eps = oxrt_attr_float(ctx->node, "epsilon", 1e-5f)};
    oxrt_parallel(ctx, N * C, S >= 4096 ? 1 : 4096 / (S + 1) + 1, in_planes, &J);
  }
  return f32_views_close(&v, y, st);
}

static const oxrt_op_impl in_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = in_run},
    {.since_version = 6, .type_mask = OXRT_TMASK_FLOATS, .run = in_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = in_run},
};
OXRT_REGISTER_OP(InstanceNormalization) = {"", "InstanceNormalization", OXRT_IMPLS(in_impls), .infer = oxrt_infer_same};
