/* Size.c - Size: element count of the input as an int64 scalar. */
#include "../op_util.h"

static oxrt_status *size_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT64, 0, NULL, &y));
  *(int64_t *)y->data = (int64_t)x->count;
  return NULL;
}

static const oxrt_op_impl size_impls[] = {{.since_version = 1, .run = size_run}};
OXRT_REGISTER_OP(Size) = {"", "Size", OXRT_IMPLS(size_impls)};
