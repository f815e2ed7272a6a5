/* ScatterND.c - ScatterND: a copy of `data` with slices of `updates` written (or reduced: add/mul from opset 16,
 * max/min from 18) at the positions given by the last axis of `indices`. */
#include "index_util.h"

static oxrt_status *scatternd_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *ind = oxrt_input(ctx, 1), *upd = oxrt_input(ctx, 2);
  ix_reduction red;
  OXRT_TRY(ix_scatter_inputs(ctx, x, ind, upd, &red));
  int r = x->rank, q = ind->rank;
  if (r < 1 || q < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "data and indices must have rank >= 1");
  int64_t k = ind->dims[q - 1];
  if (k < 1 || k > r)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "indices.shape[-1] = %lld must be in [1, %d]", (long long)k, r);
  /* updates.shape = indices.shape[:-1] + data.shape[k:] */
  int urank = q - 1 + r - (int)k;
  bool ok = upd->rank == urank;
  for (int d = 0; ok && d < q - 1; d++) ok = upd->dims[d] == ind->dims[d];
  for (int d = (int)k; ok && d < r; d++) ok = upd->dims[q - 1 + d - k] == x->dims[d];
  if (!ok) {
    char a[200], b[200], c[200];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "updates shape %s must be indices.shape[:-1] + data.shape[k:] (%s, %s)",
                      oxrt_dims_str(upd->dims, upd->rank, a, sizeof a), oxrt_dims_str(ind->dims, q, b, sizeof b),
                      oxrt_dims_str(x->dims, r, c, sizeof c));
  }
  size_t ntup = ix_prod(ind->dims, 0, q - 1), slice = ix_prod(x->dims, (int)k, r);
  for (size_t t = 0; t < ntup; t++)
    for (int64_t j = 0; j < k; j++) {
      int64_t v;
      OXRT_TRY(ix_wrap(ind, t * (size_t)k + (size_t)j, x->dims[j], &v));
    }
  int64_t xst[OXRT_MAX_RANK];
  ix_strides(x->dims, r, xst);
  OXRT_TRY(oxrt_output_copy(ctx, 0, x, r, x->dims));
  oxrt_value *y = ctx->outputs[0];
  for (size_t t = 0; t < ntup; t++) {
    size_t off = 0;
    for (int64_t j = 0; j < k; j++) {
      int64_t v = ix_get(ind, t * (size_t)k + (size_t)j);
      if (v < 0) v += x->dims[j];
      off += (size_t)(v * xst[j]);
    }
    if (!ix_reduce(x->dtype, red, y->data, off, upd->data, t * slice, slice)) return OXRT_OOM();
  }
  return NULL;
}

static const oxrt_op_impl scatternd_impls[] = {
    {.since_version = 11, .run = scatternd_run},
    {.since_version = 13, .run = scatternd_run},
    {.since_version = 16, .run = scatternd_run},
    {.since_version = 18, .run = scatternd_run},
};
OXRT_REGISTER_OP(ScatterND) = {"", "ScatterND", OXRT_IMPLS(scatternd_impls)};
