/* qgemm_avxvnni.c - AVX-VNNI byte micro-kernel of the 8-bit GEMM: 6 rows x 16 columns, k in fours. A was
 * packed as uint8 and B as int8; VPDPBUSD adds the four u8*s8 products to int32 without saturating. */
#include "qgemm.h"
#include <immintrin.h>
#include <string.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DECL(i)                                                                                                        \
  __m256i c##i##a = acc ? _mm256_loadu_si256((const __m256i *)(c + (i) * ldc)) : _mm256_setzero_si256();              \
  __m256i c##i##b = acc ? _mm256_loadu_si256((const __m256i *)(c + (i) * ldc + 8)) : _mm256_setzero_si256();
#define STEP(i)                                                                                                        \
  {                                                                                                                    \
    int32_t quad;                                                                                                      \
    memcpy(&quad, a + 4 * (i), 4);                                                                                     \
    __m256i av = _mm256_set1_epi32(quad);                                                                              \
    c##i##a = _mm256_dpbusd_avx_epi32(c##i##a, av, b0);                                                                \
    c##i##b = _mm256_dpbusd_avx_epi32(c##i##b, av, b1);                                                                \
  }
#define STORE(i)                                                                                                       \
  _mm256_storeu_si256((__m256i *)(c + (i) * ldc), c##i##a);                                                            \
  _mm256_storeu_si256((__m256i *)(c + (i) * ldc + 8), c##i##b);

void oxrt_qukernel_avxvnni(size_t kg, const void *av, const void *bv, int32_t *c, size_t ldc, bool acc) {
  const uint8_t *a = av;
  const int8_t *b = bv;
  ROWS(DECL)
  for (size_t kk = 0; kk < kg; kk++) {
    __m256i b0 = _mm256_loadu_si256((const __m256i *)b), b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
    ROWS(STEP)
    a += 24;
    b += 64;
  }
  ROWS(STORE)
}
