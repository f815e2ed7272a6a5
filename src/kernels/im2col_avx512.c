/* im2col_avx512.c - AVX-512 fill of implicit-im2col B panels (up to 32 lanes) from a per-tap table of runs.
 * Each run is one masked load (two for 32 lanes): masked-off lanes are never read, so a run's base address
 * may point before its row. Unit stride loads directly, stride 2 loads twice the span and keeps the even
 * elements, other strides gather. */
#include "im2col.h"
#include <immintrin.h>

/* Bit i of m -> bit 2i: the element mask of a stride-2 span. */
static inline uint32_t spread16(uint32_t m) {
  m &= 0xFFFFu;
  m = (m | (m << 8)) & 0x00FF00FFu;
  m = (m | (m << 4)) & 0x0F0F0F0Fu;
  m = (m | (m << 2)) & 0x33333333u;
  m = (m | (m << 1)) & 0x55555555u;
  return m;
}

static inline __m512 even16(__m512 v, __mmask16 lanes, const float *p, __m512i idx) {
  uint32_t em = spread16(lanes);
  __m512 a = _mm512_maskz_loadu_ps((__mmask16)em, p), b = _mm512_maskz_loadu_ps((__mmask16)(em >> 16), p + 16);
  return _mm512_mask_mov_ps(v, lanes, _mm512_permutex2var_ps(a, idx, b));
}

void oxrt_conv_fill_avx512(const oxrt_conv_fill *f, size_t c, size_t tap, size_t kc, size_t nr, float *dst) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const int64_t sw = f->sw;
  const __m512i gidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32((int)sw));
  const bool wide = nr > 16;
  for (size_t k = 0; k < kc; k++, dst += nr) {
    const float *xc = f->x + c * f->in_size;
    __m512 v0 = _mm512_setzero_ps(), v1 = v0;
    const int32_t e0 = f->first[tap], e1 = e0 + f->count[tap];
    for (int32_t e = e0; e < e1; e++) {
      const float *p = xc + f->off[e];
      const uint32_t m = f->lanes[e];
      if (sw == 1) {
        v0 = _mm512_mask_loadu_ps(v0, (__mmask16)m, p);
        if (wide) v1 = _mm512_mask_loadu_ps(v1, (__mmask16)(m >> 16), p + 16);
      } else if (sw == 2) {
        if (m & 0xFFFFu) v0 = even16(v0, (__mmask16)m, p, even);
        if (wide && (m >> 16)) v1 = even16(v1, (__mmask16)(m >> 16), p + 32, even);
      } else {
        if (m & 0xFFFFu) v0 = _mm512_mask_i32gather_ps(v0, (__mmask16)m, gidx, p, 4);
        if (wide && (m >> 16)) v1 = _mm512_mask_i32gather_ps(v1, (__mmask16)(m >> 16), gidx, p + 16 * sw, 4);
      }
    }
    if (nr == 32) {
      _mm512_storeu_ps(dst, v0);
      _mm512_storeu_ps(dst + 16, v1);
    } else {
      __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
      _mm512_mask_storeu_ps(dst, m0, v0);
      if (wide) _mm512_mask_storeu_ps(dst + 16, (__mmask16)((1u << (nr - 16)) - 1), v1);
    }
    if (++tap == f->kprod) tap = 0, c++;
  }
}
