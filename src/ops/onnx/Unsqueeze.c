/* Unsqueeze.c - Unsqueeze: axes from an attribute (1, 11) or an input (13+); axes index the output. */
#include "../op_util.h"
#include "../infer_rules.h"
#include <stdlib.h>

static oxrt_status *unsqueeze_common(oxrt_kernel_ctx *ctx, const int64_t *axes, size_t n) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  if ((size_t)x->rank + n > OXRT_MAX_RANK)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output rank %zu is over the limit of %d", x->rank + n, OXRT_MAX_RANK);
  int r = x->rank + (int)n;
  bool ins[OXRT_MAX_RANK] = {false};
  for (size_t i = 0; i < n; i++) {
    int64_t a;
    OXRT_TRY(oxrt_norm_axis(axes[i], r, false, &a));
    if (ins[a]) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %lld is repeated", (long long)axes[i]);
    ins[a] = true;
  }
  int64_t dims[OXRT_MAX_RANK];
  for (int d = 0, k = 0; d < r; d++) dims[d] = ins[d] ? 1 : x->dims[k++];
  return oxrt_output_copy(ctx, 0, x, r, dims);
}

static oxrt_status *unsqueeze1_run(oxrt_kernel_ctx *ctx) {
  size_t n;
  const int64_t *axes = oxrt_attr_ints(ctx->node, "axes", &n);
  if (!axes) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute 'axes' is required");
  return unsqueeze_common(ctx, axes, n);
}

static oxrt_status *unsqueeze13_run(oxrt_kernel_ctx *ctx) {
  int64_t *axes;
  size_t n;
  OXRT_TRY(oxrt_read_int_list(oxrt_input(ctx, 1), 1, &axes, &n));
  oxrt_status *st = unsqueeze_common(ctx, axes, n);
  free(axes);
  return st;
}

static const oxrt_op_impl unsqueeze_impls[] = {
    {.since_version = 1, .run = unsqueeze1_run},
    {.since_version = 13, .run = unsqueeze13_run},
};

/* Inserts size-1 dimensions at `axes` (attribute or input 1); a scalar content becomes 1-D. */
static oxrt_status *infer_unsqueeze(oxrt_infer_ctx *ctx) {
  const oxrt_known_ints *a = oxrt_infer_known(ctx, 0);
  if (a && a->scalar) {
    oxrt_known_ints r = *a;
    r.scalar = false;
    oxrt_infer_set_known(ctx, 0, &r);
  }
  oxrt_tshape x, out;
  int64_t axes[OXRT_MAX_RANK];
  int na;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0 || !oxrt_infer_axes(ctx, "axes", 1, axes, &na)) return NULL;
  int r = x.rank + na, j = 0;
  if (r > OXRT_MAX_RANK) return NULL;
  out = x, out.rank = r;
  for (int d = 0; d < r; d++) {
    bool ins = false;
    for (int i = 0; i < na; i++) ins |= axes[i] == d || axes[i] + r == d;
    if (ins) out.dims[d] = 1, out.names[d] = NULL;
    else out.dims[d] = x.dims[j], out.names[d] = x.names[j], j++;
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Unsqueeze) = {"", "Unsqueeze", OXRT_IMPLS(unsqueeze_impls), .infer = infer_unsqueeze,
                               .flags = OXRT_OP_SAME_ELEM_TYPE};
