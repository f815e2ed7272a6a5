/* conv_narrow_avx512.c - the panel kernel of conv_narrow.h: the panel's rows along the lanes (one masked load of
 * m <= 16 weights per k), one accumulator per output position, two k at a time to keep two FMA chains going. */
#include "conv_narrow.h"
#include <immintrin.h>

static inline __attribute__((always_inline)) void panel_np(const int NP, size_t K, size_t m, const float *ap,
                                                           const float *col, size_t np, float *y, size_t ldy) {
  const __mmask16 mk = (__mmask16)((1u << m) - 1);
  __m512 acc[2][CONV_NARROW_MAX_OUT];
  for (int p = 0; p < NP; p++) acc[0][p] = acc[1][p] = _mm512_setzero_ps();
  size_t k = 0;
  for (; k + 2 <= K; k += 2) {
    const __m512 a0 = _mm512_maskz_loadu_ps(mk, ap + k * m), a1 = _mm512_maskz_loadu_ps(mk, ap + (k + 1) * m);
    for (int p = 0; p < NP; p++) {
      acc[0][p] = _mm512_fmadd_ps(a0, _mm512_set1_ps(col[k * np + (size_t)p]), acc[0][p]);
      acc[1][p] = _mm512_fmadd_ps(a1, _mm512_set1_ps(col[(k + 1) * np + (size_t)p]), acc[1][p]);
    }
  }
  if (k < K) {
    const __m512 a0 = _mm512_maskz_loadu_ps(mk, ap + k * m);
    for (int p = 0; p < NP; p++) acc[0][p] = _mm512_fmadd_ps(a0, _mm512_set1_ps(col[k * np + (size_t)p]), acc[0][p]);
  }
  float out[CONV_NARROW_MAX_OUT][16];
  for (int p = 0; p < NP; p++) _mm512_storeu_ps(out[p], _mm512_add_ps(acc[0][p], acc[1][p]));
  for (size_t i = 0; i < m; i++)
    for (int p = 0; p < NP; p++) y[i * ldy + (size_t)p] = out[p][i];
}

void oxrt_conv_narrow_avx512(size_t K, size_t m, const float *ap, const float *col, size_t np, float *y, size_t ldy) {
  switch (np) {
  case 1: panel_np(1, K, m, ap, col, np, y, ldy); return;
  case 2: panel_np(2, K, m, ap, col, np, y, ldy); return;
  case 3: panel_np(3, K, m, ap, col, np, y, ldy); return;
  default: panel_np(4, K, m, ap, col, np, y, ldy); return;
  }
}
