/* LpNormalization.c - x / ||x||_p along `axis` (p = 1 or 2); a zero norm gives 0. Data is viewed as
 * [outer, D, inner]. */
#include "f32_view.h"
#include "../infer_rules.h"
#include <math.h>

static oxrt_status *lpn_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  const int r = x->rank;
  if (r == 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 1, got a scalar");
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", -1), r, false, &axis));
  const int64_t p = oxrt_attr_int(ctx->node, "p", 2);
  if (p != 1 && p != 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "p must be 1 or 2, got %lld", (long long)p);
  size_t outer = 1, D = (size_t)x->dims[axis], inner = 1;
  for (int i = 0; i < r; i++)
    if (i < axis) outer *= (size_t)x->dims[i];
    else if (i > axis) inner *= (size_t)x->dims[i];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, x->dims, &y));
  if (y->count == 0) return NULL;
  f32_views v;
  oxrt_status *st = f32_views_open(&v, 1, &x, y);
  if (!st) {
    const float *xf = v.in[0];
    float *yf = v.y;
    for (size_t o = 0; o < outer; o++)
      for (size_t j = 0; j < inner; j++) {
        const float *xp = xf + o * D * inner + j;
        float *yp = yf + o * D * inner + j;
        double s = 0;
        for (size_t i = 0; i < D; i++) s += p == 1 ? fabs((double)xp[i * inner]) : (double)xp[i * inner] * xp[i * inner];
        const double n = p == 1 ? s : sqrt(s);
        for (size_t i = 0; i < D; i++) yp[i * inner] = n == 0 ? 0.0f : (float)(xp[i * inner] / n);
      }
  }
  return f32_views_close(&v, y, st);
}

static const oxrt_op_impl lpn_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = lpn_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = lpn_run},
};
OXRT_REGISTER_OP(LpNormalization) = {"", "LpNormalization", OXRT_IMPLS(lpn_impls), .infer = oxrt_infer_same};
