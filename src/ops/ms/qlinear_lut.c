/* qlinear_lut.c - 8-bit operators through a 256-entry table:
 * com.microsoft QLinearSigmoid and QLinearLeakyRelu (attribute alpha, default 0.01): Y = quantize(f(dequantize(X)))
 * with X(0), X_scale(1), X_zp(2), Y_scale(3), Y_zp(4). Every 8-bit input value maps to one output value, so the
 * table (in float32, rounding half to even, as ONNX Runtime builds its table) is built once at session creation
 * when the scales and zero points are constants, else per run.
 * com.microsoft QLinearLookup (oxrt's own, made by the fuse_qdq pass from DQ -> unary op -> Q): Y[i] =
 * Table[byte of X[i]], Table 256 values of Y's 8-bit type. */
#include "../onnx/qlinear_util.h"

typedef enum { QLUT_SIGMOID, QLUT_LEAKYRELU } qlut_kind;

static void qlut_table(qlut_kind kind, bool sg, float xs, float xz, float ys, float yz, float alpha, uint8_t *lut) {
  for (int i = 0; i < 256; i++) {
    uint8_t byte = (uint8_t)i;
    float v = (ql_ld8(&byte, 0, sg) - xz) * xs;
    v = kind == QLUT_SIGMOID ? 1.0f / (1.0f + expf(-v)) : (v >= 0 ? v : v * alpha);
    lut[i] = ql_sat8(v / ys, yz, sg);
  }
}

static void qlut_apply(const uint8_t *lut, const uint8_t *x, uint8_t *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = lut[x[i]];
}

/* Node state: the table made at session creation (valid), for X's type `sg`. */
typedef struct {
  bool valid, sg;
  uint8_t lut[256];
} qlut_state;

static oxrt_status *qlut_prepare(const oxrt_prepare_ctx *pc, qlut_kind kind, void **state) {
  const oxrt_value *c[5] = {NULL};
  for (int i = 1; i < 5; i++)
    if (i >= pc->n_inputs || !(c[i] = oxrt_prepare_constant(pc, i))) return NULL; /* the run builds it */
  for (int i = 1; i < 5; i++)
    if (c[i]->kind != OXRT_KIND_TENSOR || c[i]->count != 1) return NULL; /* the run reports it */
  if (!oxrt_dtype_is_float(c[1]->dtype) || !oxrt_dtype_is_float(c[3]->dtype) || !ql_is8(c[2]->dtype) ||
      c[4]->dtype != c[2]->dtype)
    return NULL;
  qlut_state *st = calloc(1, sizeof *st);
  if (!st) return OXRT_OOM();
  st->valid = true, st->sg = c[2]->dtype == OXRT_INT8;
  qlut_table(kind, st->sg, (float)oxrt_load_f64(c[1]->dtype, c[1]->data, 0), (float)oxrt_load_i64(c[2]->dtype, c[2]->data, 0),
             (float)oxrt_load_f64(c[3]->dtype, c[3]->data, 0), (float)oxrt_load_i64(c[4]->dtype, c[4]->data, 0),
             oxrt_attr_float(pc->node, "alpha", 0.01f), st->lut);
  *state = st;
  return NULL;
}

static oxrt_status *qlut_run(oxrt_kernel_ctx *ctx, qlut_kind kind) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (!ql_is8(x->dtype)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (X) must be uint8 or int8, got %s",
                                           oxrt_elem_type_name(x->dtype));
  float xs = 0, xz = 0, ys = 1, yz = 0, alpha = oxrt_attr_float(ctx->node, "alpha", 0.01f);
  OXRT_TRY(ql_scalar_param(ctx, 1, 2, x->dtype, &xs, &xz));
  OXRT_TRY(ql_scalar_param(ctx, 3, 4, x->dtype, &ys, &yz));
  bool sg = x->dtype == OXRT_INT8;
  const qlut_state *st = ctx->state;
  uint8_t lut[256];
  if (!st || !st->valid || st->sg != sg) qlut_table(kind, sg, xs, xz, ys, yz, alpha, lut);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  qlut_apply(st && st->valid && st->sg == sg ? st->lut : lut, x->data, y->data, x->count);
  return NULL;
}

static oxrt_status *qsigmoid_prepare(const oxrt_prepare_ctx *pc, void **state) {
  return qlut_prepare(pc, QLUT_SIGMOID, state);
}
static oxrt_status *qleaky_prepare(const oxrt_prepare_ctx *pc, void **state) {
  return qlut_prepare(pc, QLUT_LEAKYRELU, state);
}
static oxrt_status *qsigmoid_run(oxrt_kernel_ctx *ctx) { return qlut_run(ctx, QLUT_SIGMOID); }
static oxrt_status *qleaky_run(oxrt_kernel_ctx *ctx) { return qlut_run(ctx, QLUT_LEAKYRELU); }

static const oxrt_op_impl qsigmoid_impls[] = {{.since_version = 1, .prepare = qsigmoid_prepare, .run = qsigmoid_run}};
OXRT_REGISTER_OP(ms_QLinearSigmoid) = {"com.microsoft", "QLinearSigmoid", OXRT_IMPLS(qsigmoid_impls)};
static const oxrt_op_impl qleaky_impls[] = {{.since_version = 1, .prepare = qleaky_prepare, .run = qleaky_run}};
OXRT_REGISTER_OP(ms_QLinearLeakyRelu) = {"com.microsoft", "QLinearLeakyRelu", OXRT_IMPLS(qleaky_impls)};

static oxrt_status *qlookup_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *t = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(t, 1, "Table"));
  if (!ql_is8(x->dtype) || !ql_is8(t->dtype) || t->count != 256)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "X must be 8-bit and Table 256 8-bit values, got %s and %s[%zu]",
                      oxrt_elem_type_name(x->dtype), oxrt_elem_type_name(t->dtype), t->count);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, t->dtype, x->rank, x->dims, &y));
  qlut_apply(t->data, x->data, y->data, x->count);
  return NULL;
}

static const oxrt_op_impl qlookup_impls[] = {{.since_version = 1, .run = qlookup_run}};
OXRT_REGISTER_OP(ms_QLinearLookup) = {"com.microsoft", "QLinearLookup", OXRT_IMPLS(qlookup_impls)};
