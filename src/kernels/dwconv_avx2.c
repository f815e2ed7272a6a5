/* dwconv_avx2.c - depthwise fill and plane kernels (dwconv_body.h) with 8-lane AVX2+FMA vectors; partial stores
 * through lane masks, the stride-2 even/odd split with in-lane shuffles. */
#include <immintrin.h>
#include <stdint.h>

static const int dw_lane_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
/* first n lanes set */
static inline __m256i dw_mask(int n) { return _mm256_loadu_si256((const __m256i *)(dw_lane_mask + 8 - n)); }

static void dw_split2(float *even, int64_t ne, float *odd, int64_t no, const float *src, int64_t W) {
  (void)W;
  int64_t j = 0;
  for (; j + 8 <= ne && j + 8 <= no; j += 8) { /* reads src[2j .. 2j+15], within W as 2(j+8) <= 2*no <= W */
    const __m256 a = _mm256_loadu_ps(src + 2 * j), b = _mm256_loadu_ps(src + 2 * j + 8);
    const __m256 e = _mm256_shuffle_ps(a, b, 0x88), o = _mm256_shuffle_ps(a, b, 0xDD); /* lanes 0 2 4 6 | 1 3 5 7 */
    _mm256_storeu_ps(even + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
    _mm256_storeu_ps(odd + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
  }
  for (int64_t k = j; k < ne; k++) even[k] = src[2 * k];
  for (int64_t k = j; k < no; k++) odd[k] = src[2 * k + 1];
}

#define DW_PLANE oxrt_dw_plane_avx2
#define DW_FILL oxrt_dw_fill_avx2
#define DW_VW 8
#define DW_V __m256
#define DW_SET1 _mm256_set1_ps
#define DW_LOADU _mm256_loadu_ps
#define DW_FMA _mm256_fmadd_ps
#define DW_MIN _mm256_min_ps
#define DW_MAX _mm256_max_ps
#define DW_STOREU _mm256_storeu_ps
#define DW_LOAD_N(p, n) _mm256_maskload_ps((p), dw_mask(n))
#define DW_STORE_N(p, v, n) _mm256_maskstore_ps((p), dw_mask(n), (v))
#include "dwconv_body.h"
