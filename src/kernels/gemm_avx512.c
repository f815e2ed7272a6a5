/* gemm_avx512.c - AVX-512 sgemm micro-kernel: 12 rows x 32 columns (24 zmm accumulators). */
#include "gemm.h"
#include <immintrin.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
#define STEP(i)                                                                                                        \
  {                                                                                                                    \
    __m512 av = _mm512_set1_ps(a[i]);                                                                                  \
    c##i##a = _mm512_fmadd_ps(av, b0, c##i##a);                                                                        \
    c##i##b = _mm512_fmadd_ps(av, b1, c##i##b);                                                                        \
  }
#define STORE0(i)                                                                                                      \
  _mm512_storeu_ps(c + (i) * ldc, _mm512_mul_ps(va, c##i##a));                                                         \
  _mm512_storeu_ps(c + (i) * ldc + 16, _mm512_mul_ps(va, c##i##b));
#define STOREB(i)                                                                                                      \
  _mm512_storeu_ps(c + (i) * ldc, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + (i) * ldc), _mm512_mul_ps(va, c##i##a)));  \
  _mm512_storeu_ps(c + (i) * ldc + 16,                                                                                 \
                   _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + (i) * ldc + 16), _mm512_mul_ps(va, c##i##b)));
#define STORE1(i)                                                                                                      \
  _mm512_storeu_ps(c + (i) * ldc, _mm512_add_ps(_mm512_loadu_ps(c + (i) * ldc), c##i##a));                             \
  _mm512_storeu_ps(c + (i) * ldc + 16, _mm512_add_ps(_mm512_loadu_ps(c + (i) * ldc + 16), c##i##b));

void oxrt_sgemm_ukernel_avx512(size_t kc, const float *a, const float *b, float *c, size_t ldc, float alpha,
                               float beta) {
  ROWS(DECL)
  for (size_t k = 0; k < kc; k++) {
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    _mm_prefetch((const char *)(b + 256), _MM_HINT_T0);
    ROWS(STEP)
    a += 12;
    b += 32;
  }
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (beta == 0) {
    ROWS(STORE0)
  } else if (alpha == 1 && beta == 1) {
    ROWS(STORE1)
  } else {
    ROWS(STOREB)
  }
}
