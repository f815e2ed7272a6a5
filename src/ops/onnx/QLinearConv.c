/* QLinearConv.c - quantized convolution: y = saturate(round((conv(x - x_zp, w - w_zp) + B) * x_scale *
 * w_scale / y_scale) + y_zp). w_scale / w_zero_point per tensor or per output channel; B is int32.
 * Implicit im2col into the 8-bit GEMM, requantized in its output stage (float32 multiplier per channel, as
 * ONNX Runtime); constant weights are packed once per session. Geometry attributes as Conv.
 *
 * com.microsoft QLinearConvAdd (oxrt's own, made by the fuse_qdq pass from QLinearConv -> QLinearAdd): inputs
 * 0-8 as QLinearConv (y_scale / y_zero_point: the convolution's own quantization t), then R(9), R_scale(10),
 * R_zero_point(11), C_scale(12), C_zero_point(13); C = QLinearAdd(t, R) computed in the convolution's output
 * stage while t is in cache (bit-identical to the two operators). Where R's shape is not the convolution's, t is
 * computed whole and added with broadcasting. */
#include "conv_util.h"
#include "qlinear_util.h"
#include "../../kernels/qdwconv.h"
#include <string.h>

static oxrt_status *qconv_compute(oxrt_kernel_ctx *ctx, bool add) {
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
  oxrt_value *y = NULL, *tmp_y = NULL, *c = NULL; /* tmp_y: t computed whole, for the broadcasting fallback */
  oxrt_qres res = {0};
  const oxrt_value *r = add ? oxrt_input(ctx, 9) : NULL;
  float rs = 1, rz = 0, cs = 1, cz = 0, ts = 1, tz = 0;
  if (add) {
    OXRT_TRY(oxrt_check_tensor(r, 9, "R"));
    if (r->dtype != yt)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 9 (R) must have the output's type %s, got %s",
                        oxrt_elem_type_name(yt), oxrt_elem_type_name(r->dtype));
    OXRT_TRY(ql_scalar_param(ctx, 6, 7, yt, &ts, &tz));
    OXRT_TRY(ql_scalar_param(ctx, 10, 11, yt, &rs, &rz));
    OXRT_TRY(ql_scalar_param(ctx, 12, 13, yt, &cs, &cz));
    bool same = r->rank == yr;
    for (int d = 0; same && d < yr; d++) same = r->dims[d] == yd[d];
    if (same) {
      res = (oxrt_qres){r->data, ts / cs, rs / cs, (int32_t)tz, (int32_t)rz, (int32_t)cz, yt == OXRT_INT8 ? -128 : 0,
                        yt == OXRT_INT8 ? 127 : 255};
      OXRT_TRY(oxrt_output_tensor(ctx, 0, yt, yr, yd, &y));
    } else {
      const oxrt_value *ins[2] = {NULL, r};
      oxrt_value shape_y = {.kind = OXRT_KIND_TENSOR, .dtype = yt, .rank = yr};
      memcpy(shape_y.dims, yd, sizeof(int64_t) * (size_t)yr);
      ins[0] = &shape_y;
      int cr;
      int64_t cd[OXRT_MAX_RANK];
      OXRT_TRY(oxrt_broadcast_shapes(2, ins, &cr, cd));
      OXRT_TRY(oxrt_output_tensor(ctx, 0, yt, cr, cd, &c));
      OXRT_TRY(oxrt_tensor_new(yt, yr, yd, &tmp_y));
      y = tmp_y;
    }
  } else {
    OXRT_TRY(oxrt_output_tensor(ctx, 0, yt, yr, yd, &y));
  }
  if (y->count == 0) {
    oxrt_value_free(tmp_y);
    return NULL;
  }
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
                        .lo = yt == OXRT_INT8 ? -128 : 0, .hi = yt == OXRT_INT8 ? 127 : 255,
                        .res = res.r ? &res : NULL};
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
  if (!st && tmp_y) ql_add_broadcast(tmp_y, ts, tz, r, rs, rz, cs, cz, c);
  oxrt_value_free(tmp_y);
  ql_item_free(tmp);
  free(xzp), free(wzp), free(yzp), free(xs), free(ws), free(ys), free(mult);
  return st;
}

static oxrt_status *qconv_run(oxrt_kernel_ctx *ctx) { return qconv_compute(ctx, false); }
static oxrt_status *qconv_add_run(oxrt_kernel_ctx *ctx) { return qconv_compute(ctx, true); }



/* Packs a constant weight at session creation when X's static shape is known (the first run finds it packed
 * before). Depthwise weights are read raw by qdwconv, so they are left alone. */
static oxrt_status *qconv_prepare(const oxrt_prepare_ctx *pc, void **state) {
  OXRT_TRY(ql_prepare(pc, state));
  const oxrt_value *w = oxrt_prepare_constant(pc, 3), *wz = oxrt_prepare_constant(pc, 5);
  bool wz_given = pc->n_inputs > 5 && pc->node->inputs[5] >= 0;
  if (!w || w->kind != OXRT_KIND_TENSOR || !ql_is8(w->dtype) || w->rank < 3 || w->rank > 2 + OXRT_CONV_MAX_DIMS ||
      !w->data || (wz_given && (!wz || wz->dtype != w->dtype)))
    return NULL;
  int64_t group = oxrt_attr_int(pc->node, "group", 1);
  oxrt_conv_shape s = {.nd = w->rank - 2, .M = (size_t)w->dims[0], .group = group > 0 ? (size_t)group : 0};
  s.C = (size_t)w->dims[1] * s.group;
  for (int d = 0; d < s.nd; d++) s.k[d] = w->dims[2 + d];
  if (s.group == 0 || s.M % s.group || (s.group > 1 && s.group == s.M && w->dims[1] == 1)) return NULL;
  /* The pack's orientation follows the output size (oxrt_qconv_pack): packed now when X's static shape is known
   * past the batch, else at the first run, which knows it */
  const oxrt_type *xt = oxrt_prepare_input_type(pc, 0);
  bool known = xt && xt->kind == OXRT_KIND_TENSOR && xt->rank == w->rank && xt->dims;
  for (int d = 1; known && d < xt->rank; d++) known = xt->dims[d] > 0;
  if (known) {
    oxrt_value xv;
    memset(&xv, 0, sizeof xv);
    xv.kind = OXRT_KIND_TENSOR, xv.dtype = xt->elem_type, xv.rank = xt->rank;
    memcpy(xv.dims, xt->dims, sizeof(int64_t) * (size_t)xt->rank);
    xv.dims[0] = 1;
    oxrt_conv_shape full;
    oxrt_status *ge = conv_geometry(pc->node, &xv, w, &full);
    known = !ge && full.M == s.M && full.C == s.C && full.group == s.group;
    if (known) s = full;
    oxrt_status_free(ge); /* a bad geometry is reported by the run */
  }
  if (!known) return NULL;
  size_t nwz = wz && wz->count > 1 ? s.M : 1;
  if (wz && wz->count != 1 && wz->count != s.M) return NULL; /* the run reports it */
  int32_t *wzp = NULL;
  oxrt_status *e = ql_zp_vec(wz, w->dtype, 5, s.M, &wzp);
  if (e) { /* the run reports it */
    oxrt_status_free(e);
    return NULL;
  }
  ql_make_arg arg = {&s, w, wz, wzp, nwz, 0, 0, false};
  ql_state *st = *state;
  (void)la_once_get(&st->cache, ql_make, &arg); /* out of memory: the run packs again or reports it */
  free(wzp);
  return NULL;
}

static const oxrt_op_impl qconv_impls[] = {
    {.since_version = 10, .prepare = qconv_prepare, .run = qconv_run, .release = ql_release}};
OXRT_REGISTER_OP(QLinearConv) = {"", "QLinearConv", OXRT_IMPLS(qconv_impls)};
static const oxrt_op_impl qconv_add_impls[] = {
    {.since_version = 1, .prepare = qconv_prepare, .run = qconv_add_run, .release = ql_release}};
OXRT_REGISTER_OP(ms_QLinearConvAdd) = {"com.microsoft", "QLinearConvAdd", OXRT_IMPLS(qconv_add_impls)};
