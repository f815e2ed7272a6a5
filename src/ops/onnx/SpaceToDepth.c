/* SpaceToDepth.c - SpaceToDepth: moves spatial blocks into channels, DCR order (mode CRD from opset 28). */
#include "layout_util.h"
#include <string.h>

static oxrt_status *s2d_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  if (x->rank != 4) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be 4-D (NCHW), got rank %d", x->rank);
  int64_t bs = oxrt_attr_int(ctx->node, "blocksize", 0);
  if (bs <= 0 || bs > 65536) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "blocksize must be positive, got %lld", (long long)bs);
  const char *mode = ctx->opset >= 28 ? oxrt_attr_string(ctx->node, "mode", "DCR") : "DCR";
  bool crd = !strcmp(mode, "CRD");
  if (!crd && strcmp(mode, "DCR")) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "mode must be DCR or CRD, got '%s'", mode);
  int64_t b = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
  if (h % bs || w % bs)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "spatial dims %lldx%lld are not divisible by blocksize %lld", (long long)h,
                      (long long)w, (long long)bs);
  int64_t oh = h / bs, ow = w / bs;
  int64_t dims[4] = {b, c * bs * bs, oh, ow};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, 4, dims, &y));
  /* input strides of [b, c, oh, row, ow, col] */
  int64_t sb = c * h * w, sc = h * w, soh = bs * w, srow = w, sow = bs, scol = 1;
  if (crd) { /* output channel = c_i * bs*bs + row * bs + col */
    int64_t vd[6] = {b, c, bs, bs, oh, ow}, vs[6] = {sb, sc, srow, scol, soh, sow};
    return oxrt_lay_gather(ctx, x->dtype, y->data, x->data, 0, 6, vd, vs);
  }
  /* DCR: output channel = (row * bs + col) * c + c_i */
  int64_t vd[6] = {b, bs, bs, c, oh, ow}, vs[6] = {sb, srow, scol, sc, soh, sow};
  return oxrt_lay_gather(ctx, x->dtype, y->data, x->data, 0, 6, vd, vs);
}

static const oxrt_op_impl s2d_impls[] = {{.since_version = 1, .run = s2d_run}};
OXRT_REGISTER_OP(SpaceToDepth) = {"", "SpaceToDepth", OXRT_IMPLS(s2d_impls)};
