/* QLinearConcat.c - com.microsoft QLinearConcat(Y_scale, Y_zp, X0, X0_scale, X0_zp, X1, ...), attribute axis:
 * Concat of 8-bit tensors, each requantized into Y's scale and zero point (copied when its own match). */
#include "../onnx/qlinear_util.h"
#include <string.h>

static oxrt_status *qconcat_run(oxrt_kernel_ctx *ctx) {
  if (ctx->n_inputs < 5 || (ctx->n_inputs - 2) % 3)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "expected Y_scale, Y_zero_point and triples (X, scale, zero point), got %d inputs",
                      ctx->n_inputs);
  const oxrt_value *yzv = oxrt_input(ctx, 1), *x0 = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x0, 2, "X0"));
  oxrt_elem_type t = yzv ? yzv->dtype : x0->dtype;
  if (!ql_is8(t)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "Y must be uint8 or int8, got %s", oxrt_elem_type_name(t));
  float ys = 1, yz = 0;
  OXRT_TRY(ql_scalar_param(ctx, 0, 1, t, &ys, &yz));
  int n = (ctx->n_inputs - 2) / 3;
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", 0), x0->rank, false, &axis));
  int64_t dims[OXRT_MAX_RANK];
  memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)x0->rank);
  dims[axis] = 0;
  for (int i = 0; i < n; i++) {
    const oxrt_value *x = oxrt_input(ctx, 2 + 3 * i);
    OXRT_TRY(oxrt_check_tensor(x, 2 + 3 * i, "X"));
    if (x->dtype != t || x->rank != x0->rank)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: expected %s of rank %d", 2 + 3 * i, oxrt_elem_type_name(t),
                        x0->rank);
    for (int d = 0; d < x->rank; d++)
      if (d != axis && x->dims[d] != x0->dims[d])
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: dim %d is %lld, expected %lld", 2 + 3 * i, d,
                          (long long)x->dims[d], (long long)x0->dims[d]);
    dims[axis] += x->dims[axis];
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, t, x0->rank, dims, &y));
  size_t outer = 1, inner = 1, yrow;
  for (int d = 0; d < axis; d++) outer *= (size_t)dims[d];
  for (int d = (int)axis + 1; d < x0->rank; d++) inner *= (size_t)dims[d];
  yrow = (size_t)dims[axis] * inner;
  bool sg = t == OXRT_INT8;
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    const oxrt_value *x = oxrt_input(ctx, 2 + 3 * i);
    float xs = 1, xz = 0;
    OXRT_TRY(ql_scalar_param(ctx, 3 + 3 * i, 4 + 3 * i, t, &xs, &xz));
    size_t row = (size_t)x->dims[axis] * inner;
    bool same = xs == ys && xz == yz;
    float r = xs / ys;
    for (size_t o = 0; o < outer; o++) {
      const uint8_t *src = (const uint8_t *)x->data + o * row;
      uint8_t *dst = (uint8_t *)y->data + o * yrow + off;
      if (same) memcpy(dst, src, row);
      else
        for (size_t k = 0; k < row; k++) dst[k] = ql_sat8((ql_ld8(src, k, sg) - xz) * r, yz, sg);
    }
    off += row;
  }
  return NULL;
}

static const oxrt_op_impl qconcat_impls[] = {{.since_version = 1, .run = qconcat_run}};
OXRT_REGISTER_OP(ms_QLinearConcat) = {"com.microsoft", "QLinearConcat", OXRT_IMPLS(qconcat_impls)};
