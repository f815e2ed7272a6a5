/* qdynamic_avx512.c - DynamicQuantizeLinear's range and quantization passes with AVX-512 (see qdynamic.h). GCC
 * leaves the scalar range loop's selects scalar (they are not IEEE min / max), while MINPS / MAXPS compute exactly
 * `v < lo ? v : lo` / `v > hi ? v : hi` with v as the first operand. */
#include "qdynamic.h"
#include <immintrin.h>

void oxrt_qdyn_minmax_avx512(const float *x, size_t n, float *mn, float *mx) {
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps(), lo2 = lo, hi2 = hi;
  size_t i = 0;
  /* two accumulator pairs for throughput; lanes of both meet below in the scalar form's lane order: min / max are
   * associative here (NaN never enters, as v < lo and v > hi are false for NaN; signed zeros: 0 only leaves a lane
   * for a value below / above it) */
  for (; i + 32 <= n; i += 32) {
    __m512 v = _mm512_loadu_ps(x + i), w = _mm512_loadu_ps(x + i + 16);
    lo = _mm512_min_ps(v, lo), hi = _mm512_max_ps(v, hi);
    lo2 = _mm512_min_ps(w, lo2), hi2 = _mm512_max_ps(w, hi2);
  }
  float l[16], h[16], l2[16], h2[16];
  _mm512_storeu_ps(l, lo), _mm512_storeu_ps(h, hi), _mm512_storeu_ps(l2, lo2), _mm512_storeu_ps(h2, hi2);
  for (int t = 0; t < 16; t++) {
    l[t] = l2[t] < l[t] ? l2[t] : l[t];
    h[t] = h2[t] > h[t] ? h2[t] : h[t];
  }
  oxrt_qdyn_minmax_lanes(x, i, n, l, h, mn, mx);
}

static inline __m128i quant16(__m512 v, __m512 vs, __m512 vz, __m512 a, __m512 b, __m512 magic) {
  v = _mm512_div_ps(v, vs);
  v = _mm512_min_ps(_mm512_max_ps(v, a), b); /* MAXPS gives a for NaN v: the -zp that q_rne_sat puts there */
  v = _mm512_add_ps(_mm512_sub_ps(_mm512_add_ps(v, magic), magic), vz);
  return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v));
}

void oxrt_qdyn_quant_avx512(const float *x, uint8_t *y, size_t n, float scale, float zp) {
  const __m512 vs = _mm512_set1_ps(scale), vz = _mm512_set1_ps(zp), a = _mm512_set1_ps(0.0f - zp);
  const __m512 b = _mm512_set1_ps(255.0f - zp), magic = _mm512_set1_ps(12582912.0f);
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm_storeu_si128((__m128i *)(void *)(y + i), quant16(_mm512_loadu_ps(x + i), vs, vz, a, b, magic));
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm_mask_storeu_epi8(y + i, m, quant16(_mm512_maskz_loadu_ps(m, x + i), vs, vz, a, b, magic));
  }
}
