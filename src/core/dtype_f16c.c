/* dtype_f16c.c - float16 <-> float32 conversion loops with F16C (VCVTPH2PS / VCVTPS2PH, round to nearest even),
 * compiled with -mf16c and called by dtype.c's oxrt_convert only where the CPU has F16C (and OXRT_ISA allows AVX2).
 * Same results as the portable oxrt_f16_to_f32 / oxrt_f32_to_f16 (NaN payloads aside: both give a quiet NaN). */
#include "dtype.h"
#include <immintrin.h>
#include <string.h>

void oxrt_f16_to_f32_f16c(const uint16_t *src, float *dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    _mm256_storeu_ps(dst + i + 8, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 8))));
  }
  for (; i < n; i += 8) { /* the tail through a padded group */
    uint16_t h[8] = {0};
    float f[8];
    size_t k = n - i < 8 ? n - i : 8;
    memcpy(h, src + i, k * sizeof *h);
    _mm256_storeu_ps(f, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h)));
    memcpy(dst + i, f, k * sizeof *f);
  }
}

void oxrt_f32_to_f16_f16c(const float *src, uint16_t *dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    _mm_storeu_si128((__m128i *)(dst + i + 8),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i + 8), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; i += 8) {
    float f[8] = {0};
    uint16_t h[8];
    size_t k = n - i < 8 ? n - i : 8;
    memcpy(f, src + i, k * sizeof *f);
    _mm_storeu_si128((__m128i *)h, _mm256_cvtps_ph(_mm256_loadu_ps(f), _MM_FROUND_TO_NEAREST_INT));
    memcpy(dst + i, h, k * sizeof *h);
  }
}
