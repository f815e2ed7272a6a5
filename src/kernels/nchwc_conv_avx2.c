/* nchwc_conv_avx2.c - the NCHWc convolution row kernel (nchwc_conv_body.h) with 8-lane AVX2 vectors: up to
 * 2 output blocks x 6 pixels, 12 pixels for one block (12 of the 16 registers accumulate). */
#include "nchwc_conv.h"
#include <immintrin.h>

#define NC_ROWS oxrt_nchwc_conv_rows_avx2
#define NC_B 8
#define NC_V __m256
#define NC_SET1 _mm256_set1_ps
#define NC_LOAD _mm256_loadu_ps
#define NC_STORE _mm256_storeu_ps
#define NC_FMA _mm256_fmadd_ps
#define NC_ADD _mm256_add_ps
#define NC_MUL _mm256_mul_ps
#define NC_MIN _mm256_min_ps
#define NC_MAX _mm256_max_ps
#define NC_MBMAX 2
#define NC_NPMAX(mb) ((mb) == 1 ? 12 : 6)
#include "nchwc_conv_body.h"
