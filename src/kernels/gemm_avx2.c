/* gemm_avx2.c - AVX2+FMA sgemm micro-kernel: 6 rows x 16 columns (12 ymm accumulators). */
#include "gemm.h"
#include <immintrin.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DECL(i) __m256 c##i##a = _mm256_setzero_ps(), c##i##b = _mm256_setzero_ps();
#define STEP(i)                                                                                                        \
  {                                                                                                                    \
    __m256 av = _mm256_broadcast_ss(a + (i));                                                                          \
    c##i##a = _mm256_fmadd_ps(av, b0, c##i##a);                                                                        \
    c##i##b = _mm256_fmadd_ps(av, b1, c##i##b);                                                                        \
  }
#define STORE0(i)                                                                                                      \
  _mm256_storeu_ps(c + (i) * ldc, _mm256_mul_ps(va, c##i##a));                                                         \
  _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_mul_ps(va, c##i##b));
#define STOREB(i)                                                                                                      \
  _mm256_storeu_ps(c + (i) * ldc, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + (i) * ldc), _mm256_mul_ps(va, c##i##a)));  \
  _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + (i) * ldc + 8), _mm256_mul_ps(va, c##i##b)));
#define STORE1(i)                                                                                                      \
  _mm256_storeu_ps(c + (i) * ldc, _mm256_add_ps(_mm256_loadu_ps(c + (i) * ldc), c##i##a));                             \
  _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + (i) * ldc + 8), c##i##b));

void oxrt_sgemm_ukernel_avx2(size_t kc, const float *a, const float *b, float *c, size_t ldc, float alpha,
                             float beta) {
  ROWS(DECL)
  for (size_t k = 0; k < kc; k++) {
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    ROWS(STEP)
    a += 6;
    b += 16;
  }
  __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (beta == 0) {
    ROWS(STORE0)
  } else if (alpha == 1 && beta == 1) {
    ROWS(STORE1)
  } else {
    ROWS(STOREB)
  }
}
