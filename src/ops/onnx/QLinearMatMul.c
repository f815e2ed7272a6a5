/* QLinearMatMul.c - quantized matrix product: y = quantize((a - a_zp)(b - b_zp) * a_scale * b_scale / y_scale
 * + y_zp). Scales/zero points per tensor, or per row of A ([M]) / per column of B and y ([N]). 8-bit integer
 * operands accumulate exactly in int32; float8 operands (opset 21) are decoded and summed in double. */
#include "qlinear_util.h"

typedef struct {
  la_mm_plan p;
  const oxrt_value *a, *b;
  oxrt_elem_type yt, st; /* output type, scale type */
  const float *as, *bs, *ys;
  size_t nas, nbs, nys;     /* 1 or M / N / N */
  const int32_t *azp, *bzp; /* M and N entries */
  const double *yzp;        /* nys entries or NULL */
  bool int_path, y_int;
  int64_t lo, hi;
  void *y;
} qmm_job;

/* a * b / c with every step rounded to the scale type, as numpy computes float16 scales. */
static float scale_mul(oxrt_elem_type t, float a, float b, float c) {
  if (t == OXRT_FLOAT16) return oxrt_f16_to_f32(oxrt_f32_to_f16(oxrt_f16_to_f32(oxrt_f32_to_f16(a * b)) / c));
  if (t == OXRT_BFLOAT16) return oxrt_bf16_to_f32(oxrt_f32_to_bf16(oxrt_bf16_to_f32(oxrt_f32_to_bf16(a * b)) / c));
  return a * b / c;
}

static void qmm_rows(void *arg, size_t r0, size_t r1) {
  const qmm_job *j = arg;
  size_t M = j->p.M, N = j->p.N, K = j->p.K;
  int32_t acc_i[256];
  double acc[256];
  for (size_t r = r0; r < r1; r++) {
    size_t bt = r / M, i = r % M, a_off = j->p.offs[bt] + i * K, b_off = j->p.offs[j->p.nb + bt];
    for (size_t n0 = 0; n0 < N; n0 += 256) {
      size_t nn = N - n0 < 256 ? N - n0 : 256;
      if (j->int_path) {
        la_q8_row(j->a->dtype == OXRT_INT8, j->a->data, a_off, K, j->azp[i], j->b->dtype == OXRT_INT8, j->b->data,
                  b_off + n0, N, nn, j->bzp + n0, acc_i);
        for (size_t n = 0; n < nn; n++) acc[n] = acc_i[n];
      } else {
        for (size_t n = 0; n < nn; n++) {
          double s = 0;
          for (size_t k = 0; k < K; k++)
            s += oxrt_load_f64(j->a->dtype, j->a->data, a_off + k) *
                 oxrt_load_f64(j->b->dtype, j->b->data, b_off + k * N + n0 + n);
          acc[n] = s;
        }
      }
      for (size_t n = 0; n < nn; n++) {
        size_t col = n0 + n, yi = r * N + col, ysi = j->nys == 1 ? 0 : col;
        float m = scale_mul(j->st, j->as[j->nas == 1 ? 0 : i], j->bs[j->nbs == 1 ? 0 : col], j->ys[ysi]);
        double d = acc[n] * (double)m;
        if (j->y_int) oxrt_store_i64(j->yt, j->y, yi, q_round_clamp(d + (j->yzp ? j->yzp[ysi] : 0), j->lo, j->hi));
        else ((uint8_t *)j->y)[yi] = oxrt_f32_to_f8(j->yt, (float)d, true);
      }
    }
  }
}

/* Scale input si with 1 or n values as floats; its zero point (input zi, may be absent) as int32 or double. */
static oxrt_status *load_params(const oxrt_kernel_ctx *ctx, int si, int zi, const oxrt_value *x, size_t n,
                                float **s, size_t *ns, int32_t **zi32, double **zd) {
  const oxrt_value *sc = oxrt_input(ctx, si), *zp = oxrt_input(ctx, zi);
  OXRT_TRY(oxrt_check_tensor(sc, si, "scale"));
  if (!oxrt_dtype_is_float(sc->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (scale) must be a float type", si);
  if (sc->count != 1 && sc->count != n)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (scale) has %zu values, expected 1 or %zu", si, sc->count, n);
  if (zp && zp->dtype != x->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (zero point) is %s, expected %s", zi,
                      oxrt_elem_type_name(zp->dtype), oxrt_elem_type_name(x->dtype));
  if (zp && zp->count != sc->count)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (zero point) has %zu values but its scale has %zu", zi,
                      zp->count, sc->count);
  OXRT_TRY(q_load_f32(sc, s));
  *ns = sc->count;
  bool fz = oxrt_dtype_is_float(x->dtype); /* float8 zero points are 0 by definition */
  if (zi32) {
    *zi32 = calloc(n ? n : 1, sizeof(int32_t));
    if (!*zi32) return OXRT_OOM();
    for (size_t i = 0; zp && !fz && i < n; i++) (*zi32)[i] = (int32_t)oxrt_load_i64(zp->dtype, zp->data, zp->count == 1 ? 0 : i);
  }
  if (zd && zp && !fz) {
    *zd = malloc(sizeof(double) * zp->count);
    if (!*zd) return OXRT_OOM();
    for (size_t i = 0; i < zp->count; i++) (*zd)[i] = oxrt_load_f64(zp->dtype, zp->data, i);
  }
  return NULL;
}


/* 8-bit operands, float32 scales, scalar a_scale / a_zero_point / y_zero_point: the 8-bit GEMM requantizes
 * with the per-column multiplier a_scale * b_scale[n] / y_scale[n], rounded to float like the scales. */
static bool qmm_fast_ok(const oxrt_kernel_ctx *ctx, const oxrt_value *a, const oxrt_value *b, const oxrt_value *yz) {
  const oxrt_value *as = oxrt_input(ctx, 1), *az = oxrt_input(ctx, 2), *bs = oxrt_input(ctx, 4), *ys = oxrt_input(ctx, 6);
  return ql_is8(a->dtype) && ql_is8(b->dtype) && (!yz || ql_is8(yz->dtype)) && (!yz || yz->count == 1) && as &&
         as->dtype == OXRT_FLOAT && as->count == 1 && (!az || az->count == 1) && bs && bs->dtype == OXRT_FLOAT &&
         ys && ys->dtype == OXRT_FLOAT && b->rank >= 1;
}

static oxrt_status *qmm_fast(oxrt_kernel_ctx *ctx, const oxrt_value *a, const oxrt_value *b, const oxrt_value *yz) {
  la_mm_plan p;
  OXRT_TRY(la_mm_plan_make(a, b, &p));
  oxrt_elem_type yt = yz ? yz->dtype : a->dtype;
  int32_t *za = NULL, *zb = NULL, *zy = NULL;
  float *as = NULL, *bs = NULL, *ys = NULL, *mult = NULL;
  oxrt_value *y = NULL;
  oxrt_status *st = ql_zp_vec(oxrt_input(ctx, 2), a->dtype, 2, 1, &za);
  if (!st) st = ql_zp_vec(oxrt_input(ctx, 5), b->dtype, 5, p.N, &zb);
  if (!st) st = ql_zp_vec(yz, yt, 7, 1, &zy);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, 1), 1, 1, &as);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, 4), 4, p.N, &bs);
  if (!st) st = ql_scale_vec(oxrt_input(ctx, 6), 6, p.N, &ys);
  if (!st && !(mult = malloc(sizeof(float) * (p.N ? p.N : 1)))) st = OXRT_OOM();
  if (!st) st = oxrt_output_tensor(ctx, 0, yt, p.yr, p.yd, &y);
  if (!st && y->count) {
    for (size_t n = 0; n < p.N; n++) mult[n] = as[0] * bs[n] / ys[n];
    const oxrt_value *bz = oxrt_input(ctx, 5);
    oxrt_qgemm_out o = {.kind = yt == OXRT_INT8 ? OXRT_QOUT_S8 : OXRT_QOUT_U8, .scale = mult, .n_scale = p.N,
                        .zp = zy[0], .lo = yt == OXRT_INT8 ? -128 : 0, .hi = yt == OXRT_INT8 ? 127 : 255};
    st = ql_matmul(ctx, &p, a, za, 1, b, 3, 5, zb, bz && bz->count > 1 ? p.N : 1, &o, y->data, 1);
  }
  free(za), free(zb), free(zy), free(as), free(bs), free(ys), free(mult), free(p.offs);
  return st;
}

static oxrt_status *qmm_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 3), *yz = oxrt_input(ctx, 7);
  OXRT_TRY(oxrt_check_tensor(a, 0, "a"));
  OXRT_TRY(oxrt_check_tensor(b, 3, "b"));
  if (qmm_fast_ok(ctx, a, b, yz)) return qmm_fast(ctx, a, b, yz);
  qmm_job j = {.a = a, .b = b};
  j.yt = yz ? yz->dtype : a->dtype;
  j.st = oxrt_input(ctx, 1) ? oxrt_input(ctx, 1)->dtype : OXRT_FLOAT;
  j.y_int = q_int_range(j.yt, &j.lo, &j.hi) && j.yt != OXRT_INT32;
  j.int_path = (a->dtype == OXRT_UINT8 || a->dtype == OXRT_INT8) && (b->dtype == OXRT_UINT8 || b->dtype == OXRT_INT8);
  bool a_ok = j.int_path || oxrt_elem_type_size(a->dtype) == 1, y_ok = j.y_int || oxrt_elem_type_size(j.yt) == 1;
  if (!a_ok || !y_ok || !oxrt_dtype_is_valid((int)b->dtype) || oxrt_elem_type_size(b->dtype) != 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "a, b and y must be 8-bit quantized types (got %s, %s, %s)",
                      oxrt_elem_type_name(a->dtype), oxrt_elem_type_name(b->dtype), oxrt_elem_type_name(j.yt));
  OXRT_TRY(la_mm_plan_make(a, b, &j.p));
  float *as = NULL, *bs = NULL, *ys = NULL;
  int32_t *azp = NULL, *bzp = NULL;
  double *yzp = NULL;
  oxrt_value *y = NULL;
  oxrt_status *st = load_params(ctx, 1, 2, a, j.p.M, &as, &j.nas, &azp, NULL);
  if (!st) st = load_params(ctx, 4, 5, b, j.p.N, &bs, &j.nbs, &bzp, NULL);
  if (!st) st = load_params(ctx, 6, 7, yz ? yz : a, j.p.N, &ys, &j.nys, NULL, &yzp);
  if (!st) st = oxrt_output_tensor(ctx, 0, j.yt, j.p.yr, j.p.yd, &y);
  if (!st && y->count) {
    j.as = as, j.bs = bs, j.ys = ys, j.azp = azp, j.bzp = bzp, j.yzp = yzp, j.y = y->data;
    oxrt_parallel(ctx, j.p.nb * j.p.M, 1 + 65536 / (j.p.N * j.p.K + 1), qmm_rows, &j);
  }
  free(as);
  free(bs);
  free(ys);
  free(azp);
  free(bzp);
  free(yzp);
  free(j.p.offs);
  return st;
}

static const oxrt_op_impl qmm_impls[] = {
    {.since_version = 10, .prepare = ql_prepare, .run = qmm_run, .release = ql_release},
    {.since_version = 21, .prepare = ql_prepare, .run = qmm_run, .release = ql_release},
};
/* typed like y_zero_point, else like a (as the kernels) */
static oxrt_status *infer_qmm(oxrt_infer_ctx *ctx) {
  return q_infer_matmul(ctx, 0, 3, q_infer_elem(ctx, 7, q_infer_elem(ctx, 0, OXRT_UNDEFINED)));
}
OXRT_REGISTER_OP(QLinearMatMul) = {"", "QLinearMatMul", OXRT_IMPLS(qmm_impls), .infer = infer_qmm};
