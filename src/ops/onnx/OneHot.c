/* OneHot.c - OneHot: a new axis of length `depth` holding values[1] where it equals the index, values[0]
 * elsewhere. Indices outside [-depth, depth) (opset 11; [0, depth) in opset 9) give an all-off row. */
#include "index_util.h"

static oxrt_status *onehot_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *ind = oxrt_input(ctx, 0), *dep = oxrt_input(ctx, 1), *vals = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(ind, 0, "indices"));
  OXRT_TRY(oxrt_check_tensor(vals, 2, "values"));
  if (ind->dtype == OXRT_STRING || ind->dtype == OXRT_COMPLEX64 || ind->dtype == OXRT_COMPLEX128)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (indices) must be numeric, got %s",
                      oxrt_elem_type_name(ind->dtype));
  if (dep && dep->dtype == OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (depth) must be numeric");
  if (dep && dep->rank > 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (depth) must be a scalar or 1-element 1-D tensor, got rank %d",
                      dep->rank);
  double depf;
  OXRT_TRY(oxrt_read_scalar_f64(dep, 1, &depf));
  if (!(depf >= 0) || depf > 9.0e15)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "depth %g must be a non-negative number", depf);
  int64_t depth = (int64_t)depf;
  if (vals->count != 2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2 (values) must hold 2 elements [off, on], has %zu",
                      vals->count);
  if (ind->rank + 1 > OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output rank is over %d", OXRT_MAX_RANK);
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", -1), ind->rank, true, &axis));
  int64_t dims[OXRT_MAX_RANK];
  int k = 0;
  for (int d = 0; d < ind->rank; d++) {
    if (d == axis) dims[k++] = depth;
    dims[k++] = ind->dims[d];
  }
  if (axis == ind->rank) dims[k++] = depth;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, vals->dtype, k, dims, &y));
  size_t outer = ix_prod(ind->dims, 0, (int)axis), inner = ix_prod(ind->dims, (int)axis, ind->rank);
  bool wrap = ctx->opset >= 11;
  bool intlike = ix_is_intlike(ind->dtype);
  size_t es = oxrt_elem_type_size(vals->dtype);
  for (size_t o = 0; o < outer; o++)
    for (int64_t d = 0; d < depth; d++)
      for (size_t i = 0; i < inner; i++) {
        size_t src = o * inner + i;
        int64_t v;
        if (intlike) {
          v = oxrt_load_i64(ind->dtype, ind->data, src);
        } else {
          double f = oxrt_load_f64(ind->dtype, ind->data, src);
          v = isfinite(f) && fabs(f) < 9.0e18 ? (int64_t)f : INT64_MAX; /* non-finite: never on */
        }
        if (wrap && v < 0) v += depth;
        size_t dst = (o * (size_t)depth + (size_t)d) * inner + i;
        size_t pick = v == d ? 1 : 0;
        if (vals->dtype == OXRT_STRING) {
          if (!ix_copy(OXRT_STRING, y->data, dst, vals->data, pick, 1)) return OXRT_OOM();
        } else {
          memcpy((char *)y->data + dst * es, (const char *)vals->data + pick * es, es);
        }
      }
  return NULL;
}

static const oxrt_op_impl onehot_impls[] = {
    {.since_version = 9, .run = onehot_run},
    {.since_version = 11, .run = onehot_run},
};
OXRT_REGISTER_OP(OneHot) = {"", "OneHot", OXRT_IMPLS(onehot_impls)};
