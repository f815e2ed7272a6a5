/* Trilu.c - Trilu: keep the upper (j - i >= k) or lower (j - i <= k) triangle of the last two axes,
 * zero (or "" / false) elsewhere. Any element type. */
#include "layout_util.h"
#include "../infer_rules.h"
#include <string.h>

static oxrt_status *trilu_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  if (x->rank < 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must have rank >= 2, got %d", x->rank);
  int64_t k = 0;
  if (oxrt_input(ctx, 1)) OXRT_TRY(oxrt_read_scalar_i64(oxrt_input(ctx, 1), 1, &k));
  bool upper = oxrt_attr_int(ctx->node, "upper", 1) != 0;
  OXRT_TRY(oxrt_output_copy(ctx, 0, x, x->rank, x->dims));
  oxrt_value *y = ctx->outputs[0];
  int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
  if (rows == 0 || cols == 0) return NULL;
  size_t mats = x->count / (size_t)(rows * cols);
  uint8_t zero[16] = {0};
  const char *empty = "";
  const void *zp = x->dtype == OXRT_STRING ? (const void *)&empty : zero;
  /* clamp k so that i + k cannot overflow */
  if (k > cols) k = cols + 1;
  if (k < -rows) k = -rows - 1;
  for (size_t m = 0; m < mats; m++)
    for (int64_t i = 0; i < rows; i++) {
      int64_t lo, hi; /* columns [lo, hi) are cleared */
      if (upper) {
        lo = 0;
        hi = i + k;
      } else {
        lo = i + k + 1;
        hi = cols;
      }
      if (lo < 0) lo = 0;
      if (hi > cols) hi = cols;
      if (hi > lo && !oxrt_lay_fill(x->dtype, y->data, (m * (size_t)rows + (size_t)i) * (size_t)cols + (size_t)lo, zp,
                                    (size_t)(hi - lo)))
        return OXRT_OOM();
    }
  return NULL;
}

static const oxrt_op_impl trilu_impls[] = {{.since_version = 14, .run = trilu_run}};
OXRT_REGISTER_OP(Trilu) = {"", "Trilu", OXRT_IMPLS(trilu_impls), .infer = oxrt_infer_same};
