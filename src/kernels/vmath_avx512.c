/* vmath_avx512.c - the vmath set for AVX-512F (algorithms in vmath_body.h): 16 lanes, masked tails,
 * vscalefps for the 2^n scaling (handles overflow to inf by itself). */
#include "vmath.h"
#include <immintrin.h>

static inline __mmask16 vm_tail(size_t k) { return (__mmask16)((1u << k) - 1u); }
static inline __m512 vm_bits_and(__m512 a, int m) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(m)));
}
static inline __m512 vm_bits_or(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}

#define V __m512
#define VM __mmask16
#define VN 16
#define VM_TABLE oxrt_vmath_avx512
#define V_LD(p) _mm512_loadu_ps(p)
#define V_ST(p, v) _mm512_storeu_ps(p, v)
#define V_LDN(p, k) _mm512_maskz_loadu_ps(vm_tail(k), p)
#define V_STN(p, v, k) _mm512_mask_storeu_ps(p, vm_tail(k), v)
#define V_SET(c) _mm512_set1_ps(c)
#define V_ADD _mm512_add_ps
#define V_SUB _mm512_sub_ps
#define V_MUL _mm512_mul_ps
#define V_DIV _mm512_div_ps
#define V_FMA _mm512_fmadd_ps
#define V_FNMA _mm512_fnmadd_ps
#define V_MIN _mm512_min_ps
#define V_MAX _mm512_max_ps
#define V_ABS(a) vm_bits_and(a, 0x7fffffff)
#define V_SIGN(a) vm_bits_and(a, (int)0x80000000u)
#define V_OR vm_bits_or
#define V_LT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define V_SEL(m, a, b) _mm512_mask_blend_ps(m, b, a)
#define V_ROUND(a) _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_LDEXP(p, n) _mm512_scalef_ps(p, n)
#define V_HSUM _mm512_reduce_add_ps
#define V_MUL_ERR(a, b, p) _mm512_fmsub_ps(a, b, p)

/* Double accumulation, 16 floats a step in two registers of 8 doubles. */
static void vm_mean_var(const float *x, size_t n, double *mean, double *var) {
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
    a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)));
  }
  double s = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
  for (; i < n; i++) s += x[i];
  const double m = n ? s / (double)n : 0.0;
  const __m512d mv = _mm512_set1_pd(m);
  a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), mv);
    const __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)), mv);
    a0 = _mm512_fmadd_pd(d0, d0, a0);
    a1 = _mm512_fmadd_pd(d1, d1, a1);
  }
  double v = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
  for (; i < n; i++) v += (x[i] - m) * (x[i] - m);
  *mean = m;
  *var = n ? v / (double)n : 0.0;
}
#define VD_MEAN_VAR vm_mean_var

#include "vmath_body.h"
