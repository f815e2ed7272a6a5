/* gemm_body.h - the float GEMM micro-kernel, panel packing and matrix-vector kernels, written once for every
 * vector width (included by gemm_avx2.c, gemm_avx512.c and, for GCC/Clang generic vectors, gemm.c's portable
 * path, after they define):
 *   GB_UKERNEL, GB_PACK, GB_GEMV_T, GB_GEMV_N   exported names (contracts in gemm.h)
 *   GB_V, GB_VW          float vector type and its lanes; a micro-panel is NR = 2*GB_VW columns
 *   GB_MR, GB_ROWS(X)    rows per tile, X(0) X(1) ... X(GB_MR-1); GB_KERNELS(X) X(1) ... X(GB_MR)
 *   GB_M, GB_MASK(n)     lane mask type and the mask of lanes below n (n >= GB_VW: all; 0: none)
 *   GB_ZERO(), GB_BCAST(p) (broadcast *p), GB_LOAD(p), GB_STORE(p, v), GB_LOAD_M(p, m) (masked lanes read as 0 and
 *   never touched in memory), GB_STORE_M(p, m, v), GB_FMA(a, b, c) = a*b + c, GB_MUL, GB_ADD, GB_MIN, GB_MAX (the
 *   second operand is returned when either is NaN, as x86 min/max do), GB_HSUM(v) (sum of the lanes)
 *   gb_transpose(GB_V r[GB_VW])  in-register transpose: r[i] lane j becomes r[j] lane i
 *   GB_PREFETCH_B        floats ahead of the packed B loads to prefetch (0: none)
 *   GB_PREFETCH_LINES    (optional, default 1) 64-byte lines prefetched per k-step: 2 where a B row is 128 bytes
 *   GB_PREFETCH_C        1: prefetch the C tile at kernel entry
 *   GB_UNROLL            a _Pragma unrolling the main k loop, or nothing
 *   GB_COL_TAIL          (optional, default 0) tiles of at most this many columns run gb_col_tail (rows along the
 *                        lanes; needs GB_MR <= GB_VW and GB_ADUP 1)
 *   GB_STORE_OVERLAP     (optional, default 0) 1: panels narrower than a vector are packed with full stores that
 *                        run into the next row (rewritten next), where partial stores are slow (AVX2 on AMD)
 * and optionally GB_EXPORT (linkage of the four functions, e.g. static), GB_ADUP (floats per A value in the A
 * micro-panel: 1, or GB_VW when the packing stores each value pre-broadcast) with GB_ABCAST(p) (the A value at p
 * as a vector; default GB_BCAST), GB_KFMA(a, b, c) (the k-step's multiply-add; default GB_FMA: bfloat16 kernels
 * use a dot product of pairs, and then each "float" of a and b is a pair of bfloat16 k-steps), GB_KERNEL_ONLY
 * (define to instantiate the micro-kernel alone, without the packing and matrix-vector functions).
 * One kernel body, instantiated for 1..MR rows so that edge and small-M tiles cost what their rows cost and not a
 * full tile; columns past n are masked in every C and Z access, so no tile goes through a scratch copy. B is read
 * with a stride of ldb floats per k: NR for packed panels, the matrix's own row stride when small-M products read
 * B in place. */
#include "gemm.h"
#include <math.h>

#ifndef GB_EXPORT
#define GB_EXPORT
#endif
#ifndef GB_ADUP
#define GB_ADUP 1
#endif
#ifndef GB_ABCAST
#define GB_ABCAST GB_BCAST
#endif
#ifndef GB_PREFETCH_LINES
#define GB_PREFETCH_LINES 1
#endif
#ifndef GB_STORE_OVERLAP
#define GB_STORE_OVERLAP 0
#endif
#ifndef GB_COL_TAIL
#define GB_COL_TAIL 0
#endif
#ifndef GB_KFMA
#define GB_KFMA GB_FMA
#endif
#define GB_NR (2 * GB_VW)
#define GB_DECL(i) GB_V c##i##a = GB_ZERO(), c##i##b = GB_ZERO();
#define GB_PREC(i)                                                                                                     \
  if ((i) < MR)                                                                                                        \
    _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0),                                                          \
    _mm_prefetch((const char *)(c + (i) * ldc + GB_NR - 1), _MM_HINT_T0);
#define GB_STEP(i)                                                                                                     \
  if ((i) < MR) {                                                                                                      \
    GB_V av = GB_ABCAST(a + GB_ADUP * (i));                                                                            \
    c##i##a = GB_KFMA(av, b0, c##i##a);                                                                                \
    if (!HALF) c##i##b = GB_KFMA(av, b1, c##i##b);                                                                     \
  }
/* C and Z rows: plain loads and stores for full tiles, masked ones for the last columns */
#define GB_LD(p, h) (full ? GB_LOAD((p) + (h)) : GB_LOAD_M((p) + (h), (h) ? k1 : k0))
#define GB_ST(p, h, v)                                                                                                 \
  if (full) GB_STORE((p) + (h), v);                                                                                    \
  else GB_STORE_M((p) + (h), (h) ? k1 : k0, v);
/* alpha, beta: same roundings as a store of alpha*acc + beta*C */
#define GB_FIN0(i)                                                                                                     \
  if ((i) < MR) c##i##a = GB_MUL(va, c##i##a), c##i##b = GB_MUL(va, c##i##b);
#define GB_FIN1(i)                                                                                                     \
  if ((i) < MR)                                                                                                        \
    c##i##a = GB_ADD(GB_LD(c + (i) * ldc, 0), c##i##a), c##i##b = GB_ADD(GB_LD(c + (i) * ldc, GB_VW), c##i##b);
#define GB_FINB(i)                                                                                                     \
  if ((i) < MR) {                                                                                                      \
    c##i##a = GB_FMA(vb, GB_LD(c + (i) * ldc, 0), GB_MUL(va, c##i##a));                                                \
    c##i##b = GB_FMA(vb, GB_LD(c + (i) * ldc, GB_VW), GB_MUL(va, c##i##b));                                            \
  }
#define GB_BIAS(i)                                                                                                     \
  if ((i) < MR) {                                                                                                      \
    GB_V bv = GB_BCAST(bias + (i));                                                                                    \
    c##i##a = GB_ADD(c##i##a, bv), c##i##b = GB_ADD(c##i##b, bv);                                                      \
  }
#define GB_BIASC(i)                                                                                                    \
  if ((i) < MR) c##i##a = GB_ADD(c##i##a, bca), c##i##b = GB_ADD(c##i##b, bcb);
#define GB_ADDZ(i)                                                                                                     \
  if ((i) < MR)                                                                                                        \
    c##i##a = GB_ADD(c##i##a, GB_LD(z + (i) * ldz, 0)), c##i##b = GB_ADD(c##i##b, GB_LD(z + (i) * ldz, GB_VW));
/* max(lo, v) and min(hi, v) return their second operand v for NaN. */
#define GB_CLAMP(i)                                                                                                    \
  if ((i) < MR) c##i##a = GB_MIN(vhi, GB_MAX(vlo, c##i##a)), c##i##b = GB_MIN(vhi, GB_MAX(vlo, c##i##b));
#define GB_STOREV(i)                                                                                                   \
  if ((i) < MR) {                                                                                                      \
    GB_ST(c + (i) * ldc, 0, c##i##a)                                                                                   \
    if (!HALF) {                                                                                                       \
      GB_ST(c + (i) * ldc, GB_VW, c##i##b)                                                                             \
    }                                                                                                                  \
  }

/* HALF: n <= VW, so the second vector of each row is all padding and is neither computed nor stored (N = 49 on
 * AVX2 is panels of 16 + 16 + 16 + 1: the last one at half the cost). */
static inline __attribute__((always_inline)) void gb_ukernel(const int MR, const bool HALF, size_t kc, const float *a,
                                                             const float *b, size_t ldb, float *c, size_t ldc,
                                                             float alpha, float beta, const oxrt_sgemm_epi *epi,
                                                             size_t n) {
  const bool full = n >= GB_NR;
  const GB_M k0 = GB_MASK(n), k1 = GB_MASK(n > GB_VW ? n - GB_VW : 0);
  GB_ROWS(GB_DECL)
#if GB_PREFETCH_C
  GB_ROWS(GB_PREC) /* the C tile is read or written at the end: start fetching it now */
#endif
  if (ldb == GB_NR && MR <= 2) {
    /* one or two rows: two k-steps in flight on separate sums, or the FMA latency bounds the loop */
    GB_V d0a = GB_ZERO(), d0b = d0a, d1a = d0a, d1b = d0a;
    size_t k = 0;
    for (; k + 2 <= kc; k += 2, a += 2 * GB_ADUP * MR, b += 2 * GB_NR) {
      GB_V b0 = GB_LOAD(b), e0 = GB_LOAD(b + GB_NR);
      GB_V b1 = HALF ? b0 : GB_LOAD(b + GB_VW), e1 = HALF ? e0 : GB_LOAD(b + GB_NR + GB_VW);
      GB_V x0 = GB_ABCAST(a), y0 = GB_ABCAST(a + GB_ADUP * MR);
      c0a = GB_KFMA(x0, b0, c0a), d0a = GB_KFMA(y0, e0, d0a);
      if (!HALF) c0b = GB_KFMA(x0, b1, c0b), d0b = GB_KFMA(y0, e1, d0b);
      if (MR == 2) {
        GB_V x1 = GB_ABCAST(a + GB_ADUP), y1 = GB_ABCAST(a + GB_ADUP * (MR + 1));
        c1a = GB_KFMA(x1, b0, c1a), d1a = GB_KFMA(y1, e0, d1a);
        if (!HALF) c1b = GB_KFMA(x1, b1, c1b), d1b = GB_KFMA(y1, e1, d1b);
      }
    }
    for (; k < kc; k++, a += GB_ADUP * MR, b += GB_NR) {
      GB_V b0 = GB_LOAD(b), b1 = HALF ? b0 : GB_LOAD(b + GB_VW);
      GB_ROWS(GB_STEP)
    }
    c0a = GB_ADD(c0a, d0a), c0b = GB_ADD(c0b, d0b);
    if (MR == 2) c1a = GB_ADD(c1a, d1a), c1b = GB_ADD(c1b, d1b);
  } else if (ldb == GB_NR || full) { /* packed panel, or B in place with all NR columns there */
    GB_UNROLL
    for (size_t k = 0; k < kc; k++) {
      GB_V b0 = GB_LOAD(b), b1 = HALF ? b0 : GB_LOAD(b + GB_VW);
#if GB_PREFETCH_B
      _mm_prefetch((const char *)(b + GB_PREFETCH_B), _MM_HINT_T0);
#if GB_PREFETCH_LINES > 1
      _mm_prefetch((const char *)(b + GB_PREFETCH_B + 16), _MM_HINT_T0);
#endif
#endif
      GB_ROWS(GB_STEP)
      a += GB_ADUP * MR;
      b += ldb;
    }
  } else { /* B in place: its rows end at column n */
    for (size_t k = 0; k < kc; k++) {
      GB_V b0 = GB_LOAD_M(b, k0), b1 = HALF ? b0 : GB_LOAD_M(b + GB_VW, k1);
      GB_ROWS(GB_STEP)
      a += GB_ADUP * MR;
      b += ldb;
    }
  }
  GB_V va = GB_BCAST(&alpha), vb = GB_BCAST(&beta);
  if (beta == 0) {
    GB_ROWS(GB_FIN0)
  } else if (alpha == 1 && beta == 1) {
    GB_ROWS(GB_FIN1)
  } else {
    GB_ROWS(GB_FINB)
  }
  if (epi) {
    const float *bias = epi->bias, *z = epi->z;
    size_t ldz = epi->ldz;
    if (bias) {
      GB_ROWS(GB_BIAS)
    }
    if (epi->bias_col) { /* one load per column vector for every row of the tile */
      GB_V bca = GB_LD(epi->bias_col, 0), bcb = HALF ? bca : GB_LD(epi->bias_col, GB_VW);
      GB_ROWS(GB_BIASC)
    }
    if (z) {
      GB_ROWS(GB_ADDZ)
    }
    if (epi->clamp) {
      GB_V vlo = GB_BCAST(&epi->lo), vhi = GB_BCAST(&epi->hi);
      GB_ROWS(GB_CLAMP)
    }
  }
  GB_ROWS(GB_STOREV)
}

#define GB_INST(m)                                                                                                     \
  static void gb_ukernel_##m(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc,              \
                             float alpha, float beta, const oxrt_sgemm_epi *epi, size_t n) {                           \
    gb_ukernel(m, false, kc, a, b, ldb, c, ldc, alpha, beta, epi, n);                                                  \
  }                                                                                                                    \
  static void gb_ukernel_half_##m(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc,         \
                                  float alpha, float beta, const oxrt_sgemm_epi *epi, size_t n) {                      \
    gb_ukernel(m, true, kc, a, b, ldb, c, ldc, alpha, beta, epi, n);                                                   \
  }
GB_KERNELS(GB_INST)
#define GB_ENTRY(m) gb_ukernel_##m,
#define GB_ENTRY_HALF(m) gb_ukernel_half_##m,
typedef void (*gb_kern_fn)(size_t, const float *, const float *, size_t, float *, size_t, float, float,
                           const oxrt_sgemm_epi *, size_t);
static const gb_kern_fn gb_kernels[2][GB_MR + 1] = {{NULL, GB_KERNELS(GB_ENTRY)}, {NULL, GB_KERNELS(GB_ENTRY_HALF)}};

#if GB_COL_TAIL && GB_ADUP == 1
#if GB_MR > GB_VW
#error "GB_COL_TAIL puts the tile's rows along one vector"
#endif
/* A tile of at most GB_COL_TAIL columns (N = 49 at NR 16 ends in one): the tile's m rows along the lanes, one vector
 * per column and four sums over k in flight. The half-width kernel spends m FMAs per k-step on it, bound by the
 * latency of its m sums (Zen 4, AVX2: 18% of 512x49x4608's kernel time for 1 of 49 columns); this spends one. The
 * output pass is the kernel's, on the lanes stored to a small array. */
static void gb_col_tail(size_t m, size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc,
                        float alpha, float beta, const oxrt_sgemm_epi *epi, size_t n) {
  const GB_M rm = GB_MASK(m);
  float t[GB_VW];
  for (size_t j = 0; j < n; j++) {
    GB_V s0 = GB_ZERO(), s1 = s0, s2 = s0, s3 = s0;
    const float *ap = a, *bp = b + j;
    size_t k = 0;
    for (; k + 4 <= kc; k += 4, ap += 4 * m, bp += 4 * ldb) {
      s0 = GB_FMA(GB_LOAD_M(ap, rm), GB_BCAST(bp), s0);
      s1 = GB_FMA(GB_LOAD_M(ap + m, rm), GB_BCAST(bp + ldb), s1);
      s2 = GB_FMA(GB_LOAD_M(ap + 2 * m, rm), GB_BCAST(bp + 2 * ldb), s2);
      s3 = GB_FMA(GB_LOAD_M(ap + 3 * m, rm), GB_BCAST(bp + 3 * ldb), s3);
    }
    for (; k < kc; k++, ap += m, bp += ldb) s0 = GB_FMA(GB_LOAD_M(ap, rm), GB_BCAST(bp), s0);
    GB_STORE(t, GB_ADD(GB_ADD(s0, s1), GB_ADD(s2, s3)));
    for (size_t i = 0; i < m; i++) {
      float v = t[i], *ci = c + i * ldc + j;
      if (beta == 0) v = alpha * v;
      else if (alpha == 1 && beta == 1) v = *ci + v;
      else v = fmaf(beta, *ci, alpha * v);
      if (epi) {
        if (epi->bias) v += epi->bias[i];
        if (epi->bias_col) v += epi->bias_col[j];
        if (epi->z) v += epi->z[i * epi->ldz + j];
        if (epi->clamp) v = v < epi->lo ? epi->lo : v, v = v > epi->hi ? epi->hi : v; /* NaN stays, as in GB_CLAMP */
      }
      *ci = v;
    }
  }
}
#endif

GB_EXPORT void GB_UKERNEL(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc, float alpha,
                          float beta, const oxrt_sgemm_epi *epi, size_t m, size_t n) {
#if GB_COL_TAIL && GB_ADUP == 1
  if (n <= GB_COL_TAIL) {
    gb_col_tail(m, kc, a, b, ldb, c, ldc, alpha, beta, epi, n);
    return;
  }
#endif
  gb_kernels[n <= GB_VW][m](kc, a, b, ldb, c, ldc, alpha, beta, epi, n);
}

#ifndef GB_KERNEL_ONLY
/* ------------------------------------------------------------------ packing */

/* dst[k*width + r] = src(r, k) for k < kc, r < rows, 0 for rows <= r < width (width <= NR), where src(r, k) is
 * src[k*ld + r] (contiguous: rows of B, columns of a transposed A) or src[r*ld + k] (rows of A, columns of a
 * transposed B: transposed in VW x VW blocks in registers). */
GB_EXPORT void GB_PACK(bool contiguous, const float *src, size_t ld, size_t rows, size_t width, size_t kc, float *dst) {
  if (contiguous) {
    if (rows == GB_NR && width == GB_NR) {
      for (size_t k = 0; k < kc; k++, src += ld, dst += GB_NR)
        GB_STORE(dst, GB_LOAD(src)), GB_STORE(dst + GB_VW, GB_LOAD(src + GB_VW));
      return;
    }
    const GB_M w0 = GB_MASK(width), w1 = GB_MASK(width > GB_VW ? width - GB_VW : 0);
    const GB_M r0 = GB_MASK(rows), r1 = GB_MASK(rows > GB_VW ? rows - GB_VW : 0);
#if GB_STORE_OVERLAP
    if (width < GB_VW) { /* each row's full store runs into the next rows, which the next stores rewrite; the rows
                            whose full store would pass the panel's end are stored partially */
      const float *dend = dst + kc * width;
      for (; dst + GB_VW <= dend; src += ld, dst += width) GB_STORE(dst, GB_LOAD_M(src, r0));
      for (; dst < dend; src += ld, dst += width) GB_STORE_M(dst, w0, GB_LOAD_M(src, r0));
      return;
    }
#endif
    for (size_t k = 0; k < kc; k++, src += ld, dst += width) {
      GB_STORE_M(dst, w0, GB_LOAD_M(src, r0));
      if (width > GB_VW) GB_STORE_M(dst + GB_VW, w1, GB_LOAD_M(src + GB_VW, r1));
    }
    return;
  }
  for (size_t g = 0; g < width; g += GB_VW) { /* groups of VW rows, transposed in VW x VW blocks */
    size_t gw = width - g < GB_VW ? width - g : GB_VW;
    const GB_M wm = GB_MASK(gw);
    for (size_t k = 0; k < kc; k += GB_VW) {
      size_t kn = kc - k < GB_VW ? kc - k : GB_VW;
      const GB_M km = GB_MASK(kn);
      GB_V r[GB_VW];
      for (size_t i = 0; i < GB_VW; i++)
        r[i] = g + i >= rows      ? GB_ZERO()
               : kn == GB_VW ? GB_LOAD(src + (g + i) * ld + k)
                             : GB_LOAD_M(src + (g + i) * ld + k, km);
      gb_transpose(r);
#if GB_STORE_OVERLAP
      if (width < GB_VW) { /* one group (A panels of MR < VW rows): full stores overlapping the next row, as above */
        for (size_t j = 0; j < kn; j++) {
          if ((k + j) * width + GB_VW <= kc * width) GB_STORE(dst + (k + j) * width, r[j]);
          else GB_STORE_M(dst + (k + j) * width, wm, r[j]);
        }
        continue;
      }
#endif
      for (size_t j = 0; j < kn; j++) {
        if (gw == GB_VW) GB_STORE(dst + (k + j) * width + g, r[j]);
        else GB_STORE_M(dst + (k + j) * width + g, wm, r[j]);
      }
    }
  }
}

/* ------------------------------------------------------------------ matrix-vector */

/* y[n] = dot(a, B + n*ldb): four rows at a time with two accumulators each, so eight FMA chains are in flight. */
GB_EXPORT void GB_GEMV_T(size_t K, const float *a, const float *B, size_t ldb, size_t N, float *y) {
  size_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const float *b0 = B + n * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
    GB_V s0 = GB_ZERO(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    size_t k = 0;
    for (; k + GB_NR <= K; k += GB_NR) {
      GB_V a0 = GB_LOAD(a + k), a1 = GB_LOAD(a + k + GB_VW);
      s0 = GB_FMA(a0, GB_LOAD(b0 + k), s0);
      s1 = GB_FMA(a0, GB_LOAD(b1 + k), s1);
      s2 = GB_FMA(a0, GB_LOAD(b2 + k), s2);
      s3 = GB_FMA(a0, GB_LOAD(b3 + k), s3);
      t0 = GB_FMA(a1, GB_LOAD(b0 + k + GB_VW), t0);
      t1 = GB_FMA(a1, GB_LOAD(b1 + k + GB_VW), t1);
      t2 = GB_FMA(a1, GB_LOAD(b2 + k + GB_VW), t2);
      t3 = GB_FMA(a1, GB_LOAD(b3 + k + GB_VW), t3);
    }
    for (; k < K; k += GB_VW) {
      const GB_M m = GB_MASK(K - k);
      GB_V a0 = GB_LOAD_M(a + k, m);
      s0 = GB_FMA(a0, GB_LOAD_M(b0 + k, m), s0);
      s1 = GB_FMA(a0, GB_LOAD_M(b1 + k, m), s1);
      s2 = GB_FMA(a0, GB_LOAD_M(b2 + k, m), s2);
      s3 = GB_FMA(a0, GB_LOAD_M(b3 + k, m), s3);
    }
    y[n] = GB_HSUM(GB_ADD(s0, t0));
    y[n + 1] = GB_HSUM(GB_ADD(s1, t1));
    y[n + 2] = GB_HSUM(GB_ADD(s2, t2));
    y[n + 3] = GB_HSUM(GB_ADD(s3, t3));
  }
  for (; n < N; n++) {
    const float *b0 = B + n * ldb;
    GB_V s0 = GB_ZERO(), t0 = s0;
    size_t k = 0;
    for (; k + GB_NR <= K; k += GB_NR) {
      s0 = GB_FMA(GB_LOAD(a + k), GB_LOAD(b0 + k), s0);
      t0 = GB_FMA(GB_LOAD(a + k + GB_VW), GB_LOAD(b0 + k + GB_VW), t0);
    }
    for (; k < K; k += GB_VW) {
      const GB_M m = GB_MASK(K - k);
      s0 = GB_FMA(GB_LOAD_M(a + k, m), GB_LOAD_M(b0 + k, m), s0);
    }
    y[n] = GB_HSUM(GB_ADD(s0, t0));
  }
}

/* y[n] = sum_k a[k] * B[k*ldb + n]: blocks of 4 VW columns (four accumulators) walk all of K. */
GB_EXPORT void GB_GEMV_N(size_t K, const float *a, const float *B, size_t ldb, size_t N, float *y) {
  size_t n = 0;
  for (; n + 4 * GB_VW <= N; n += 4 * GB_VW) {
    GB_V s0 = GB_ZERO(), s1 = s0, s2 = s0, s3 = s0;
    const float *b = B + n;
    for (size_t k = 0; k < K; k++, b += ldb) {
      GB_V av = GB_BCAST(a + k);
      s0 = GB_FMA(av, GB_LOAD(b), s0);
      s1 = GB_FMA(av, GB_LOAD(b + GB_VW), s1);
      s2 = GB_FMA(av, GB_LOAD(b + 2 * GB_VW), s2);
      s3 = GB_FMA(av, GB_LOAD(b + 3 * GB_VW), s3);
    }
    GB_STORE(y + n, s0);
    GB_STORE(y + n + GB_VW, s1);
    GB_STORE(y + n + 2 * GB_VW, s2);
    GB_STORE(y + n + 3 * GB_VW, s3);
  }
  for (; n < N; n += GB_VW) {
    const GB_M m = GB_MASK(N - n);
    GB_V s0 = GB_ZERO();
    const float *b = B + n;
    for (size_t k = 0; k < K; k++, b += ldb) s0 = GB_FMA(GB_BCAST(a + k), GB_LOAD_M(b, m), s0);
    GB_STORE_M(y + n, m, s0);
  }
}

#endif /* GB_KERNEL_ONLY */

#undef GB_NR
#undef GB_DECL
#undef GB_PREC
#undef GB_STEP
#undef GB_LD
#undef GB_ST
#undef GB_FIN0
#undef GB_FIN1
#undef GB_FINB
#undef GB_BIAS
#undef GB_ADDZ
#undef GB_CLAMP
#undef GB_STOREV
#undef GB_INST
#undef GB_ENTRY
#undef GB_ENTRY_HALF
#undef GB_EXPORT
#undef GB_ADUP
#undef GB_ABCAST
#undef GB_KFMA
#undef GB_COL_TAIL
#undef GB_STORE_OVERLAP
