/* rnn_kernels_avx512.c - AVX-512 recurrent block kernel (see rnn_kernels.h): up to 4 rows x 64 columns in
 * 16 zmm accumulators; each R vector loaded once serves every row, and R is prefetched 8 rows ahead. */
#include "rnn_kernels.h"
#include <immintrin.h>

static inline __attribute__((always_inline)) void block_mz(const int M, const int NZ, size_t K, const float *const *h,
                                                           const float *Rp, size_t w, size_t nv,
                                                           const float *const *base, const float *bias,
                                                           float *const *y) {
  __m512 acc[4][4];
#pragma GCC unroll 4
  for (int m = 0; m < M; m++)
#pragma GCC unroll 4
    for (int z = 0; z < NZ; z++) acc[m][z] = _mm512_setzero_ps();
  const float *h0 = h[0], *h1 = M > 1 ? h[1] : h0, *h2 = M > 2 ? h[2] : h0, *h3 = M > 3 ? h[3] : h0;
  for (size_t k = 0; k < K; k++) {
    const float *r = Rp + k * w;
    __m512 rv[4];
#pragma GCC unroll 4
    for (int z = 0; z < NZ; z++) {
      rv[z] = _mm512_loadu_ps(r + 16 * z);
      __asm__("" : "+v"(rv[z])); /* keep it in a register: GCC would reload it from memory for every row */
      _mm_prefetch((const char *)(r + 8 * w + 16 * z), _MM_HINT_T0); /* R streams from L2/L3 once per step */
    }
    const float hk[4] = {h0[k], h1[k], h2[k], h3[k]};
#pragma GCC unroll 4
    for (int m = 0; m < M; m++) {
      __m512 hv = _mm512_set1_ps(hk[m]);
#pragma GCC unroll 4
      for (int z = 0; z < NZ; z++) acc[m][z] = _mm512_fmadd_ps(hv, rv[z], acc[m][z]);
    }
  }
#pragma GCC unroll 4
  for (int z = 0; z < NZ; z++) {
    size_t c = (size_t)z * 16;
    __mmask16 mk = nv >= c + 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nv - c)) - 1);
    __m512 bv = bias ? _mm512_maskz_loadu_ps(mk, bias + c) : _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int m = 0; m < M; m++) {
      __m512 v = _mm512_add_ps(acc[m][z], bv);
      if (base) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, base[m] + c));
      _mm512_mask_storeu_ps(y[m] + c, mk, v);
    }
  }
}

#define NZ_CASES(M)                                                                                                    \
  switch (w / 16) {                                                                                                    \
  case 1: block_mz(M, 1, K, h, Rp, w, nv, base, bias, y); return;                                                      \
  case 2: block_mz(M, 2, K, h, Rp, w, nv, base, bias, y); return;                                                      \
  case 3: block_mz(M, 3, K, h, Rp, w, nv, base, bias, y); return;                                                      \
  default: block_mz(M, 4, K, h, Rp, w, nv, base, bias, y); return;                                                     \
  }

void oxrt_rnn_block_avx512(size_t M, size_t K, const float *const *h, const float *Rp, size_t w, size_t nv,
                           const float *const *base, const float *bias, float *const *y) {
  switch (M) {
  case 1: NZ_CASES(1)
  case 2: NZ_CASES(2)
  case 3: NZ_CASES(3)
  default: NZ_CASES(4)
  }
}
