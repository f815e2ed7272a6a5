/* QLinearSoftmax.c - com.microsoft QLinearSoftmax(X, X_scale, x_zp, y_scale, y_zp), attributes axis (default
 * -1) and opset (the Softmax semantics: before 13 the input is flattened to [outer, rest] at axis; from 13
 * softmax runs along axis alone). Dequantized, computed in float32, requantized. */
#include "../onnx/qlinear_util.h"

static oxrt_status *qsoftmax_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  const oxrt_value *yzv = oxrt_input(ctx, 4);
  oxrt_elem_type yt = yzv ? yzv->dtype : x->dtype;
  if (!ql_is8(x->dtype) || !ql_is8(yt)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "X and Y must be uint8 or int8");
  float xs = 1, xz = 0, ys = 1, yz = 0;
  OXRT_TRY(ql_scalar_param(ctx, 1, 2, x->dtype, &xs, &xz));
  OXRT_TRY(ql_scalar_param(ctx, 3, 4, yt, &ys, &yz));
  int64_t axis, ver = oxrt_attr_int(ctx->node, "opset", 13);
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", -1), x->rank, false, &axis));
  size_t outer = 1, dim = 1, inner = 1;
  for (int d = 0; d < x->rank; d++) {
    if (d < axis) outer *= (size_t)x->dims[d];
    else if (d == axis || ver < 13) dim *= (size_t)x->dims[d];
    else inner *= (size_t)x->dims[d];
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, yt, x->rank, x->dims, &y));
  if (!y->count) return NULL;
  float *e = malloc(sizeof(float) * dim);
  if (!e) return OXRT_OOM();
  bool sx = x->dtype == OXRT_INT8, sy = yt == OXRT_INT8;
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      size_t base = o * dim * inner + i;
      float mx = -INFINITY, sum = 0;
      for (size_t k = 0; k < dim; k++) {
        e[k] = (ql_ld8(x->data, base + k * inner, sx) - xz) * xs;
        mx = e[k] > mx ? e[k] : mx;
      }
      for (size_t k = 0; k < dim; k++) sum += e[k] = expf(e[k] - mx);
      for (size_t k = 0; k < dim; k++) ((uint8_t *)y->data)[base + k * inner] = ql_sat8(e[k] / sum / ys, yz, sy);
    }
  free(e);
  return NULL;
}

static const oxrt_op_impl qsoftmax_impls[] = {{.since_version = 1, .run = qsoftmax_run}};
OXRT_REGISTER_OP(ms_QLinearSoftmax) = {"com.microsoft", "QLinearSoftmax", OXRT_IMPLS(qsoftmax_impls)};
