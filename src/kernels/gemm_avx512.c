/* gemm_avx512.c - the float GEMM body (gemm_body.h) on 16-float zmm vectors: a 12 x 32 micro-kernel (24
 * accumulators), mask registers for partial rows, B prefetched 4 KiB (32 k-steps) ahead of its loads: pre-packed
 * weights arrive from memory on the first pass over each B block, and 1 KiB ahead left BERT's 128-row products
 * 4-7% slower (cold weights, Xeon SPR class). */
#include "gemm.h"
#include <immintrin.h>

/* In-register transpose of 16 rows of 16 floats: r[i] lane j becomes r[j] lane i. */
static inline void gb_transpose(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  /* r[4q + s] holds rows 4q..4q+3 of columns {s, s+4, s+8, s+12} in its four 128-bit lanes */
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);      /* lanes 0,2 of each: column groups 0, 2 */
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);  /* lanes 1,3 */
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);           /* column i */
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);       /* column i + 8 */
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);  /* column i + 4 */
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD); /* column i + 12 */
  }
}

#define GB_UKERNEL oxrt_sgemm_ukernel_avx512
#define GB_PACK oxrt_sgemm_pack_avx512
#define GB_GEMV_T oxrt_sgemv_t_avx512
#define GB_GEMV_N oxrt_sgemv_n_avx512
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
#include "gemm_body.h"
