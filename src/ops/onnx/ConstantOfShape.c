/* ConstantOfShape.c - ConstantOfShape: a tensor of the given shape filled with the one-element `value`
 * attribute (any element type; float 0 when absent). */
#include "layout_util.h"
#include "../infer_rules.h"
#include <stdlib.h>

static oxrt_status *cos_run(oxrt_kernel_ctx *ctx) {
  int64_t *shape;
  size_t n;
  const oxrt_value *si = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(si, 0, "shape"));
  if (si->dtype != OXRT_INT64) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must be int64, got %s", oxrt_elem_type_name(si->dtype));
  OXRT_TRY(oxrt_read_int_list(si, 0, &shape, &n));
  oxrt_status *st = NULL;
  if (n > OXRT_MAX_RANK) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape has %zu dims, over the limit of %d", n, OXRT_MAX_RANK);
  for (size_t i = 0; !st && i < n; i++)
    if (shape[i] < 0) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape[%zu] = %lld is negative", i, (long long)shape[i]);
  const oxrt_attr *a = oxrt_node_attr(ctx->node, "value");
  const oxrt_value *v = a ? a->t : NULL;
  if (!st && a && (!v || v->count != 1))
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute 'value' must be a one-element tensor");
  oxrt_value *y = NULL;
  if (!st) st = oxrt_output_tensor(ctx, 0, v ? v->dtype : OXRT_FLOAT, (int)n, shape, &y);
  free(shape);
  if (st) return st;
  const float zero = 0.0f;
  if (!oxrt_lay_fill(y->dtype, y->data, 0, v ? v->data : (const void *)&zero, y->count)) return OXRT_OOM();
  return NULL;
}

static const oxrt_op_impl cos_impls[] = {{.since_version = 9, .run = cos_run}};

/* The shape is input 0's content (or only its rank when the content is unknown); the type is the value's. */
static oxrt_status *infer_constant_of_shape(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, out;
  const oxrt_known_ints *k = oxrt_infer_known(ctx, 0);
  const oxrt_attr *v = oxrt_node_attr(ctx->node, "value");
  oxrt_tshape_clear(&out);
  out.elem = v && v->t ? v->t->dtype : OXRT_FLOAT;
  if (k) {
    out.rank = k->n;
    for (int i = 0; i < k->n; i++) out.dims[i] = k->v[i], out.names[i] = k->names[i];
  } else if (oxrt_infer_input(ctx, 0, &x) && x.rank == 1 && x.dims[0] >= 0 && x.dims[0] <= OXRT_MAX_RANK) {
    out.rank = (int)x.dims[0];
    for (int i = 0; i < out.rank; i++) out.dims[i] = -1;
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(ConstantOfShape) = {"", "ConstantOfShape", OXRT_IMPLS(cos_impls), .infer = infer_constant_of_shape};
