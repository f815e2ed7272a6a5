/* QGemm.c - com.microsoft QGemm (quantize_static's QOperator Gemm):
 *   QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C?, y_scale?, y_zp?), attributes alpha, transA, transB.
 *   acc = (op(A) - a_zp)(op(B) - b_zp[n]) + C (int32, [N], [1, N] or one value), then
 *   Y = acc * alpha * a_scale * b_scale[n] as float, or requantized with y_scale / y_zp when they are given.
 * A constant B is packed once per session (either orientation). */
#include "../onnx/qlinear_util.h"

static oxrt_status *qgemm_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 3), *c = oxrt_input(ctx, 6);
  const oxrt_value *ys = oxrt_input(ctx, 7), *yz = oxrt_input(ctx, 8), *bz = oxrt_input(ctx, 5);
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  OXRT_TRY(oxrt_check_tensor(b, 3, "B"));
  if (!ql_is8(a->dtype) || !ql_is8(b->dtype) || a->rank != 2 || b->rank != 2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "A and B must be 2-D uint8 or int8 tensors");
  bool ta = oxrt_attr_int(ctx->node, "transA", 0) != 0, tb = oxrt_attr_int(ctx->node, "transB", 0) != 0;
  float alpha = oxrt_attr_float(ctx->node, "alpha", 1.0f);
  size_t M = (size_t)a->dims[ta ? 1 : 0], K = (size_t)a->dims[ta ? 0 : 1];
  size_t K2 = (size_t)b->dims[tb ? 1 : 0], N = (size_t)b->dims[tb ? 0 : 1];
  if (K != K2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "inner dimensions differ: %zu vs %zu", K, K2);
  if (c && (c->dtype != OXRT_INT32 || (c->count != 1 && c->count != N) || c->rank > 2 || (c->rank == 2 && c->dims[0] != 1)))
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input 6 (C): an int32 row bias of 1 or %zu values is supported", N);
  oxrt_elem_type yt = ys ? (yz ? yz->dtype : OXRT_UINT8) : OXRT_FLOAT;
  if (ys && !ql_is8(yt)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "y_zero_point must be uint8 or int8");
  int64_t yd[2] = {(int64_t)M, (int64_t)N};
  int32_t *za = NULL, *zb = NULL, *zy = NULL, *bias = NULL;
  float *as = NULL, *bs = NULL, *ysv = NULL;
  ql_item *tmp = NULL;
  oxrt_value *y;
  oxrt_status *st = oxrt_output_tensor(ctx, 0, yt, 2, yd, &y);
  if (!st) st = ql_zp_vec(oxrt_input(ctx, 2), a->dtype, 2, 1, &za);
  if (!st) st = ql_zp_vec(bz, b->dtype, 5, N, &zb);
  if (!st && ys) st = ql_zp_vec(yz, yt, 8, 1, &zy);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, 1), 1, 1, &as);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, 4), 4, N, &bs);
  if (!st && ys) st = ql_scale_vec(ys, 7, 1, &ysv);
  if (!st && c) {
    if (!(bias = malloc(sizeof(int32_t) * (N ? N : 1)))) st = OXRT_OOM();
    for (size_t n = 0; !st && n < N; n++) bias[n] = ((const int32_t *)c->data)[c->count == 1 ? 0 : n];
  }
  if (!st && y->count) {
    for (size_t n = 0; n < N; n++) bs[n] = ys ? alpha * as[0] * bs[n] / ysv[0] : alpha * as[0] * bs[n];
    ql_make_arg arg = {NULL, b, bz, zb, bz && bz->count > 1 ? N : 1, K, N, tb};
    const ql_item *it = ql_weight(ctx, 3, 5, &arg, &tmp);
    oxrt_qgemm_ex g = {.M = M, .N = N, .K = K, .bp = it ? &it->bp : NULL};
    g.a = (oxrt_qmat){a->data, a->dtype == OXRT_INT8, ta ? 1 : K, ta ? M : 1, za, false, NULL};
    g.out = (oxrt_qgemm_out){.kind = !ys ? OXRT_QOUT_F32 : yt == OXRT_INT8 ? OXRT_QOUT_S8 : OXRT_QOUT_U8,
                             .C = y->data, .ldc = N, .bias = bias, .scale = bs, .n_scale = N,
                             .zp = zy ? zy[0] : 0, .lo = yt == OXRT_INT8 ? -128 : 0, .hi = yt == OXRT_INT8 ? 127 : 255};
    if (!it || !oxrt_qgemm_run(&g, ctx->pool)) st = OXRT_OOM();
  }
  ql_item_free(tmp);
  free(za), free(zb), free(zy), free(bias), free(as), free(bs), free(ysv);
  return st;
}

static const oxrt_op_impl qgemm_impls[] = {{.since_version = 1, .prepare = ql_prepare, .run = qgemm_run, .release = ql_release}};
OXRT_REGISTER_OP(ms_QGemm) = {"com.microsoft", "QGemm", OXRT_IMPLS(qgemm_impls)};
