/* dtype_bf16_avx512.c - bfloat16 <-> float32 conversion loops with AVX-512 (16 lanes, masked tails), compiled
 * with the AVX-512 flags and called by dtype.c only where the CPU has AVX-512 F/BW/VL and OXRT_ISA allows it.
 * Same results as the scalar oxrt_bf16_to_f32 / oxrt_f32_to_bf16: round to nearest even, a NaN stays a quiet NaN
 * with its sign and top payload bits. (VCVTNEPS2BF16 would do the narrowing in one instruction, but it needs
 * AVX512_BF16, and it flushes subnormals, which Cast must not.) */
#include "dtype.h"
#include <immintrin.h>

void oxrt_bf16_to_f32_avx512(const uint16_t *src, float *dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
    _mm512_storeu_si512(dst + i, _mm512_slli_epi32(u, 16));
  }
  if (i < n) {
    __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
    __m512i u = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, src + i));
    _mm512_mask_storeu_epi32(dst + i, k, _mm512_slli_epi32(u, 16));
  }
}

static inline __m512i narrow16(__m512i u) {
  const __m512i one = _mm512_set1_epi32(1), half = _mm512_set1_epi32(0x7fff);
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  __m512i hi = _mm512_srli_epi32(u, 16);
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(half, _mm512_and_si512(hi, one))), 16);
  __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
  return _mm512_mask_or_epi32(r, nan, hi, _mm512_set1_epi32(0x40)); /* NaN: quieted, not rounded */
}

void oxrt_f32_to_bf16_avx512(const float *src, uint16_t *dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtepi32_epi16(narrow16(_mm512_loadu_si512(src + i))));
  if (i < n) {
    __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_cvtepi32_storeu_epi16(dst + i, k, narrow16(_mm512_maskz_loadu_epi32(k, src + i)));
  }
}
