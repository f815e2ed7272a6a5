/* qgemm_bytes_avx2.c - AVX2 byte micro-kernels of the 8-bit GEMM: 4 rows x 16 columns, k in fours, with
 * VPMADDUBSW (u8 x s8 pairs to int16) then VPMADDWD by ones (pairs to int32). The int16 step saturates in
 * general; the driver uses these kernels only for weights whose pairs satisfy |w0| + |w1| <= 128, where every
 * pair sum stays within 255 * 128 < 32767, so the result is exact. Two variants: A unsigned (weights are B)
 * and B unsigned (weights are A, as in convolution). */
#include "qgemm.h"
#include <immintrin.h>
#include <string.h>

#define ROWS(X) X(0) X(1) X(2) X(3)
#define DECL(i)                                                                                                        \
  __m256i c##i##a = acc ? _mm256_loadu_si256((const __m256i *)(c + (i) * ldc)) : _mm256_setzero_si256();              \
  __m256i c##i##b = acc ? _mm256_loadu_si256((const __m256i *)(c + (i) * ldc + 8)) : _mm256_setzero_si256();
#define STORE(i)                                                                                                       \
  _mm256_storeu_si256((__m256i *)(c + (i) * ldc), c##i##a);                                                            \
  _mm256_storeu_si256((__m256i *)(c + (i) * ldc + 8), c##i##b);
/* UA / UB: which operand of VPMADDUBSW (the first is unsigned) is the broadcast A and which the B vector */
#define STEP(i)                                                                                                        \
  {                                                                                                                    \
    int32_t quad;                                                                                                      \
    memcpy(&quad, a + 4 * (i), 4);                                                                                     \
    __m256i av = _mm256_set1_epi32(quad);                                                                              \
    c##i##a = _mm256_add_epi32(c##i##a, _mm256_madd_epi16(MADDUBS(av, b0), ones));                                     \
    c##i##b = _mm256_add_epi32(c##i##b, _mm256_madd_epi16(MADDUBS(av, b1), ones));                                     \
  }
#define KERNEL(name)                                                                                                   \
  void name(size_t kg, const void *av_, const void *bv, int32_t *c, size_t ldc, bool acc) {                           \
    const uint8_t *a = av_, *b = bv;                                                                                   \
    const __m256i ones = _mm256_set1_epi16(1);                                                                         \
    ROWS(DECL)                                                                                                         \
    for (size_t kk = 0; kk < kg; kk++) {                                                                               \
      __m256i b0 = _mm256_loadu_si256((const __m256i *)b), b1 = _mm256_loadu_si256((const __m256i *)(b + 32));         \
      ROWS(STEP)                                                                                                       \
      a += 16;                                                                                                         \
      b += 64;                                                                                                         \
    }                                                                                                                  \
    ROWS(STORE)                                                                                                        \
  }

#define MADDUBS(av, bv) _mm256_maddubs_epi16(av, bv)
KERNEL(oxrt_qukernel_avx2_bytes_a)
#undef MADDUBS
#define MADDUBS(av, bv) _mm256_maddubs_epi16(bv, av)
KERNEL(oxrt_qukernel_avx2_bytes_b)
