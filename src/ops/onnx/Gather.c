/* Gather.c - Gather: entries of `data` along `axis` picked by `indices` (negative indices wrap from opset 11). */
#include "index_util.h"
#include "../infer_rules.h"

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

/* data.shape[:axis] + indices.shape + data.shape[axis+1:]; gathering from a known 1-D content gives content. */
static oxrt_status *infer_gather(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  const oxrt_known_ints *a = oxrt_infer_known(ctx, 0), *b = oxrt_infer_known(ctx, 1);
  if (a && b && !a->scalar && oxrt_attr_int(n, "axis", 0) == 0) {
    oxrt_known_ints r;
    memset(&r, 0, sizeof r);
    r.scalar = b->scalar;
    for (int i = 0; i < b->n && r.n >= 0; i++) {
      int64_t ix = b->v[i] < 0 ? b->v[i] + a->n : b->v[i];
      if ((b->v[i] == -1 && b->names[i]) || ix < 0 || ix >= a->n) r.n = -1;
      else r.v[r.n] = a->v[ix], r.names[r.n++] = a->names[ix];
    }
    if (r.n >= 0) oxrt_infer_set_known(ctx, 0, &r);
  }
  oxrt_tshape x, ix, out;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0 || !oxrt_infer_input(ctx, 1, &ix) || ix.rank < 0) return NULL;
  int64_t axis = oxrt_attr_int(n, "axis", 0);
  if (axis < 0) axis += x.rank;
  if (axis < 0 || axis >= x.rank || x.rank - 1 + ix.rank > OXRT_MAX_RANK) return NULL;
  out = x, out.rank = 0;
  for (int d = 0; d < x.rank; d++) {
    if (d == axis)
      for (int j = 0; j < ix.rank; j++) out.dims[out.rank] = ix.dims[j], out.names[out.rank++] = ix.names[j];
    else out.dims[out.rank] = x.dims[d], out.names[out.rank++] = x.names[d];
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Gather) = {"", "Gather", OXRT_IMPLS(gather_impls), .infer = infer_gather,
                            .flags = OXRT_OP_SAME_ELEM_TYPE};
