/* vmath.h - vectorised float32 transcendental functions over arrays, for the elementwise operators,
 * Softmax, the recurrent cells' gates and fused activations.
 *
 * All functions compute y[i] = f(x[i]) for i < n; y may equal x (in place). NaN in gives NaN out, +-inf
 * give the mathematical limits. Results are within a few ulp of the correctly rounded value, except
 * that results smaller in magnitude than FLT_MIN (1.18e-38) may be returned as 0: subnormal floats cost
 * ~100 cycles per operation on x86 in the operations that consume them (attention probabilities that
 * underflow would slow every following MatMul).
 * The ISA (AVX-512, AVX2+FMA or portable C) follows oxrt_cpu_isa(), so OXRT_ISA caps it too. */
#ifndef OXRT_KERNELS_VMATH_H
#define OXRT_KERNELS_VMATH_H
#include <stddef.h>

void oxrt_vexp_f32(const float *x, float *y, size_t n);
void oxrt_vsigmoid_f32(const float *x, float *y, size_t n);
void oxrt_vtanh_f32(const float *x, float *y, size_t n);
void oxrt_verf_f32(const float *x, float *y, size_t n);
/* x * sigmoid(alpha * x): SiLU/Swish for alpha 1 (com.microsoft QuickGelu's definition). Where
 * e^(alpha x) < FLT_MIN (alpha x < -87.3) the result is 0 (its magnitude is below 1e-36 there). */
void oxrt_vsilu_f32(const float *x, float *y, size_t n, float alpha);
/* x * sigmoid(x) within 4e-7 * max(1, |x|) absolute (not a few ulp where the result is small): the SiLU of fused
 * conv/GEMM output passes, about twice as fast as oxrt_vsilu_f32. */
void oxrt_vsilu_fast_f32(const float *x, float *y, size_t n);
/* 0.5 * x * (1 + erf(x / sqrt(2))): Gelu with approximate="none". */
void oxrt_vgelu_f32(const float *x, float *y, size_t n);
/* 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))): Gelu with approximate="tanh". The float rounding
 * of the tanh argument limits it to about 16 ulp for x > -3 and relative 1e-5 below (results < 0.004 there);
 * 0 below x = -10 (results below 1e-36). */
void oxrt_vgelu_tanh_f32(const float *x, float *y, size_t n);
/* y[i] = exp(x[i] - shift); returns the sum of the y[i] (accumulated in float or better). For Softmax. */
float oxrt_vexp_shift_sum_f32(const float *x, float *y, size_t n, float shift);
/* Mean and population variance of x[0..n) accumulated in double (two passes); 0 and 0 for n == 0.
 * For the normalisation operators. */
void oxrt_vmean_var_f32(const float *x, size_t n, double *mean, double *var);

/* ------------------------------------------------------------------ internal: the per-ISA sets
 * vmath.c holds the portable set and dispatches; vmath_avx2.c / vmath_avx512.c hold the others. */
typedef struct oxrt_vmath_table {
  void (*exp)(const float *x, float *y, size_t n);
  void (*sigmoid)(const float *x, float *y, size_t n);
  void (*tanh)(const float *x, float *y, size_t n);
  void (*erf)(const float *x, float *y, size_t n);
  void (*silu)(const float *x, float *y, size_t n, float alpha);
  void (*silu_fast)(const float *x, float *y, size_t n);
  void (*gelu)(const float *x, float *y, size_t n);
  void (*gelu_tanh)(const float *x, float *y, size_t n);
  float (*exp_shift_sum)(const float *x, float *y, size_t n, float shift);
  void (*mean_var)(const float *x, size_t n, double *mean, double *var);
} oxrt_vmath_table;
/* The set for an oxrt_isa level, or NULL when this build has none for it. It does not check the CPU:
 * callers pass levels up to oxrt_cpu_isa() (tests use it to run every level the machine has). */
const oxrt_vmath_table *oxrt_vmath_table_for(int isa);

#endif
