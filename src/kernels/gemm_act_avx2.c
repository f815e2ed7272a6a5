/* gemm_act_avx2.c - the piecewise-linear output-pass activations (gemm_act_body.h) on 8-float vectors. */
#include "gemm.h"
#include <immintrin.h>
#include <math.h>

bool oxrt_act_piecewise_avx2(oxrt_activation act, float *y, size_t n);
static inline __m256i act_tail_mask(size_t k) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define VEC_T __m256
#define VEC_W 8
#define VEC_FN(name) name##avx2
#define VEC_SET1 _mm256_set1_ps
#define VEC_ZERO _mm256_setzero_ps()
#define VEC_MIN _mm256_min_ps
#define VEC_MAX _mm256_max_ps
#define VEC_MUL _mm256_mul_ps
#define VEC_FMA _mm256_fmadd_ps
#define VEC_LOAD _mm256_loadu_ps
#define VEC_STORE _mm256_storeu_ps
#define VEC_BLEND_NEG(v, w) _mm256_blendv_ps(v, w, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ))
#define VEC_TAIL_LOAD(p, k) _mm256_maskload_ps(p, act_tail_mask(k))
#define VEC_TAIL(p, k, v) _mm256_maskstore_ps(p, act_tail_mask(k), v)
#include "gemm_act_body.h"
