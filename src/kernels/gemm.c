/* gemm.c - portable blocked GEMM driver (ISA-specific micro-kernels may replace the inner loop). */
#include "gemm.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  bool ta, tb;
  size_t M, N, K;
  float alpha, beta;
  const float *A, *B;
  size_t lda, ldb, ldc;
  float *C;
} sgemm_job;

/* Rows [r0, r1) of C. B is read row by row so the innermost loop runs along N contiguously. */
static void sgemm_rows(void *arg, size_t r0, size_t r1) {
  const sgemm_job *j = arg;
  size_t N = j->N, K = j->K;
  float *acc = malloc(sizeof(float) * (N ? N : 1));
  float *bcol = j->tb ? malloc(sizeof(float) * (K ? K : 1)) : NULL;
  for (size_t i = r0; i < r1; i++) {
    float *c = j->C + i * j->ldc;
    if (!j->tb) {
      memset(acc, 0, sizeof(float) * N);
      for (size_t k = 0; k < K; k++) {
        float a = j->ta ? j->A[k * j->lda + i] : j->A[i * j->lda + k];
        if (a == 0) continue;
        const float *b = j->B + k * j->ldb;
        for (size_t n = 0; n < N; n++) acc[n] += a * b[n];
      }
    } else {
      for (size_t n = 0; n < N; n++) {
        const float *b = j->B + n * j->ldb;
        float s = 0;
        if (!j->ta) {
          const float *a = j->A + i * j->lda;
          for (size_t k = 0; k < K; k++) s += a[k] * b[k];
        } else {
          for (size_t k = 0; k < K; k++) s += j->A[k * j->lda + i] * b[k];
        }
        acc[n] = s;
      }
    }
    if (j->beta == 0) {
      for (size_t n = 0; n < N; n++) c[n] = j->alpha * acc[n];
    } else {
      for (size_t n = 0; n < N; n++) c[n] = j->alpha * acc[n] + j->beta * c[n];
    }
  }
  free(acc);
  free(bcol);
}

void oxrt_sgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                const float *B, size_t ldb, float beta, float *C, size_t ldc, oxrt_threadpool *pool) {
  sgemm_job j = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C};
  size_t work = N * K;
  size_t grain = work > 0 ? (65536 / work) + 1 : M;
  oxrt_parallel_for(pool, M, grain, sgemm_rows, &j);
}

void oxrt_dgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, double alpha, const double *A, size_t lda,
                const double *B, size_t ldb, double beta, double *C, size_t ldc, oxrt_threadpool *pool) {
  (void)pool;
  for (size_t i = 0; i < M; i++)
    for (size_t n = 0; n < N; n++) {
      double s = 0;
      for (size_t k = 0; k < K; k++) {
        double a = trans_a ? A[k * lda + i] : A[i * lda + k];
        double b = trans_b ? B[n * ldb + k] : B[k * ldb + n];
        s += a * b;
      }
      C[i * ldc + n] = beta == 0 ? alpha * s : alpha * s + beta * C[i * ldc + n];
    }
}
