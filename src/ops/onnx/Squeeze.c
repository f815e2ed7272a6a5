/* Squeeze.c - Squeeze: axes from an attribute (1, 11) or an optional input (13+). */
#include "../op_util.h"
#include "../infer_rules.h"
#include <stdlib.h>

static oxrt_status *squeeze_common(oxrt_kernel_ctx *ctx, const int64_t *axes, size_t n, bool have_axes) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  bool drop[OXRT_MAX_RANK] = {false};
  if (have_axes) {
    for (size_t i = 0; i < n; i++) {
      int64_t a;
      OXRT_TRY(oxrt_norm_axis(axes[i], x->rank, false, &a));
      if (x->dims[a] != 1)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot squeeze axis %lld of size %lld", (long long)axes[i],
                          (long long)x->dims[a]);
      drop[a] = true;
    }
  } else {
    for (int d = 0; d < x->rank; d++) drop[d] = x->dims[d] == 1;
  }
  int64_t dims[OXRT_MAX_RANK];
  int r = 0;
  for (int d = 0; d < x->rank; d++)
    if (!drop[d]) dims[r++] = x->dims[d];
  return oxrt_output_copy(ctx, 0, x, r, dims);
}

static oxrt_status *squeeze1_run(oxrt_kernel_ctx *ctx) {
  size_t n;
  const int64_t *axes = oxrt_attr_ints(ctx->node, "axes", &n);
  return squeeze_common(ctx, axes, n, axes != NULL);
}

static oxrt_status *squeeze13_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *a = oxrt_input(ctx, 1);
  if (!a) return squeeze_common(ctx, NULL, 0, false);
  int64_t *axes;
  size_t n;
  OXRT_TRY(oxrt_read_int_list(a, 1, &axes, &n));
  oxrt_status *st = squeeze_common(ctx, axes, n, true);
  free(axes);
  return st;
}

static const oxrt_op_impl squeeze_impls[] = {
    {.since_version = 1, .run = squeeze1_run},
    {.since_version = 13, .run = squeeze13_run},
};

/* Drops `axes` (attribute or input 1), or every size-1 dimension; a 1-element content becomes a scalar. */
static oxrt_status *infer_squeeze(oxrt_infer_ctx *ctx) {
  const oxrt_known_ints *a = oxrt_infer_known(ctx, 0);
  if (a && a->n == 1) {
    oxrt_known_ints r = *a;
    r.scalar = true;
    oxrt_infer_set_known(ctx, 0, &r);
  }
  oxrt_tshape x, out;
  int64_t axes[OXRT_MAX_RANK];
  int na;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0 || !oxrt_infer_axes(ctx, "axes", 1, axes, &na)) return NULL;
  out = x, out.rank = 0;
  for (int d = 0; d < x.rank; d++) {
    bool drop = false;
    for (int i = 0; i < na; i++) drop |= axes[i] == d || axes[i] + x.rank == d;
    if (na ? drop : x.dims[d] == 1) continue;
    if (!na && x.dims[d] < 0) return NULL; /* unknown whether it is 1 */
    out.dims[out.rank] = x.dims[d], out.names[out.rank++] = x.names[d];
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Squeeze) = {"", "Squeeze", OXRT_IMPLS(squeeze_impls), .infer = infer_squeeze,
                             .flags = OXRT_OP_SAME_ELEM_TYPE};
