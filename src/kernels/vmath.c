/* vmath.c - array transcendental functions (see vmath.h): the portable set (the algorithms of vmath_body.h on
 * one float at a time, plain C that any compiler vectorises or not) and the dispatch to the ISA sets. */
#include "vmath.h"
#include "gemm.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define OXRT_VMATH_X86 1
extern const oxrt_vmath_table oxrt_vmath_avx2, oxrt_vmath_avx512;
#endif

static inline uint32_t vm_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static inline float vm_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
/* p * 2^n in two exact factors (n in [-140, 140]); NaN n only comes with NaN p. */
static inline float vm_ldexp(float p, float n) {
  const int32_t ni = n == n ? (int32_t)n : 0, n1 = ni / 2, n2 = ni - n1;
  return p * vm_float((uint32_t)(n1 + 127) << 23) * vm_float((uint32_t)(n2 + 127) << 23);
}
/* Round to nearest (ties to even) for |a| < 2^22 by the 1.5 * 2^23 trick; NaN stays NaN. */
static inline float vm_round(float a) { return (a + 12582912.0f) - 12582912.0f; }

#define V float
#define VM int
#define VN 1
#define VM_TABLE oxrt_vmath_portable
#define V_LD(p) (*(p))
#define V_ST(p, v) (*(p) = (v))
#define V_LDN(p, k) ((void)(k), *(p))
#define V_STN(p, v, k) ((void)(k), *(p) = (v))
#define V_SET(c) (c)
#define V_ADD(a, b) ((a) + (b))
#define V_SUB(a, b) ((a) - (b))
#define V_MUL(a, b) ((a) * (b))
#define V_DIV(a, b) ((a) / (b))
#define V_FMA(a, b, c) ((a) * (b) + (c))
#define V_FNMA(a, b, c) ((c) - (a) * (b))
#define V_MIN(a, b) ((a) < (b) ? (a) : (b))
#define V_MAX(a, b) ((a) > (b) ? (a) : (b))
#define V_ABS(a) fabsf(a)
#define V_SIGN(a) vm_float(vm_bits(a) & 0x80000000u)
#define V_OR(a, b) vm_float(vm_bits(a) | vm_bits(b))
#define V_LT(a, b) ((a) < (b))
#define V_SEL(m, a, b) ((m) ? (a) : (b))
#define V_ROUND vm_round
#define V_LDEXP vm_ldexp
#define V_HSUM(a) (a)
/* float products are exact in double */
#define V_MUL_ERR(a, b, p) ((float)((double)(a) * (double)(b) - (double)(p)))

/* Two passes in double, four partial sums each to shorten the dependency chain. */
static void vm_mean_var(const float *x, size_t n, double *mean, double *var) {
  double a[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) a[k] += x[i + k];
  for (; i < n; i++) a[0] += x[i];
  const double m = n ? (a[0] + a[1] + a[2] + a[3]) / (double)n : 0.0;
  double b[4] = {0, 0, 0, 0};
  for (i = 0; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) b[k] += (x[i + k] - m) * (x[i + k] - m);
  for (; i < n; i++) b[0] += (x[i] - m) * (x[i] - m);
  *mean = m;
  *var = n ? (b[0] + b[1] + b[2] + b[3]) / (double)n : 0.0;
}
#define VD_MEAN_VAR vm_mean_var

#include "vmath_body.h"

const oxrt_vmath_table *oxrt_vmath_table_for(int isa) {
#ifdef OXRT_VMATH_X86
  if (isa == OXRT_ISA_AVX512) return &oxrt_vmath_avx512;
  if (isa == OXRT_ISA_AVX2) return &oxrt_vmath_avx2;
#endif
  return isa == OXRT_ISA_PORTABLE ? &oxrt_vmath_portable : NULL;
}

/* The level only ever goes down to a set this build has (portable always exists). */
static const oxrt_vmath_table *vm_set(void) {
  const oxrt_vmath_table *t = oxrt_vmath_table_for((int)oxrt_cpu_isa());
  return t ? t : &oxrt_vmath_portable;
}

void oxrt_vexp_f32(const float *x, float *y, size_t n) { vm_set()->exp(x, y, n); }
void oxrt_vsigmoid_f32(const float *x, float *y, size_t n) { vm_set()->sigmoid(x, y, n); }
void oxrt_vtanh_f32(const float *x, float *y, size_t n) { vm_set()->tanh(x, y, n); }
void oxrt_verf_f32(const float *x, float *y, size_t n) { vm_set()->erf(x, y, n); }
void oxrt_vsilu_f32(const float *x, float *y, size_t n, float alpha) { vm_set()->silu(x, y, n, alpha); }
void oxrt_vsilu_fast_f32(const float *x, float *y, size_t n) { vm_set()->silu_fast(x, y, n); }
void oxrt_vgelu_f32(const float *x, float *y, size_t n) { vm_set()->gelu(x, y, n); }
void oxrt_vgelu_tanh_f32(const float *x, float *y, size_t n) { vm_set()->gelu_tanh(x, y, n); }
float oxrt_vexp_shift_sum_f32(const float *x, float *y, size_t n, float shift) {
  return vm_set()->exp_shift_sum(x, y, n, shift);
}
void oxrt_vmean_var_f32(const float *x, size_t n, double *mean, double *var) { vm_set()->mean_var(x, n, mean, var); }
