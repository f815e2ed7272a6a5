/* GatherElements.c - GatherElements: out[i..] = data[i.. with the axis coordinate replaced by indices[i..]]. */
#include "index_util.h"
#include "../infer_rules.h"

static oxrt_status *gather_elements_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *ind = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  OXRT_TRY(ix_check_indices(ind, 1));
  if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (data) must have rank >= 1, got 0");
  if (ind->rank != x->rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (indices) must have the rank of data (%d), got %d", x->rank,
                      ind->rank);
  int64_t axis;
  OXRT_TRY(ix_elements_axis(ctx, x, ind, &axis));
  const int64_t adim = x->dims[axis];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, ind->rank, ind->dims, &y));
  if (!ind->count) return NULL;
  int64_t xst[OXRT_MAX_RANK], idx[OXRT_MAX_RANK] = {0};
  ix_strides(x->dims, x->rank, xst);
  size_t es = oxrt_elem_type_size(x->dtype);
  size_t base = 0; /* data offset of idx with the axis coordinate left out */
  for (size_t i = 0; i < ind->count; i++) {
    int64_t v = ix_get(ind, i);
    if (v < 0) v += adim;
    size_t src = base + (size_t)(v * xst[axis]);
    if (x->dtype == OXRT_STRING) {
      if (!ix_copy(x->dtype, y->data, i, x->data, src, 1)) return OXRT_OOM();
    } else {
      memcpy((char *)y->data + i * es, (const char *)x->data + src * es, es);
    }
    ix_axis_walk_next(ind, (int)axis, xst, idx, &base);
  }
  return NULL;
}

static const oxrt_op_impl gather_elements_impls[] = {
    {.since_version = 11, .run = gather_elements_run},
    {.since_version = 13, .run = gather_elements_run},
};

/* The shape of the indices, the type of the data. */
static oxrt_status *infer_gather_elements(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, ix;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0 || !oxrt_infer_input(ctx, 1, &ix) || ix.rank < 0) return NULL;
  ix.elem = x.elem;
  return oxrt_infer_output(ctx, 0, &ix);
}

OXRT_REGISTER_OP(GatherElements) = {"", "GatherElements", OXRT_IMPLS(gather_elements_impls),
                                    .infer = infer_gather_elements};
