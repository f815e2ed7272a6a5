/* ConvInteger.c - int32 convolution of 8-bit X and W after subtracting zero points (x_zero_point per
 * tensor; w_zero_point per tensor or per output channel). Same geometry attributes as Conv. */
#include "conv_util.h"

static oxrt_status *convi_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 1), *xz = oxrt_input(ctx, 2), *wz = oxrt_input(ctx, 3);
  OXRT_TRY(oxrt_check_tensor(x, 0, "x"));
  OXRT_TRY(oxrt_check_tensor(w, 1, "w"));
  if ((x->dtype != OXRT_UINT8 && x->dtype != OXRT_INT8) || (w->dtype != OXRT_UINT8 && w->dtype != OXRT_INT8))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "x and w must be uint8 or int8, got %s and %s",
                      oxrt_elem_type_name(x->dtype), oxrt_elem_type_name(w->dtype));
  if ((xz && xz->dtype != x->dtype) || (wz && wz->dtype != w->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "zero points must have the type of their operand");
  oxrt_conv_shape s;
  OXRT_TRY(conv_geometry(ctx->node, x, w, &s));
  int64_t yd[OXRT_MAX_RANK];
  int yr = conv_out_dims(&s, yd);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT32, yr, yd, &y));
  if (y->count == 0) return NULL;
  double *xzp = NULL, *wzp = NULL, *acc = NULL;
  size_t nx = 0, nw = 0;
  oxrt_status *st = conv_param(xz, 2, "x_zero_point", 1, &xzp, &nx);
  if (!st) st = conv_param(wz, 3, "w_zero_point", s.M, &wzp, &nw);
  if (!st && !(acc = malloc(sizeof(double) * y->count))) st = OXRT_OOM();
  if (!st) st = conv_int_exact(&s, x, xzp[0], w, wzp, nw, NULL, acc, ctx->pool);
  if (!st)
    for (size_t i = 0; i < y->count; i++) ((int32_t *)y->data)[i] = (int32_t)(int64_t)acc[i];
  free(xzp);
  free(wzp);
  free(acc);
  return st;
}

static const oxrt_op_impl convi_impls[] = {{.since_version = 10, .run = convi_run}};
OXRT_REGISTER_OP(ConvInteger) = {"", "ConvInteger", OXRT_IMPLS(convi_impls)};
