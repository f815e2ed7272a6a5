/* Compress.c - Compress: the slices along `axis` (or elements of the flattened input when no axis) whose
 * `condition` entry is true; a shorter condition leaves the rest out. */
#include "index_util.h"

static oxrt_status *compress_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *c = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  OXRT_TRY(oxrt_check_tensor(c, 1, "condition"));
  if (c->dtype != OXRT_BOOL)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (condition) must be bool, got %s", oxrt_elem_type_name(c->dtype));
  if (c->rank != 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (condition) must be 1-D, got rank %d", c->rank);
  const oxrt_attr *aa = oxrt_node_attr(ctx->node, "axis");
  int64_t axis = -1;
  size_t outer, dim, inner;
  if (aa) {
    if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must have rank >= 1 when axis is given");
    OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", 0), x->rank, false, &axis));
    outer = ix_prod(x->dims, 0, (int)axis);
    dim = (size_t)x->dims[axis];
    inner = ix_prod(x->dims, (int)axis + 1, x->rank);
  } else {
    outer = 1;
    dim = x->count;
    inner = 1;
  }
  const uint8_t *cv = c->data;
  size_t kept = 0;
  for (size_t i = 0; i < c->count; i++) {
    if (!cv[i]) continue;
    if (i >= dim)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "condition[%zu] is true but the axis has only %zu entries", i, dim);
    kept++;
  }
  int64_t dims[OXRT_MAX_RANK];
  int orank;
  if (aa) {
    orank = x->rank;
    for (int d = 0; d < orank; d++) dims[d] = x->dims[d];
    dims[axis] = (int64_t)kept;
  } else {
    orank = 1;
    dims[0] = (int64_t)kept;
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, orank, dims, &y));
  size_t n = c->count < dim ? c->count : dim;
  for (size_t o = 0; o < outer; o++) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (!cv[i]) continue;
      if (!ix_copy(x->dtype, y->data, (o * kept + k) * inner, x->data, (o * dim + i) * inner, inner)) return OXRT_OOM();
      k++;
    }
  }
  return NULL;
}

static const oxrt_op_impl compress_impls[] = {
    {.since_version = 9, .run = compress_run},
    {.since_version = 11, .run = compress_run},
};
OXRT_REGISTER_OP(Compress) = {"", "Compress", OXRT_IMPLS(compress_impls)};
