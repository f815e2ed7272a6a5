/* qgemm_avx512vnni.c - AVX-512 VNNI byte micro-kernel of the 8-bit GEMM: 12 rows x 32 columns, k in fours.
 * A was packed as uint8 and B as int8; VPDPBUSD adds the four u8*s8 products to int32 without saturating. */
#include "qgemm.h"
#include <immintrin.h>
#include <string.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECL(i)                                                                                                        \
  __m512i c##i##a = acc ? _mm512_loadu_si512(c + (i) * ldc) : _mm512_setzero_si512();                                 \
  __m512i c##i##b = acc ? _mm512_loadu_si512(c + (i) * ldc + 16) : _mm512_setzero_si512();
#define STEP(i)                                                                                                        \
  {                                                                                                                    \
    int32_t quad;                                                                                                      \
    memcpy(&quad, a + 4 * (i), 4);                                                                                     \
    __m512i av = _mm512_set1_epi32(quad);                                                                              \
    c##i##a = _mm512_dpbusd_epi32(c##i##a, av, b0);                                                                    \
    c##i##b = _mm512_dpbusd_epi32(c##i##b, av, b1);                                                                    \
  }
#define STORE(i) _mm512_storeu_si512(c + (i) * ldc, c##i##a), _mm512_storeu_si512(c + (i) * ldc + 16, c##i##b);

void oxrt_qukernel_avx512vnni(size_t kg, const void *av, const void *bv, int32_t *c, size_t ldc, bool acc) {
  const uint8_t *a = av;
  const int8_t *b = bv;
  ROWS(DECL)
  for (size_t kk = 0; kk < kg; kk++) {
    __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
    ROWS(STEP)
    a += 48;
    b += 128;
  }
  ROWS(STORE)
}
