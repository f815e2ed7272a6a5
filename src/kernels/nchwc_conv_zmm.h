/* nchwc_conv_zmm.h - nchwc_conv_body.h's vector macros for 16-float zmm registers: up to 4 output blocks x 6
 * pixels (24 accumulators), 12 pixels for 1-2 blocks, 8 for 3. Included by the AVX-512 float and bfloat16 row
 * kernels (compiled for AVX-512). */
#include <immintrin.h>

#define NC_B 16
#define NC_V __m512
#define NC_SET1 _mm512_set1_ps
#define NC_LOAD _mm512_loadu_ps
#define NC_STORE _mm512_storeu_ps
#define NC_FMA _mm512_fmadd_ps
#define NC_ADD _mm512_add_ps
#define NC_MUL _mm512_mul_ps
#define NC_MIN _mm512_min_ps
#define NC_MAX _mm512_max_ps
#define NC_MBMAX 4
#define NC_NPMAX(mb) ((mb) <= 2 ? 12 : (mb) == 3 ? 8 : 6)
