/* Expand.c - Expand: bidirectional broadcast of the input to a shape (the output rank is the larger). */
#include "layout_util.h"
#include "../infer_rules.h"
#include <stdlib.h>

static oxrt_status *expand_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  int64_t *shape;
  size_t n;
  OXRT_TRY(oxrt_read_int_list(oxrt_input(ctx, 1), 1, &shape, &n));
  int r = (int)n > x->rank ? (int)n : x->rank;
  if (n > OXRT_MAX_RANK) {
    free(shape);
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape has %zu dims, over the limit of %d", n, OXRT_MAX_RANK);
  }
  int64_t dims[OXRT_MAX_RANK], strides[OXRT_MAX_RANK], xs[OXRT_MAX_RANK];
  oxrt_lay_strides(x->rank, x->dims, xs);
  for (int d = 0; d < r; d++) {
    int xd = d - (r - x->rank), sd = d - (r - (int)n);
    int64_t a = xd >= 0 ? x->dims[xd] : 1, b = sd >= 0 ? shape[sd] : 1;
    if (a != b && a != 1 && b != 1) {
      char s1[200], s2[200];
      oxrt_status *st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input shape %s cannot be expanded to %s (axis %d: %lld vs %lld)",
                                   oxrt_dims_str(x->dims, x->rank, s1, sizeof s1), oxrt_dims_str(shape, (int)n, s2, sizeof s2),
                                   d, (long long)a, (long long)b);
      free(shape);
      return st;
    }
    if (b < 0) {
      free(shape);
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape[%d] = %lld is negative", sd, (long long)b);
    }
    dims[d] = a == 1 ? b : a;
    strides[d] = xd >= 0 && a != 1 ? xs[xd] : 0;
  }
  free(shape);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, dims, &y));
  return oxrt_lay_gather(ctx, x->dtype, y->data, x->data, 0, r, dims, strides);
}

static const oxrt_op_impl expand_impls[] = {{.since_version = 8, .run = expand_run}};

/* Broadcast of input 0 with the shape given by input 1's content. */
static oxrt_status *infer_expand(oxrt_infer_ctx *ctx) {
  oxrt_tshape in[2], out;
  const oxrt_known_ints *k = oxrt_infer_known(ctx, 1);
  if (!oxrt_infer_input(ctx, 0, &in[0]) || !k) return NULL;
  oxrt_tshape_clear(&in[1]);
  in[1].rank = k->n;
  for (int i = 0; i < k->n; i++) in[1].dims[i] = k->v[i], in[1].names[i] = k->names[i];
  if (!oxrt_tshape_broadcast(&out, in, 2))
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "input shape and the target shape cannot be broadcast");
  out.elem = in[0].elem;
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Expand) = {"", "Expand", OXRT_IMPLS(expand_impls), .infer = infer_expand,
                            .flags = OXRT_OP_SAME_ELEM_TYPE};
