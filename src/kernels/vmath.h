/* vmath.h - vectorised float32 transcendental functions over arrays, for the elementwise operators,
 * Softmax, the recurrent cells' gates and fused activations.
 *
 * All functions compute y[i] = f(x[i]) for i < n; y may equal x (in place). NaN in gives NaN out, +-inf
 * give the mathematical limits. Results are within a few ulp of the correctly rounded value, except
 * that results smaller in magnitude than FLT_MIN (1.18e-38) may be returned as 0: subnormal floats cost
 * ~100 cycles per operation on x86 in the operations that consume them (attention probabilities that
 * underflow would slow every following MatMul).
 * The ISA (AVX-512, AVX2+FMA or portable C) follows oxrt_gemm_isa(), so OXRT_ISA caps it too. */
#ifndef OXRT_KERNELS_VMATH_H
#define OXRT_KERNELS_VMATH_H
#include <stddef.h>

void oxrt_vexp_f32(const float *x, float *y, size_t n);
void oxrt_vsigmoid_f32(const float *x, float *y, size_t n);
void oxrt_vtanh_f32(const float *x, float *y, size_t n);
void oxrt_verf_f32(const float *x, float *y, size_t n);
/* x * sigmoid(alpha * x): SiLU/Swish for alpha 1 (com.microsoft QuickGelu's definition). */
void oxrt_vsilu_f32(const float *x, float *y, size_t n, float alpha);
/* 0.5 * x * (1 + erf(x / sqrt(2))): Gelu with approximate="none". */
void oxrt_vgelu_f32(const float *x, float *y, size_t n);
/* 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))): Gelu with approximate="tanh". */
void oxrt_vgelu_tanh_f32(const float *x, float *y, size_t n);
/* y[i] = exp(x[i] - shift); returns the sum of the y[i] (accumulated in float or better). For Softmax. */
float oxrt_vexp_shift_sum_f32(const float *x, float *y, size_t n, float shift);

#endif
