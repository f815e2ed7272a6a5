/* MatMul.c - numpy-style matrix product: N-D batches with broadcasting, 1-D operands promoted and squeezed.
 * float/float16/bfloat16 run through oxrt_sgemm (float16/bfloat16 via float32), double through oxrt_dgemm,
 * integers exactly with wraparound.
 * Also oxrt.session MatMulBiasAct(A, B, bias), a session-only node (pass_fuse_matmul_bias_act.c, never saved):
 * Y = activation(MatMul(A, B) + bias) with bias 1-D over Y's last axis and `activation` named as FusedConv's
 * (conv_util.h: Gelu, FastGelu, Relu, ...), the bias and activation applied by the GEMM while each output tile is
 * in cache. Same prepare (constant B packed, in bfloat16 in the session's bf16 mode) and run as MatMul. */
#include "../../kernels/gemm.h"
#include "../infer_rules.h"
#include "conv_util.h"
#include "linalg_util.h"

typedef struct {
  oxrt_elem_type t;
  size_t M, N, K;
  const void *A, *B;
  void *Y;
  const size_t *a_off, *b_off; /* per batch: element offsets of the A and B matrices */
  oxrt_threadpool *pool;       /* NULL when batches run in parallel */
} mm_job;

static void mm_batches(void *arg, size_t b0, size_t b1) {
  const mm_job *j = arg;
  size_t M = j->M, N = j->N, K = j->K;
  for (size_t b = b0; b < b1; b++) {
    size_t yo = b * M * N;
    if (la_is_f32_family(j->t))
      oxrt_sgemm(false, false, M, N, K, 1.0f, (const float *)j->A + j->a_off[b], K, (const float *)j->B + j->b_off[b],
                 N, 0.0f, (float *)j->Y + yo, N, j->pool);
    else if (j->t == OXRT_DOUBLE)
      oxrt_dgemm(false, false, M, N, K, 1.0, (const double *)j->A + j->a_off[b], K,
                 (const double *)j->B + j->b_off[b], N, 0.0, (double *)j->Y + yo, N, j->pool);
    else
      la_int_matmul(j->t, M, N, K, j->A, j->a_off[b], K, j->B, j->b_off[b], N, j->Y, yo, N);
  }
}

/* MatMulBiasAct's epilogue as a pass of its own over rows [r0, r1) of Y [rows, N], where the GEMM could not fuse
 * it (batched B, out of memory for packing). */
typedef struct {
  float *y;
  size_t N;
  const float *bias;
  oxrt_activation act;
} mm_epi_job;

static void mm_epi_rows(void *arg, size_t r0, size_t r1) {
  const mm_epi_job *e = arg;
  for (size_t r = r0; r < r1; r++) {
    float *y = e->y + r * e->N;
    if (e->bias)
      for (size_t n = 0; n < e->N; n++) y[n] += e->bias[n];
    oxrt_act_apply(e->act, y, e->N);
  }
}

/* Y = MatMul(A, B), then + bias (float32, N entries, or NULL) and the activation when `fused` (float family only). */
static oxrt_status *matmul_eval(oxrt_kernel_ctx *ctx, bool fused, const float *bias, oxrt_activation act) {
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  OXRT_TRY(oxrt_check_tensor(b, 1, "B"));
  if (a->dtype != b->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "A is %s but B is %s", oxrt_elem_type_name(a->dtype),
                      oxrt_elem_type_name(b->dtype));
  la_mm_plan p;
  OXRT_TRY(la_mm_plan_make(a, b, &p));
  oxrt_value *y;
  oxrt_status *st = oxrt_output_tensor(ctx, 0, a->dtype, p.yr, p.yd, &y);
  if (st || y->count == 0) {
    free(p.offs);
    return st;
  }
  size_t M = p.M, N = p.N, K = p.K, nb = p.nb;
  bool epi_left = fused; /* the bias and activation still to apply after the product */
  const float *af = NULL, *bf = NULL;
  float *at = NULL, *bt = NULL, *yf = NULL, *yt = NULL;
  const void *A = a->data, *B = b->data;
  void *Y = y->data;
  /* B packed at session creation may have no data left: it is viewed only when not packed */
  const oxrt_sgemm_bpack *bp = la_is_f32_family(a->dtype) && p.b_total == 1 && K
                                   ? la_const_bpack(ctx, 1, b, false, nb * (size_t)M, K, N) : NULL;
  if (!bp && (st = la_check_data(b, 1))) goto done;
  if (la_is_f32_family(a->dtype)) {
    if ((st = oxrt_f32_view(a, &af, &at)) || (!bp && (st = oxrt_f32_view(b, &bf, &bt))) ||
        (st = la_f32_out(y, &yf, &yt)))
      goto done;
    A = af, B = bf, Y = yf;
  }
  if (K == 0) { /* empty sum */
    if (la_is_f32_family(a->dtype)) memset(Y, 0, sizeof(float) * y->count);
    else memset(Y, 0, y->count * oxrt_elem_type_size(y->dtype));
    goto done;
  }
  mm_job j = {a->dtype, M, N, K, A, B, Y, p.offs, p.offs + nb, ctx->pool};
  if (p.b_total == 1) {
    /* B is one matrix: fold A's batches into rows (A and Y are contiguous), one big product. */
    size_t zero = 0;
    j.M = nb * (size_t)M;
    j.a_off = j.b_off = &zero;
    if (bp || fused) { /* the bias and activation fused into the GEMM's output pass */
      oxrt_sgemm_ex g = {.M = j.M, .N = N, .K = K, .alpha = 1, .beta = 0, .A = A, .lda = K, .bp = bp,
                         .B = bp ? NULL : B, .ldb = N, .C = Y, .ldc = N, .bias_col = fused ? bias : NULL,
                         .act = fused ? act.kind : OXRT_ACT_NONE, .act_a = act.a, .act_b = act.b};
      if (oxrt_sgemm_run(&g, ctx->pool)) {
        epi_left = false;
        goto done;
      }
      if (bp && !b->data && b->count) { /* released: nothing to fall back on */
        st = OXRT_OOM();
        goto done;
      }
      if (bp && la_is_f32_family(a->dtype) && (st = oxrt_f32_view(b, &bf, &bt))) goto done;
      if (bp) j.B = la_is_f32_family(a->dtype) ? (const void *)bf : b->data;
    }
    mm_batches(&j, 0, 1);
    goto done;
  }
  double flops = (double)M * (double)N * (double)K;
  int nth = oxrt_threadpool_size(ctx->pool);
  if (nb >= (size_t)nth * 2 && flops < 4e6) {
    /* Many small products (attention heads): one per task, each single-threaded. */
    j.pool = NULL;
    oxrt_parallel(ctx, nb, 1, mm_batches, &j);
  } else {
    mm_batches(&j, 0, nb);
  }
done:
  if (!st && epi_left) { /* fused, float family (the op's types): Y is float here */
    mm_epi_job e = {(float *)Y, N, bias, act};
    oxrt_parallel(ctx, y->count / N, 64, mm_epi_rows, &e);
  }
  free(at);
  free(bt);
  free(p.offs);
  if (yt) {
    if (!st) la_f32_commit(y, yt);
    else free(yt);
  }
  return st;
}

static oxrt_status *matmul_run(oxrt_kernel_ctx *ctx) { return matmul_eval(ctx, false, NULL, (oxrt_activation){0}); }

/* MatMulBiasAct: B a matrix (so N is Y's last axis), bias 1-D of N entries of A's type, or absent. */
static oxrt_status *matmul_bias_act_run(oxrt_kernel_ctx *ctx) {
  oxrt_activation act = {0};
  OXRT_TRY(conv_fused_act_parse(ctx->node, &act));
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 1);
  const oxrt_value *bias = ctx->n_inputs > 2 ? oxrt_input(ctx, 2) : NULL;
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  OXRT_TRY(oxrt_check_tensor(b, 1, "B"));
  if (b->rank != 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (B): expected rank 2, got %d", b->rank);
  const float *bf = NULL;
  float *bt = NULL;
  if (bias) {
    OXRT_TRY(oxrt_check_tensor(bias, 2, "bias"));
    if (bias->dtype != a->dtype || bias->rank != 1 || bias->dims[0] != b->dims[1])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2 (bias): expected %s [%lld], got %s of rank %d",
                        oxrt_elem_type_name(a->dtype), (long long)b->dims[1], oxrt_elem_type_name(bias->dtype),
                        bias->rank);
    if (bias->count) OXRT_TRY(oxrt_f32_view(bias, &bf, &bt));
  }
  oxrt_status *st = matmul_eval(ctx, true, bf, act);
  free(bt);
  return st;
}

#define MM_T1 (OXRT_TMASK_FLOATS)
#define MM_T9 (OXRT_TMASK_FLOATS | OXRT_TBIT(OXRT_INT32) | OXRT_TBIT(OXRT_INT64) | OXRT_TBIT(OXRT_UINT32) | OXRT_TBIT(OXRT_UINT64))
/* prepare packs a constant B at session creation and release frees it (linalg_util.h) */
#define MM_HOOKS .prepare = la_matmul_prepare, .run = matmul_run, .release = la_bpack_release
static const oxrt_op_impl matmul_impls[] = {
    {.since_version = 1, .type_mask = MM_T1, MM_HOOKS},
    {.since_version = 9, .type_mask = MM_T9, MM_HOOKS},
};

/* numpy matmul (oxrt_infer_matmul_shape), typed like A */
static oxrt_status *infer_matmul(oxrt_infer_ctx *ctx) {
  oxrt_status *st;
  oxrt_infer_matmul_shape(ctx, 0, 1, OXRT_UNDEFINED, &st);
  return st;
}

OXRT_REGISTER_OP(MatMul) = {"", "MatMul", OXRT_IMPLS(matmul_impls), .infer = infer_matmul,
                            .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};

static const oxrt_op_impl matmul_bias_act_impls[] = {
    {.since_version = 1,
     .type_mask = OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_FLOAT16) | OXRT_TBIT(OXRT_BFLOAT16),
     .prepare = la_matmul_prepare,
     .run = matmul_bias_act_run,
     .release = la_bpack_release}};
OXRT_REGISTER_OP(session_MatMulBiasAct) = {"oxrt.session", "MatMulBiasAct", OXRT_IMPLS(matmul_bias_act_impls),
                                           .infer = infer_matmul,
                                           .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};
