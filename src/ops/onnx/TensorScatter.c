/* TensorScatter.c - TensorScatter (opset 24): KV-cache style update; `update` is written into a copy of
 * `past_cache` along `axis` starting at write_indices[batch] (default 0), wrapping when mode = "circular". */
#include "index_util.h"

static oxrt_status *tensor_scatter_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *upd = oxrt_input(ctx, 1), *wi = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x, 0, "past_cache"));
  OXRT_TRY(oxrt_check_tensor(upd, 1, "update"));
  const char *mode = oxrt_attr_string(ctx->node, "mode", "linear");
  bool circular = !strcmp(mode, "circular");
  if (!circular && strcmp(mode, "linear"))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "mode '%s' is not linear or circular", mode);
  if (upd->dtype != x->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "update type %s differs from past_cache type %s",
                      oxrt_elem_type_name(upd->dtype), oxrt_elem_type_name(x->dtype));
  int r = x->rank;
  if (r < 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "past_cache must have rank >= 2, got %d", r);
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", -2), r, false, &axis));
  if (axis == 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis must not be the batch axis 0");
  if (upd->rank != r) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "update must have rank %d, got %d", r, upd->rank);
  for (int d = 0; d < r; d++)
    if (d == axis ? upd->dims[d] > x->dims[d] : upd->dims[d] != x->dims[d])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "update dim %d (%lld) does not fit past_cache dim %lld", d,
                        (long long)upd->dims[d], (long long)x->dims[d]);
  int64_t batch = x->dims[0], maxlen = x->dims[axis], seqlen = upd->dims[axis];
  if (wi) {
    OXRT_TRY(ix_check_indices(wi, 2));
    if (wi->count != (size_t)batch)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "write_indices must hold batch_size (%lld) values, has %zu",
                        (long long)batch, wi->count);
    for (int64_t b = 0; b < batch; b++) {
      int64_t w = ix_get(wi, (size_t)b);
      if (w < 0 || (!circular && w + seqlen > maxlen))
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "write_indices[%lld] = %lld leaves the cache of length %lld",
                          (long long)b, (long long)w, (long long)maxlen);
    }
  }
  OXRT_TRY(oxrt_output_copy(ctx, 0, x, r, x->dims));
  oxrt_value *y = ctx->outputs[0];
  size_t outer = ix_prod(x->dims, 0, (int)axis), inner = ix_prod(x->dims, (int)axis + 1, r);
  size_t per_batch = outer / (size_t)(batch ? batch : 1);
  for (size_t o = 0; o < outer; o++) {
    int64_t w = wi ? ix_get(wi, o / per_batch) : 0;
    for (int64_t s = 0; s < seqlen; s++) {
      int64_t c = w + s;
      if (circular) c %= maxlen;
      size_t dst = (o * (size_t)maxlen + (size_t)c) * inner, src = (o * (size_t)seqlen + (size_t)s) * inner;
      if (!ix_copy(x->dtype, y->data, dst, upd->data, src, inner)) return OXRT_OOM();
    }
  }
  return NULL;
}

static const oxrt_op_impl tensor_scatter_impls[] = {{.since_version = 24, .run = tensor_scatter_run}};
OXRT_REGISTER_OP(TensorScatter) = {"", "TensorScatter", OXRT_IMPLS(tensor_scatter_impls)};
