/* QAttention.c - com.microsoft QAttention (quantize_dynamic's Attention): multi-head self attention whose
 * input projection is an 8-bit product.
 *   inputs: input [B, S, hidden] (8-bit), weight [hidden, 3*D] (8-bit), bias [3*D] float, input_scale,
 *           weight_scale (1 or 3*D values), mask_index?, input_zero_point?, weight_zero_point?, past?
 *   attributes: num_heads, unidirectional (causal mask), mask_filter_value (default -10000)
 *   QKV = (input - izp)(weight - wzp) * input_scale * weight_scale + bias on the 8-bit GEMM (weights packed
 *   once per session), then per head softmax(Q K^T / sqrt(d) + mask) V in float32. mask_index: absent, [B]
 *   (key lengths from the start) or [B, S] (1 = attend, 0 = masked). past / present are not supported. */
#include "../onnx/qlinear_util.h"

static oxrt_status *qattn_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 1), *bias = oxrt_input(ctx, 2);
  const oxrt_value *mask = oxrt_input(ctx, 5), *xz = oxrt_input(ctx, 6), *wz = oxrt_input(ctx, 7);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  OXRT_TRY(oxrt_check_tensor(w, 1, "weight"));
  if (oxrt_input(ctx, 8)) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input 8 (past) is not supported");
  if (!ql_is8(x->dtype) || !ql_is8(w->dtype) || x->rank != 3 || w->rank != 2 || w->dims[0] != x->dims[2] || w->dims[1] % 3)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "expected 8-bit input [B, S, hidden] and weight [hidden, 3*D]");
  size_t B = (size_t)x->dims[0], S = (size_t)x->dims[1], Hd = (size_t)x->dims[2], N3 = (size_t)w->dims[1], D = N3 / 3;
  int64_t nh = oxrt_attr_int(ctx->node, "num_heads", 0);
  if (nh < 1 || D % (size_t)nh) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute num_heads = %lld must divide %zu",
                                                  (long long)nh, D);
  if (!bias || bias->dtype != OXRT_FLOAT || bias->count != N3)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2 (bias) must be float with %zu values", N3);
  if (mask && (mask->dtype != OXRT_INT32 || !((mask->rank == 1 && (size_t)mask->dims[0] == B) ||
                                              (mask->rank == 2 && (size_t)mask->dims[0] == B && (size_t)mask->dims[1] == S))))
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input 5 (mask_index): int32 [B] or [B, S] is supported");
  bool causal = oxrt_attr_int(ctx->node, "unidirectional", 0) != 0;
  float filt = oxrt_attr_float(ctx->node, "mask_filter_value", -10000.0f);
  size_t dh = D / (size_t)nh;
  int64_t yd[3] = {(int64_t)B, (int64_t)S, (int64_t)D};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 3, yd, &y));
  int32_t *zx = NULL, *zw = NULL;
  float *xs = NULL, *ws = NULL, *qkv = NULL, *sc = NULL;
  ql_item *tmp = NULL;
  oxrt_status *st = ql_zp_vec(xz, x->dtype, 6, 1, &zx);
  if (!st) st = ql_zp_vec(wz, w->dtype, 7, N3, &zw);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, 3), 3, 1, &xs);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, 4), 4, N3, &ws);
  if (!st && (!(qkv = malloc(sizeof(float) * B * S * N3 + 1)) || !(sc = malloc(sizeof(float) * S * S + 1)))) st = OXRT_OOM();
  if (!st && y->count) {
    for (size_t n = 0; n < N3; n++) ws[n] *= xs[0];
    ql_make_arg arg = {NULL, w, wz, zw, wz && wz->count > 1 ? N3 : 1, Hd, N3, false};
    const ql_item *it = ql_weight(ctx, 1, 7, &arg, &tmp);
    oxrt_qgemm_ex g = {.M = B * S, .N = N3, .K = Hd, .bp = it ? &it->bp : NULL,
                       .a = {x->data, x->dtype == OXRT_INT8, Hd, 1, zx, false},
                       .out = {.kind = OXRT_QOUT_F32, .C = qkv, .ldc = N3, .scale = ws, .n_scale = N3, .fbias = bias->data}};
    if (!it || !oxrt_qgemm_run(&g, ctx->pool)) st = OXRT_OOM();
  }
  float norm = 1.0f / sqrtf((float)dh);
  for (size_t b = 0; !st && b < B; b++)
    for (size_t h = 0; h < (size_t)nh; h++) {
      const float *q = qkv + b * S * N3 + h * dh, *k = q + D, *v = q + 2 * D;
      oxrt_sgemm(false, true, S, S, dh, norm, q, N3, k, N3, 0.0f, sc, S, ctx->pool);
      for (size_t i = 0; i < S; i++) {
        float *row = sc + i * S, mx = -INFINITY, sum = 0;
        for (size_t j = 0; j < S; j++) {
          bool keep = !(causal && j > i);
          if (mask && mask->rank == 1) keep = keep && (int64_t)j < ((const int32_t *)mask->data)[b];
          if (mask && mask->rank == 2) keep = keep && ((const int32_t *)mask->data)[b * S + j] != 0;
          if (!keep) row[j] += filt;
          mx = row[j] > mx ? row[j] : mx;
        }
        for (size_t j = 0; j < S; j++) sum += row[j] = expf(row[j] - mx);
        for (size_t j = 0; j < S; j++) row[j] /= sum;
      }
      oxrt_sgemm(false, false, S, dh, S, 1.0f, sc, S, v, N3, 0.0f, (float *)y->data + b * S * D + h * dh, D, ctx->pool);
    }
  ql_item_free(tmp);
  free(zx), free(zw), free(xs), free(ws), free(qkv), free(sc);
  return st;
}

static const oxrt_op_impl qattn_impls[] = {{.since_version = 1, .prepare = ql_prepare, .run = qattn_run, .release = ql_release}};
OXRT_REGISTER_OP(ms_QAttention) = {"com.microsoft", "QAttention", OXRT_IMPLS(qattn_impls)};
