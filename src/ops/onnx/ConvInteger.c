/* ConvInteger.c - int32 convolution of 8-bit X and W after subtracting zero points (x_zero_point per
 * tensor; w_zero_point per tensor or per output channel). Same geometry attributes as Conv. Implicit im2col
 * into the 8-bit GEMM; constant weights are packed once per session. */
#include "conv_util.h"
#include "qlinear_util.h"

static oxrt_status *convi_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 1), *xz = oxrt_input(ctx, 2), *wz = oxrt_input(ctx, 3);
  OXRT_TRY(oxrt_check_tensor(x, 0, "x"));
  OXRT_TRY(oxrt_check_tensor(w, 1, "w"));
  if (!ql_is8(x->dtype) || !ql_is8(w->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "x and w must be uint8 or int8, got %s and %s",
                      oxrt_elem_type_name(x->dtype), oxrt_elem_type_name(w->dtype));
  oxrt_conv_shape s;
  OXRT_TRY(conv_geometry(ctx->node, x, w, &s));
  int64_t yd[OXRT_MAX_RANK];
  int yr = conv_out_dims(&s, yd);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT32, yr, yd, &y));
  if (y->count == 0) return NULL;
  int32_t *xzp = NULL, *wzp = NULL;
  ql_item *tmp = NULL;
  oxrt_status *st = ql_zp_vec(xz, x->dtype, 2, 1, &xzp);
  if (!st) st = ql_zp_vec(wz, w->dtype, 3, s.M, &wzp);
  if (!st) {
    ql_make_arg arg = {&s, w, wz, wzp, wz && wz->count > 1 ? s.M : 1, 0, 0, false};
    const ql_item *it = ql_weight(ctx, 1, 3, &arg, &tmp);
    oxrt_qgemm_out o = {.kind = OXRT_QOUT_I32, .per_row = true};
    if (!it || !oxrt_qconv_run(&s, x->data, x->dtype == OXRT_INT8, xzp[0], &it->wp, &o, y->data, 4, ctx->pool))
      st = OXRT_OOM();
  }
  ql_item_free(tmp);
  free(xzp);
  free(wzp);
  return st;
}

static const oxrt_op_impl convi_impls[] = {
    {.since_version = 10, .prepare = ql_prepare, .run = convi_run, .release = ql_release}};
OXRT_REGISTER_OP(ConvInteger) = {"", "ConvInteger", OXRT_IMPLS(convi_impls)};
