/* maxpool_row_avx512.c - maxpool_row.h's loops, 16 lanes: rows in full vectors and a masked tail; columns at
 * stride 2 by splitting 32 inputs into their even and odd lanes. */
#include "maxpool_row.h"
#include <immintrin.h>

/* acc replaced by x where x > acc (ordered compare: NaN never wins), as the scalar loops do */
static inline __m512 mx(__m512 acc, __m512 x) { return _mm512_mask_mov_ps(acc, _mm512_cmp_ps_mask(x, acc, _CMP_GT_OQ), x); }

void oxrt_maxpool_rows_avx512(const float *x, size_t stride, int nrows, float *v, size_t n) {
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 a = _mm512_loadu_ps(x + j);
    for (int r = 1; r < nrows; r++) a = mx(a, _mm512_loadu_ps(x + (size_t)r * stride + j));
    _mm512_storeu_ps(v + j, a);
  }
  if (j < n) {
    const __mmask16 m = (__mmask16)((1u << (n - j)) - 1);
    __m512 a = _mm512_maskz_loadu_ps(m, x + j);
    for (int r = 1; r < nrows; r++) a = mx(a, _mm512_maskz_loadu_ps(m, x + (size_t)r * stride + j));
    _mm512_mask_storeu_ps(v + j, m, a);
  }
}

void oxrt_maxpool_cols_k3s2_avx512(const float *v, float *y, size_t n) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  size_t o = 0;
  for (; o + 16 <= n; o += 16) { /* reads v[2o .. 2o + 32], all inside the windows of outputs o .. o + 15 */
    const __m512 a = _mm512_loadu_ps(v + 2 * o), b = _mm512_loadu_ps(v + 2 * o + 16);
    const __m512 e = _mm512_permutex2var_ps(a, even, b), d = _mm512_permutex2var_ps(a, odd, b);
    const __m512 e2 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(_mm512_set1_ps(v[2 * o + 32])),
                                                              _mm512_castps_si512(e), 1)); /* v[2o + 2k + 2] */
    _mm512_storeu_ps(y + o, mx(mx(e, d), e2));
  }
  for (; o < n; o++) {
    float a = v[2 * o], b = v[2 * o + 1], c = v[2 * o + 2];
    a = b > a ? b : a;
    y[o] = c > a ? c : a;
  }
}
