/* softmax_row_avx512.c - softmax_row.h's row kernel, 16 lanes with masked tails. */
#include "softmax_row.h"
#include <float.h>
#include <immintrin.h>
#include <math.h>

void oxrt_softmax_row_avx512(const float *x, float *y, size_t D, bool log, const oxrt_vmath_table *vm) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 m0 = ninf, m1 = ninf;
  size_t i = 0;
  /* vmaxps returns its second operand when either is NaN: max(x, m) keeps m, like x > m ? x : m */
  for (; i + 32 <= D; i += 32) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
  }
  for (; i + 16 <= D; i += 16) m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
  if (i < D) m1 = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, (__mmask16)((1u << (D - i)) - 1), x + i), m1);
  float m = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
  if (isinf(m) && m < 0) m = 0;
  const float s = vm->exp_shift_sum(x, y, D, m);
  if (log) {
    const __m512 ls = _mm512_set1_ps(logf(s) + m);
    for (i = 0; i + 16 <= D; i += 16) _mm512_storeu_ps(y + i, _mm512_sub_ps(_mm512_loadu_ps(x + i), ls));
    if (i < D) {
      const __mmask16 k = (__mmask16)((1u << (D - i)) - 1);
      _mm512_mask_storeu_ps(y + i, k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), ls));
    }
  } else {
    const __m512 inv = _mm512_set1_ps(1.0f / s), tiny = _mm512_set1_ps(FLT_MIN), zero = _mm512_setzero_ps();
    for (i = 0; i + 16 <= D; i += 16) {
      const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(y + i), inv);
      _mm512_storeu_ps(y + i, _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, tiny, _CMP_LT_OQ), zero));
    }
    if (i < D) {
      const __mmask16 k = (__mmask16)((1u << (D - i)) - 1);
      const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, y + i), inv);
      _mm512_mask_storeu_ps(y + i, k, _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, tiny, _CMP_LT_OQ), zero));
    }
  }
}
