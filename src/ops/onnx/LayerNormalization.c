/* LayerNormalization.c - LayerNormalization (opset 17): normalise over the axes [axis, rank), then scale and
 * shift; optional Mean and InvStdDev outputs in the stash type (shape dims[:axis] followed by ones).
 *
 * The input is viewed as [rows, cols]; rows run in parallel. Scale/B normally cover the trailing block and
 * are expanded once to `cols` floats; a scale that also spans leading axes is expanded to the full shape.
 * Mean and variance are accumulated in double by the vectorised oxrt_vmean_var_f32. */
#include "../../kernels/vmath.h"
#include "../infer_rules.h"
#include "f32_view.h"
#include <math.h>
#include <string.h>

typedef struct {
  const float *x, *w, *b;
  float *y;
  size_t cols;
  bool w_full, b_full;
  float eps;
  float *mean, *inv; /* per row, may be NULL */
} ln_job;

OXRT_SIMD_CLONES static void ln_rows(void *arg, size_t beg, size_t end) {
  const ln_job *J = arg;
  const size_t n = J->cols;
  for (size_t r = beg; r < end; r++) {
    const float *x = J->x + r * n;
    float *y = J->y + r * n;
    const float *w = J->w + (J->w_full ? r * n : 0);
    const float *b = J->b ? J->b + (J->b_full ? r * n : 0) : NULL;
    double mean, var;
    oxrt_vmean_var_f32(x, n, &mean, &var);
    const float inv = (float)(1.0 / sqrt(var + (double)J->eps));
    const float m = (float)mean;
    if (b)
      for (size_t i = 0; i < n; i++) y[i] = (x[i] - m) * inv * w[i] + b[i];
    else
      for (size_t i = 0; i < n; i++) y[i] = (x[i] - m) * inv * w[i];
    if (J->mean) J->mean[r] = m;
    if (J->inv) J->inv[r] = inv;
  }
}

static oxrt_status *ln_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 1), *bv = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(w, 1, "Scale"));
  if (bv) OXRT_TRY(oxrt_check_tensor(bv, 2, "B"));
  const int r = x->rank;
  if (r == 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 1, got a scalar");
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", -1), r, false, &axis));
  const float eps = oxrt_attr_float(ctx->node, "epsilon", 1e-5f);
  const oxrt_elem_type ut = f32_stash_type(oxrt_attr_int(ctx->node, "stash_type", 1));
  size_t rows = 1, cols = 1;
  for (int i = 0; i < r; i++) *(i < axis ? &rows : &cols) *= (size_t)x->dims[i];
  int64_t sdims[OXRT_MAX_RANK];
  for (int i = 0; i < r; i++) sdims[i] = i < axis ? x->dims[i] : 1;

  oxrt_value *y, *mo = NULL, *io = NULL;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, x->dims, &y));
  if (oxrt_output_wanted(ctx, 1)) OXRT_TRY(oxrt_output_tensor(ctx, 1, ut, r, sdims, &mo));
  if (oxrt_output_wanted(ctx, 2)) OXRT_TRY(oxrt_output_tensor(ctx, 2, ut, r, sdims, &io));

  ln_job J = {.cols = cols, .eps = eps};
  float *wt = NULL, *bt = NULL, *xt = NULL, *yf = NULL, *mf = NULL, *inf = NULL;
  const float *xf = NULL;
  oxrt_status *st = NULL;
  /* Scale/B over the trailing block when their rank allows, else over the whole tensor. */
  J.w_full = w->rank > r - axis;
  st = f32_broadcast_to(w, 1, J.w_full ? r : (int)(r - axis), J.w_full ? x->dims : x->dims + axis, &wt);
  if (!st && bv) {
    J.b_full = bv->rank > r - axis;
    st = f32_broadcast_to(bv, 2, J.b_full ? r : (int)(r - axis), J.b_full ? x->dims : x->dims + axis, &bt);
  }
  if (!st) st = f32_in(x, &xf, &xt);
  if (!st) st = f32_out(y, &yf);
  if (!st && (mo || io)) {
    mf = malloc(sizeof(float) * 2 * (rows ? rows : 1));
    if (!mf) st = OXRT_OOM();
    inf = mf + rows;
  }
  if (!st) {
    J.x = xf, J.y = yf, J.w = wt, J.b = bt, J.mean = mf, J.inv = mf ? inf : NULL;
    if (y->count) oxrt_parallel(ctx, rows, cols >= 4096 ? 1 : 4096 / (cols + 1) + 1, ln_rows, &J);
    f32_commit(y, yf);
    yf = NULL;
    if (mo) oxrt_convert(ut, mo->data, OXRT_FLOAT, mf, rows, false);
    if (io) oxrt_convert(ut, io->data, OXRT_FLOAT, inf, rows, false);
  }
  if (yf) f32_drop(y, yf);
  free(mf);
  free(wt);
  free(bt);
  free(xt);
  return st;
}

static const oxrt_op_impl ln_impls[] = {
    {.since_version = 17, .type_mask = OXRT_TMASK_FLOATS, .run = ln_run},
};
OXRT_REGISTER_OP(LayerNormalization) = {"", "LayerNormalization", OXRT_IMPLS(ln_impls), .infer = oxrt_infer_same,
                                        .flags = OXRT_OP_SAME_ELEM_TYPE};
