/* rnn_kernels_avx2.c - AVX2+FMA recurrent block kernel (see rnn_kernels.h): the block is walked in strips of
 * 16 columns, up to 4 rows x 2 ymm accumulators each, so every R element is still loaded once. */
#include "rnn_kernels.h"
#include <immintrin.h>

static inline __attribute__((always_inline)) void strip_m(const int M, size_t K, const float *const *h,
                                                          const float *Rp, size_t w, size_t nv,
                                                          const float *const *base, const float *bias,
                                                          float *const *y) {
  __m256 acc[4][2];
#pragma GCC unroll 4
  for (int m = 0; m < M; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  const float *h0 = h[0], *h1 = M > 1 ? h[1] : h0, *h2 = M > 2 ? h[2] : h0, *h3 = M > 3 ? h[3] : h0;
  for (size_t k = 0; k < K; k++) {
    const float *r = Rp + k * w;
    __m256 r0 = _mm256_loadu_ps(r), r1 = _mm256_loadu_ps(r + 8);
    const float hk[4] = {h0[k], h1[k], h2[k], h3[k]};
#pragma GCC unroll 4
    for (int m = 0; m < M; m++) {
      __m256 hv = _mm256_set1_ps(hk[m]);
      acc[m][0] = _mm256_fmadd_ps(hv, r0, acc[m][0]);
      acc[m][1] = _mm256_fmadd_ps(hv, r1, acc[m][1]);
    }
  }
  if (nv >= 16) {
#pragma GCC unroll 4
    for (int m = 0; m < M; m++)
#pragma GCC unroll 2
      for (int z = 0; z < 2; z++) {
        __m256 v = acc[m][z];
        if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + 8 * z));
        if (base) v = _mm256_add_ps(v, _mm256_loadu_ps(base[m] + 8 * z));
        _mm256_storeu_ps(y[m] + 8 * z, v);
      }
    return;
  }
  for (int m = 0; m < M; m++) { /* partial strip: through memory, same sums in the same order */
    float t[16];
    _mm256_storeu_ps(t, acc[m][0]);
    _mm256_storeu_ps(t + 8, acc[m][1]);
    for (size_t n = 0; n < nv; n++) y[m][n] = t[n] + (bias ? bias[n] : 0.0f) + (base ? base[m][n] : 0.0f);
  }
}

void oxrt_rnn_block_avx2(size_t M, size_t K, const float *const *h, const float *Rp, size_t w, size_t nv,
                         const float *const *base, const float *bias, float *const *y) {
  for (size_t c = 0; c < nv; c += 16) {
    const float *bm[4] = {0}, *bs = bias ? bias + c : NULL;
    float *ym[4];
    for (size_t m = 0; m < M; m++) {
      if (base) bm[m] = base[m] + c;
      ym[m] = y[m] + c;
    }
    const float *const *bp = base ? bm : NULL;
    size_t n = nv - c < 16 ? nv - c : 16;
    switch (M) {
    case 1: strip_m(1, K, h, Rp + c, w, n, bp, bs, ym); break;
    case 2: strip_m(2, K, h, Rp + c, w, n, bp, bs, ym); break;
    case 3: strip_m(3, K, h, Rp + c, w, n, bp, bs, ym); break;
    default: strip_m(4, K, h, Rp + c, w, n, bp, bs, ym); break;
    }
  }
}
