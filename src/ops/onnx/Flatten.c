/* Flatten.c - Flatten to 2-D around `axis` (negative axes count from the back, opset 11+). */
#include "../op_util.h"
#include "../infer_rules.h"

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

/* [prod(dims before axis), prod(dims from axis)]. */
static oxrt_status *infer_flatten(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, out;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0) return NULL;
  int64_t axis = oxrt_attr_int(ctx->node, "axis", 1);
  if (axis < 0) axis += x.rank;
  if (axis < 0 || axis > x.rank) return NULL;
  oxrt_tshape_clear(&out);
  out.elem = x.elem, out.rank = 2, out.dims[0] = out.dims[1] = 1;
  for (int i = 0; i < x.rank; i++) {
    int64_t *d = &out.dims[i < axis ? 0 : 1];
    if (*d < 0 || x.dims[i] < 0 || __builtin_mul_overflow(*d, x.dims[i], d)) *d = -1;
  }
  if (axis == 1 && x.names[0]) out.names[0] = x.names[0];
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Flatten) = {"", "Flatten", OXRT_IMPLS(flatten_impls), .infer = infer_flatten,
                             .flags = OXRT_OP_SAME_ELEM_TYPE};
