/* qlinear_lut.c - com.microsoft QLinearSigmoid and QLinearLeakyRelu (attribute alpha, default 0.01):
 * Y = quantize(f(dequantize(X))) with X(0), X_scale(1), X_zp(2), Y_scale(3), Y_zp(4). Every 8-bit input
 * value maps to one output value, so a 256-entry table is built per run (in float32, rounding half to even,
 * as ONNX Runtime builds its table) and applied. */
#include "../onnx/qlinear_util.h"

typedef enum { QLUT_SIGMOID, QLUT_LEAKYRELU } qlut_kind;

static oxrt_status *qlut_run(oxrt_kernel_ctx *ctx, qlut_kind kind) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (!ql_is8(x->dtype)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (X) must be uint8 or int8, got %s",
                                           oxrt_elem_type_name(x->dtype));
  float xs = 0, xz = 0, ys = 1, yz = 0, alpha = oxrt_attr_float(ctx->node, "alpha", 0.01f);
  OXRT_TRY(ql_scalar_param(ctx, 1, 2, x->dtype, &xs, &xz));
  OXRT_TRY(ql_scalar_param(ctx, 3, 4, x->dtype, &ys, &yz));
  bool sg = x->dtype == OXRT_INT8;
  uint8_t lut[256];
  for (int i = 0; i < 256; i++) {
    uint8_t byte = (uint8_t)i;
    float v = (ql_ld8(&byte, 0, sg) - xz) * xs;
    v = kind == QLUT_SIGMOID ? 1.0f / (1.0f + expf(-v)) : (v >= 0 ? v : v * alpha);
    lut[i] = ql_sat8(v / ys, yz, sg);
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  const uint8_t *xi = x->data;
  uint8_t *yo = y->data;
  for (size_t i = 0; i < x->count; i++) yo[i] = lut[xi[i]];
  return NULL;
}

static oxrt_status *qsigmoid_run(oxrt_kernel_ctx *ctx) { return qlut_run(ctx, QLUT_SIGMOID); }
static oxrt_status *qleaky_run(oxrt_kernel_ctx *ctx) { return qlut_run(ctx, QLUT_LEAKYRELU); }

static const oxrt_op_impl qsigmoid_impls[] = {{.since_version = 1, .run = qsigmoid_run}};
OXRT_REGISTER_OP(ms_QLinearSigmoid) = {"com.microsoft", "QLinearSigmoid", OXRT_IMPLS(qsigmoid_impls)};
static const oxrt_op_impl qleaky_impls[] = {{.since_version = 1, .run = qleaky_run}};
OXRT_REGISTER_OP(ms_QLinearLeakyRelu) = {"com.microsoft", "QLinearLeakyRelu", OXRT_IMPLS(qleaky_impls)};
