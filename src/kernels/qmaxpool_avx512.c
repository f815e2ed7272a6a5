/* qmaxpool_avx512.c - the column pass of the 8-bit MaxPool (qmaxpool.c) for 3-wide windows at stride 2 (ResNet's
 * stem pool) with AVX-512BW: y[o] = max(v[2o], v[2o+1], v[2o+2]) 32 outputs at a time, the bytes split into 16-bit
 * even / odd lanes (zero- or sign-extended) so no byte gather is needed. GCC's vectorization of the strided byte loop
 * was 16 bytes at a time through shuffles. */
#include "qmaxpool.h"
#include <immintrin.h>

size_t oxrt_qmaxpool_cols_s2k3_avx512(const uint8_t *v, size_t vw, size_t n, bool is_signed, uint8_t *y) {
  size_t o = 0;
  const __m512i lo8 = _mm512_set1_epi16(0x00ff);
  for (; o < n && 2 * n + 2 <= vw; o += 32) { /* the last vector masked: bytes up to v[2n + 1] read */
    size_t c = n - o < 32 ? n - o : 32;
    __mmask64 m2 = c == 32 ? ~(__mmask64)0 : ((__mmask64)1 << (2 * c)) - 1;
    __m512i a = _mm512_maskz_loadu_epi8(m2, v + 2 * o), b = _mm512_maskz_loadu_epi8(m2, v + 2 * o + 2);
    __m512i m;
    if (is_signed) {
      __m512i ev = _mm512_srai_epi16(_mm512_slli_epi16(a, 8), 8), od = _mm512_srai_epi16(a, 8);
      __m512i e2 = _mm512_srai_epi16(_mm512_slli_epi16(b, 8), 8);
      m = _mm512_max_epi16(_mm512_max_epi16(ev, od), e2);
    } else {
      __m512i ev = _mm512_and_si512(a, lo8), od = _mm512_srli_epi16(a, 8), e2 = _mm512_and_si512(b, lo8);
      m = _mm512_max_epu16(_mm512_max_epu16(ev, od), e2);
    }
    _mm256_mask_storeu_epi8(y + o, (__mmask32)(c == 32 ? 0xffffffffu : (1u << c) - 1), _mm512_cvtepi16_epi8(m));
  }
  return o < n ? o : n;
}
