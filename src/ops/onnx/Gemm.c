/* Gemm.c - Y = alpha * op(A) * op(B) + beta * C with op = identity or transpose and C broadcast to (M, N).
 * Opset 1/6 carry a `broadcast` attribute (C may still be broadcast: we accept every shape that broadcasts
 * unidirectionally); C is optional from opset 11. float/float16/bfloat16 use oxrt_sgemm, double oxrt_dgemm,
 * integer types an exact int64 dot product scaled in double and truncated, as numpy's astype does. */
#include "../../kernels/gemm.h"
#include "../infer_rules.h"
#include "linalg_util.h"
#include <math.h>

typedef struct {
  oxrt_elem_type t;
  bool ta, tb;
  size_t M, N, K;
  double alpha, beta;
  const void *A, *B, *C; /* C already broadcast to (M, N) in double, or NULL */
  void *Y;
} gemm_int_job;

static void gemm_int_rows(void *arg, size_t r0, size_t r1) {
  const gemm_int_job *j = arg;
  for (size_t i = r0; i < r1; i++)
    for (size_t n = 0; n < j->N; n++) {
      uint64_t s = 0;
      for (size_t k = 0; k < j->K; k++) {
        uint64_t a = (uint64_t)oxrt_load_i64(j->t, j->A, j->ta ? k * j->M + i : i * j->K + k);
        uint64_t b = (uint64_t)oxrt_load_i64(j->t, j->B, j->tb ? n * j->K + k : k * j->N + n);
        s += a * b;
      }
      if (j->alpha == 1 && !j->C) { /* exact, with wraparound like numpy */
        oxrt_store_i64(j->t, j->Y, i * j->N + n, (int64_t)s);
        continue;
      }
      double v = (j->t == OXRT_UINT64 ? (double)s : (double)(int64_t)s) * j->alpha;
      if (j->C) v += ((const double *)j->C)[i * j->N + n] * j->beta;
      oxrt_store_f64(j->t, j->Y, i * j->N + n, trunc(v));
    }
}

/* C (rank <= 2) broadcast to (M, N) into y, element type of the buffer given by `dbl`. */
static oxrt_status *broadcast_c(const oxrt_value *c, size_t M, size_t N, void *y, bool dbl) {
  if (c->rank > 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2 (C): rank %d, expected at most 2", c->rank);
  int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
  if ((cm != (int64_t)M && cm != 1) || (cn != (int64_t)N && cn != 1)) {
    char s[128];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2 (C): shape %s does not broadcast to [%zu,%zu]",
                      oxrt_dims_str(c->dims, c->rank, s, sizeof s), M, N);
  }
  for (size_t i = 0; i < M; i++)
    for (size_t n = 0; n < N; n++) {
      size_t src = (cm == 1 ? 0 : i) * (size_t)cn + (cn == 1 ? 0 : n);
      double v = c->dtype == OXRT_FLOAT ? ((const float *)c->data)[src] : oxrt_load_f64(c->dtype, c->data, src);
      if (dbl) ((double *)y)[i * N + n] = v;
      else ((float *)y)[i * N + n] = (float)v;
    }
  return NULL;
}

static oxrt_status *gemm_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 1), *c = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  OXRT_TRY(oxrt_check_tensor(b, 1, "B"));
  if (c) OXRT_TRY(oxrt_check_tensor(c, 2, "C"));
  if (!c && ctx->opset < 11) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2 (C) is required before opset 11");
  if (a->rank != 2 || b->rank != 2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "A and B must be 2-D, got ranks %d and %d", a->rank, b->rank);
  if (a->dtype != b->dtype || (c && c->dtype != a->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "A, B and C must share an element type (%s, %s%s%s)",
                      oxrt_elem_type_name(a->dtype), oxrt_elem_type_name(b->dtype), c ? ", " : "",
                      c ? oxrt_elem_type_name(c->dtype) : "");
  bool ta = oxrt_attr_int(ctx->node, "transA", 0) != 0, tb = oxrt_attr_int(ctx->node, "transB", 0) != 0;
  float alpha = oxrt_attr_float(ctx->node, "alpha", 1.0f), beta = oxrt_attr_float(ctx->node, "beta", 1.0f);
  size_t M = (size_t)(ta ? a->dims[1] : a->dims[0]), K = (size_t)(ta ? a->dims[0] : a->dims[1]);
  size_t K2 = (size_t)(tb ? b->dims[1] : b->dims[0]), N = (size_t)(tb ? b->dims[0] : b->dims[1]);
  if (K != K2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "inner dimensions differ: op(A) is [%zu,%zu], op(B) is [%zu,%zu]", M, K,
                      K2, N);
  int64_t yd[2] = {(int64_t)M, (int64_t)N};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, a->dtype, 2, yd, &y));
  if (y->count == 0) return NULL;
  bool use_c = c && beta != 0;
  oxrt_status *st = NULL;
  if (la_is_f32_family(a->dtype)) {
    const float *af = NULL, *bf = NULL;
    float *at = NULL, *bt = NULL, *yf, *yt = NULL;
    /* B packed at session creation may have no data left: it is viewed only when not packed */
    const oxrt_sgemm_bpack *bp = la_const_bpack(ctx, 1, b, tb, M, K, N);
    if (!(st = oxrt_f32_view(a, &af, &at)) && !(st = bp ? NULL : la_check_data(b, 1)) &&
        !(st = bp ? NULL : oxrt_f32_view(b, &bf, &bt)) && !(st = la_f32_out(y, &yf, &yt))) {
      if (use_c) st = broadcast_c(c, M, N, yf, false);
      if (bp && !st) {
        oxrt_sgemm_ex g = {.M = M, .N = N, .K = K, .alpha = alpha, .beta = use_c ? beta : 0.0f, .trans_a = ta,
                           .A = af, .lda = ta ? M : K, .bp = bp, .C = yf, .ldc = N};
        if (!oxrt_sgemm_run(&g, ctx->pool)) st = OXRT_OOM();
      } else if (!st) {
        oxrt_sgemm(ta, tb, M, N, K, alpha, af, ta ? M : K, bf, tb ? K : N, use_c ? beta : 0.0f, yf, N, ctx->pool);
      }
    }
    free(at);
    free(bt);
    if (yt) {
      if (!st) la_f32_commit(y, yt);
      else free(yt);
    }
    return st;
  }
  OXRT_TRY(la_check_data(b, 1));
  if (a->dtype == OXRT_DOUBLE) {
    if (use_c) OXRT_TRY(broadcast_c(c, M, N, y->data, true));
    oxrt_dgemm(ta, tb, M, N, K, alpha, a->data, ta ? M : K, b->data, tb ? K : N, use_c ? beta : 0.0, y->data, N,
               ctx->pool);
    return NULL;
  }
  double *cd = NULL;
  if (use_c) {
    cd = malloc(sizeof(double) * M * N);
    if (!cd) return OXRT_OOM();
    if ((st = broadcast_c(c, M, N, cd, true))) {
      free(cd);
      return st;
    }
  }
  gemm_int_job j = {a->dtype, ta, tb, M, N, K, alpha, beta, a->data, b->data, cd, y->data};
  oxrt_parallel(ctx, M, 1 + 65536 / (N * K + 1), gemm_int_rows, &j);
  free(cd);
  return NULL;
}

#define GEMM_T1 (OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_DOUBLE) | OXRT_TBIT(OXRT_FLOAT16))
#define GEMM_T9 (GEMM_T1 | OXRT_TBIT(OXRT_INT32) | OXRT_TBIT(OXRT_INT64) | OXRT_TBIT(OXRT_UINT32) | OXRT_TBIT(OXRT_UINT64))
/* prepare packs a constant B at session creation and release frees it (linalg_util.h) */
#define GEMM_HOOKS .prepare = la_gemm_prepare, .run = gemm_run, .release = la_bpack_release
static const oxrt_op_impl gemm_impls[] = {
    {.since_version = 1, .type_mask = GEMM_T1, GEMM_HOOKS},
    {.since_version = 9, .type_mask = GEMM_T9, GEMM_HOOKS},
    {.since_version = 13, .type_mask = GEMM_T9 | OXRT_TBIT(OXRT_BFLOAT16), GEMM_HOOKS},
};

/* [M, N] from A [M, K] and B [K, N], each possibly transposed. */
static oxrt_status *infer_gemm(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, y, out;
  if (!oxrt_infer_input(ctx, 0, &x) || !oxrt_infer_input(ctx, 1, &y) || x.rank != 2 || y.rank != 2) return NULL;
  bool ta = oxrt_attr_int(ctx->node, "transA", 0) != 0, tb = oxrt_attr_int(ctx->node, "transB", 0) != 0;
  int64_t ka = x.dims[ta ? 0 : 1], kb = y.dims[tb ? 1 : 0];
  char a[256], b[256];
  if (ka >= 0 && kb >= 0 && ka != kb)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "inner dimensions differ: A %s%s, B %s%s",
                      oxrt_tshape_text(&x, a, sizeof a), ta ? " (transposed)" : "", oxrt_tshape_text(&y, b, sizeof b),
                      tb ? " (transposed)" : "");
  out = x;
  out.dims[0] = x.dims[ta ? 1 : 0], out.names[0] = x.names[ta ? 1 : 0];
  out.dims[1] = y.dims[tb ? 0 : 1], out.names[1] = y.names[tb ? 0 : 1];
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Gemm) = {"", "Gemm", OXRT_IMPLS(gemm_impls), .infer = infer_gemm,
                          .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};
