/* AffineGrid.c - sampling grid from affine matrices: theta [N, 2, 3] with size (N, C, H, W) gives
 * [N, H, W, 2]; theta [N, 3, 4] with size (N, C, D, H, W) gives [N, D, H, W, 3]. Base coordinates span
 * [-1, 1]: pixel centres without align_corners, pixel corners with it. */
#include "../op_util.h"
#include <stdlib.h>

static double ag_base(int64_t i, int64_t n, bool align) {
  if (align) return n > 1 ? -1.0 + 2.0 * (double)i / (double)(n - 1) : -1.0;
  return -1.0 + (2.0 * (double)i + 1.0) / (double)n;
}

static oxrt_status *affinegrid_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *th = oxrt_input(ctx, 0), *sz = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(th, 0, "theta"));
  int64_t *s;
  size_t ns;
  OXRT_TRY(oxrt_read_int_list(sz, 1, &s, &ns));
  const bool align = oxrt_attr_int(ctx->node, "align_corners", 0) != 0;
  if (ns != 4 && ns != 5) {
    free(s);
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: size must have 4 or 5 values, got %zu", ns);
  }
  const int sp = (int)ns - 2; /* 2 or 3 spatial axes */
  if (th->rank != 3 || th->dims[0] != s[0] || th->dims[1] != sp || th->dims[2] != sp + 1) {
    free(s);
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: theta must be [N, %d, %d] with N matching size", sp, sp + 1);
  }
  int64_t od[5];
  od[0] = s[0];
  for (int i = 0; i < sp; i++) od[1 + i] = s[2 + i];
  od[1 + sp] = sp;
  for (int i = 0; i <= sp; i++)
    if (od[i] < 0) {
      free(s);
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: negative size");
    }
  free(s);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, th->dtype, sp + 2, od, &y));
  const int64_t D = sp == 3 ? od[1] : 1, H = od[sp - 1], W = od[sp];
  size_t o = 0;
  for (int64_t n = 0; n < od[0]; n++) {
    double t[12];
    for (int k = 0; k < sp * (sp + 1); k++) t[k] = oxrt_load_f64(th->dtype, th->data, (size_t)n * (size_t)(sp * (sp + 1)) + (size_t)k);
    for (int64_t d = 0; d < D; d++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t w = 0; w < W; w++) {
          const double p[4] = {ag_base(w, W, align), ag_base(h, H, align), sp == 3 ? ag_base(d, D, align) : 1.0, 1.0};
          for (int r = 0; r < sp; r++) {
            double v = 0;
            for (int c = 0; c <= sp; c++) v += t[r * (sp + 1) + c] * (c == sp ? 1.0 : p[c]);
            oxrt_store_f64(th->dtype, y->data, o++, v);
          }
        }
  }
  return NULL;
}

static const oxrt_op_impl affinegrid_impls[] = {
    {.since_version = 20, .type_mask = OXRT_TMASK_FLOATS, .run = affinegrid_run},
};
OXRT_REGISTER_OP(AffineGrid) = {"", "AffineGrid", OXRT_IMPLS(affinegrid_impls)};
