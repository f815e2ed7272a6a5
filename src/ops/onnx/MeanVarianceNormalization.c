/* MeanVarianceNormalization.c - y = (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` (default
 * [0, 2, 3]), as ONNX's function body defines it. Statistics are accumulated in double with per-element
 * output strides (0 along the reduced axes), so any axes set works in two sequential passes. */
#include "f32_view.h"
#include "../infer_rules.h"
#include <math.h>
#include <string.h>

static oxrt_status *mvn_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  const int r = x->rank;
  static const int64_t def_axes[] = {0, 2, 3};
  size_t na = 0;
  const int64_t *axes = oxrt_attr_ints(ctx->node, "axes", &na);
  if (!axes) axes = def_axes, na = 3;
  bool red[OXRT_MAX_RANK] = {false};
  for (size_t i = 0; i < na; i++) {
    int64_t a;
    OXRT_TRY(oxrt_norm_axis(axes[i], r, false, &a));
    red[a] = true;
  }
  /* statistics index strides */
  int64_t ss[OXRT_MAX_RANK];
  size_t nstat = 1, cnt = 1;
  for (int d = r - 1; d >= 0; d--) {
    ss[d] = red[d] ? 0 : (int64_t)nstat;
    if (red[d]) cnt *= (size_t)x->dims[d];
    else nstat *= (size_t)x->dims[d];
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, x->dims, &y));
  if (y->count == 0) return NULL;
  const float *xf = NULL;
  float *xt = NULL, *yf = NULL;
  double *m = calloc(2 * nstat, sizeof(double));
  if (!m) return OXRT_OOM();
  double *q = m + nstat;
  oxrt_status *st = f32_in(x, &xf, &xt);
  if (!st) st = f32_out(y, &yf);
  if (!st) {
    int64_t idx[OXRT_MAX_RANK] = {0};
    for (int pass = 0; pass < 2; pass++) {
      size_t so = 0;
      memset(idx, 0, sizeof idx);
      for (size_t i = 0; i < x->count; i++) {
        if (pass == 0) {
          m[so] += xf[i];
          q[so] += (double)xf[i] * xf[i];
        } else {
          yf[i] = (float)((xf[i] - m[so]) / (q[so] + 1e-9));
        }
        for (int d = r - 1; d >= 0; d--) {
          so += (size_t)ss[d];
          if (++idx[d] < x->dims[d]) break;
          so -= (size_t)(ss[d] * x->dims[d]);
          idx[d] = 0;
        }
      }
      if (pass == 0)
        for (size_t k = 0; k < nstat; k++) {
          m[k] /= (double)cnt;
          const double v = q[k] / (double)cnt - m[k] * m[k];
          q[k] = sqrt(v > 0 ? v : 0); /* q now holds the standard deviation */
        }
    }
    f32_commit(y, yf);
  }
  free(m);
  free(xt);
  return st;
}

static const oxrt_op_impl mvn_impls[] = {
    {.since_version = 9, .type_mask = OXRT_TMASK_FLOATS, .run = mvn_run},
    {.since_version = 13, .type_mask = OXRT_TMASK_FLOATS, .run = mvn_run},
};
OXRT_REGISTER_OP(MeanVarianceNormalization) = {"", "MeanVarianceNormalization", OXRT_IMPLS(mvn_impls),
                                               .infer = oxrt_infer_same};
