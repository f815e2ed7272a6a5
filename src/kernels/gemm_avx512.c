/* gemm_avx512.c - AVX-512 sgemm micro-kernel: 12 rows x 32 columns (24 zmm accumulators). */
#include "gemm.h"
#include <immintrin.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
#define STEP(i)                                                                                                        \
  {                                                                                                                    \
    __m512 av = _mm512_set1_ps(a[i]);                                                                                  \
    c##i##a = _mm512_fmadd_ps(av, b0, c##i##a);                                                                        \
    c##i##b = _mm512_fmadd_ps(av, b1, c##i##b);                                                                        \
  }
#define STORE0(i)                                                                                                      \
  _mm512_storeu_ps(c + (i) * ldc, _mm512_mul_ps(va, c##i##a));                                                         \
  _mm512_storeu_ps(c + (i) * ldc + 16, _mm512_mul_ps(va, c##i##b));
#define STOREB(i)                                                                                                      \
  _mm512_storeu_ps(c + (i) * ldc, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + (i) * ldc), _mm512_mul_ps(va, c##i##a)));  \
  _mm512_storeu_ps(c + (i) * ldc + 16,                                                                                 \
                   _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + (i) * ldc + 16), _mm512_mul_ps(va, c##i##b)));
#define STORE1(i)                                                                                                      \
  _mm512_storeu_ps(c + (i) * ldc, _mm512_add_ps(_mm512_loadu_ps(c + (i) * ldc), c##i##a));                             \
  _mm512_storeu_ps(c + (i) * ldc + 16, _mm512_add_ps(_mm512_loadu_ps(c + (i) * ldc + 16), c##i##b));
/* Fused epilogue: finish alpha/beta in the accumulators (same roundings as the stores above), then bias, z, clamp. */
#define FIN0(i) c##i##a = _mm512_mul_ps(va, c##i##a), c##i##b = _mm512_mul_ps(va, c##i##b);
#define FINB(i)                                                                                                        \
  c##i##a = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + (i) * ldc), _mm512_mul_ps(va, c##i##a));                          \
  c##i##b = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + (i) * ldc + 16), _mm512_mul_ps(va, c##i##b));
#define BIAS(i)                                                                                                        \
  {                                                                                                                    \
    __m512 bv = _mm512_set1_ps(bias[i]);                                                                               \
    c##i##a = _mm512_add_ps(c##i##a, bv), c##i##b = _mm512_add_ps(c##i##b, bv);                                        \
  }
#define ADDZ(i)                                                                                                        \
  c##i##a = _mm512_add_ps(c##i##a, _mm512_loadu_ps(z + (i) * ldz)),                                                    \
  c##i##b = _mm512_add_ps(c##i##b, _mm512_loadu_ps(z + (i) * ldz + 16));
/* max(lo, v) and min(hi, v) return their second operand v for NaN. */
#define CLAMP(i)                                                                                                       \
  c##i##a = _mm512_min_ps(vhi, _mm512_max_ps(vlo, c##i##a)), c##i##b = _mm512_min_ps(vhi, _mm512_max_ps(vlo, c##i##b));
#define STOREV(i) _mm512_storeu_ps(c + (i) * ldc, c##i##a), _mm512_storeu_ps(c + (i) * ldc + 16, c##i##b);

void oxrt_sgemm_ukernel_avx512(size_t kc, const float *a, const float *b, float *c, size_t ldc, float alpha,
                               float beta, const oxrt_sgemm_epi *epi) {
  ROWS(DECL)
  for (size_t k = 0; k < kc; k++) {
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    _mm_prefetch((const char *)(b + 256), _MM_HINT_T0);
    ROWS(STEP)
    a += 12;
    b += 32;
  }
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
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
      __m512 vlo = _mm512_set1_ps(epi->lo), vhi = _mm512_set1_ps(epi->hi);
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

static inline __mmask16 tail_mask(size_t n) { return (__mmask16)((1u << n) - 1u); }

/* Four rows at a time with two accumulators each, so eight FMA chains are in flight. */
void oxrt_sgemv_t_avx512(size_t K, const float *a, const float *B, size_t ldb, size_t N, float *y) {
  size_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const float *b0 = B + n * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    size_t k = 0;
    for (; k + 32 <= K; k += 32) {
      __m512 a0 = _mm512_loadu_ps(a + k), a1 = _mm512_loadu_ps(a + k + 16);
      s0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b0 + k), s0);
      s1 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b1 + k), s1);
      s2 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b2 + k), s2);
      s3 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b3 + k), s3);
      t0 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b0 + k + 16), t0);
      t1 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b1 + k + 16), t1);
      t2 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b2 + k + 16), t2);
      t3 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b3 + k + 16), t3);
    }
    for (; k < K; k += 16) {
      __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : tail_mask(K - k);
      __m512 a0 = _mm512_maskz_loadu_ps(m, a + k);
      s0 = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, b0 + k), s0);
      s1 = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, b1 + k), s1);
      s2 = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, b2 + k), s2);
      s3 = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, b3 + k), s3);
    }
    y[n] = _mm512_reduce_add_ps(_mm512_add_ps(s0, t0));
    y[n + 1] = _mm512_reduce_add_ps(_mm512_add_ps(s1, t1));
    y[n + 2] = _mm512_reduce_add_ps(_mm512_add_ps(s2, t2));
    y[n + 3] = _mm512_reduce_add_ps(_mm512_add_ps(s3, t3));
  }
  for (; n < N; n++) {
    const float *b0 = B + n * ldb;
    __m512 s0 = _mm512_setzero_ps(), t0 = s0;
    size_t k = 0;
    for (; k + 32 <= K; k += 32) {
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b0 + k), s0);
      t0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 16), _mm512_loadu_ps(b0 + k + 16), t0);
    }
    for (; k < K; k += 16) {
      __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : tail_mask(K - k);
      s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, b0 + k), s0);
    }
    y[n] = _mm512_reduce_add_ps(_mm512_add_ps(s0, t0));
  }
}

/* Blocks of 64 columns (four accumulators) walk all of K. */
void oxrt_sgemv_n_avx512(size_t K, const float *a, const float *B, size_t ldb, size_t N, float *y) {
  size_t n = 0;
  for (; n + 64 <= N; n += 64) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float *b = B + n;
    for (size_t k = 0; k < K; k++, b += ldb) {
      __m512 av = _mm512_set1_ps(a[k]);
      s0 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b), s0);
      s1 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 16), s1);
      s2 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 32), s2);
      s3 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 48), s3);
    }
    _mm512_storeu_ps(y + n, s0);
    _mm512_storeu_ps(y + n + 16, s1);
    _mm512_storeu_ps(y + n + 32, s2);
    _mm512_storeu_ps(y + n + 48, s3);
  }
  for (; n < N; n += 16) {
    __mmask16 m = N - n >= 16 ? (__mmask16)0xFFFF : tail_mask(N - n);
    __m512 s0 = _mm512_setzero_ps();
    const float *b = B + n;
    for (size_t k = 0; k < K; k++, b += ldb) s0 = _mm512_fmadd_ps(_mm512_set1_ps(a[k]), _mm512_maskz_loadu_ps(m, b), s0);
    _mm512_mask_storeu_ps(y + n, m, s0);
  }
}
