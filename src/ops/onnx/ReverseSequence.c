/* ReverseSequence.c - ReverseSequence: per batch entry b, the first sequence_lens[b] steps along time_axis are
 * reversed; the rest are copied. */
#include "index_util.h"

static oxrt_status *revseq_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *sl = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  OXRT_TRY(ix_check_indices(sl, 1));
  int64_t ta = oxrt_attr_int(ctx->node, "time_axis", 0), ba = oxrt_attr_int(ctx->node, "batch_axis", 1);
  if ((ta != 0 && ta != 1) || (ba != 0 && ba != 1) || ta == ba)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "time_axis (%lld) and batch_axis (%lld) must be 0 and 1 in some order",
                      (long long)ta, (long long)ba);
  if (x->rank < 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must have rank >= 2, got %d", x->rank);
  int64_t T = x->dims[ta], B = x->dims[ba];
  if (sl->rank != 1 || sl->dims[0] != B)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (sequence_lens) must have shape [%lld]", (long long)B);
  for (int64_t b = 0; b < B; b++) {
    int64_t L = ix_get(sl, (size_t)b);
    if (L < 0 || L > T)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld is outside [0, %lld]", (long long)b,
                        (long long)L, (long long)T);
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  size_t inner = ix_prod(x->dims, 2, x->rank);
  /* element offset of (batch b, time t) */
  size_t sb = ba == 0 ? (size_t)T * inner : inner, st = ta == 0 ? (size_t)B * inner : inner;
  for (int64_t b = 0; b < B; b++) {
    int64_t L = ix_get(sl, (size_t)b);
    for (int64_t t = 0; t < T; t++) {
      int64_t s = t < L ? L - 1 - t : t;
      if (!ix_copy(x->dtype, y->data, (size_t)b * sb + (size_t)t * st, x->data, (size_t)b * sb + (size_t)s * st, inner))
        return OXRT_OOM();
    }
  }
  return NULL;
}

static const oxrt_op_impl revseq_impls[] = {{.since_version = 10, .run = revseq_run}};
OXRT_REGISTER_OP(ReverseSequence) = {"", "ReverseSequence", OXRT_IMPLS(revseq_impls)};
