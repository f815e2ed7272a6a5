/* MatMul.c - numpy-style matrix product: N-D batches with broadcasting, 1-D operands promoted and squeezed.
 * float/float16/bfloat16 run through oxrt_sgemm (float16/bfloat16 via float32), double through oxrt_dgemm,
 * integers exactly with wraparound. */
#include "../../kernels/gemm.h"
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

static oxrt_status *matmul_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  OXRT_TRY(oxrt_check_tensor(b, 1, "B"));
  if (a->dtype != b->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "A is %s but B is %s", oxrt_elem_type_name(a->dtype),
                      oxrt_elem_type_name(b->dtype));
  if (a->rank < 1 || b->rank < 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MatMul needs inputs of rank >= 1, got %d and %d", a->rank, b->rank);
  int ra = a->rank, rb = b->rank;
  int64_t M = ra == 1 ? 1 : a->dims[ra - 2], K = a->dims[ra - 1];
  int64_t K2 = rb == 1 ? b->dims[0] : b->dims[rb - 2], N = rb == 1 ? 1 : b->dims[rb - 1];
  if (K != K2) {
    char s1[128], s2[128];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "inner dimensions differ: A %s, B %s",
                      oxrt_dims_str(a->dims, a->rank, s1, sizeof s1), oxrt_dims_str(b->dims, b->rank, s2, sizeof s2));
  }
  /* Batch dims broadcast (right-aligned). */
  int bra = ra > 2 ? ra - 2 : 0, brb = rb > 2 ? rb - 2 : 0, br = bra > brb ? bra : brb;
  int64_t bd[OXRT_MAX_RANK], sa[OXRT_MAX_RANK], sb[OXRT_MAX_RANK];
  for (int d = 0; d < br; d++) {
    int da = d - (br - bra), db = d - (br - brb);
    int64_t x = da >= 0 ? a->dims[da] : 1, y = db >= 0 ? b->dims[db] : 1;
    if (x != y && x != 1 && y != 1)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "batch dimension %d does not broadcast: %lld vs %lld", d,
                        (long long)x, (long long)y);
    bd[d] = x == 1 ? y : x;
    sa[d] = x == 1 ? 0 : 1; /* marks; turned into strides below */
    sb[d] = y == 1 ? 0 : 1;
  }
  int64_t st_a = M * K, st_b = K * N;
  for (int d = br - 1; d >= 0; d--) {
    int da = d - (br - bra), db = d - (br - brb);
    int64_t x = da >= 0 ? a->dims[da] : 1, y = db >= 0 ? b->dims[db] : 1;
    sa[d] = sa[d] ? st_a : 0;
    sb[d] = sb[d] ? st_b : 0;
    st_a *= x;
    st_b *= y;
  }
  int64_t yd[OXRT_MAX_RANK];
  int yr = 0;
  for (int d = 0; d < br; d++) yd[yr++] = bd[d];
  if (ra > 1) yd[yr++] = M;
  if (rb > 1) yd[yr++] = N;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, a->dtype, yr, yd, &y));
  if (y->count == 0) return NULL;
  size_t nb = 1;
  for (int d = 0; d < br; d++) nb *= (size_t)bd[d];
  size_t b_total = K * N != 0 ? b->count / (size_t)(K * N) : 1;

  oxrt_status *st = NULL;
  const float *af = NULL, *bf = NULL;
  float *at = NULL, *bt = NULL, *yf = NULL, *yt = NULL;
  size_t *offs = NULL;
  const void *A = a->data, *B = b->data;
  void *Y = y->data;
  if (la_is_f32_family(a->dtype)) {
    if ((st = la_f32_in(a, &af, &at)) || (st = la_f32_in(b, &bf, &bt)) || (st = la_f32_out(y, &yf, &yt))) goto done;
    A = af, B = bf, Y = yf;
  }
  if (K == 0) { /* empty sum */
    if (la_is_f32_family(a->dtype)) memset(Y, 0, sizeof(float) * y->count);
    else memset(Y, 0, y->count * oxrt_elem_type_size(y->dtype));
    goto done;
  }
  mm_job j = {a->dtype, (size_t)M, (size_t)N, (size_t)K, A, B, Y, NULL, NULL, ctx->pool};
  if (b_total == 1 && (a->dtype == OXRT_FLOAT || la_is_f32_family(a->dtype) || a->dtype == OXRT_DOUBLE)) {
    /* B is one matrix: fold A's batches into rows (A and Y are contiguous), one big product. */
    size_t zero = 0;
    j.M = nb * (size_t)M;
    j.a_off = j.b_off = &zero;
    mm_batches(&j, 0, 1);
    goto done;
  }
  offs = malloc(sizeof(size_t) * 2 * nb);
  if (!offs) {
    st = OXRT_OOM();
    goto done;
  }
  {
    int64_t idx[OXRT_MAX_RANK] = {0};
    size_t oa = 0, ob = 0;
    for (size_t i = 0; i < nb; i++) {
      offs[i] = oa;
      offs[nb + i] = ob;
      for (int d = br - 1; d >= 0; d--) {
        oa += (size_t)sa[d];
        ob += (size_t)sb[d];
        if (++idx[d] < bd[d]) break;
        oa -= (size_t)(sa[d] * bd[d]);
        ob -= (size_t)(sb[d] * bd[d]);
        idx[d] = 0;
      }
    }
  }
  j.a_off = offs;
  j.b_off = offs + nb;
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
  free(at);
  free(bt);
  free(offs);
  if (yt) {
    if (!st) la_f32_commit(y, yt);
    else free(yt);
  }
  return st;
}

#define MM_T1 (OXRT_TMASK_FLOATS)
#define MM_T9 (OXRT_TMASK_FLOATS | OXRT_TBIT(OXRT_INT32) | OXRT_TBIT(OXRT_INT64) | OXRT_TBIT(OXRT_UINT32) | OXRT_TBIT(OXRT_UINT64))
static const oxrt_op_impl matmul_impls[] = {
    {.since_version = 1, .type_mask = MM_T1, .run = matmul_run},
    {.since_version = 9, .type_mask = MM_T9, .run = matmul_run},
};
OXRT_REGISTER_OP(MatMul) = {"", "MatMul", OXRT_IMPLS(matmul_impls)};
