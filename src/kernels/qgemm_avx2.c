/* qgemm_avx2.c - AVX2 int16 micro-kernel of the 8-bit GEMM: 5 rows x 16 columns, k in pairs (6 rows: 12
 * accumulators plus operands and madd temporaries fill all 16 ymm registers and GCC spills). Accumulators start
 * from C (or zero), so nothing but the final store follows the loop: with a branch there GCC kept stack copies. Operands were
 * widened to int16 with their zero points subtracted while packing, so VPMADDWD's pair sums are exact. */
#include "qgemm.h"
#include <immintrin.h>
#include <string.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4)
#define DECL(i)                                                                                                        \
  __m256i c##i##a = acc ? _mm256_loadu_si256((const __m256i *)(c + (i) * ldc)) : _mm256_setzero_si256();              \
  __m256i c##i##b = acc ? _mm256_loadu_si256((const __m256i *)(c + (i) * ldc + 8)) : _mm256_setzero_si256();
#define STEP(i)                                                                                                        \
  {                                                                                                                    \
    int32_t pair;                                                                                                      \
    memcpy(&pair, a + 2 * (i), 4);                                                                                     \
    __m256i av = _mm256_set1_epi32(pair);                                                                              \
    c##i##a = _mm256_add_epi32(c##i##a, _mm256_madd_epi16(av, b0));                                                    \
    c##i##b = _mm256_add_epi32(c##i##b, _mm256_madd_epi16(av, b1));                                                    \
  }
#define STORE(i)                                                                                                       \
  _mm256_storeu_si256((__m256i *)(c + (i) * ldc), c##i##a);                                                            \
  _mm256_storeu_si256((__m256i *)(c + (i) * ldc + 8), c##i##b);

void oxrt_qukernel_avx2(size_t kg, const void *av, const void *bv, int32_t *c, size_t ldc, bool acc) {
  const int16_t *a = av, *b = bv;
  ROWS(DECL)
  for (size_t kk = 0; kk < kg; kk++) {
    __m256i b0 = _mm256_loadu_si256((const __m256i *)b), b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
    ROWS(STEP)
    a += 10;
    b += 32;
  }
  ROWS(STORE)
}
