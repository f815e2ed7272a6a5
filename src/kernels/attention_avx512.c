/* attention_avx512.c - attention inner loops (attention_body.h) with 16-lane AVX-512 vectors: a score tile is
 * 6 keys x 64 queries (24 accumulators of the 32 registers). */
#include <immintrin.h>

#define AT_SET oxrt_attn_avx512
#define AT_V __m512
#define AT_VN 16
#define AT_RB 6
#define AT_NJ 4
#define AT_LD _mm512_loadu_ps
#define AT_ST _mm512_storeu_ps
#define AT_SET1 _mm512_set1_ps
#define AT_FMA _mm512_fmadd_ps
#define AT_MUL _mm512_mul_ps
#define AT_ADD _mm512_add_ps
#define AT_SUB _mm512_sub_ps
#define AT_MAX _mm512_max_ps
#define AT_ZERO_LT(a, t) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, t, _CMP_NLT_UQ), a)
#include "attention_body.h"
