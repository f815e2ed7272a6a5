/* GroupNormalization.c - statistics per (n, group of C/num_groups channels); scale and bias hold one value
 * per group in opset 18 and one per channel from opset 21. Groups run in parallel. */
#include "f32_view.h"
#include "../infer_rules.h"
#include <math.h>

typedef struct {
  const float *x, *s, *b;
  float *y;
  size_t G, Cg, S;
  bool per_channel;
  float eps;
} gn_job;

static void gn_groups(void *arg, size_t beg, size_t end) {
  const gn_job *J = arg;
  const size_t n = J->Cg * J->S;
  for (size_t p = beg; p < end; p++) {
    const size_t g = p % J->G;
    const float *x = J->x + p * n;
    float *y = J->y + p * n;
    double mean, var;
    f32_mean_var(x, n, &mean, &var);
    const double inv = 1.0 / sqrt(var + (double)J->eps);
    for (size_t c = 0; c < J->Cg; c++) {
      const size_t k = J->per_channel ? g * J->Cg + c : g;
      const float a = (float)(J->s[k] * inv), b = (float)(J->b[k] - mean * J->s[k] * inv);
      const float *xc = x + c * J->S;
      float *yc = y + c * J->S;
      for (size_t i = 0; i < J->S; i++) yc[i] = xc[i] * a + b;
    }
  }
}

static oxrt_status *gn_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *s = oxrt_input(ctx, 1), *b = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(s, 1, "scale"));
  OXRT_TRY(oxrt_check_tensor(b, 2, "bias"));
  if (x->rank < 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 2 (N, C, ...), got %d", x->rank);
  const int64_t G = oxrt_attr_int(ctx->node, "num_groups", 0);
  const size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1];
  if (G <= 0 || C % (size_t)G != 0)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "num_groups %lld must be positive and divide the %zu channels",
                      (long long)G, C);
  const bool per_channel = ctx->opset >= 21;
  const size_t want = per_channel ? C : (size_t)G;
  if (s->count != want || b->count != want)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scale and bias must hold %zu values (one per %s), got %zu and %zu",
                      want, per_channel ? "channel" : "group", s->count, b->count);
  size_t S = 1;
  for (int i = 2; i < x->rank; i++) S *= (size_t)x->dims[i];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  if (y->count == 0) return NULL;
  f32_views v;
  oxrt_status *st = f32_views_open(&v, 3, (const oxrt_value *[]){x, s, b}, y);
  if (!st) {
    gn_job J = {.x = v.in[0], .s = v.in[1], .b = v.in[2], .y = v.y, .G = (size_t)G, .Cg = C / (size_t)G, .S = S,
                .per_channel = per_channel, .eps = oxrt_attr_float(ctx->node, "epsilon", 1e-5f)};
    const size_t per = J.Cg * S;
    oxrt_parallel(ctx, N * (size_t)G, per >= 4096 ? 1 : 4096 / (per + 1) + 1, gn_groups, &J);
  }
  return f32_views_close(&v, y, st);
}

static const oxrt_op_impl gn_impls[] = {
    {.since_version = 18, .type_mask = OXRT_TMASK_FLOATS, .run = gn_run}, /* scale/bias per group */
    {.since_version = 21, .type_mask = OXRT_TMASK_FLOATS, .run = gn_run}, /* per channel, stash_type */
};
OXRT_REGISTER_OP(GroupNormalization) = {"", "GroupNormalization", OXRT_IMPLS(gn_impls), .infer = oxrt_infer_same};
