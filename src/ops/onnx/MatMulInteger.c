/* MatMulInteger.c - int32 matrix product of 8-bit operands after subtracting zero points: a_zero_point per
 * tensor or per row of A ([M]), b_zero_point per tensor or per column of B ([N]). numpy batching rules. */
#include "linalg_util.h"

typedef struct {
  la_mm_plan p;
  const oxrt_value *a, *b;
  const int32_t *azp; /* M entries */
  const int32_t *bzp; /* N entries or NULL */
  int32_t *y;
} mmi_job;

static void mmi_rows(void *arg, size_t r0, size_t r1) {
  const mmi_job *j = arg;
  size_t M = j->p.M, N = j->p.N, K = j->p.K;
  for (size_t r = r0; r < r1; r++) {
    size_t bt = r / M, i = r % M;
    la_q8_row(j->a->dtype == OXRT_INT8, j->a->data, j->p.offs[bt] + i * K, K, j->azp[i], j->b->dtype == OXRT_INT8,
              j->b->data, j->p.offs[j->p.nb + bt], N, N, j->bzp, j->y + r * N);
  }
}

/* Zero point input `zi` as n int32 values: absent -> 0, one value -> repeated, else exactly n values. */
static oxrt_status *zp_vector(const oxrt_value *zp, const oxrt_value *x, int zi, size_t n, int32_t **out,
                              bool *any) {
  int32_t *v = calloc(n ? n : 1, sizeof(int32_t));
  if (!v) return OXRT_OOM();
  *any = false;
  if (zp) {
    if (zp->dtype != x->dtype) {
      free(v);
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: zero point is %s, expected %s like its operand", zi,
                        oxrt_elem_type_name(zp->dtype), oxrt_elem_type_name(x->dtype));
    }
    if (zp->count != 1 && zp->count != n) {
      free(v);
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: zero point has %zu values, expected 1 or %zu", zi,
                        zp->count, n);
    }
    for (size_t i = 0; i < n; i++) {
      v[i] = (int32_t)oxrt_load_i64(zp->dtype, zp->data, zp->count == 1 ? 0 : i);
      *any |= v[i] != 0;
    }
  }
  *out = v;
  return NULL;
}

static oxrt_status *mmi_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  OXRT_TRY(oxrt_check_tensor(b, 1, "B"));
  if ((a->dtype != OXRT_UINT8 && a->dtype != OXRT_INT8) || (b->dtype != OXRT_UINT8 && b->dtype != OXRT_INT8))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "A and B must be uint8 or int8, got %s and %s",
                      oxrt_elem_type_name(a->dtype), oxrt_elem_type_name(b->dtype));
  mmi_job j = {.a = a, .b = b};
  OXRT_TRY(la_mm_plan_make(a, b, &j.p));
  oxrt_value *y;
  oxrt_status *st = oxrt_output_tensor(ctx, 0, OXRT_INT32, j.p.yr, j.p.yd, &y);
  int32_t *azp = NULL, *bzp = NULL;
  bool any_a, any_b;
  if (!st) st = zp_vector(oxrt_input(ctx, 2), a, 2, j.p.M, &azp, &any_a);
  if (!st) st = zp_vector(oxrt_input(ctx, 3), b, 3, j.p.N, &bzp, &any_b);
  if (!st && y->count) {
    j.azp = azp;
    j.bzp = any_b ? bzp : NULL;
    j.y = y->data;
    oxrt_parallel(ctx, j.p.nb * j.p.M, 1 + 65536 / (j.p.N * j.p.K + 1), mmi_rows, &j);
  }
  free(azp);
  free(bzp);
  free(j.p.offs);
  return st;
}

static const oxrt_op_impl mmi_impls[] = {{.since_version = 10, .run = mmi_run}};
OXRT_REGISTER_OP(MatMulInteger) = {"", "MatMulInteger", OXRT_IMPLS(mmi_impls)};
