/* QLinearConv.c - quantized convolution: y = saturate(round((conv(x - x_zp, w - w_zp) + B) * x_scale *
 * w_scale / y_scale) + y_zp). w_scale / w_zero_point per tensor or per output channel; B is int32.
 * Implicit im2col into the 8-bit GEMM, requantized in its output stage (float32 multiplier per channel, as
 * ONNX Runtime); constant weights are packed once per session. Geometry attributes as Conv. */
#include "conv_util.h"
#include "qlinear_util.h"
#include "../../kernels/qdwconv.h"

static oxrt_status *qconv_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 3), *yz = oxrt_input(ctx, 7), *b = oxrt_input(ctx, 8);
  OXRT_TRY(oxrt_check_tensor(x, 0, "x"));
  OXRT_TRY(oxrt_check_tensor(w, 3, "w"));
  if (!ql_is8(x->dtype) || !ql_is8(w->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "x and w must be uint8 or int8, got %s and %s",
                      oxrt_elem_type_name(x->dtype), oxrt_elem_type_name(w->dtype));
  oxrt_elem_type yt = yz ? yz->dtype : x->dtype;
  if (!ql_is8(yt))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "y_zero_point must be uint8 or int8, got %s", oxrt_elem_type_name(yt));
  if (b && (b->dtype != OXRT_INT32 || b->rank != 1))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 8 (B) must be a 1-D int32 tensor");
  oxrt_conv_shape s;
  OXRT_TRY(conv_geometry(ctx->node, x, w, &s));
  if (b && b->count != s.M) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 8 (B) must have %zu values", s.M);
  int64_t yd[OXRT_MAX_RANK];
  int yr = conv_out_dims(&s, yd);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, yt, yr, yd, &y));
  if (y->count == 0) return NULL;
  const oxrt_value *wz = oxrt_input(ctx, 5);
  int32_t *xzp = NULL, *wzp = NULL, *yzp = NULL;
  float *xs = NULL, *ws = NULL, *ys = NULL, *mult = NULL;
  ql_item *tmp = NULL;
  oxrt_status *st = ql_zp_vec(oxrt_input(ctx, 2), x->dtype, 2, 1, &xzp);
  if (!st) st = ql_zp_vec(wz, w->dtype, 5, s.M, &wzp);
  if (!st) st = ql_zp_vec(yz, yt, 7, 1, &yzp);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, 1), 1, 1, &xs);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, 4), 4, s.M, &ws);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, 6), 6, 1, &ys);
  if (!st && !(mult = malloc(sizeof(float) * s.M))) st = OXRT_OOM();
  if (!st) {
    for (size_t m = 0; m < s.M; m++) mult[m] = xs[0] * ws[m] / ys[0];
    size_t nwz = wz && wz->count > 1 ? s.M : 1;
    oxrt_qgemm_out o = {.kind = yt == OXRT_INT8 ? OXRT_QOUT_S8 : OXRT_QOUT_U8, .per_row = true,
                        .bias = b ? b->data : NULL, .scale = mult, .n_scale = s.M, .zp = yzp[0],
                        .lo = yt == OXRT_INT8 ? -128 : 0, .hi = yt == OXRT_INT8 ? 127 : 255};
    if (oxrt_qdwconv_ok(&s)) { /* depthwise: one row per channel would starve the GEMM */
      if (!oxrt_qdwconv_run(&s, x->data, x->dtype == OXRT_INT8, xzp[0], w->data, w->dtype == OXRT_INT8, wzp, nwz, &o,
                            y->data, 1, ctx->pool))
        st = OXRT_OOM();
    } else {
      ql_make_arg arg = {&s, w, wz, wzp, nwz, 0, 0, false};
      const ql_item *it = ql_weight(ctx, 3, 5, &arg, &tmp);
      if (!it || !oxrt_qconv_run(&s, x->data, x->dtype == OXRT_INT8, xzp[0], &it->wp, &o, y->data, 1, ctx->pool))
        st = OXRT_OOM();
    }
  }
  ql_item_free(tmp);
  free(xzp), free(wzp), free(yzp), free(xs), free(ws), free(ys), free(mult);
  return st;
}

static const oxrt_op_impl qconv_impls[] = {
    {.since_version = 10, .prepare = ql_prepare, .run = qconv_run, .release = ql_release}};
OXRT_REGISTER_OP(QLinearConv) = {"", "QLinearConv", OXRT_IMPLS(qconv_impls)};
