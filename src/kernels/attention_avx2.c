/* attention_avx2.c - attention inner loops (attention_body.h) with 8-lane AVX2+FMA vectors: a score tile is
 * 6 keys x 16 queries (12 accumulators of the 16 registers). */
#include <immintrin.h>

#define AT_SET oxrt_attn_avx2
#define AT_V __m256
#define AT_VN 8
#define AT_RB 6
#define AT_NJ 2
#define AT_LD _mm256_loadu_ps
#define AT_ST _mm256_storeu_ps
#define AT_SET1 _mm256_set1_ps
#define AT_FMA _mm256_fmadd_ps
#define AT_MUL _mm256_mul_ps
#define AT_ADD _mm256_add_ps
#define AT_SUB _mm256_sub_ps
#define AT_MAX _mm256_max_ps
#define AT_ZERO_LT(a, t) _mm256_and_ps(a, _mm256_cmp_ps(a, t, _CMP_NLT_UQ))
#include "attention_body.h"
