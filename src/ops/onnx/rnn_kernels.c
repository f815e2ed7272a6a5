/* rnn_kernels.c - packing of R and the portable recurrent block kernel (see rnn_kernels.h). */
#include "rnn_kernels.h"
#include "../../kernels/gemm.h"
#include <string.h>

void oxrt_rnn_pack(const float *R, size_t G, size_t H, size_t K, float *dst) {
  for (size_t g = 0; g < G; g++)
    for (size_t j = 0; j * RNN_KB < H; j++) {
      size_t c0 = j * RNN_KB, nv = H - c0 < RNN_KB ? H - c0 : RNN_KB, w = rnn_round16(nv);
      float *blk = dst + rnn_block_offset(g, j, H, K);
      for (size_t k = 0; k < K; k++) {
        float *row = blk + k * w;
        for (size_t n = 0; n < nv; n++) row[n] = R[(g * H + c0 + n) * K + k];
        for (size_t n = nv; n < w; n++) row[n] = 0;
      }
    }
}

void oxrt_rnn_block_portable(size_t M, size_t K, const float *const *h, const float *Rp, size_t w, size_t nv,
                             const float *const *base, const float *bias, float *const *y) {
  for (size_t m = 0; m < M; m++) {
    float acc[RNN_KB];
    memset(acc, 0, sizeof acc);
    const float *hm = h[m];
    for (size_t k = 0; k < K; k++) {
      const float hv = hm[k], *r = Rp + k * w;
      for (size_t n = 0; n < w; n++) acc[n] += hv * r[n];
    }
    float *ym = y[m];
    const float *bm = base ? base[m] : NULL;
    for (size_t n = 0; n < nv; n++) ym[n] = (bm ? bm[n] : 0.0f) + (bias ? bias[n] : 0.0f) + acc[n];
  }
}

oxrt_rnn_block_fn oxrt_rnn_block_kernel(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  switch (oxrt_cpu_isa()) {
  case OXRT_ISA_AVX512: return oxrt_rnn_block_avx512;
  case OXRT_ISA_AVX2: return oxrt_rnn_block_avx2;
  default: break;
  }
#endif
  return oxrt_rnn_block_portable;
}
