/* gemm_zmm.h - gemm_body.h's vector macros for 16-float zmm registers: the 12 x 32 tile, mask registers for
 * partial rows, B prefetched 1 KiB ahead. Included by the AVX-512 float and bfloat16 GEMM files (compiled for
 * AVX-512), which add their names and, for bfloat16, the k-step. */
#include <immintrin.h>

#define GB_V __m512
#define GB_VW 16
#define GB_MR 12
#define GB_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define GB_KERNELS(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
#define GB_M __mmask16
#define GB_MASK(n) ((n) >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n)) - 1u))
#define GB_ZERO() _mm512_setzero_ps()
#define GB_BCAST(p) _mm512_set1_ps(*(p))
#define GB_LOAD(p) _mm512_loadu_ps(p)
#define GB_STORE(p, v) _mm512_storeu_ps(p, v)
#define GB_LOAD_M(p, m) _mm512_maskz_loadu_ps(m, p)
#define GB_STORE_M(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define GB_FMA _mm512_fmadd_ps
#define GB_MUL _mm512_mul_ps
#define GB_ADD _mm512_add_ps
#define GB_MIN _mm512_min_ps
#define GB_MAX _mm512_max_ps
#define GB_HSUM _mm512_reduce_add_ps
#define GB_PREFETCH_B 1024
#define GB_PREFETCH_C 0
#define GB_UNROLL
