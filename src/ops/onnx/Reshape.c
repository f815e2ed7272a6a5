/* Reshape.c - Reshape: shape from an attribute (opset 1) or an input (5+); `allowzero` from 14. */
#include "../op_util.h"
#include "../infer_rules.h"
#include <stdlib.h>

static oxrt_status *reshape_common(oxrt_kernel_ctx *ctx, const int64_t *shape, size_t n, bool allowzero) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  if (n > OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape has %zu dims, over the limit of %d", n, OXRT_MAX_RANK);
  int64_t dims[OXRT_MAX_RANK];
  int infer = -1;
  size_t known = 1;
  bool has_zero = false;
  for (size_t i = 0; i < n; i++) {
    int64_t s = shape[i];
    if (s == -1) {
      if (infer >= 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape has more than one -1");
      infer = (int)i;
      continue;
    }
    if (s == 0 && !allowzero) {
      if ((int)i >= x->rank)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape[%zu] = 0 copies an input dim, but the input has rank %d", i, x->rank);
      s = x->dims[i];
    }
    if (s < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape[%zu] = %lld is negative", i, (long long)s);
    if (s == 0) has_zero = true;
    dims[i] = s;
    if (s && known > SIZE_MAX / (size_t)s) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape is too large");
    known *= (size_t)s;
  }
  if (infer >= 0) {
    if (has_zero && allowzero) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape has both -1 and 0 with allowzero=1");
    if (known == 0 || x->count % known)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot infer the -1 dim: %zu elements do not divide by %zu", x->count, known);
    dims[infer] = (int64_t)(x->count / known);
    known *= (size_t)dims[infer];
  }
  if (known != x->count) {
    char a[200], b[200];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot reshape %s (%zu elements) to %s", oxrt_dims_str(x->dims, x->rank, a, sizeof a),
                      x->count, oxrt_dims_str(dims, (int)n, b, sizeof b));
  }
  return oxrt_output_copy(ctx, 0, x, (int)n, dims);
}

static oxrt_status *reshape1_run(oxrt_kernel_ctx *ctx) {
  size_t n;
  const int64_t *shape = oxrt_attr_ints(ctx->node, "shape", &n);
  if (!shape) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute 'shape' is required");
  return reshape_common(ctx, shape, n, false);
}

static oxrt_status *reshape5_run(oxrt_kernel_ctx *ctx) {
  int64_t *shape;
  size_t n;
  OXRT_TRY(oxrt_read_int_list(oxrt_input(ctx, 1), 1, &shape, &n));
  oxrt_status *st = reshape_common(ctx, shape, n, ctx->opset >= 14 && oxrt_attr_int(ctx->node, "allowzero", 0) != 0);
  free(shape);
  return st;
}

static const oxrt_op_impl reshape_impls[] = {
    {.since_version = 1, .run = reshape1_run},
    {.since_version = 5, .run = reshape5_run},
};

/* The target shape from input 1's content: 0 copies the input dimension (unless allowzero), one -1 takes what is
 * left when the total is known. */
static oxrt_status *infer_reshape(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, out;
  const oxrt_known_ints *k = oxrt_infer_known(ctx, 1);
  if (!oxrt_infer_input(ctx, 0, &x) || !k || k->scalar) return NULL;
  bool allowzero = oxrt_attr_int(ctx->node, "allowzero", 0) != 0;
  oxrt_tshape_clear(&out);
  out.elem = x.elem, out.rank = k->n;
  int infer_at = -1;
  int64_t known_prod = 1, total = 1;
  bool total_known = x.rank >= 0, rest_known = true;
  for (int i = 0; i < x.rank; i++) /* a hostile shape may overflow: then the -1 stays unknown */
    if (x.dims[i] < 0 || __builtin_mul_overflow(total, x.dims[i], &total)) total_known = false;
  for (int i = 0; i < k->n; i++) {
    int64_t d = k->v[i];
    if (d == 0 && !allowzero && !k->names[i]) {
      if (x.rank < 0 || i >= x.rank) return NULL;
      out.dims[i] = x.dims[i], out.names[i] = x.names[i];
    } else if (d == -1 && !k->names[i]) {
      infer_at = i, out.dims[i] = -1;
      continue;
    } else {
      out.dims[i] = d, out.names[i] = k->names[i];
    }
    if (out.dims[i] < 0 || __builtin_mul_overflow(known_prod, out.dims[i], &known_prod)) rest_known = false;
  }
  if (infer_at >= 0 && total_known && rest_known && known_prod > 0) out.dims[infer_at] = total / known_prod;
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Reshape) = {"", "Reshape", OXRT_IMPLS(reshape_impls), .infer = infer_reshape,
                             .flags = OXRT_OP_SAME_ELEM_TYPE};
