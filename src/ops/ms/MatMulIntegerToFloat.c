/* MatMulIntegerToFloat.c - com.microsoft MatMulIntegerToFloat and DynamicQuantizeMatMul (what ONNX Runtime's
 * optimizer makes of quantize_dynamic's MatMulInteger -> Cast -> Mul chains):
 *   MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zero_point?, b_zero_point?, bias?):
 *     Y = (A - a_zp)(B - b_zp) * a_scale * b_scale[n] + bias[n]
 *   DynamicQuantizeMatMul(A float, B, b_scale, b_zero_point?, bias?): A is quantized to uint8 first with
 *     DynamicQuantizeLinear's parameters, then as above.
 * b_scale / b_zero_point per tensor or per column; numpy batching; a constant B is packed once per session. */
#include "../onnx/qlinear_util.h"

/* The product of 8-bit `a` (zero point za) by input 1 into float output 0. */
static oxrt_status *mmf_product(oxrt_kernel_ctx *ctx, const oxrt_value *a, int32_t za, float a_scale, int bsi,
                                int bzi, int biasi) {
  const oxrt_value *b = oxrt_input(ctx, 1), *bz = oxrt_input(ctx, bzi), *bias = oxrt_input(ctx, biasi);
  OXRT_TRY(oxrt_check_tensor(b, 1, "B"));
  if (!ql_is8(b->dtype)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (B) must be uint8 or int8, got %s",
                                           oxrt_elem_type_name(b->dtype));
  la_mm_plan p;
  OXRT_TRY(la_mm_plan_make(a, b, &p));
  if (bias && (bias->dtype != OXRT_FLOAT || bias->count != p.N)) {
    free(p.offs);
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (bias) must be float with %zu values", biasi, p.N);
  }
  int32_t *zb = NULL;
  float *bs = NULL;
  oxrt_value *y;
  oxrt_status *st = ql_zp_vec(bz, b->dtype, bzi, p.N, &zb);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, bsi), bsi, p.N, &bs);
  if (!st) st = oxrt_output_tensor(ctx, 0, OXRT_FLOAT, p.yr, p.yd, &y);
  if (!st && y->count) {
    for (size_t n = 0; n < p.N; n++) bs[n] *= a_scale;
    oxrt_qgemm_out o = {.kind = OXRT_QOUT_F32, .scale = bs, .n_scale = p.N, .fbias = bias ? bias->data : NULL};
    st = ql_matmul(ctx, &p, a, &za, 1, b, 1, bzi, zb, bz && bz->count > 1 ? p.N : 1, &o, y->data, 4);
  }
  free(zb);
  free(bs);
  free(p.offs);
  return st;
}

static oxrt_status *mmf_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *a = oxrt_input(ctx, 0), *as = oxrt_input(ctx, 2), *az = oxrt_input(ctx, 4);
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  if (!ql_is8(a->dtype)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (A) must be uint8 or int8, got %s",
                                           oxrt_elem_type_name(a->dtype));
  if (!as || as->count != 1 || !oxrt_dtype_is_float(as->dtype))
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input 2 (a_scale): only a per-tensor float scale is supported");
  int32_t *za = NULL;
  OXRT_TRY(ql_zp_vec(az, a->dtype, 4, 1, &za));
  int32_t z = za[0];
  free(za);
  return mmf_product(ctx, a, z, (float)oxrt_load_f64(as->dtype, as->data, 0), 3, 5, 6);
}

static oxrt_status *dqmm_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *a = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  if (a->dtype != OXRT_FLOAT) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (A) must be float, got %s",
                                                oxrt_elem_type_name(a->dtype));
  oxrt_value *aq;
  OXRT_TRY(oxrt_tensor_new(OXRT_UINT8, a->rank, a->dims, &aq));
  float scale;
  int32_t zp;
  q_dynamic_u8(a->data, a->count, aq->data, &scale, &zp);
  oxrt_status *st = mmf_product(ctx, aq, zp, scale, 2, 3, 4);
  oxrt_value_free(aq);
  return st;
}

static const oxrt_op_impl mmf_impls[] = {{.since_version = 1, .prepare = ql_prepare, .run = mmf_run, .release = ql_release}};
static oxrt_status *infer_mmf(oxrt_infer_ctx *ctx) { return q_infer_matmul(ctx, 0, 1, OXRT_FLOAT); }
OXRT_REGISTER_OP(ms_MatMulIntegerToFloat) = {"com.microsoft", "MatMulIntegerToFloat", OXRT_IMPLS(mmf_impls),
                                             .infer = infer_mmf};
static const oxrt_op_impl dqmm_impls[] = {{.since_version = 1, .prepare = ql_prepare, .run = dqmm_run, .release = ql_release}};
OXRT_REGISTER_OP(ms_DynamicQuantizeMatMul) = {"com.microsoft", "DynamicQuantizeMatMul", OXRT_IMPLS(dqmm_impls),
                                              .infer = infer_mmf};
