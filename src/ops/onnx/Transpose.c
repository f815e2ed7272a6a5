/* Transpose.c - Transpose by `perm` (default: reverse the axes). The strided gather in layout_util
 * merges contiguous axes and uses a cache-tiled loop when the innermost axis moves. */
#include "layout_util.h"
#include "../infer_rules.h"

static oxrt_status *transpose_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  size_t n;
  const int64_t *p = oxrt_attr_ints(ctx->node, "perm", &n);
  int64_t perm[OXRT_MAX_RANK], dims[OXRT_MAX_RANK];
  if (p) {
    if ((int)n != x->rank)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "perm has %zu entries, input has rank %d", n, x->rank);
    bool seen[OXRT_MAX_RANK] = {false};
    for (int d = 0; d < x->rank; d++) {
      int64_t a;
      OXRT_TRY(oxrt_norm_axis(p[d], x->rank, false, &a));
      if (seen[a]) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "perm repeats axis %lld", (long long)p[d]);
      seen[a] = true;
      perm[d] = a;
    }
  } else {
    for (int d = 0; d < x->rank; d++) perm[d] = x->rank - 1 - d;
  }
  for (int d = 0; d < x->rank; d++) dims[d] = x->dims[perm[d]];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, dims, &y));
  return oxrt_lay_transpose(ctx, x, perm, y);
}

static const oxrt_op_impl transpose_impls[] = {{.since_version = 1, .run = transpose_run}};

/* Dimensions permuted by `perm` (reversed by default). */
static oxrt_status *infer_transpose(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, out;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0) return NULL;
  size_t np;
  const int64_t *perm = oxrt_attr_ints(ctx->node, "perm", &np);
  out = x;
  for (int i = 0; i < x.rank; i++) {
    int64_t p = perm && (int)np == x.rank ? perm[i] : x.rank - 1 - i;
    if (p < 0 || p >= x.rank) return NULL;
    out.dims[i] = x.dims[p], out.names[i] = x.names[p];
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Transpose) = {"", "Transpose", OXRT_IMPLS(transpose_impls), .infer = infer_transpose,
                               .flags = OXRT_OP_SAME_ELEM_TYPE};
