/* qdynamic.h - the two passes of DynamicQuantizeLinear (and DynamicQuantizeMatMul's quantization of A) with
 * AVX-512: the data range and the uint8 quantization. Each returns exactly what the scalar loops of
 * ops/onnx/quant_util.h return (same lanes, same min / max operand order, division by the scale, round half to
 * even), for callers to use where oxrt_cpu_isa() >= OXRT_ISA_AVX512. */
#ifndef OXRT_KERNELS_QDYNAMIC_H
#define OXRT_KERNELS_QDYNAMIC_H
#include <stddef.h>
#include <stdint.h>

/* *mn / *mx = min / max of 0 and x[0..n) (NaN ignored); the scalar form keeps sixteen lanes, lane t taking
 * x[i + t], then folds lanes 1..15 into lane 0 in order: the same here. */
void oxrt_qdyn_minmax_avx512(const float *x, size_t n, float *mn, float *mx);
/* y[i] = clamp(round_half_even(x[i] / scale) + zp, 0, 255) as q_rne_sat computes it (NaN -> zp). */
void oxrt_qdyn_quant_avx512(const float *x, uint8_t *y, size_t n, float scale, float zp);

#endif
