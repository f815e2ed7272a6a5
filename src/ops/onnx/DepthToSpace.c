/* DepthToSpace.c - DepthToSpace: moves channel blocks into spatial blocks, DCR (default) or CRD order
 * (mode from opset 11). A 6-D strided gather does the permutation. */
#include "layout_util.h"
#include <string.h>

static oxrt_status *d2s_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  if (x->rank != 4) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be 4-D (NCHW), got rank %d", x->rank);
  int64_t bs = oxrt_attr_int(ctx->node, "blocksize", 0);
  if (bs <= 0 || bs > 65536) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "blocksize must be positive, got %lld", (long long)bs);
  const char *mode = ctx->opset >= 11 ? oxrt_attr_string(ctx->node, "mode", "DCR") : "DCR";
  bool crd = !strcmp(mode, "CRD");
  if (!crd && strcmp(mode, "DCR")) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "mode must be DCR or CRD, got '%s'", mode);
  int64_t b = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
  if (c % (bs * bs))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "channels %lld are not divisible by blocksize^2 = %lld", (long long)c,
                      (long long)(bs * bs));
  int64_t oc = c / (bs * bs), hw = h * w;
  int64_t dims[4] = {b, oc, h * bs, w * bs};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, 4, dims, &y));
  /* output viewed as [b, oc, h, bs(row), w, bs(col)] */
  int64_t vd[6] = {b, oc, h, bs, w, bs};
  int64_t vs[6];
  vs[0] = c * hw;
  vs[2] = w;
  vs[4] = 1;
  if (crd) { /* channel = oc_i * bs*bs + row * bs + col */
    vs[1] = bs * bs * hw;
    vs[3] = bs * hw;
    vs[5] = hw;
  } else { /* channel = (row * bs + col) * oc + oc_i */
    vs[1] = hw;
    vs[3] = bs * oc * hw;
    vs[5] = oc * hw;
  }
  return oxrt_lay_gather(ctx, x->dtype, y->data, x->data, 0, 6, vd, vs);
}

static const oxrt_op_impl d2s_impls[] = {{.since_version = 1, .run = d2s_run}};
OXRT_REGISTER_OP(DepthToSpace) = {"", "DepthToSpace", OXRT_IMPLS(d2s_impls)};
