/* gemm_avx2.c - the float GEMM body (gemm_body.h) on 8-float ymm vectors with FMA: a 6 x 16 micro-kernel (12
 * accumulators, two B vectors and a broadcast: 15 of the 16 registers), lane masks from a compare for partial
 * rows, the k loop unrolled 4x, the C tile prefetched at entry and B 4 KiB (64 k-steps) ahead, as in
 * gemm_avx512.c. */
#include "gemm.h"
#include <immintrin.h>

/* In-register transpose of 8 rows of 8 floats. */
static inline void gb_transpose(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2)
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]), t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

/* Partial rows are lane counts (0..8), not vector masks: AMD cores run vmaskmovps stores as microcode (Zen 4: the
 * packing of 6-row A panels spent 60% of its time in them, 3136x64x576 at 0.75x OpenBLAS), so the first n lanes are
 * stored with plain 16-, 8- and 4-byte stores. Masked loads stay (a few micro-ops). */
static inline __m256 gb_load_n(const float *p, size_t n) {
  return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}

static inline void gb_store_n(float *p, size_t n, __m256 v) {
  if (n == 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  __m128 x = _mm256_castps256_ps128(v);
  if (n >= 4) _mm_storeu_ps(p, x), x = _mm256_extractf128_ps(v, 1), p += 4, n -= 4;
  if (n >= 2) _mm_storel_pi((__m64 *)p, x), x = _mm_movehl_ps(x, x), p += 2, n -= 2;
  if (n) _mm_store_ss(p, x);
}

static inline float gb_hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

#define GB_UKERNEL oxrt_sgemm_ukernel_avx2
#define GB_PACK oxrt_sgemm_pack_avx2
#define GB_GEMV_T oxrt_sgemv_t_avx2
#define GB_GEMV_N oxrt_sgemv_n_avx2
#define GB_V __m256
#define GB_VW 8
#define GB_MR 6
#define GB_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define GB_KERNELS(X) X(1) X(2) X(3) X(4) X(5) X(6)
#define GB_M size_t
#define GB_MASK(n) ((size_t)(n) < 8 ? (size_t)(n) : (size_t)8)
#define GB_ZERO() _mm256_setzero_ps()
#define GB_BCAST(p) _mm256_broadcast_ss(p)
#define GB_LOAD(p) _mm256_loadu_ps(p)
#define GB_STORE(p, v) _mm256_storeu_ps(p, v)
#define GB_LOAD_M(p, m) gb_load_n(p, m)
#define GB_STORE_M(p, m, v) gb_store_n(p, m, v)
#define GB_STORE_OVERLAP 1
#ifndef GB_COL_TAIL
#define GB_COL_TAIL 2
#endif
#define GB_FMA _mm256_fmadd_ps
#define GB_MUL _mm256_mul_ps
#define GB_ADD _mm256_add_ps
#define GB_MIN _mm256_min_ps
#define GB_MAX _mm256_max_ps
#define GB_HSUM gb_hsum
#define GB_PREFETCH_B 1024
#define GB_PREFETCH_C 1
#define GB_UNROLL _Pragma("GCC unroll 4")
#include "gemm_body.h"
