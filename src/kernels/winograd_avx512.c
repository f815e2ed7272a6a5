/* winograd_avx512.c - the F(4x4, 3x3) transforms (winograd_body.h) compiled for AVX-512, with the horizontal
 * passes on 16 tiles per vector: the stride-4 tile columns of a row are gathered (and the output interleaved
 * back) by two-source permutes instead of scalar loads and stores. */
#include "winograd.h"
#include <immintrin.h>
#include <stdint.h>

/* Column k of 16 consecutive 4-float tiles starting at p (reads p[0 .. 63]). */
static inline __m512 wino_col(__m512 a0, __m512 a1, __m512 a2, __m512 a3, int k) {
  const __m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28),
                                       _mm512_set1_epi32(k));
  return _mm512_shuffle_f32x4(_mm512_permutex2var_ps(a0, idx, a1), _mm512_permutex2var_ps(a2, idx, a3), 0x44);
}

static inline int64_t wino_hin16(const float *R, int64_t TW, float *v, size_t vstride) {
  int64_t t = 0;
  for (; t < TW; t += 16) { /* R holds 4 * twp + 8 defined floats: whole vectors, stores masked to the tiles */
    const __mmask16 k = TW - t >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (TW - t)) - 1u);
    const float *p = R + 4 * t;
    __m512 a0 = _mm512_loadu_ps(p), a1 = _mm512_loadu_ps(p + 16), a2 = _mm512_loadu_ps(p + 32);
    __m512 a3 = _mm512_loadu_ps(p + 48), s0 = _mm512_loadu_ps(p + 4), s1 = _mm512_loadu_ps(p + 20);
    __m512 s2 = _mm512_loadu_ps(p + 36), s3 = _mm512_loadu_ps(p + 52);
    __m512 d0 = wino_col(a0, a1, a2, a3, 0), d1 = wino_col(a0, a1, a2, a3, 1), d2 = wino_col(a0, a1, a2, a3, 2);
    __m512 d3 = wino_col(a0, a1, a2, a3, 3), d4 = wino_col(s0, s1, s2, s3, 0), d5 = wino_col(s0, s1, s2, s3, 1);
    const __m512 c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5), c2 = _mm512_set1_ps(2);
    __m512 d34 = _mm512_add_ps(d3, d4), d12 = _mm512_add_ps(d1, d2), e12 = _mm512_sub_ps(d1, d2);
    __m512 d24 = _mm512_sub_ps(d4, d2), e13 = _mm512_sub_ps(d1, d3);
    _mm512_mask_storeu_ps(v + t, k, _mm512_fnmadd_ps(c5, d2, _mm512_fmadd_ps(c4, d0, d4)));
    _mm512_mask_storeu_ps(v + vstride + t, k, _mm512_fnmadd_ps(c4, d12, d34));
    _mm512_mask_storeu_ps(v + 2 * vstride + t, k, _mm512_fmadd_ps(c4, e12, _mm512_sub_ps(d4, d3)));
    _mm512_mask_storeu_ps(v + 3 * vstride + t, k, _mm512_fnmadd_ps(c2, e13, d24));
    _mm512_mask_storeu_ps(v + 4 * vstride + t, k, _mm512_fmadd_ps(c2, e13, d24));
    _mm512_mask_storeu_ps(v + 5 * vstride + t, k, _mm512_fnmadd_ps(c5, d3, _mm512_fmadd_ps(c4, d1, d5)));
  }
  return t;
}

static inline int64_t wino_hout16(const float *q, int64_t twp, int64_t TW, float *out, float bias) {
  const __m512i ia = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i ib = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const __m512i i8 = _mm512_set1_epi32(8);
  const __m512 vb = _mm512_set1_ps(bias), c2 = _mm512_set1_ps(2), c4 = _mm512_set1_ps(4), c8 = _mm512_set1_ps(8);
  int64_t t = 0;
  for (; t < TW; t += 16) { /* q rows hold twp floats and out 4 * twp: whole vectors, lanes past TW unused */
    __m512 p0 = _mm512_loadu_ps(q + t), p1 = _mm512_loadu_ps(q + twp + t), p2 = _mm512_loadu_ps(q + 2 * twp + t);
    __m512 p3 = _mm512_loadu_ps(q + 3 * twp + t), p4 = _mm512_loadu_ps(q + 4 * twp + t);
    __m512 p5 = _mm512_loadu_ps(q + 5 * twp + t);
    __m512 a1 = _mm512_add_ps(p1, p2), a2 = _mm512_sub_ps(p1, p2), b1 = _mm512_add_ps(p3, p4);
    __m512 b2 = _mm512_sub_ps(p3, p4);
    __m512 o0 = _mm512_add_ps(_mm512_add_ps(p0, vb), _mm512_add_ps(a1, b1));
    __m512 o1 = _mm512_fmadd_ps(c2, b2, _mm512_add_ps(a2, vb));
    __m512 o2 = _mm512_fmadd_ps(c4, b1, _mm512_add_ps(a1, vb));
    __m512 o3 = _mm512_fmadd_ps(c8, b2, _mm512_add_ps(_mm512_add_ps(a2, p5), vb));
    __m512 x01 = _mm512_permutex2var_ps(o0, ia, o1), x23 = _mm512_permutex2var_ps(o2, ia, o3);
    __m512 x01h = _mm512_permutex2var_ps(o0, _mm512_add_epi32(ia, i8), o1);
    __m512 x23h = _mm512_permutex2var_ps(o2, _mm512_add_epi32(ia, i8), o3);
    float *dst = out + 4 * t;
    _mm512_storeu_ps(dst, _mm512_permutex2var_ps(x01, ib, x23));
    _mm512_storeu_ps(dst + 16, _mm512_permutex2var_ps(x01, _mm512_add_epi32(ib, i8), x23));
    _mm512_storeu_ps(dst + 32, _mm512_permutex2var_ps(x01h, ib, x23h));
    _mm512_storeu_ps(dst + 48, _mm512_permutex2var_ps(x01h, _mm512_add_epi32(ib, i8), x23h));
  }
  return t;
}

#define WINO_HIN(R, TW, v, vstride) wino_hin16(R, TW, v, vstride)
#define WINO_HOUT(q, twp, TW, out, bias) wino_hout16(q, twp, TW, out, bias)
#define WINO_SFX avx512
#include "winograd_body.h"
