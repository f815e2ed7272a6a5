/* ScatterElements.c - ScatterElements: a copy of `data` with updates[i..] written (or reduced: add/mul from opset
 * 16, max/min from 18) at data[i.. with the axis coordinate replaced by indices[i..]]. */
#include "index_util.h"

oxrt_status *oxrt_ix_scatter_elements_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *ind = oxrt_input(ctx, 1), *upd = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  OXRT_TRY(ix_check_indices(ind, 1));
  OXRT_TRY(oxrt_check_tensor(upd, 2, "updates"));
  ix_reduction red = IX_RED_NONE;
  if (ctx->opset >= 16) OXRT_TRY(ix_parse_reduction(oxrt_attr_string(ctx->node, "reduction", "none"), &red));
  if (ctx->opset < 18 && (red == IX_RED_MAX || red == IX_RED_MIN))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "reduction max/min needs opset 18");
  bool cplx = x->dtype == OXRT_COMPLEX64 || x->dtype == OXRT_COMPLEX128;
  if (red != IX_RED_NONE && (x->dtype == OXRT_STRING || (cplx && (red == IX_RED_MAX || red == IX_RED_MIN))))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "this reduction is not defined for %s", oxrt_elem_type_name(x->dtype));
  if (upd->dtype != x->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "updates type %s differs from data type %s",
                      oxrt_elem_type_name(upd->dtype), oxrt_elem_type_name(x->dtype));
  if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (data) must have rank >= 1, got 0");
  if (ind->rank != x->rank || upd->rank != x->rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "data, indices and updates must have the same rank (%d, %d, %d)",
                      x->rank, ind->rank, upd->rank);
  for (int d = 0; d < x->rank; d++)
    if (ind->dims[d] != upd->dims[d])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "indices and updates shapes differ at dim %d (%lld vs %lld)", d,
                        (long long)ind->dims[d], (long long)upd->dims[d]);
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", 0), x->rank, false, &axis));
  for (int d = 0; d < x->rank; d++)
    if (d != axis && ind->dims[d] > x->dims[d])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "indices dim %d (%lld) exceeds data dim %d (%lld)", d,
                        (long long)ind->dims[d], d, (long long)x->dims[d]);
  int64_t adim = x->dims[axis];
  for (size_t i = 0; i < ind->count; i++) {
    int64_t v;
    OXRT_TRY(ix_wrap(ind, i, adim, &v));
  }
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
    for (int d = x->rank - 1; d >= 0; d--) {
      idx[d]++;
      if (d != axis) base += (size_t)xst[d];
      if (idx[d] < ind->dims[d]) break;
      if (d != axis) base -= (size_t)(xst[d] * ind->dims[d]);
      idx[d] = 0;
    }
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
