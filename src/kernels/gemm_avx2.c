/* gemm_avx2.c - AVX2+FMA sgemm micro-kernel (6 rows x 16 columns, 12 ymm accumulators) and panel packing.
 *
 * As in gemm_avx512.c: one body instantiated for 1..6 rows, columns past n masked in every C access, B read with
 * a stride of ldb floats per k (16 for packed panels, the matrix's row stride for small-M products in place). */
#include "gemm.h"
#include <immintrin.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DECL(i) __m256 c##i##a = _mm256_setzero_ps(), c##i##b = _mm256_setzero_ps();
#define PREC(i)                                                                                                        \
  if ((i) < MR)                                                                                                        \
    _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0),                                                          \
    _mm_prefetch((const char *)(c + (i) * ldc + 15), _MM_HINT_T0);
#define STEP(i)                                                                                                        \
  if ((i) < MR) {                                                                                                      \
    __m256 av = _mm256_broadcast_ss(a + (i));                                                                          \
    c##i##a = _mm256_fmadd_ps(av, b0, c##i##a);                                                                        \
    c##i##b = _mm256_fmadd_ps(av, b1, c##i##b);                                                                        \
  }
/* C (and Z) rows: plain loads and stores for full tiles, masked ones for the last columns */
#define LD(p, h) (full ? _mm256_loadu_ps((p) + (h)) : _mm256_maskload_ps((p) + (h), (h) ? k1 : k0))
#define ST(p, h, v)                                                                                                    \
  if (full) _mm256_storeu_ps((p) + (h), v);                                                                            \
  else _mm256_maskstore_ps((p) + (h), (h) ? k1 : k0, v);
#define FIN0(i)                                                                                                        \
  if ((i) < MR) c##i##a = _mm256_mul_ps(va, c##i##a), c##i##b = _mm256_mul_ps(va, c##i##b);
#define FIN1(i)                                                                                                        \
  if ((i) < MR)                                                                                                        \
    c##i##a = _mm256_add_ps(LD(c + (i) * ldc, 0), c##i##a), c##i##b = _mm256_add_ps(LD(c + (i) * ldc, 8), c##i##b);
#define FINB(i)                                                                                                        \
  if ((i) < MR) {                                                                                                      \
    c##i##a = _mm256_fmadd_ps(vb, LD(c + (i) * ldc, 0), _mm256_mul_ps(va, c##i##a));                                   \
    c##i##b = _mm256_fmadd_ps(vb, LD(c + (i) * ldc, 8), _mm256_mul_ps(va, c##i##b));                                   \
  }
#define BIAS(i)                                                                                                        \
  if ((i) < MR) {                                                                                                      \
    __m256 bv = _mm256_broadcast_ss(bias + (i));                                                                       \
    c##i##a = _mm256_add_ps(c##i##a, bv), c##i##b = _mm256_add_ps(c##i##b, bv);                                        \
  }
#define ADDZ(i)                                                                                                        \
  if ((i) < MR)                                                                                                        \
    c##i##a = _mm256_add_ps(c##i##a, LD(z + (i) * ldz, 0)), c##i##b = _mm256_add_ps(c##i##b, LD(z + (i) * ldz, 8));
/* max(lo, v) and min(hi, v) return their second operand v for NaN. */
#define CLAMP(i)                                                                                                       \
  if ((i) < MR)                                                                                                        \
    c##i##a = _mm256_min_ps(vhi, _mm256_max_ps(vlo, c##i##a)),                                                         \
    c##i##b = _mm256_min_ps(vhi, _mm256_max_ps(vlo, c##i##b));
#define STOREV(i)                                                                                                      \
  if ((i) < MR) {                                                                                                      \
    ST(c + (i) * ldc, 0, c##i##a)                                                                                      \
    ST(c + (i) * ldc, 8, c##i##b)                                                                                      \
  }

static inline __m256i lane_mask(size_t n) { /* lanes below n set */
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __attribute__((always_inline)) void ukernel(const int MR, size_t kc, const float *a, const float *b,
                                                          size_t ldb, float *c, size_t ldc, float alpha, float beta,
                                                          const oxrt_sgemm_epi *epi, size_t n) {
  const bool full = n >= 16;
  const __m256i k0 = lane_mask(n), k1 = lane_mask(n > 8 ? n - 8 : 0);
  ROWS(DECL)
  ROWS(PREC) /* the C tile is read or written at the end: start fetching it now */
  if (ldb == 16 || full) {
#pragma GCC unroll 4
    for (size_t k = 0; k < kc; k++) {
      __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
      ROWS(STEP)
      a += MR;
      b += ldb;
    }
  } else { /* B in place: its rows may end at column n */
    for (size_t k = 0; k < kc; k++) {
      __m256 b0 = _mm256_maskload_ps(b, k0), b1 = _mm256_maskload_ps(b + 8, k1);
      ROWS(STEP)
      a += MR;
      b += ldb;
    }
  }
  __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (beta == 0) {
    ROWS(FIN0)
  } else if (alpha == 1 && beta == 1) {
    ROWS(FIN1)
  } else {
    ROWS(FINB)
  }
  if (epi) {
    const float *bias = epi->bias, *z = epi->z;
    size_t ldz = epi->ldz;
    if (bias) {
      ROWS(BIAS)
    }
    if (z) {
      ROWS(ADDZ)
    }
    if (epi->clamp) {
      __m256 vlo = _mm256_set1_ps(epi->lo), vhi = _mm256_set1_ps(epi->hi);
      ROWS(CLAMP)
    }
  }
  ROWS(STOREV)
}

#define INST(m)                                                                                                        \
  static void ukernel_##m(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc, float alpha,   \
                          float beta, const oxrt_sgemm_epi *epi, size_t n) {                                           \
    ukernel(m, kc, a, b, ldb, c, ldc, alpha, beta, epi, n);                                                            \
  }
INST(1) INST(2) INST(3) INST(4) INST(5) INST(6)
typedef void (*kern_fn)(size_t, const float *, const float *, size_t, float *, size_t, float, float,
                        const oxrt_sgemm_epi *, size_t);
static const kern_fn kernels[7] = {NULL, ukernel_1, ukernel_2, ukernel_3, ukernel_4, ukernel_5, ukernel_6};

void oxrt_sgemm_ukernel_avx2(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc, float alpha,
                             float beta, const oxrt_sgemm_epi *epi, size_t m, size_t n) {
  kernels[m](kc, a, b, ldb, c, ldc, alpha, beta, epi, n);
}

/* ------------------------------------------------------------------ packing */

/* In-register transpose of 8 rows of 8 floats. */
static inline void transpose8(__m256 r[8]) {
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

/* Same contract as oxrt_sgemm_pack_avx512 (width <= 16). */
void oxrt_sgemm_pack_avx2(bool contiguous, const float *src, size_t ld, size_t rows, size_t width, size_t kc,
                          float *dst) {
  if (contiguous) {
    if (rows == width && width == 16) {
      for (size_t k = 0; k < kc; k++, src += ld, dst += 16)
        _mm256_storeu_ps(dst, _mm256_loadu_ps(src)), _mm256_storeu_ps(dst + 8, _mm256_loadu_ps(src + 8));
      return;
    }
    for (size_t k = 0; k < kc; k++, src += ld, dst += width) {
      size_t r = 0;
      for (; r < rows; r++) dst[r] = src[r];
      for (; r < width; r++) dst[r] = 0;
    }
    return;
  }
  for (size_t g = 0; g < width; g += 8) { /* groups of 8 rows, transposed in 8 x 8 blocks */
    size_t gw = width - g < 8 ? width - g : 8;
    __m256i wm = lane_mask(gw);
    for (size_t k = 0; k < kc; k += 8) {
      size_t kn = kc - k < 8 ? kc - k : 8;
      __m256i km = lane_mask(kn);
      __m256 r[8];
      for (size_t i = 0; i < 8; i++)
        r[i] = g + i >= rows ? _mm256_setzero_ps()
               : kn == 8     ? _mm256_loadu_ps(src + (g + i) * ld + k)
                             : _mm256_maskload_ps(src + (g + i) * ld + k, km);
      transpose8(r);
      for (size_t j = 0; j < kn; j++) {
        if (gw == 8) _mm256_storeu_ps(dst + (k + j) * width + g, r[j]);
        else _mm256_maskstore_ps(dst + (k + j) * width + g, wm, r[j]);
      }
    }
  }
}

/* ------------------------------------------------------------------ matrix-vector */

static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* Four rows at a time with two accumulators each; the K tail in scalar code. */
void oxrt_sgemv_t_avx2(size_t K, const float *a, const float *B, size_t ldb, size_t N, float *y) {
  size_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const float *b0 = B + n * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    size_t k = 0;
    for (; k + 16 <= K; k += 16) {
      __m256 a0 = _mm256_loadu_ps(a + k), a1 = _mm256_loadu_ps(a + k + 8);
      s0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b0 + k), s0);
      s1 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b1 + k), s1);
      s2 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b2 + k), s2);
      s3 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b3 + k), s3);
      t0 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b0 + k + 8), t0);
      t1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b1 + k + 8), t1);
      t2 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b2 + k + 8), t2);
      t3 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b3 + k + 8), t3);
    }
    float r0 = hsum256(_mm256_add_ps(s0, t0)), r1 = hsum256(_mm256_add_ps(s1, t1));
    float r2 = hsum256(_mm256_add_ps(s2, t2)), r3 = hsum256(_mm256_add_ps(s3, t3));
    for (; k < K; k++) {
      r0 += a[k] * b0[k];
      r1 += a[k] * b1[k];
      r2 += a[k] * b2[k];
      r3 += a[k] * b3[k];
    }
    y[n] = r0, y[n + 1] = r1, y[n + 2] = r2, y[n + 3] = r3;
  }
  for (; n < N; n++) {
    const float *b0 = B + n * ldb;
    __m256 s0 = _mm256_setzero_ps(), t0 = s0;
    size_t k = 0;
    for (; k + 16 <= K; k += 16) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b0 + k), s0);
      t0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b0 + k + 8), t0);
    }
    float r = hsum256(_mm256_add_ps(s0, t0));
    for (; k < K; k++) r += a[k] * b0[k];
    y[n] = r;
  }
}

/* Blocks of 32 columns (four accumulators) walk all of K; the column tail in scalar code. */
void oxrt_sgemv_n_avx2(size_t K, const float *a, const float *B, size_t ldb, size_t N, float *y) {
  size_t n = 0;
  for (; n + 32 <= N; n += 32) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float *b = B + n;
    for (size_t k = 0; k < K; k++, b += ldb) {
      __m256 av = _mm256_broadcast_ss(a + k);
      s0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b), s0);
      s1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + 8), s1);
      s2 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + 16), s2);
      s3 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + 24), s3);
    }
    _mm256_storeu_ps(y + n, s0);
    _mm256_storeu_ps(y + n + 8, s1);
    _mm256_storeu_ps(y + n + 16, s2);
    _mm256_storeu_ps(y + n + 24, s3);
  }
  for (; n + 8 <= N; n += 8) {
    __m256 s0 = _mm256_setzero_ps();
    const float *b = B + n;
    for (size_t k = 0; k < K; k++, b += ldb) s0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k), _mm256_loadu_ps(b), s0);
    _mm256_storeu_ps(y + n, s0);
  }
  for (; n < N; n++) {
    float r = 0;
    for (size_t k = 0; k < K; k++) r += a[k] * B[k * ldb + n];
    y[n] = r;
  }
}
