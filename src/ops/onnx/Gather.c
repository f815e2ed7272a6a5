/* Gather.c - Gather: entries of `data` along `axis` picked by `indices` (negative indices wrap from opset 11). */
#include "index_util.h"

static oxrt_status *gather_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *ind = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  OXRT_TRY(ix_check_indices(ind, 1));
  if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (data) must have rank >= 1, got 0");
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", 0), x->rank, false, &axis));
  int orank = x->rank - 1 + ind->rank;
  if (orank > OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output rank %d is over %d", orank, OXRT_MAX_RANK);
  int64_t dims[OXRT_MAX_RANK];
  int k = 0;
  for (int d = 0; d < axis; d++) dims[k++] = x->dims[d];
  for (int d = 0; d < ind->rank; d++) dims[k++] = ind->dims[d];
  for (int d = (int)axis + 1; d < x->rank; d++) dims[k++] = x->dims[d];
  int64_t adim = x->dims[axis];
  /* Validate every index before writing anything. */
  for (size_t i = 0; i < ind->count; i++) {
    int64_t v;
    OXRT_TRY(ix_wrap(ind, i, adim, &v));
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, orank, dims, &y));
  size_t outer = ix_prod(x->dims, 0, (int)axis), inner = ix_prod(x->dims, (int)axis + 1, x->rank), n = ind->count;
  size_t es = oxrt_elem_type_size(x->dtype);
  for (size_t o = 0; o < outer; o++) {
    for (size_t j = 0; j < n; j++) {
      int64_t v = ix_get(ind, j);
      if (v < 0) v += adim;
      size_t src = (o * (size_t)adim + (size_t)v) * inner, dst = (o * n + j) * inner;
      if (x->dtype == OXRT_STRING) {
        if (!ix_copy(x->dtype, y->data, dst, x->data, src, inner)) return OXRT_OOM();
      } else {
        memcpy((char *)y->data + dst * es, (const char *)x->data + src * es, inner * es);
      }
    }
  }
  return NULL;
}

static const oxrt_op_impl gather_impls[] = {
    {.since_version = 1, .run = gather_run},
    {.since_version = 11, .run = gather_run},
    {.since_version = 13, .run = gather_run},
};
OXRT_REGISTER_OP(Gather) = {"", "Gather", OXRT_IMPLS(gather_impls)};
