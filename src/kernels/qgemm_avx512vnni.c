/* qgemm_avx512vnni.c - AVX-512 VNNI byte micro-kernels of the 8-bit GEMM: 12 rows x 32 columns, k in fours.
 * VPDPBUSD adds four u8*s8 products to int32 without saturating. Two variants: A packed as uint8 and B as int8
 * (activations times weights: MatMul), and B uint8 with A int8 (weights times activations: convolution, whose
 * uint8 input and int8 weights then need no re-centring and no column sums). Each also as _r4 / _r8: the first 4 / 8
 * rows of a 12-row A panel, for the last, short panel (64 rows are 5 panels and 4 rows, not 6 panels). */
#include "qgemm.h"
#define QK_BITS 512
#include "qgemm_x86_vec.h"

#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define QK_MR 12
#define QK_ET uint8_t
#define QK_G 4

#define QK_NAME oxrt_qukernel_avx512vnni
#define QK_MAC(c, a, b) _mm512_dpbusd_epi32((c), (a), (b))
#include "qgemm_body.h"
#undef QK_NAME
#define QK_NAME oxrt_qukernel_avx512vnni_pf
#define QK_PF 1
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_MAC

#define QK_ROWS4(X) X(0) X(1) X(2) X(3)
#define QK_ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
/* the A-uint8 variant's short-panel kernels */
#undef QK_ROWS
#undef QK_MR
#define QK_MAC(c, a, b) _mm512_dpbusd_epi32((c), (a), (b))
#define QK_NAME oxrt_qukernel_avx512vnni_r4
#define QK_ROWS QK_ROWS4
#define QK_MR 4
#define QK_ASTRIDE 12
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#define QK_NAME oxrt_qukernel_avx512vnni_r8
#define QK_ROWS QK_ROWS8
#define QK_MR 8
#define QK_ASTRIDE 12
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#undef QK_MAC

/* B unsigned (convolution) */
#define QK_MAC(c, a, b) _mm512_dpbusd_epi32((c), (b), (a))
#define QK_NAME oxrt_qukernel_avx512vnni_b
#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define QK_MR 12
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#define QK_NAME oxrt_qukernel_avx512vnni_b_r4
#define QK_ROWS QK_ROWS4
#define QK_MR 4
#define QK_ASTRIDE 12
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#define QK_NAME oxrt_qukernel_avx512vnni_b_r8
#define QK_ROWS QK_ROWS8
#define QK_MR 8
#define QK_ASTRIDE 12
#include "qgemm_body.h"

/* B unsigned with the requantizing epilogue (the last K block of an 8-bit output whose per-row constant and scale
 * are known, see oxrt_qepi): the output stage's fast-path operations in registers, bytes stored. */
#define QE_DECL(i)                                                                                                     \
  __m512i c##i##a = acc ? _mm512_loadu_si512((const void *)(c + (i) * ldc)) : _mm512_setzero_si512();               \
  __m512i c##i##b = acc ? _mm512_loadu_si512((const void *)(c + (i) * ldc + 16)) : _mm512_setzero_si512();
/* Row i's 4-byte group of A broadcast (av) into both halves' sums; U0/S0 and U1/S1 name the unsigned and signed
 * operands, so one macro serves B unsigned (b0, av) and A unsigned (av, b0). */
#define QV_MAC(i, U0, S0, U1, S1)                                                                                      \
  {                                                                                                                    \
    int32_t grp;                                                                                                       \
    memcpy(&grp, a + 4 * (i), 4);                                                                                      \
    __m512i av = _mm512_set1_epi32(grp);                                                                               \
    c##i##a = _mm512_dpbusd_epi32(c##i##a, U0, S0);                                                                    \
    c##i##b = _mm512_dpbusd_epi32(c##i##b, U1, S1);                                                                    \
  }
#define QE_STEP(i) QV_MAC(i, b0, av, b1, av)
/* The output stage's fast path: (v + add) * scale clamped to [lo, hi], rounded, plus the zero point, as bytes. */
#define QV_REQ(v, add, sc)                                                                                             \
  _mm512_cvtepi32_epi8(_mm512_add_epi32(                                                                               \
      _mm512_cvtps_epi32(_mm512_min_ps(                                                                                \
          _mm512_max_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32((v), (add))), (sc)), lo), hi)),             \
      zp))
#define QE_ROW1(v, i) QV_REQ(v, _mm512_set1_epi32(e->radd[i]), _mm512_set1_ps(e->scale[i]))
#define QE_STOREROW(i)                                                                                                 \
  {                                                                                                                    \
    __m128i ya = QE_ROW1(c##i##a, i), yb = QE_ROW1(c##i##b, i);                                                       \
    _mm_mask_storeu_epi8(e->y + (i) * e->ldy, m0, ya);                                                                 \
    _mm_mask_storeu_epi8(e->y + (i) * e->ldy + 16, m1, yb);                                                            \
    if (split) {                                                                                                       \
      _mm_mask_storeu_epi8(e->y2 + (i) * e->ldy, m2, ya);                                                              \
      _mm_mask_storeu_epi8(e->y2 + (i) * e->ldy + 16, m3, yb);                                                         \
    }                                                                                                                  \
  }
#define QE_KERNEL(NAME, ROWS)                                                                                          \
  void NAME(size_t kg, const void *av_, const void *bv_, int32_t *c, size_t ldc, bool acc, const oxrt_qepi *e) {     \
    const uint8_t *a = av_, *b = bv_;                                                                                  \
    ROWS(QE_DECL)                                                                                                      \
    for (size_t kk = 0; kk < kg; kk++) {                                                                               \
      __m512i b0 = _mm512_loadu_si512((const void *)b), b1 = _mm512_loadu_si512((const void *)(b + 64));             \
      ROWS(QE_STEP)                                                                                                    \
      a += 12 * 4;                                                                                                     \
      b += 128;                                                                                                        \
    }                                                                                                                  \
    const __m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi);                                              \
    const __m512i zp = _mm512_set1_epi32(e->zp);                                                                       \
    const __mmask16 m0 = (__mmask16)e->mask0, m1 = (__mmask16)e->mask1;                                                \
    const __mmask16 m2 = (__mmask16)e->mask2, m3 = (__mmask16)e->mask3;                                                \
    const bool split = (e->mask2 | e->mask3) != 0;                                                                     \
    ROWS(QE_STOREROW)                                                                                                  \
  }
#define QE_ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
QE_KERNEL(oxrt_qukernel_avx512vnni_b_q12, QE_ROWS12)
QE_KERNEL(oxrt_qukernel_avx512vnni_b_q8, QK_ROWS8)
QE_KERNEL(oxrt_qukernel_avx512vnni_b_q4, QK_ROWS4)

/* A unsigned (positions as A, weights as B: a convolution's transposed GEMM) with the requantizing epilogue per
 * column (output channel) and the tile stored transposed: C(i, j) at y[j * ldy + i], rows below e->rows only.
 * The same operations as the output stage's per-column path, then a 16 x 16 byte transpose per 16 columns. */
#include "transpose_u8x16.h"
#define QT_STEP(i) QV_MAC(i, av, b0, av, b1)
#define QT_ROW(i) ra[i] = QV_REQ(c##i##a, add0, sc0), rb[i] = QV_REQ(c##i##b, add1, sc1);
#define QT_KERNEL(NAME, ROWS, NR)                                                                                      \
  void NAME(size_t kg, const void *av_, const void *bv_, int32_t *c, size_t ldc, bool acc, const oxrt_qepi_t *e) {   \
    const uint8_t *a = av_, *b = bv_;                                                                                  \
    ROWS(QE_DECL)                                                                                                      \
    for (size_t kk = 0; kk < kg; kk++) {                                                                               \
      if (kk < e->pfn) _mm_prefetch((const char *)(e->pf + kk * 64), _MM_HINT_T1);                                   \
      __m512i b0 = _mm512_loadu_si512((const void *)b), b1 = _mm512_loadu_si512((const void *)(b + 64));             \
      ROWS(QT_STEP)                                                                                                    \
      a += 12 * 4;                                                                                                     \
      b += 128;                                                                                                        \
    }                                                                                                                  \
    const __m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi);                                              \
    const __m512i zp = _mm512_set1_epi32(e->zp);                                                                       \
    const __mmask16 m0 = (__mmask16)e->mask0, m1 = (__mmask16)e->mask1;                                                \
    const __m512i add0 = e->cadd ? _mm512_maskz_loadu_epi32(m0, e->cadd) : _mm512_setzero_si512();                   \
    const __m512i add1 = e->cadd ? _mm512_maskz_loadu_epi32(m1, e->cadd + 16) : _mm512_setzero_si512();              \
    const __m512 sc0 = e->scale_one ? _mm512_set1_ps(e->scale[0]) : _mm512_maskz_loadu_ps(m0, e->scale);             \
    const __m512 sc1 = e->scale_one ? _mm512_set1_ps(e->scale[0]) : _mm512_maskz_loadu_ps(m1, e->scale + 16);        \
    __m128i ra[16], rb[16], t[16];                                                                                     \
    for (int i = NR; i < 16; i++) ra[i] = rb[i] = _mm_setzero_si128();                                                \
    ROWS(QT_ROW)                                                                                                       \
    const __mmask16 rm = (__mmask16)((1u << e->rows) - 1);                                                             \
    oxrt_transpose_u8x16(ra, t);                                                                                       \
    for (unsigned j = 0; j < 16; j++)                                                                                  \
      if (m0 >> j & 1) _mm_mask_storeu_epi8(e->y + j * e->ldy, rm, t[j]);                                              \
    if (!m1) return;                                                                                                   \
    oxrt_transpose_u8x16(rb, t);                                                                                       \
    for (unsigned j = 0; j < 16; j++)                                                                                  \
      if (m1 >> j & 1) _mm_mask_storeu_epi8(e->y + (16 + j) * e->ldy, rm, t[j]);                                       \
  }
QT_KERNEL(oxrt_qukernel_avx512vnni_t12, QE_ROWS12, 12)
QT_KERNEL(oxrt_qukernel_avx512vnni_t8, QK_ROWS8, 8)
QT_KERNEL(oxrt_qukernel_avx512vnni_t4, QK_ROWS4, 4)
