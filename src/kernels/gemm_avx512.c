/* gemm_avx512.c - AVX-512 sgemm micro-kernel (12 rows x 32 columns, 24 zmm accumulators) and panel packing.
 *
 * One kernel body, instantiated for 1..12 rows so that edge and small-M tiles (GEMV-like decoding steps, batch-1
 * Gemm) cost what their rows cost and not a full 12-row tile; columns past n are masked off in every C access,
 * so no tile goes through a scratch copy. B is read with a stride of ldb floats per k: 32 for packed panels, the
 * matrix's own row stride when small-M products read B in place. */
#include "gemm.h"
#include <immintrin.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
#define STEP(i)                                                                                                        \
  if ((i) < MR) {                                                                                                      \
    __m512 av = _mm512_set1_ps(a[i]);                                                                                  \
    c##i##a = _mm512_fmadd_ps(av, b0, c##i##a);                                                                        \
    c##i##b = _mm512_fmadd_ps(av, b1, c##i##b);                                                                        \
  }
#define LDC(i, h, m) _mm512_maskz_loadu_ps(m, c + (i) * ldc + (h))
/* alpha, beta: same roundings as a store of alpha*acc + beta*C */
#define FIN0(i)                                                                                                        \
  if ((i) < MR) c##i##a = _mm512_mul_ps(va, c##i##a), c##i##b = _mm512_mul_ps(va, c##i##b);
#define FIN1(i)                                                                                                        \
  if ((i) < MR) c##i##a = _mm512_add_ps(LDC(i, 0, m0), c##i##a), c##i##b = _mm512_add_ps(LDC(i, 16, m1), c##i##b);
#define FINB(i)                                                                                                        \
  if ((i) < MR) {                                                                                                      \
    c##i##a = _mm512_fmadd_ps(vb, LDC(i, 0, m0), _mm512_mul_ps(va, c##i##a));                                          \
    c##i##b = _mm512_fmadd_ps(vb, LDC(i, 16, m1), _mm512_mul_ps(va, c##i##b));                                         \
  }
#define BIAS(i)                                                                                                        \
  if ((i) < MR) {                                                                                                      \
    __m512 bv = _mm512_set1_ps(bias[i]);                                                                               \
    c##i##a = _mm512_add_ps(c##i##a, bv), c##i##b = _mm512_add_ps(c##i##b, bv);                                        \
  }
#define ADDZ(i)                                                                                                        \
  if ((i) < MR)                                                                                                        \
    c##i##a = _mm512_add_ps(c##i##a, _mm512_maskz_loadu_ps(m0, z + (i) * ldz)),                                        \
    c##i##b = _mm512_add_ps(c##i##b, _mm512_maskz_loadu_ps(m1, z + (i) * ldz + 16));
/* max(lo, v) and min(hi, v) return their second operand v for NaN. */
#define CLAMP(i)                                                                                                       \
  if ((i) < MR)                                                                                                        \
    c##i##a = _mm512_min_ps(vhi, _mm512_max_ps(vlo, c##i##a)),                                                         \
    c##i##b = _mm512_min_ps(vhi, _mm512_max_ps(vlo, c##i##b));
#define STOREV(i)                                                                                                      \
  if ((i) < MR)                                                                                                        \
    _mm512_mask_storeu_ps(c + (i) * ldc, m0, c##i##a), _mm512_mask_storeu_ps(c + (i) * ldc + 16, m1, c##i##b);

static inline __attribute__((always_inline)) void ukernel(const int MR, size_t kc, const float *a, const float *b,
                                                          size_t ldb, float *c, size_t ldc, float alpha, float beta,
                                                          const oxrt_sgemm_epi *epi, size_t n) {
  const __mmask16 m0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
  const __mmask16 m1 = n >= 32 ? (__mmask16)0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1u) : 0;
  ROWS(DECL)
  if (ldb == 32 && MR <= 2) {
    /* one or two rows: two k-steps in flight on separate sums, or the FMA latency (4 cycles) bounds the loop */
    __m512 d0a = _mm512_setzero_ps(), d0b = d0a, d1a = d0a, d1b = d0a;
    size_t k = 0;
    for (; k + 2 <= kc; k += 2, a += 2 * MR, b += 64) {
      __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), e0 = _mm512_loadu_ps(b + 32),
             e1 = _mm512_loadu_ps(b + 48);
      __m512 x0 = _mm512_set1_ps(a[0]), y0 = _mm512_set1_ps(a[MR]);
      c0a = _mm512_fmadd_ps(x0, b0, c0a), c0b = _mm512_fmadd_ps(x0, b1, c0b);
      d0a = _mm512_fmadd_ps(y0, e0, d0a), d0b = _mm512_fmadd_ps(y0, e1, d0b);
      if (MR == 2) {
        __m512 x1 = _mm512_set1_ps(a[1]), y1 = _mm512_set1_ps(a[MR + 1]);
        c1a = _mm512_fmadd_ps(x1, b0, c1a), c1b = _mm512_fmadd_ps(x1, b1, c1b);
        d1a = _mm512_fmadd_ps(y1, e0, d1a), d1b = _mm512_fmadd_ps(y1, e1, d1b);
      }
    }
    for (; k < kc; k++, a += MR, b += 32) {
      __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
      ROWS(STEP)
    }
    c0a = _mm512_add_ps(c0a, d0a), c0b = _mm512_add_ps(c0b, d0b);
    c1a = _mm512_add_ps(c1a, d1a), c1b = _mm512_add_ps(c1b, d1b);
  } else if (ldb == 32) {
    for (size_t k = 0; k < kc; k++) {
      __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
      _mm_prefetch((const char *)(b + 256), _MM_HINT_T0);
      ROWS(STEP)
      a += MR;
      b += 32;
    }
  } else { /* B in place: its rows may end at column n */
    for (size_t k = 0; k < kc; k++) {
      __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
      ROWS(STEP)
      a += MR;
      b += ldb;
    }
  }
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
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
      __m512 vlo = _mm512_set1_ps(epi->lo), vhi = _mm512_set1_ps(epi->hi);
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
INST(1) INST(2) INST(3) INST(4) INST(5) INST(6) INST(7) INST(8) INST(9) INST(10) INST(11) INST(12)
typedef void (*kern_fn)(size_t, const float *, const float *, size_t, float *, size_t, float, float,
                        const oxrt_sgemm_epi *, size_t);
static const kern_fn kernels[13] = {NULL,        ukernel_1,  ukernel_2,  ukernel_3, ukernel_4,
                                    ukernel_5,   ukernel_6,  ukernel_7,  ukernel_8, ukernel_9,
                                    ukernel_10,  ukernel_11, ukernel_12};

void oxrt_sgemm_ukernel_avx512(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc,
                               float alpha, float beta, const oxrt_sgemm_epi *epi, size_t m, size_t n) {
  kernels[m](kc, a, b, ldb, c, ldc, alpha, beta, epi, n);
}

/* ------------------------------------------------------------------ packing */

/* In-register transpose of 16 rows of 16 floats: r[i] lane j becomes r[j] lane i. */
static inline void transpose16(__m512 r[16]) {
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
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);       /* column i */
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);   /* column i + 8 */
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);  /* column i + 4 */
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD); /* column i + 12 */
  }
}

static inline __mmask16 tail_mask(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* dst[k*width + r] = src(r, k) for k < kc, r < rows, 0 for rows <= r < width (width <= 32), where src(r, k) is
 * src[r*ld + k] (strided: rows of A, or columns of a transposed B) or src[k*ld + r] (contiguous). */
void oxrt_sgemm_pack_avx512(bool contiguous, const float *src, size_t ld, size_t rows, size_t width, size_t kc,
                            float *dst) {
  if (contiguous) {
    __mmask16 w0 = tail_mask(width), w1 = width > 16 ? tail_mask(width - 16) : 0;
    __mmask16 r0 = tail_mask(rows), r1 = rows > 16 ? tail_mask(rows - 16) : 0;
    for (size_t k = 0; k < kc; k++, src += ld, dst += width) {
      _mm512_mask_storeu_ps(dst, w0, _mm512_maskz_loadu_ps(r0, src));
      if (w1) _mm512_mask_storeu_ps(dst + 16, w1, _mm512_maskz_loadu_ps(r1, src + 16));
    }
    return;
  }
  for (size_t g = 0; g < width; g += 16) { /* groups of 16 rows, transposed in 16 x 16 blocks */
    size_t gw = width - g < 16 ? width - g : 16;
    __mmask16 wm = tail_mask(gw);
    for (size_t k = 0; k < kc; k += 16) {
      size_t kn = kc - k < 16 ? kc - k : 16;
      __mmask16 km = tail_mask(kn);
      __m512 r[16];
      for (size_t i = 0; i < 16; i++)
        r[i] = g + i < rows ? _mm512_maskz_loadu_ps(km, src + (g + i) * ld + k) : _mm512_setzero_ps();
      transpose16(r);
      for (size_t j = 0; j < kn; j++) _mm512_mask_storeu_ps(dst + (k + j) * width + g, wm, r[j]);
    }
  }
}

/* ------------------------------------------------------------------ matrix-vector */

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
    for (size_t k = 0; k < K; k++, b += ldb)
      s0 = _mm512_fmadd_ps(_mm512_set1_ps(a[k]), _mm512_maskz_loadu_ps(m, b), s0);
    _mm512_mask_storeu_ps(y + n, m, s0);
  }
}
