/* Upsample.c - Upsample (opsets 1, 7, 9, 10; deprecated by Resize): nearest or (bi)linear upsampling by scales >= 1
 * with asymmetric coordinates, through the Resize core. Scales come from height_scale/width_scale (opset 1), the
 * `scales` attribute (7) or input 1 (9, 10). */
#include "index_util.h"

static oxrt_status *upsample_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  int r = x->rank;
  ix_rs_params p = {IX_RS_NEAREST, IX_CT_ASYMMETRIC, IX_NM_SIMPLE, -0.75, 0, false, false};
  const char *mode = oxrt_attr_string(ctx->node, "mode", "nearest");
  if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear")) p.mode = IX_RS_LINEAR;
  else if (strcmp(mode, "nearest")) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "mode '%s' is not supported", mode);
  double scale[OXRT_MAX_RANK];
  if (ctx->opset < 7) {
    if (r != 4) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must be 4-D (NCHW), got rank %d", r);
    scale[0] = scale[1] = 1;
    scale[2] = oxrt_attr_float(ctx->node, "height_scale", 1.0f);
    scale[3] = oxrt_attr_float(ctx->node, "width_scale", 1.0f);
  } else if (ctx->opset < 9) {
    size_t n = 0;
    const float *s = oxrt_attr_floats(ctx->node, "scales", &n);
    if (!s || n != (size_t)r)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute scales must hold %d values, has %zu", r, n);
    for (int d = 0; d < r; d++) scale[d] = s[d];
  } else {
    const oxrt_value *s = oxrt_input(ctx, 1);
    OXRT_TRY(oxrt_check_tensor(s, 1, "scales"));
    if (s->count != (size_t)r || s->dtype == OXRT_STRING)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (scales) must hold %d numbers, has %zu", r, s->count);
    for (int d = 0; d < r; d++) scale[d] = oxrt_load_f64(s->dtype, s->data, (size_t)d);
  }
  int64_t od[OXRT_MAX_RANK], axes[OXRT_MAX_RANK];
  for (int d = 0; d < r; d++) {
    if (!(scale[d] >= 1) || scale[d] > 1e9)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scale %g for axis %d must be >= 1", scale[d], d);
    od[d] = (int64_t)floor(scale[d] * (double)x->dims[d]);
    axes[d] = d;
  }
  return oxrt_ix_resize(ctx, x, &p, scale, od, NULL, axes, r);
}

static const oxrt_op_impl upsample_impls[] = {
    {.since_version = 1, .run = upsample_run},
    {.since_version = 7, .run = upsample_run},
    {.since_version = 9, .run = upsample_run},
    {.since_version = 10, .run = upsample_run},
};
OXRT_REGISTER_OP(Upsample) = {"", "Upsample", OXRT_IMPLS(upsample_impls)};
