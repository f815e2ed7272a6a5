/* test_rnn_kernels.c - the recurrent block kernels (portable, and AVX2 / AVX-512 up to oxrt_cpu_isa(), so
 * OXRT_ISA caps them) against a double-precision loop over R packed by oxrt_rnn_pack: 1 to 4 rows, hidden
 * sizes with block tails (not multiples of 16 or 64), with and without base and bias, y written in place over
 * base, and nothing written past a block's valid columns. */
#include "kernels/gemm.h"
#include "ops/onnx/rnn_kernels.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>

static unsigned rseed = 29;
static float rrnd(void) {
  rseed = rseed * 1103515245u + 12345u;
  return (float)((rseed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

void test_kernel_rnn_block(void) {
  oxrt_rnn_block_fn fns[3] = {oxrt_rnn_block_portable, NULL, NULL};
  const char *names[3] = {"portable", "avx2", "avx512"};
#if defined(__x86_64__) && defined(__GNUC__)
  if (oxrt_cpu_isa() >= OXRT_ISA_AVX2) fns[1] = oxrt_rnn_block_avx2;
  if (oxrt_cpu_isa() >= OXRT_ISA_AVX512) fns[2] = oxrt_rnn_block_avx512;
#endif
  static const size_t Hs[] = {1, 5, 16, 17, 33, 64, 65, 100, 130};
  int bad = 0;
  for (size_t hi = 0; hi < sizeof Hs / sizeof *Hs; hi++) {
    const size_t H = Hs[hi], G = 3, K = H + hi % 3 * 7; /* K need not equal H */
    float *R = malloc(sizeof(float) * G * H * K), *rp = malloc(sizeof(float) * rnn_packed_size(G, H, K));
    float *h = malloc(sizeof(float) * 4 * K), *bias = malloc(sizeof(float) * G * H);
    float *base = malloc(sizeof(float) * 4 * G * H), *y = malloc(sizeof(float) * 4 * (G * H + 1));
    for (size_t i = 0; i < G * H * K; i++) R[i] = rrnd();
    for (size_t i = 0; i < 4 * K; i++) h[i] = rrnd();
    for (size_t i = 0; i < G * H; i++) bias[i] = rrnd();
    oxrt_rnn_pack(R, G, H, K, rp);
    for (int f = 0; f < 3; f++) {
      if (!fns[f]) continue;
      for (size_t M = 1; M <= 4; M++)
        for (int mode = 0; mode < 4; mode++) {
          const bool use_base = mode & 1, use_bias = mode & 2, inplace = mode == 3;
          const size_t ldy = G * H + 1;
          for (size_t i = 0; i < 4 * G * H; i++) base[i] = 2 * rrnd();
          for (size_t i = 0; i < 4 * ldy; i++) y[i] = NAN;
          if (inplace)
            for (size_t m = 0; m < 4; m++)
              for (size_t n = 0; n < G * H; n++) y[m * ldy + n] = base[m * G * H + n];
          for (size_t gq = 0; gq < G; gq++) /* last gate first: a write past a block would be overwritten */
            for (size_t j = 0, g = G - 1 - gq; j * RNN_KB < H; j++) {
              const size_t c0 = j * RNN_KB, nv = H - c0 < RNN_KB ? H - c0 : RNN_KB;
              const float *hr[4], *br[4];
              float *yr[4];
              for (size_t m = 0; m < M; m++) {
                hr[m] = h + m * K;
                yr[m] = y + m * ldy + g * H + c0;
                br[m] = inplace ? yr[m] : base + m * G * H + g * H + c0;
              }
              fns[f](M, K, hr, rp + rnn_block_offset(g, j, H, K), rnn_round16(nv), nv, use_base ? br : NULL,
                     use_bias ? bias + g * H + c0 : NULL, yr);
            }
          for (size_t m = 0; m < 4 && !bad; m++) {
            if (m < M && !isnan(y[m * ldy + G * H])) bad++; /* past the last block */
            for (size_t n = 0; n < G * H && !bad; n++) {
              float got = y[m * ldy + n];
              if (m >= M) {
                bool untouched = inplace ? got == base[m * G * H + n] : isnan(got);
                if (!untouched) bad++;
                continue;
              }
              double want = (use_base ? base[m * G * H + n] : 0.0) + (use_bias ? bias[n] : 0.0);
              for (size_t k = 0; k < K; k++) want += (double)h[m * K + k] * R[n * K + k];
              if (fabs(got - want) > 1e-4 * (1.0 + fabs(want))) bad++;
            }
            if (bad)
              fprintf(stderr, "  rnn block %s H=%zu K=%zu M=%zu mode=%d: wrong row %zu\n", names[f], H, K, M, mode, m);
          }
        }
    }
    free(R), free(rp), free(h), free(bias), free(base), free(y);
  }
  CHECK(bad == 0);
}
