/* Flatten.c - Flatten to 2-D around `axis` (negative axes count from the back, opset 11+). */
#include "../op_util.h"

static oxrt_status *flatten_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  int64_t axis = oxrt_attr_int(ctx->node, "axis", 1);
  /* axis is in [-r, r]; a negative one counts from the back (axis + r), unlike Unsqueeze's r + 1 */
  if (axis < -x->rank || axis > x->rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
  if (axis < 0) axis += x->rank;
  int64_t dims[2] = {1, 1};
  for (int d = 0; d < x->rank; d++) dims[d < axis ? 0 : 1] *= x->dims[d];
  return oxrt_output_copy(ctx, 0, x, 2, dims);
}

static const oxrt_op_impl flatten_impls[] = {{.since_version = 1, .run = flatten_run}};
OXRT_REGISTER_OP(Flatten) = {"", "Flatten", OXRT_IMPLS(flatten_impls)};
