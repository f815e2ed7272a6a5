/* im2col_avx2.c - AVX2 fill of implicit-im2col B panels (up to 16 lanes) from a per-tap table of runs: a
 * masked load per run and 8 lanes (masked-off lanes are never read), a masked gather for strides above 1. */
#include "im2col.h"
#include <immintrin.h>

static inline __m256i lane_mask(uint32_t m, __m256i bits) {
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)m), bits), bits);
}

void oxrt_conv_fill_avx2(const oxrt_conv_fill *f, size_t c, size_t tap, size_t kc, size_t nr, float *dst) {
  const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const int64_t sw = f->sw;
  const __m256i gidx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)sw));
  const bool wide = nr > 8;
  float tail[16];
  for (size_t k = 0; k < kc; k++, dst += nr) {
    const float *xc = f->x + c * f->in_size;
    __m256 v0 = _mm256_setzero_ps(), v1 = v0;
    const int32_t e0 = f->first[tap], e1 = e0 + f->count[tap];
    for (int32_t e = e0; e < e1; e++) {
      const float *p = xc + f->off[e];
      const uint32_t m = f->lanes[e];
      if (sw == 1) {
        if (m & 0xFFu) v0 = _mm256_or_ps(v0, _mm256_maskload_ps(p, lane_mask(m, bits)));
        if (wide && (m & 0xFF00u)) v1 = _mm256_or_ps(v1, _mm256_maskload_ps(p + 8, lane_mask(m >> 8, bits)));
      } else {
        if (m & 0xFFu) v0 = _mm256_mask_i32gather_ps(v0, p, gidx, _mm256_castsi256_ps(lane_mask(m, bits)), 4);
        if (wide && (m & 0xFF00u))
          v1 = _mm256_mask_i32gather_ps(v1, p + 8 * sw, gidx, _mm256_castsi256_ps(lane_mask(m >> 8, bits)), 4);
      }
    }
    if (nr == 16) {
      _mm256_storeu_ps(dst, v0);
      _mm256_storeu_ps(dst + 8, v1);
    } else {
      _mm256_storeu_ps(tail, v0);
      _mm256_storeu_ps(tail + 8, v1);
      for (size_t l = 0; l < nr; l++) dst[l] = tail[l];
    }
    if (++tap == f->kprod) tap = 0, c++;
  }
}
