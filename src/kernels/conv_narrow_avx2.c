/* conv_narrow_avx2.c - the panel kernel of conv_narrow.h for AVX2: the panel's rows along the lanes (one or two
 * masked 8-lane loads per k, for m <= 16), one accumulator per output position and vector. */
#include "conv_narrow.h"
#include <immintrin.h>

static inline __m256i lane_mask(size_t n) { /* lanes [0, n) set, n <= 8 */
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx);
}

static inline __attribute__((always_inline)) void panel_np(const int NP, const int NV, size_t K, size_t m,
                                                           const float *ap, const float *col, size_t np, float *y,
                                                           size_t ldy) {
  const __m256i mk0 = lane_mask(m < 8 ? m : 8), mk1 = lane_mask(m > 8 ? m - 8 : 0);
  __m256 acc[2][CONV_NARROW_MAX_OUT];
  for (int v = 0; v < NV; v++)
    for (int p = 0; p < NP; p++) acc[v][p] = _mm256_setzero_ps();
  for (size_t k = 0; k < K; k++) {
    const float *a = ap + k * m;
    const __m256 a0 = _mm256_maskload_ps(a, mk0);
    const __m256 a1 = NV > 1 ? _mm256_maskload_ps(a + 8, mk1) : a0;
    for (int p = 0; p < NP; p++) {
      const __m256 c = _mm256_broadcast_ss(col + k * np + (size_t)p);
      acc[0][p] = _mm256_fmadd_ps(a0, c, acc[0][p]);
      if (NV > 1) acc[1][p] = _mm256_fmadd_ps(a1, c, acc[1][p]);
    }
  }
  float out[CONV_NARROW_MAX_OUT][16];
  for (int p = 0; p < NP; p++)
    for (int v = 0; v < NV; v++) _mm256_storeu_ps(out[p] + 8 * v, acc[v][p]);
  for (size_t i = 0; i < m; i++)
    for (int p = 0; p < NP; p++) y[i * ldy + (size_t)p] = out[p][i];
}

#define NP_CASES(NV)                                                                                                   \
  switch (np) {                                                                                                        \
  case 1: panel_np(1, NV, K, m, ap, col, np, y, ldy); return;                                                          \
  case 2: panel_np(2, NV, K, m, ap, col, np, y, ldy); return;                                                          \
  case 3: panel_np(3, NV, K, m, ap, col, np, y, ldy); return;                                                          \
  default: panel_np(4, NV, K, m, ap, col, np, y, ldy); return;                                                         \
  }

void oxrt_conv_narrow_avx2(size_t K, size_t m, const float *ap, const float *col, size_t np, float *y, size_t ldy) {
  if (m <= 8) NP_CASES(1)
  NP_CASES(2)
}
