/* dwconv_avx512.c - depthwise plane kernel compiled for AVX-512 (body in dwconv_body.h): interior outputs in
 * blocks of 16 with all taps accumulated in one register; stride 2 de-interleaves two loads with a permute,
 * the second masked so it never reads past the last tap. */
#include <immintrin.h>
#include <stdint.h>

static inline int64_t dw_interior_avx512(int ks, const float *const *r, const float *w, float bias, float *yr,
                                         int64_t a, int64_t b, int64_t sw, int64_t off) {
  if (sw != 1 && sw != 2) return a;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  int64_t o = a;
  for (; o + 16 <= b; o += 16) {
    __m512 acc = _mm512_set1_ps(bias);
    const int64_t base = o * sw + off;
    for (int ki = 0; ki < ks; ki++)
      for (int kj = 0; kj < ks; kj++) {
        const float *q = r[ki] + base + kj;
        __m512 v = sw == 1 ? _mm512_loadu_ps(q)
                           : _mm512_permutex2var_ps(_mm512_loadu_ps(q), even,
                                                    _mm512_maskz_loadu_ps(0x7FFF, q + 16));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(w[ki * ks + kj]), v, acc);
      }
    _mm512_storeu_ps(yr + o, acc);
  }
  if (o < b) { /* the last few outputs with masked loads and store */
    const int64_t n = b - o, need = sw == 1 ? n : 2 * n - 1;
    const __mmask16 mo = (__mmask16)((1u << n) - 1u);
    const __mmask16 m1 = need >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << need) - 1u);
    const __mmask16 m2 = need > 16 ? (__mmask16)((1u << (need - 16)) - 1u) : (__mmask16)0;
    __m512 acc = _mm512_set1_ps(bias);
    const int64_t base = o * sw + off;
    for (int ki = 0; ki < ks; ki++)
      for (int kj = 0; kj < ks; kj++) {
        const float *q = r[ki] + base + kj;
        __m512 v = sw == 1 ? _mm512_maskz_loadu_ps(m1, q)
                           : _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m1, q), even,
                                                    _mm512_maskz_loadu_ps(m2, q + 16));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(w[ki * ks + kj]), v, acc);
      }
    _mm512_mask_storeu_ps(yr + o, mo, acc);
    o = b;
  }
  return o;
}

#define DW_VEC_INTERIOR(KS, r, w, bias, yr, a, b, sw, off) dw_interior_avx512(KS, r, w, bias, yr, a, b, sw, off)
#define DW_NAME oxrt_dw_plane_avx512
#include "dwconv_body.h"
