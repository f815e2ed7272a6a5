/* qgemm_avx512.c - AVX-512BW int16 micro-kernel of the 8-bit GEMM: 12 rows x 32 columns, k in pairs. Operands
 * were widened to int16 with their zero points subtracted while packing, so VPMADDWD's pair sums are exact. */
#include "qgemm.h"
#include <immintrin.h>
#include <string.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECL(i)                                                                                                        \
  __m512i c##i##a = acc ? _mm512_loadu_si512(c + (i) * ldc) : _mm512_setzero_si512();                                 \
  __m512i c##i##b = acc ? _mm512_loadu_si512(c + (i) * ldc + 16) : _mm512_setzero_si512();
#define STEP(i)                                                                                                        \
  {                                                                                                                    \
    int32_t pair;                                                                                                      \
    memcpy(&pair, a + 2 * (i), 4);                                                                                     \
    __m512i av = _mm512_set1_epi32(pair);                                                                              \
    c##i##a = _mm512_add_epi32(c##i##a, _mm512_madd_epi16(av, b0));                                                    \
    c##i##b = _mm512_add_epi32(c##i##b, _mm512_madd_epi16(av, b1));                                                    \
  }
#define STORE(i) _mm512_storeu_si512(c + (i) * ldc, c##i##a), _mm512_storeu_si512(c + (i) * ldc + 16, c##i##b);

void oxrt_qukernel_avx512(size_t kg, const void *av, const void *bv, int32_t *c, size_t ldc, bool acc) {
  const int16_t *a = av, *b = bv;
  ROWS(DECL)
  for (size_t kk = 0; kk < kg; kk++) {
    __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 32);
    ROWS(STEP)
    a += 24;
    b += 64;
  }
  ROWS(STORE)
}
