/* Split.c - Split along `axis`: sizes from the `split` attribute (1, 2, 11), an input (1, 13+) or
 * equal parts (the last one smaller with `num_outputs` in opset 18). */
#include "layout_util.h"
#include "../infer_rules.h"
#include <stdlib.h>

static oxrt_status *split_common(oxrt_kernel_ctx *ctx, const int64_t *split, size_t n_split) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  int64_t axis = oxrt_attr_int(ctx->node, "axis", 0);
  OXRT_TRY(oxrt_norm_axis(axis, x->rank, false, &axis));
  int n_out = ctx->n_outputs;
  int64_t dim = x->dims[axis];
  int64_t *sizes = malloc(sizeof(int64_t) * (size_t)(n_out > 0 ? n_out : 1));
  if (!sizes) return OXRT_OOM();
  oxrt_status *st = NULL;
  if (split) {
    int64_t sum = 0;
    if ((int64_t)n_split != n_out)
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "split has %zu entries for %d outputs", n_split, n_out);
    for (size_t i = 0; !st && i < n_split; i++) {
      if (split[i] < 0) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "split[%zu] = %lld is negative", i, (long long)split[i]);
      sizes[i] = split[i];
      sum += split[i];
    }
    if (!st && sum != dim)
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "split sizes sum to %lld, axis %lld has %lld", (long long)sum,
                      (long long)axis, (long long)dim);
  } else {
    const oxrt_attr *no = ctx->opset >= 18 ? oxrt_node_attr(ctx->node, "num_outputs") : NULL;
    int64_t parts = no ? no->i : n_out;
    if (parts <= 0 || parts != n_out) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "num_outputs %lld does not match the %d outputs", (long long)parts, n_out);
    } else {
      /* equal parts; when uneven (opset 18 `num_outputs`) ceil-sized chunks and a smaller last one */
      int64_t chunk = (dim + parts - 1) / parts;
      if (chunk * (parts - 1) > dim)
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis of size %lld cannot be split into %lld parts", (long long)dim,
                        (long long)parts);
      for (int i = 0; i < n_out; i++) sizes[i] = i < n_out - 1 ? chunk : dim - chunk * (parts - 1);
    }
  }
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = (int)axis + 1; d < x->rank; d++) inner *= x->dims[d];
  int64_t off = 0;
  for (int i = 0; !st && i < n_out; i++) {
    int64_t dims[OXRT_MAX_RANK];
    for (int d = 0; d < x->rank; d++) dims[d] = x->dims[d];
    dims[axis] = sizes[i];
    int64_t block = sizes[i] * inner;
    if (oxrt_output_wanted(ctx, i)) {
      oxrt_value *y;
      st = oxrt_output_tensor(ctx, i, x->dtype, x->rank, dims, &y);
      int64_t md[2] = {outer, block}, ss[2] = {dim * inner, 1};
      if (!st) st = oxrt_lay_gather(ctx, x->dtype, y->data, x->data, off, 2, md, ss);
    }
    off += block;
  }
  free(sizes);
  return st;
}

static oxrt_status *split_attr_run(oxrt_kernel_ctx *ctx) {
  size_t n;
  const int64_t *split = oxrt_attr_ints(ctx->node, "split", &n);
  if (split && n == 0) split = NULL;
  /* opset 1 also took the sizes as an optional second input */
  const oxrt_value *si = ctx->opset < 2 ? oxrt_input(ctx, 1) : NULL;
  if (!split && si) {
    int64_t *v;
    OXRT_TRY(oxrt_read_int_list(si, 1, &v, &n));
    oxrt_status *st = split_common(ctx, v, n);
    free(v);
    return st;
  }
  return split_common(ctx, split, n);
}

static oxrt_status *split13_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *si = oxrt_input(ctx, 1);
  if (!si) return split_common(ctx, NULL, 0);
  int64_t *v;
  size_t n;
  OXRT_TRY(oxrt_read_int_list(si, 1, &v, &n));
  oxrt_status *st = split_common(ctx, v, n);
  free(v);
  return st;
}

static const oxrt_op_impl split_impls[] = {
    {.since_version = 1, .run = split_attr_run},
    {.since_version = 13, .run = split13_run},
};

/* Parts along `axis` from `split` (attribute or input 1), else equal parts (the last may be smaller). */
static oxrt_status *infer_split(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  oxrt_tshape x, out;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0) return NULL;
  int64_t axis = oxrt_attr_int(n, "axis", 0), sizes[OXRT_MAX_RANK];
  if (axis < 0) axis += x.rank;
  if (axis < 0 || axis >= x.rank || n->n_outputs > OXRT_MAX_RANK) return NULL;
  int ns = 0;
  if (!oxrt_infer_axes(ctx, "split", 1, sizes, &ns)) return NULL;
  for (int i = 0; i < n->n_outputs; i++) {
    out = x;
    out.names[axis] = NULL;
    if (ns) {
      out.dims[axis] = i < ns ? sizes[i] : -1;
    } else if (x.dims[axis] >= 0) {
      int64_t k = n->n_outputs, each = x.dims[axis] / k + (x.dims[axis] % k != 0); /* ceil without overflow */
      out.dims[axis] = i < k - 1 ? each : x.dims[axis] - each * (k - 1);
      if (x.dims[axis] % k == 0) out.dims[axis] = x.dims[axis] / k;
    } else {
      out.dims[axis] = -1;
    }
    OXRT_TRY(oxrt_infer_output(ctx, i, &out));
  }
  return NULL;
}

OXRT_REGISTER_OP(Split) = {"", "Split", OXRT_IMPLS(split_impls), .infer = infer_split, .flags = OXRT_OP_SAME_ELEM_TYPE};
