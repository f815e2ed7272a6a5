/* transpose_avx512.h - 16 x 16 in-register transpose of 32-bit lanes (float GEMM packing, bf16 packing). Include
 * only from files compiled for AVX-512. */
#ifndef OXRT_KERNELS_TRANSPOSE_AVX512_H
#define OXRT_KERNELS_TRANSPOSE_AVX512_H
#include <immintrin.h>

/* In-register transpose of 16 rows of 16 floats: r[i] lane j becomes r[j] lane i. */
static inline void oxrt_transpose16_ps(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  /* r[4q + s] holds rows 4q..4q+3 of columns {s, s+4, s+8, s+12} in its four 128-bit lanes */
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);      /* lanes 0,2 of each: column groups 0, 2 */
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);  /* lanes 1,3 */
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);           /* column i */
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);       /* column i + 8 */
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);  /* column i + 4 */
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD); /* column i + 12 */
  }
}

#endif
