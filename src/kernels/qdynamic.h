/* qdynamic.h - the two passes of DynamicQuantizeLinear (and DynamicQuantizeMatMul's quantization of A) with
 * AVX-512: the data range and the uint8 quantization. Each returns exactly what the scalar loops of
 * ops/onnx/quant_util.h return (same lanes, same min / max operand order, division by the scale, round half to
 * even), for callers to use where oxrt_cpu_isa() >= OXRT_ISA_AVX512. */
#ifndef OXRT_KERNELS_QDYNAMIC_H
#define OXRT_KERNELS_QDYNAMIC_H
#include <stddef.h>
#include <stdint.h>

/* The scalar form from x[i..n) on: sixteen lane minima / maxima l[t], h[t] take x[i + t] per row of sixteen, the
 * tail goes to lane 0, then lanes 1..15 fold into lane 0 in order; *mn / *mx = lane 0. The scalar pass starts from
 * lanes of 0 at i = 0, the AVX-512 one from its vector lanes; both then end here. */
static inline void oxrt_qdyn_minmax_lanes(const float *restrict x, size_t i, size_t n, float l[16], float h[16],
                                          float *mn, float *mx) {
  for (; i + 16 <= n; i += 16)
    for (int t = 0; t < 16; t++) {
      float v = x[i + t];
      l[t] = v < l[t] ? v : l[t];
      h[t] = v > h[t] ? v : h[t];
    }
  for (; i < n; i++) {
    l[0] = x[i] < l[0] ? x[i] : l[0];
    h[0] = x[i] > h[0] ? x[i] : h[0];
  }
  for (int t = 1; t < 16; t++) {
    l[0] = l[t] < l[0] ? l[t] : l[0];
    h[0] = h[t] > h[0] ? h[t] : h[0];
  }
  *mn = l[0], *mx = h[0];
}

/* *mn / *mx = min / max of 0 and x[0..n) (NaN ignored); the scalar form keeps sixteen lanes, lane t taking
 * x[i + t], then folds lanes 1..15 into lane 0 in order: the same here. */
void oxrt_qdyn_minmax_avx512(const float *x, size_t n, float *mn, float *mx);
/* y[i] = clamp(round_half_even(x[i] / scale) + zp, 0, 255) as q_rne_sat computes it (NaN -> zp). */
void oxrt_qdyn_quant_avx512(const float *x, uint8_t *y, size_t n, float scale, float zp);

#endif
