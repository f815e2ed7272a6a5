/* gemm_act_avx512.c - the piecewise-linear output-pass activations (gemm_act_body.h) on 16-float vectors. */
#include "gemm.h"
#include <immintrin.h>
#include <math.h>

bool oxrt_act_piecewise_avx512(oxrt_activation act, float *y, size_t n);
#define VEC_T __m512
#define VEC_W 16
#define VEC_FN(name) name##avx512
#define VEC_SET1 _mm512_set1_ps
#define VEC_ZERO _mm512_setzero_ps()
#define VEC_MIN _mm512_min_ps
#define VEC_MAX _mm512_max_ps
#define VEC_MUL _mm512_mul_ps
#define VEC_FMA _mm512_fmadd_ps
#define VEC_LOAD _mm512_loadu_ps
#define VEC_STORE _mm512_storeu_ps
#define VEC_BLEND_NEG(v, w) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, w)
#define VEC_TAIL_LOAD(p, k) _mm512_maskz_loadu_ps((__mmask16)((1u << (k)) - 1u), p)
#define VEC_TAIL(p, k, v) _mm512_mask_storeu_ps(p, (__mmask16)((1u << (k)) - 1u), v)
#include "gemm_act_body.h"
