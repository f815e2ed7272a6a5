/* vmath_avx2.c - the vmath set for AVX2 + FMA (algorithms in vmath_body.h): 8 lanes, vmaskmov tails; 2^n is
 * built in the exponent field as two factors 2^(n/2) so n up to 129 (overflow) and down to -128 stay exact. */
#include "vmath.h"
#include <immintrin.h>

static inline __m256i vm_tail(size_t k) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256 vm_bits_and(__m256 a, int m) {
  return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(m)));
}
static inline __m256 vm_ldexp(__m256 p, __m256 n) {
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i b = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, b), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, b), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}
static inline float vm_hsum(__m256 a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

#define V __m256
#define VM __m256
#define VN 8
#define VM_TABLE oxrt_vmath_avx2
#define V_LD(p) _mm256_loadu_ps(p)
#define V_ST(p, v) _mm256_storeu_ps(p, v)
#define V_LDN(p, k) _mm256_maskload_ps(p, vm_tail(k))
#define V_STN(p, v, k) _mm256_maskstore_ps(p, vm_tail(k), v)
#define V_SET(c) _mm256_set1_ps(c)
#define V_ADD _mm256_add_ps
#define V_SUB _mm256_sub_ps
#define V_MUL _mm256_mul_ps
#define V_DIV _mm256_div_ps
#define V_FMA _mm256_fmadd_ps
#define V_FNMA _mm256_fnmadd_ps
#define V_MIN _mm256_min_ps
#define V_MAX _mm256_max_ps
#define V_ABS(a) vm_bits_and(a, 0x7fffffff)
#define V_SIGN(a) vm_bits_and(a, (int)0x80000000u)
#define V_OR _mm256_or_ps
#define V_LT(a, b) _mm256_cmp_ps(a, b, _CMP_LT_OQ)
#define V_SEL(m, a, b) _mm256_blendv_ps(b, a, m)
#define V_ROUND(a) _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_LDEXP vm_ldexp
#define V_HSUM vm_hsum
#define V_MUL_ERR(a, b, p) _mm256_fmsub_ps(a, b, p)

/* Double accumulation, 16 floats a step in four registers of 4 doubles. */
static inline double vm_hsum_pd(__m256d a) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
static void vm_mean_var(const float *x, size_t n, double *mean, double *var) {
  __m256d a[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; k++) a[k] = _mm256_add_pd(a[k], _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * k)));
  double s = vm_hsum_pd(_mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3])));
  for (; i < n; i++) s += x[i];
  const double m = n ? s / (double)n : 0.0;
  const __m256d mv = _mm256_set1_pd(m);
  for (int k = 0; k < 4; k++) a[k] = _mm256_setzero_pd();
  for (i = 0; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; k++) {
      const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * k)), mv);
      a[k] = _mm256_fmadd_pd(d, d, a[k]);
    }
  double v = vm_hsum_pd(_mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3])));
  for (; i < n; i++) v += (x[i] - m) * (x[i] - m);
  *mean = m;
  *var = n ? v / (double)n : 0.0;
}
#define VD_MEAN_VAR vm_mean_var

#include "vmath_body.h"
