/* test_kernels.c - the SIMD GEMM against a double-precision reference over random shapes, at every ISA level the
 * machine supports (one process), with a few shapes large enough for several row (MC), column (NC) and K blocks. */
#include "kernels/gemm.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>

static unsigned seed = 7;
static float rnd(void) {
  seed = seed * 1103515245u + 12345u;
  return (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void reference(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                      const float *B, size_t ldb, float beta, float *C, size_t ldc) {
  for (size_t i = 0; i < M; i++)
    for (size_t n = 0; n < N; n++) {
      double s = 0;
      for (size_t k = 0; k < K; k++)
        s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (double)(tb ? B[n * ldb + k] : B[k * ldb + n]);
      C[i * ldc + n] = (float)(alpha * s + (beta == 0 ? 0.0 : beta * (double)C[i * ldc + n]));
    }
}

void unit_each_isa(void (*fn)(void)); /* test_conv_paths.c */

static void sgemm_random_at_level(void) {
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  int bad = 0;
  for (int t = 0; t < 154 && bad < 3; t++) {
    size_t M = 1 + (size_t)((rnd() + 1) * (t % 3 == 0 ? 3 : 60)), N = 1 + (size_t)((rnd() + 1) * 90),
           K = (size_t)((rnd() + 1) * 120);
    if (t >= 150) /* the last few: several MC row blocks, NC column tiles and K blocks, odd edges */
      M = 250 + (size_t)t % 7 * 3, N = 530 + (size_t)t * 7 % 40, K = 300 + (size_t)t * 13 % 250;
    bool ta = rnd() > 0, tb = rnd() > 0;
    float alpha = t % 4 ? rnd() : 1.0f, beta = t % 3 == 0 ? 0.0f : t % 3 == 1 ? 1.0f : rnd();
    size_t lda = (ta ? M : K) + (size_t)t % 3, ldb = (tb ? K : N) + (size_t)t % 2, ldc = N + (size_t)t % 4;
    float *A = malloc(sizeof(float) * ((ta ? K : M) * lda + 1)), *B = malloc(sizeof(float) * ((tb ? N : K) * ldb + 1));
    float *C = malloc(sizeof(float) * M * ldc), *R = malloc(sizeof(float) * M * ldc);
    for (size_t i = 0; i < (ta ? K : M) * lda; i++) A[i] = rnd();
    for (size_t i = 0; i < (tb ? N : K) * ldb; i++) B[i] = rnd();
    for (size_t i = 0; i < M * ldc; i++) C[i] = R[i] = beta == 0 ? NAN : rnd(); /* beta 0 must ignore C */
    oxrt_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, pool);
    reference(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    for (size_t i = 0; i < M; i++)
      for (size_t n = 0; n < N; n++)
        if (!(fabsf(C[i * ldc + n] - R[i * ldc + n]) <= 1e-4f * (1.0f + fabsf(R[i * ldc + n])))) {
          if (!bad)
            fprintf(stderr, "  sgemm %s M=%zu N=%zu K=%zu ta=%d tb=%d: C[%zu,%zu] = %g, expected %g\n",
                    oxrt_isa_name(oxrt_cpu_isa()), M, N, K, ta, tb, i, n, C[i * ldc + n], R[i * ldc + n]);
          bad++;
          i = M;
          break;
        }
    free(A), free(B), free(C), free(R);
  }
  CHECK(bad == 0);
  oxrt_threadpool_free(pool);
}

void test_kernel_sgemm_random(void) { unit_each_isa(sgemm_random_at_level); }

/* MaxPool's rows-first loops (kernels/maxpool_row.h) against the scalar order of comparisons, NaNs included, every
 * length 0..70 (full vectors and masked tails), at every ISA level. */
#include "kernels/maxpool_row.h"
#include <string.h>

static float mp_val(unsigned i) {
  unsigned h = i * 2654435761u;
  if (h % 23 == 0) return NAN;
  return (float)((int)(h >> 20) % 200 - 100) * 0.25f;
}

static void maxpool_rows_at_level(void) {
  float x[4 * 80], v[80 + 16], y[40 + 16];
  for (unsigned i = 0; i < 4 * 80; i++) x[i] = mp_val(i);
  for (size_t n = 0; n <= 70; n++)
    for (int rows = 1; rows <= 3; rows++) {
      for (size_t j = 0; j < n + 16; j++) v[j] = -7.0f;
      oxrt_maxpool_rows(x, 80, rows, v, n);
      for (size_t j = 0; j < n; j++) {
        float want = x[j];
        for (int r = 1; r < rows; r++) want = x[r * 80 + j] > want ? x[r * 80 + j] : want;
        CHECK(memcmp(&want, &v[j], sizeof want) == 0);
      }
      for (size_t j = n; j < n + 16; j++) CHECK(v[j] == -7.0f);
    }
  for (size_t n = 0; n <= 39; n++) {
    for (size_t o = 0; o < n + 16; o++) y[o] = -7.0f;
    oxrt_maxpool_cols_k3s2(x, y, n);
    for (size_t o = 0; o < n; o++) {
      float a = x[2 * o], b = x[2 * o + 1], c = x[2 * o + 2];
      a = b > a ? b : a;
      a = c > a ? c : a;
      CHECK(memcmp(&a, &y[o], sizeof a) == 0);
    }
    for (size_t o = n; o < n + 16; o++) CHECK(y[o] == -7.0f);
  }
}

void test_kernel_maxpool_rows(void) { unit_each_isa(maxpool_rows_at_level); }
