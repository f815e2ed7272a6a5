/* softmax_row_avx2.c - softmax_row.h's row kernel, 8 lanes, scalar tails. */
#include "softmax_row.h"
#include <float.h>
#include <immintrin.h>
#include <math.h>

void oxrt_softmax_row_avx2(const float *x, float *y, size_t D, bool log, const oxrt_vmath_table *vm) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  __m256 m0 = ninf, m1 = ninf;
  size_t i = 0;
  for (; i + 16 <= D; i += 16) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
  }
  for (; i + 8 <= D; i += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
  m0 = _mm256_max_ps(m0, m1);
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
  float m = _mm_cvtss_f32(h);
  for (; i < D; i++) m = x[i] > m ? x[i] : m;
  if (isinf(m) && m < 0) m = 0;
  const float s = vm->exp_shift_sum(x, y, D, m);
  if (log) {
    const float lsf = logf(s) + m;
    const __m256 ls = _mm256_set1_ps(lsf);
    for (i = 0; i + 8 <= D; i += 8) _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_loadu_ps(x + i), ls));
    for (; i < D; i++) y[i] = x[i] - lsf;
  } else {
    const float invf = 1.0f / s;
    const __m256 inv = _mm256_set1_ps(invf), tiny = _mm256_set1_ps(FLT_MIN), zero = _mm256_setzero_ps();
    for (i = 0; i + 8 <= D; i += 8) {
      const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(y + i), inv);
      _mm256_storeu_ps(y + i, _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, tiny, _CMP_LT_OQ)));
    }
    for (; i < D; i++) {
      const float v = y[i] * invf;
      y[i] = v < FLT_MIN ? 0.0f : v;
    }
  }
}
