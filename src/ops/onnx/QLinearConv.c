/* QLinearConv.c - quantized convolution: y = saturate(round((conv(x - x_zp, w - w_zp) + B) * x_scale *
 * w_scale / y_scale) + y_zp). w_scale / w_zero_point per tensor or per output channel; B is int32.
 * The integer convolution is exact (double accumulation); geometry attributes as Conv. */
#include "conv_util.h"
#include "quant_util.h"

static oxrt_status *qconv_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 3), *yz = oxrt_input(ctx, 7), *b = oxrt_input(ctx, 8);
  OXRT_TRY(oxrt_check_tensor(x, 0, "x"));
  OXRT_TRY(oxrt_check_tensor(w, 3, "w"));
  if ((x->dtype != OXRT_UINT8 && x->dtype != OXRT_INT8) || (w->dtype != OXRT_UINT8 && w->dtype != OXRT_INT8))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "x and w must be uint8 or int8, got %s and %s",
                      oxrt_elem_type_name(x->dtype), oxrt_elem_type_name(w->dtype));
  oxrt_elem_type yt = yz ? yz->dtype : x->dtype;
  int64_t lo, hi;
  if ((yt != OXRT_UINT8 && yt != OXRT_INT8) || !q_int_range(yt, &lo, &hi))
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
  double *xs = NULL, *xzp = NULL, *ws = NULL, *wzp = NULL, *ys = NULL, *yzp = NULL, *bias = NULL, *acc = NULL;
  size_t n1 = 0, n2 = 0, nws = 0, nwz = 0, n5 = 0, n6 = 0, nb = 0;
  oxrt_status *st = conv_param(oxrt_input(ctx, 1), 1, "x_scale", 1, &xs, &n1);
  if (!st) st = conv_param(oxrt_input(ctx, 2), 2, "x_zero_point", 1, &xzp, &n2);
  if (!st) st = conv_param(oxrt_input(ctx, 4), 4, "w_scale", s.M, &ws, &nws);
  if (!st) st = conv_param(oxrt_input(ctx, 5), 5, "w_zero_point", s.M, &wzp, &nwz);
  if (!st) st = conv_param(oxrt_input(ctx, 6), 6, "y_scale", 1, &ys, &n5);
  if (!st) st = conv_param(yz, 7, "y_zero_point", 1, &yzp, &n6);
  if (!st && b) st = conv_param(b, 8, "B", s.M, &bias, &nb);
  if (!st && !(acc = malloc(sizeof(double) * y->count))) st = OXRT_OOM();
  if (!st) st = conv_int_exact(&s, x, xzp[0], w, wzp, nwz, bias, acc, ctx->pool);
  if (!st) {
    size_t per_m = y->count / (s.N * s.M);
    for (size_t i = 0; i < y->count; i++) {
      size_t m = (i / per_m) % s.M;
      /* The multiplier is formed in float32 like the scales; the product with the int32 sum in double. */
      float mult = (float)xs[0] * (float)ws[nws == 1 ? 0 : m] / (float)ys[0];
      double r = acc[i] * (double)mult + yzp[0];
      oxrt_store_i64(yt, y->data, i, q_round_clamp(r, lo, hi));
    }
  }
  free(xs);
  free(xzp);
  free(ws);
  free(wzp);
  free(ys);
  free(yzp);
  free(bias);
  free(acc);
  return st;
}

static const oxrt_op_impl qconv_impls[] = {{.since_version = 10, .run = qconv_run}};
OXRT_REGISTER_OP(QLinearConv) = {"", "QLinearConv", OXRT_IMPLS(qconv_impls)};
