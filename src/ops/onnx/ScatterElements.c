/* ScatterElements.c - ScatterElements: a copy of `data` with updates[i..] written (or reduced: add/mul from opset
 * 16, max/min from 18) at data[i.. with the axis coordinate replaced by indices[i..]]. */
#include "index_util.h"

oxrt_status *oxrt_ix_scatter_elements_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *ind = oxrt_input(ctx, 1), *upd = oxrt_input(ctx, 2);
  ix_reduction red;
  OXRT_TRY(ix_scatter_inputs(ctx, x, ind, upd, &red));
  if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (data) must have rank >= 1, got 0");
  if (ind->rank != x->rank || upd->rank != x->rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "data, indices and updates must have the same rank (%d, %d, %d)",
                      x->rank, ind->rank, upd->rank);
  for (int d = 0; d < x->rank; d++)
    if (ind->dims[d] != upd->dims[d])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "indices and updates shapes differ at dim %d (%lld vs %lld)", d,
                        (long long)ind->dims[d], (long long)upd->dims[d]);
  int64_t axis;
  OXRT_TRY(ix_elements_axis(ctx, x, ind, &axis));
  const int64_t adim = x->dims[axis];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_copy(ctx, 0, x, x->rank, x->dims));
  y = ctx->outputs[0];
  if (!ind->count) return NULL;
  int64_t xst[OXRT_MAX_RANK], idx[OXRT_MAX_RANK] = {0};
  ix_strides(x->dims, x->rank, xst);
  size_t base = 0;
  for (size_t i = 0; i < ind->count; i++) {
    int64_t v = ix_get(ind, i);
    if (v < 0) v += adim;
    if (!ix_reduce(x->dtype, red, y->data, base + (size_t)(v * xst[axis]), upd->data, i, 1)) return OXRT_OOM();
    ix_axis_walk_next(ind, (int)axis, xst, idx, &base);
  }
  return NULL;
}

static const oxrt_op_impl scatter_elements_impls[] = {
    {.since_version = 11, .run = oxrt_ix_scatter_elements_run},
    {.since_version = 13, .run = oxrt_ix_scatter_elements_run},
    {.since_version = 16, .run = oxrt_ix_scatter_elements_run},
    {.since_version = 18, .run = oxrt_ix_scatter_elements_run},
};
OXRT_REGISTER_OP(ScatterElements) = {"", "ScatterElements", OXRT_IMPLS(scatter_elements_impls)};
