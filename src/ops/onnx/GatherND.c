/* GatherND.c - GatherND: slices of `data` addressed by the last axis of `indices`, after `batch_dims` shared
 * leading axes (opset 12). */
#include "index_util.h"

static oxrt_status *gathernd_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *ind = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  OXRT_TRY(ix_check_indices(ind, 1));
  int64_t b = ctx->opset >= 12 ? oxrt_attr_int(ctx->node, "batch_dims", 0) : 0;
  int r = x->rank, q = ind->rank;
  if (r < 1 || q < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "data and indices must have rank >= 1");
  if (b < 0 || b >= r || b >= q)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "batch_dims %lld must be in [0, min(rank(data), rank(indices)))",
                      (long long)b);
  int64_t m = ind->dims[q - 1];
  if (m < 1 || m > r - b)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "indices.shape[-1] = %lld must be in [1, %lld]", (long long)m,
                      (long long)(r - b));
  for (int d = 0; d < b; d++)
    if (x->dims[d] != ind->dims[d])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "batch dim %d differs: data %lld, indices %lld", d,
                        (long long)x->dims[d], (long long)ind->dims[d]);
  int64_t dims[OXRT_MAX_RANK];
  int orank = 0;
  for (int d = 0; d < q - 1; d++) dims[orank++] = ind->dims[d];
  for (int d = (int)(b + m); d < r; d++) {
    if (orank >= OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output rank is over %d", OXRT_MAX_RANK);
    dims[orank++] = x->dims[d];
  }
  int64_t xst[OXRT_MAX_RANK];
  ix_strides(x->dims, r, xst);
  size_t nbatch = ix_prod(x->dims, 0, (int)b);
  size_t per_batch = ix_prod(ind->dims, (int)b, q - 1); /* index tuples per batch */
  size_t slice = ix_prod(x->dims, (int)(b + m), r);
  size_t batch_stride = ix_prod(x->dims, (int)b, r);
  /* Validate all tuples first. */
  for (size_t t = 0; t < nbatch * per_batch; t++)
    for (int64_t j = 0; j < m; j++) {
      int64_t v;
      OXRT_TRY(ix_wrap(ind, t * (size_t)m + (size_t)j, x->dims[b + j], &v));
    }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, orank, dims, &y));
  for (size_t t = 0; t < nbatch * per_batch; t++) {
    size_t off = (t / per_batch) * batch_stride;
    for (int64_t j = 0; j < m; j++) {
      int64_t v = ix_get(ind, t * (size_t)m + (size_t)j);
      if (v < 0) v += x->dims[b + j];
      off += (size_t)(v * xst[b + j]);
    }
    if (!ix_copy(x->dtype, y->data, t * slice, x->data, off, slice)) return OXRT_OOM();
  }
  return NULL;
}

static const oxrt_op_impl gathernd_impls[] = {
    {.since_version = 11, .run = gathernd_run},
    {.since_version = 12, .run = gathernd_run},
    {.since_version = 13, .run = gathernd_run},
};
OXRT_REGISTER_OP(GatherND) = {"", "GatherND", OXRT_IMPLS(gathernd_impls)};
