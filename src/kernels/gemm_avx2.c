/* gemm_avx2.c - AVX2+FMA sgemm micro-kernel: 6 rows x 16 columns (12 ymm accumulators). */
#include "gemm.h"
#include <immintrin.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DECL(i) __m256 c##i##a = _mm256_setzero_ps(), c##i##b = _mm256_setzero_ps();
#define PREC(i) _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0), _mm_prefetch((const char *)(c + (i) * ldc + 15), _MM_HINT_T0);
#define STEP(i)                                                                                                        \
  {                                                                                                                    \
    __m256 av = _mm256_broadcast_ss(a + (i));                                                                          \
    c##i##a = _mm256_fmadd_ps(av, b0, c##i##a);                                                                        \
    c##i##b = _mm256_fmadd_ps(av, b1, c##i##b);                                                                        \
  }
#define STORE0(i)                                                                                                      \
  _mm256_storeu_ps(c + (i) * ldc, _mm256_mul_ps(va, c##i##a));                                                         \
  _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_mul_ps(va, c##i##b));
#define STOREB(i)                                                                                                      \
  _mm256_storeu_ps(c + (i) * ldc, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + (i) * ldc), _mm256_mul_ps(va, c##i##a)));  \
  _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + (i) * ldc + 8), _mm256_mul_ps(va, c##i##b)));
#define STORE1(i)                                                                                                      \
  _mm256_storeu_ps(c + (i) * ldc, _mm256_add_ps(_mm256_loadu_ps(c + (i) * ldc), c##i##a));                             \
  _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + (i) * ldc + 8), c##i##b));
/* Fused epilogue: finish alpha/beta in the accumulators (same roundings as the stores above), then bias, z, clamp. */
#define FIN0(i) c##i##a = _mm256_mul_ps(va, c##i##a), c##i##b = _mm256_mul_ps(va, c##i##b);
#define FINB(i)                                                                                                        \
  c##i##a = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + (i) * ldc), _mm256_mul_ps(va, c##i##a));                          \
  c##i##b = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + (i) * ldc + 8), _mm256_mul_ps(va, c##i##b));
#define BIAS(i)                                                                                                        \
  {                                                                                                                    \
    __m256 bv = _mm256_broadcast_ss(bias + (i));                                                                       \
    c##i##a = _mm256_add_ps(c##i##a, bv), c##i##b = _mm256_add_ps(c##i##b, bv);                                        \
  }
#define ADDZ(i)                                                                                                        \
  c##i##a = _mm256_add_ps(c##i##a, _mm256_loadu_ps(z + (i) * ldz)),                                                    \
  c##i##b = _mm256_add_ps(c##i##b, _mm256_loadu_ps(z + (i) * ldz + 8));
/* max(lo, v) and min(hi, v) return their second operand v for NaN. */
#define CLAMP(i)                                                                                                       \
  c##i##a = _mm256_min_ps(vhi, _mm256_max_ps(vlo, c##i##a)), c##i##b = _mm256_min_ps(vhi, _mm256_max_ps(vlo, c##i##b));
#define STOREV(i) _mm256_storeu_ps(c + (i) * ldc, c##i##a), _mm256_storeu_ps(c + (i) * ldc + 8, c##i##b);

void oxrt_sgemm_ukernel_avx2(size_t kc, const float *a, const float *b, float *c, size_t ldc, float alpha,
                             float beta, const oxrt_sgemm_epi *epi) {
  ROWS(DECL)
  ROWS(PREC) /* the C tile is read or written at the end: start fetching it now */
#pragma GCC unroll 4
  for (size_t k = 0; k < kc; k++) {
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    ROWS(STEP)
    a += 6;
    b += 16;
  }
  __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (epi) {
    if (beta == 0) {
      ROWS(FIN0)
    } else {
      ROWS(FINB)
    }
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
    ROWS(STOREV)
    return;
  }
  if (beta == 0) {
    ROWS(STORE0)
  } else if (alpha == 1 && beta == 1) {
    ROWS(STORE1)
  } else {
    ROWS(STOREB)
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
