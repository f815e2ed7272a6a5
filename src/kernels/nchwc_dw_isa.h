/* nchwc_dw_isa.h - one NCHWc pixel (B floats) as one vector, for the kernel bodies nchwc_dw_body.h and
 * nchwc_pool_body.h. The including file defines NCHWC_AVX512 (B = 16), NCHWC_AVX2 (B = 8) or nothing (portable:
 * B = 8 in GCC vector types, which the compiler maps to whatever vectors the target has).
 * NV_MAX(a, b) / NV_MIN(a, b) are a > b ? a : b / a < b ? a : b, so they give b when either is NaN (the x86
 * instructions' rule): the bodies put the value that must win a NaN second. */
#ifndef OXRT_KERNELS_NCHWC_DW_ISA_H
#define OXRT_KERNELS_NCHWC_DW_ISA_H
#include "../core/value.h"
#include "nchwc_dw_impl.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define NV_ALWAYS inline __attribute__((always_inline))

#if defined(NCHWC_AVX512)
#include <immintrin.h>
#define NB 16
#define NV_SFX(name) name##_avx512
typedef __m512 nv;
#define NV_LOAD(p) _mm512_loadu_ps(p)
#define NV_STORE(p, v) _mm512_storeu_ps((p), (v))
#define NV_SET1(s) _mm512_set1_ps(s)
#define NV_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define NV_ADD(a, b) _mm512_add_ps((a), (b))
#define NV_MUL(a, b) _mm512_mul_ps((a), (b))
#define NV_DIV(a, b) _mm512_div_ps((a), (b))
#define NV_MAX(a, b) _mm512_max_ps((a), (b))
#define NV_MIN(a, b) _mm512_min_ps((a), (b))
typedef __mmask16 nv_nan; /* lanes that have seen a NaN */
#define NV_NAN_NONE ((__mmask16)0)
#define NV_NAN_OR(m, x) ((__mmask16)((m) | _mm512_cmp_ps_mask((x), (x), _CMP_UNORD_Q)))
#define NV_NAN_SET(m, v) _mm512_mask_mov_ps((v), (m), _mm512_set1_ps(NAN))

#elif defined(NCHWC_AVX2)
#include <immintrin.h>
#define NB 8
#define NV_SFX(name) name##_avx2
typedef __m256 nv;
#define NV_LOAD(p) _mm256_loadu_ps(p)
#define NV_STORE(p, v) _mm256_storeu_ps((p), (v))
#define NV_SET1(s) _mm256_set1_ps(s)
#define NV_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define NV_ADD(a, b) _mm256_add_ps((a), (b))
#define NV_MUL(a, b) _mm256_mul_ps((a), (b))
#define NV_DIV(a, b) _mm256_div_ps((a), (b))
#define NV_MAX(a, b) _mm256_max_ps((a), (b))
#define NV_MIN(a, b) _mm256_min_ps((a), (b))
typedef __m256 nv_nan;
#define NV_NAN_NONE _mm256_setzero_ps()
#define NV_NAN_OR(m, x) _mm256_or_ps((m), _mm256_cmp_ps((x), (x), _CMP_UNORD_Q))
#define NV_NAN_SET(m, v) _mm256_blendv_ps((v), _mm256_set1_ps(NAN), (m))

#else
#define NB 8
#define NV_SFX(name) name##_portable
typedef float nv __attribute__((vector_size(32)));
typedef float nv_u __attribute__((vector_size(32), aligned(4))); /* unaligned loads and stores */
typedef int32_t nv_i __attribute__((vector_size(32)));
#define NV_LOAD(p) (*(const nv_u *)(const void *)(p))
#define NV_STORE(p, v) (*(nv_u *)(void *)(p) = (v))
#define nv_sel(m, a, b) ((nv)(((nv_i)(a) & (m)) | ((nv_i)(b) & ~(m))))
#define NV_SET1(s) ((nv){0} + (float)(s))
#define NV_FMA(a, b, c) ((a) * (b) + (c))
#define NV_ADD(a, b) ((a) + (b))
#define NV_MUL(a, b) ((a) * (b))
#define NV_DIV(a, b) ((a) / (b))
#define NV_MAX(a, b) nv_sel((a) > (b), (a), (b))
#define NV_MIN(a, b) nv_sel((a) < (b), (a), (b))
typedef nv_i nv_nan;
#define NV_NAN_NONE ((nv_i){0})
#define NV_NAN_OR(m, x) ((m) | ((x) != (x)))
#define NV_NAN_SET(m, v) nv_sel((m), NV_SET1(NAN), (v))
#endif

#endif
