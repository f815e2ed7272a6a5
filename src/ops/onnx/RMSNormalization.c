/* RMSNormalization.c - RMSNormalization (opset 23): y = x / sqrt(mean(x^2 over [axis, rank)) + eps) * scale.
 * Rows of the [rows, cols] view run in parallel; Scale broadcasts like LayerNormalization's. */
#include "f32_view.h"
#include "../infer_rules.h"
#include <math.h>

typedef struct {
  const float *x, *w;
  float *y;
  size_t cols;
  bool w_full;
  float eps;
} rms_job;

static void rms_rows(void *arg, size_t beg, size_t end) {
  const rms_job *J = arg;
  const size_t n = J->cols;
  for (size_t r = beg; r < end; r++) {
    const float *x = J->x + r * n;
    const float *w = J->w + (J->w_full ? r * n : 0);
    float *y = J->y + r * n;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    const float inv = (float)(1.0 / sqrt(s / (double)(n ? n : 1) + (double)J->eps));
    for (size_t i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
  }
}

static oxrt_status *rms_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(w, 1, "scale"));
  const int r = x->rank;
  if (r == 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 1, got a scalar");
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", -1), r, false, &axis));
  rms_job J = {.eps = oxrt_attr_float(ctx->node, "epsilon", 1e-5f)};
  size_t rows = 1, cols = 1;
  for (int i = 0; i < r; i++) *(i < axis ? &rows : &cols) *= (size_t)x->dims[i];
  J.cols = cols;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, x->dims, &y));
  float *wt = NULL, *xt = NULL, *yf = NULL;
  const float *xf = NULL;
  J.w_full = w->rank > r - axis;
  oxrt_status *st = f32_broadcast_to(w, 1, J.w_full ? r : (int)(r - axis), J.w_full ? x->dims : x->dims + axis, &wt);
  if (!st) st = f32_in(x, &xf, &xt);
  if (!st) st = f32_out(y, &yf);
  if (!st) {
    J.x = xf, J.y = yf, J.w = wt;
    if (y->count) oxrt_parallel(ctx, rows, cols >= 4096 ? 1 : 4096 / (cols + 1) + 1, rms_rows, &J);
    f32_commit(y, yf);
  }
  free(wt);
  free(xt);
  return st;
}

static const oxrt_op_impl rms_impls[] = {
    {.since_version = 23, .type_mask = OXRT_TMASK_FLOATS, .run = rms_run},
};
OXRT_REGISTER_OP(RMSNormalization) = {"", "RMSNormalization", OXRT_IMPLS(rms_impls), .infer = oxrt_infer_same};
