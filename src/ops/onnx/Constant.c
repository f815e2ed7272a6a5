/* Constant.c - Constant: the tensor in `value` or `sparse_value` (densified by the loader), or, from
 * opset 12, a scalar/1-D tensor from value_float(s), value_int(s), value_string(s). */
#include "../op_util.h"
#include "../infer_rules.h"
#include <string.h>

static oxrt_status *constant_run(oxrt_kernel_ctx *ctx) {
  const oxrt_node *node = ctx->node;
  const oxrt_attr *a = NULL;
  for (int i = 0; i < node->n_attrs; i++) {
    const char *nm = node->attrs[i].name;
    if (!strncmp(nm, "value", 5) || !strcmp(nm, "sparse_value")) {
      if (a) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "Constant has both '%s' and '%s'", a->name, nm);
      a = &node->attrs[i];
    }
  }
  if (!a) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "Constant needs one of the value attributes");
  oxrt_value *y;
  const char *nm = a->name;
  if (!strcmp(nm, "value") || !strcmp(nm, "sparse_value")) {
    if (!a->t) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute '%s' holds no tensor", nm);
    return oxrt_output_copy(ctx, 0, a->t, a->t->rank, a->t->dims);
  }
  if (!strcmp(nm, "value_float")) {
    OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 0, NULL, &y));
    *(float *)y->data = a->type == OXRT_ATTR_INT ? (float)a->i : a->f;
  } else if (!strcmp(nm, "value_int")) {
    OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT64, 0, NULL, &y));
    *(int64_t *)y->data = a->i;
  } else if (!strcmp(nm, "value_string")) {
    OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_STRING, 0, NULL, &y));
    const char *s = a->s ? a->s : "";
    if (!oxrt_convert(OXRT_STRING, y->data, OXRT_STRING, &s, 1, false)) return OXRT_OOM();
  } else if (!strcmp(nm, "value_floats")) {
    int64_t n = a->type == OXRT_ATTR_FLOATS ? (int64_t)a->n : 0;
    OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 1, &n, &y));
    if (n) memcpy(y->data, a->floats, sizeof(float) * (size_t)n);
  } else if (!strcmp(nm, "value_ints")) {
    int64_t n = a->type == OXRT_ATTR_INTS ? (int64_t)a->n : 0;
    OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT64, 1, &n, &y));
    if (n) memcpy(y->data, a->ints, sizeof(int64_t) * (size_t)n);
  } else if (!strcmp(nm, "value_strings")) {
    int64_t n = a->type == OXRT_ATTR_STRINGS ? (int64_t)a->n : 0;
    OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_STRING, 1, &n, &y));
    if (n && !oxrt_convert(OXRT_STRING, y->data, OXRT_STRING, a->strings, (size_t)n, false)) return OXRT_OOM();
  } else {
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unknown attribute '%s'", nm);
  }
  return NULL;
}

static const oxrt_op_impl constant_impls[] = {{.since_version = 1, .run = constant_run}};

/* The type and shape of the value attribute; small integer contents are known. */
static oxrt_status *infer_constant(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  oxrt_tshape out;
  oxrt_known_ints k;
  oxrt_tshape_clear(&out);
  memset(&k, 0, sizeof k);
  /* sparse_value was densified by the loader: its shape is the dense one */
  const oxrt_attr *v = oxrt_node_attr(n, "value"), *vi = oxrt_node_attr(n, "value_ints");
  if (!v || !v->t) v = oxrt_node_attr(n, "sparse_value");
  const oxrt_attr *v1 = oxrt_node_attr(n, "value_int"), *vf = oxrt_node_attr(n, "value_floats");
  if (v && v->t) {
    if (v->t->kind != OXRT_KIND_TENSOR) return NULL;
    oxrt_infer_set_constant(ctx, 0, v->t);
    out.elem = v->t->dtype, out.rank = v->t->rank;
    memcpy(out.dims, v->t->dims, sizeof(int64_t) * (size_t)out.rank);
    if ((v->t->dtype == OXRT_INT64 || v->t->dtype == OXRT_INT32) && v->t->rank <= 1 && v->t->count <= OXRT_MAX_RANK) {
      k.scalar = v->t->rank == 0;
      for (size_t i = 0; i < v->t->count; i++) k.v[k.n++] = oxrt_load_i64(v->t->dtype, v->t->data, i);
      oxrt_infer_set_known(ctx, 0, &k);
    }
  } else if (oxrt_node_attr(n, "value_float") || v1) {
    out.elem = v1 ? OXRT_INT64 : OXRT_FLOAT, out.rank = 0;
    if (v1) k.scalar = true, k.v[k.n++] = v1->i, oxrt_infer_set_known(ctx, 0, &k);
  } else if (vf || vi) {
    out.elem = vf ? OXRT_FLOAT : OXRT_INT64, out.rank = 1, out.dims[0] = (int64_t)(vf ? vf : vi)->n;
    if (!vf && vi->n <= OXRT_MAX_RANK) {
      for (size_t i = 0; i < vi->n; i++) k.v[k.n++] = vi->ints[i];
      oxrt_infer_set_known(ctx, 0, &k);
    }
  } else {
    return NULL;
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Constant) = {"", "Constant", OXRT_IMPLS(constant_impls), .infer = infer_constant};
