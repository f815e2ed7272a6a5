/* qgemm_avx2.c - AVX2 int16 micro-kernel of the 8-bit GEMM: 5 rows x 16 columns, k in pairs (6 rows: 12
 * accumulators plus operands and madd temporaries fill all 16 ymm registers and GCC spills). Operands were widened
 * to int16 with their zero points subtracted while packing, so VPMADDWD's pair sums are exact. */
#include "qgemm.h"
#define QK_BITS 256
#include "qgemm_x86_vec.h"

#define QK_NAME oxrt_qukernel_avx2
#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4)
#define QK_MR 5
#define QK_ET int16_t
#define QK_G 2
#define QK_MAC(c, a, b) _mm256_add_epi32((c), _mm256_madd_epi16((a), (b)))
#include "qgemm_body.h"

/* the output stage at this width */
#define QS_NAME(x) oxrt_q##x##_avx2
#define QS_EXPORT
#include "qgemm_store_body.h"

/* A whole B panel of byte rows (rows[k] + off; pack_panel's hot case, see qgemm.c): k-group kk of d holds, for each of the r columns
 * (r a multiple of 32), rows 4kk .. 4kk+3 as the four bytes of one int32, xor flip (rows past kc: zero, not
 * flipped). In-lane unpacks give columns 0-3 / 16-19 and so on per 128-bit lane; lane permutes put them in order. */
void oxrt_qpack_panel_avx2(const uint8_t *const *rows, size_t off, size_t kc, size_t r, uint32_t flip, uint8_t *d) {
  const __m256i z = _mm256_setzero_si256();
  for (size_t k = 0; k < kc; k += 4, d += r * 4) {
    const uint8_t *src[4];
    uint32_t mask = 0;
    for (size_t t = 0; t < 4; t++) {
      src[t] = k + t < kc ? rows[k + t] + off : NULL;
      if (k + t < kc) mask |= 0xffu << (8 * t);
    }
    const __m256i vf = _mm256_set1_epi32((int)(flip & mask));
    for (size_t i = 0; i < r; i += 32) {
      __m256i v[4];
      for (int t = 0; t < 4; t++) v[t] = src[t] ? _mm256_loadu_si256((const __m256i *)(const void *)(src[t] + i)) : z;
      __m256i ab0 = _mm256_unpacklo_epi8(v[0], v[1]), ab1 = _mm256_unpackhi_epi8(v[0], v[1]);
      __m256i cd0 = _mm256_unpacklo_epi8(v[2], v[3]), cd1 = _mm256_unpackhi_epi8(v[2], v[3]);
      __m256i x0 = _mm256_unpacklo_epi16(ab0, cd0), x1 = _mm256_unpackhi_epi16(ab0, cd0); /* 0-3|16-19, 4-7|20-23 */
      __m256i x2 = _mm256_unpacklo_epi16(ab1, cd1), x3 = _mm256_unpackhi_epi16(ab1, cd1); /* 8-11|24-27, 12-15|28-31 */
      __m256i *o = (__m256i *)(void *)(d + i * 4);
      _mm256_storeu_si256(o, _mm256_xor_si256(_mm256_permute2x128_si256(x0, x1, 0x20), vf));
      _mm256_storeu_si256(o + 1, _mm256_xor_si256(_mm256_permute2x128_si256(x2, x3, 0x20), vf));
      _mm256_storeu_si256(o + 2, _mm256_xor_si256(_mm256_permute2x128_si256(x0, x1, 0x31), vf));
      _mm256_storeu_si256(o + 3, _mm256_xor_si256(_mm256_permute2x128_si256(x2, x3, 0x31), vf));
    }
  }
}

/* One A panel of mr <= 16 output positions of a convolution (qgemm_conv.c): position i's byte of k-row k at
 * rows[k][off[i]], the positions within 16 bytes of rows[k][off[0]] (16 bytes readable there), so one load and one
 * byte shuffle gather a k-row; four of them interleave into k-groups, xor flip; k past K zero. */
void oxrt_qpack_positions_avx2(const uint8_t *const *rows, size_t K, const size_t *off, size_t mr, uint32_t flip,
                               uint8_t *d) {
  uint8_t idx[16];
  for (size_t i = 0; i < 16; i++) idx[i] = i < mr ? (uint8_t)(off[i] - off[0]) : 0x80;
  const __m128i sh = _mm_loadu_si128((const __m128i *)(const void *)idx), z = _mm_setzero_si128();
  const size_t o0 = off[0];
  for (size_t k = 0; k < K; k += 4, d += mr * 4) {
    __m128i v[4];
    uint32_t mask = 0;
    for (size_t t = 0; t < 4; t++) {
      v[t] = k + t < K ? _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(rows[k + t] + o0)), sh) : z;
      if (k + t < K) mask |= 0xffu << (8 * t);
    }
    const __m128i vf = _mm_set1_epi32((int)(flip & mask));
    __m128i ab0 = _mm_unpacklo_epi8(v[0], v[1]), ab1 = _mm_unpackhi_epi8(v[0], v[1]);
    __m128i cd0 = _mm_unpacklo_epi8(v[2], v[3]), cd1 = _mm_unpackhi_epi8(v[2], v[3]);
    __m128i x[4] = {_mm_unpacklo_epi16(ab0, cd0), _mm_unpackhi_epi16(ab0, cd0), _mm_unpacklo_epi16(ab1, cd1),
                    _mm_unpackhi_epi16(ab1, cd1)};
    if (mr == 12) {
      for (int q = 0; q < 3; q++) _mm_storeu_si128((__m128i *)(void *)(d + 16 * q), _mm_xor_si128(x[q], vf));
    } else {
      uint8_t tmp[64];
      for (int q = 0; q < 4; q++) _mm_storeu_si128((__m128i *)(void *)(tmp + 16 * q), _mm_xor_si128(x[q], vf));
      memcpy(d, tmp, mr * 4);
    }
  }
}
