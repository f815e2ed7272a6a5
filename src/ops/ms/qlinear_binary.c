/* qlinear_binary.c - com.microsoft QLinearAdd and QLinearMul (QOperator Add / Mul), numpy broadcasting:
 *   QLinearAdd(A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp?):
 *     C = round((A - A_zp) * A_scale / C_scale + (B - B_zp) * B_scale / C_scale) + C_zp
 *   QLinearMul(same inputs):   C = round((A - A_zp) * (B - B_zp) * A_scale * B_scale / C_scale) + C_zp
 * In float32 with the scale ratios formed once, as ONNX Runtime does; saturated to C's type (A's type). */
#include "../onnx/qlinear_util.h"

typedef struct {
  bool mul, sa, sb, sc; /* op, signedness of A, B, C */
  float ra, rb;         /* Add: A_scale / C_scale, B_scale / C_scale; Mul: ra = A_scale * B_scale / C_scale */
  float za, zb, zc;
  const uint8_t *a, *b;
  uint8_t *c;
} qbin_job;

/* Runs where both inputs advance one element at a time (no broadcasting): one loop per type and operation, with
 * no branch and no libm call inside, so it vectorizes. */
#if defined(__GNUC__) && !defined(__clang__)
#define QB_VEC __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define QB_VEC
#endif
#define QB_CONTIG(name, T, lo, hi, EXPR)                                                                               \
  OXRT_SIMD_CLONES QB_VEC static void name(const qbin_job *j, const T *restrict a, const T *restrict b, T *restrict c, \
                                           size_t n) {                                                                 \
    const float za = j->za, zb = j->zb, zc = j->zc, ra = j->ra, rb = j->rb;                                          \
    (void)rb;                                                                                                          \
    for (size_t i = 0; i < n; i++) {                                                                                   \
      float x = (float)a[i] - za, y = (float)b[i] - zb;                                                                \
      c[i] = (T)(int32_t)q_rne_sat(EXPR, zc, lo, hi);                                                                  \
    }                                                                                                                  \
  }
QB_CONTIG(qadd_u8, uint8_t, 0.0f, 255.0f, x * ra + y * rb)
QB_CONTIG(qadd_s8, int8_t, -128.0f, 127.0f, x * ra + y * rb)
QB_CONTIG(qmul_u8, uint8_t, 0.0f, 255.0f, x * y * ra)
QB_CONTIG(qmul_s8, int8_t, -128.0f, 127.0f, x * y * ra)

static void qbin_run_fn(void *arg, size_t out_off, const size_t *in_off, const int64_t *in_step, size_t len) {
  const qbin_job *j = arg;
  const uint8_t *a = j->a + in_off[0], *b = j->b + in_off[1];
  uint8_t *c = j->c + out_off;
  size_t sa = (size_t)in_step[0], sb = (size_t)in_step[1];
  if (sa == 1 && sb == 1) {
    if (j->sc) (j->mul ? qmul_s8 : qadd_s8)(j, (const int8_t *)a, (const int8_t *)b, (int8_t *)c, len);
    else (j->mul ? qmul_u8 : qadd_u8)(j, a, b, c, len);
    return;
  }
  for (size_t i = 0; i < len; i++) {
    float x = ql_ld8(a, i * sa, j->sa) - j->za, y = ql_ld8(b, i * sb, j->sb) - j->zb;
    c[i] = ql_sat8(j->mul ? x * y * j->ra : x * j->ra + y * j->rb, j->zc, j->sc);
  }
}

static oxrt_status *qbin_run(oxrt_kernel_ctx *ctx, bool mul) {
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 3);
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  OXRT_TRY(oxrt_check_tensor(b, 3, "B"));
  if (!ql_is8(a->dtype) || b->dtype != a->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "A and B must both be uint8 or both int8, got %s and %s",
                      oxrt_elem_type_name(a->dtype), oxrt_elem_type_name(b->dtype));
  qbin_job j = {.mul = mul, .sa = a->dtype == OXRT_INT8, .sb = a->dtype == OXRT_INT8, .sc = a->dtype == OXRT_INT8};
  float as = 0, bs = 0, cs = 1;
  OXRT_TRY(ql_scalar_param(ctx, 1, 2, a->dtype, &as, &j.za));
  OXRT_TRY(ql_scalar_param(ctx, 4, 5, b->dtype, &bs, &j.zb));
  OXRT_TRY(ql_scalar_param(ctx, 6, 7, a->dtype, &cs, &j.zc));
  j.ra = mul ? as * bs / cs : as / cs;
  j.rb = bs / cs;
  const oxrt_value *ins[2] = {a, b};
  int rank;
  int64_t dims[OXRT_MAX_RANK];
  OXRT_TRY(oxrt_broadcast_shapes(2, ins, &rank, dims));
  oxrt_value *c;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, a->dtype, rank, dims, &c));
  j.a = a->data, j.b = b->data, j.c = c->data;
  if (c->count) oxrt_broadcast_foreach(2, ins, rank, dims, qbin_run_fn, &j);
  return NULL;
}

void ql_add_broadcast(const oxrt_value *a, float as, float az, const oxrt_value *b, float bs, float bz, float cs,
                      float cz, oxrt_value *c) {
  qbin_job j = {.sa = a->dtype == OXRT_INT8, .sb = b->dtype == OXRT_INT8, .sc = c->dtype == OXRT_INT8,
                .ra = as / cs, .rb = bs / cs, .za = az, .zb = bz, .zc = cz, .a = a->data, .b = b->data,
                .c = c->data};
  const oxrt_value *ins[2] = {a, b};
  if (c->count) oxrt_broadcast_foreach(2, ins, c->rank, c->dims, qbin_run_fn, &j);
}

static oxrt_status *qadd_run(oxrt_kernel_ctx *ctx) { return qbin_run(ctx, false); }
static oxrt_status *qmul_run(oxrt_kernel_ctx *ctx) { return qbin_run(ctx, true); }

static const oxrt_op_impl qadd_impls[] = {{.since_version = 1, .run = qadd_run}};
OXRT_REGISTER_OP(ms_QLinearAdd) = {"com.microsoft", "QLinearAdd", OXRT_IMPLS(qadd_impls)};
static const oxrt_op_impl qmul_impls[] = {{.since_version = 1, .run = qmul_run}};
OXRT_REGISTER_OP(ms_QLinearMul) = {"com.microsoft", "QLinearMul", OXRT_IMPLS(qmul_impls)};
