/* MatMulInteger.c - int32 matrix product of 8-bit operands after subtracting zero points: a_zero_point per
 * tensor or per row of A ([M]), b_zero_point per tensor or per column of B ([N]). numpy batching rules.
 * Runs on the 8-bit GEMM; a constant B is packed once per session. */
#include "qlinear_util.h"

static oxrt_status *mmi_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 1), *az = oxrt_input(ctx, 2), *bz = oxrt_input(ctx, 3);
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  OXRT_TRY(oxrt_check_tensor(b, 1, "B"));
  if (!ql_is8(a->dtype) || !ql_is8(b->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "A and B must be uint8 or int8, got %s and %s",
                      oxrt_elem_type_name(a->dtype), oxrt_elem_type_name(b->dtype));
  la_mm_plan p;
  OXRT_TRY(la_mm_plan_make(a, b, &p));
  oxrt_value *y;
  int32_t *za = NULL, *zb = NULL;
  oxrt_status *st = oxrt_output_tensor(ctx, 0, OXRT_INT32, p.yr, p.yd, &y);
  if (!st) st = ql_zp_vec(az, a->dtype, 2, p.M, &za);
  if (!st) st = ql_zp_vec(bz, b->dtype, 3, p.N, &zb);
  if (!st && y->count) {
    oxrt_qgemm_out o = {.kind = OXRT_QOUT_I32};
    st = ql_matmul(ctx, &p, a, za, az && az->count > 1 ? p.M : 1, b, 1, 3, zb, bz && bz->count > 1 ? p.N : 1, &o,
                   y->data, 4);
  }
  free(za);
  free(zb);
  free(p.offs);
  return st;
}

static const oxrt_op_impl mmi_impls[] = {
    {.since_version = 10, .prepare = ql_prepare, .run = mmi_run, .release = ql_release}};
static oxrt_status *infer_mmi(oxrt_infer_ctx *ctx) { return q_infer_matmul(ctx, 0, 1, OXRT_INT32); }
OXRT_REGISTER_OP(MatMulInteger) = {"", "MatMulInteger", OXRT_IMPLS(mmi_impls), .infer = infer_mmi};
