/* qgemm_avx512.c - AVX-512BW int16 micro-kernel of the 8-bit GEMM: 12 rows x 32 columns, k in pairs. Operands
 * were widened to int16 with their zero points subtracted while packing, so VPMADDWD's pair sums are exact. */
#include "qgemm.h"
#define QK_BITS 512
#include "qgemm_x86_vec.h"

#define QK_NAME oxrt_qukernel_avx512
#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define QK_MR 12
#define QK_ET int16_t
#define QK_G 2
#define QK_MAC(c, a, b) _mm512_add_epi32((c), _mm512_madd_epi16((a), (b)))
#include "qgemm_body.h"
/* the first 4 / 8 rows of a 12-row A panel (the last, short panel) */
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#define QK_NAME oxrt_qukernel_avx512_r4
#define QK_ROWS(X) X(0) X(1) X(2) X(3)
#define QK_MR 4
#define QK_ASTRIDE 12
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#define QK_NAME oxrt_qukernel_avx512_r8
#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define QK_MR 8
#define QK_ASTRIDE 12
#include "qgemm_body.h"

/* the output stage at this width */
#define QS_NAME(x) oxrt_q##x##_avx512
#define QS_EXPORT
#include "qgemm_store_body.h"

/* B panels of 32 columns from byte rows (see qgemm.h): per k-group, four 64-byte row loads interleave by byte and
 * word unpacks into four 128-bit lanes of groups each (columns 0-3 | 16-19 | 32-35 | 48-51 and so on), and a 4 x 4
 * transpose of lanes puts columns 0-15, 16-31 (one panel), 32-47, 48-63 (the next) in order; an odd last panel
 * through the 256-bit packer. Rows past kc read as zero, not flipped. */
void oxrt_qpack_panels32_avx512(const uint8_t *const *rows, size_t off, size_t kc, size_t panels, uint32_t flip,
                                uint8_t *d, size_t pstride) {
  const __m512i z = _mm512_setzero_si512();
  const size_t pairs = panels / 2;
  for (size_t k = 0; k < kc && pairs; k += 4) {
    const uint8_t *src[4];
    uint32_t mask = 0;
    for (size_t t = 0; t < 4; t++) {
      src[t] = k + t < kc ? rows[k + t] + off : NULL;
      if (k + t < kc) mask |= 0xffu << (8 * t);
    }
    const __m512i vf = _mm512_set1_epi32((int)(flip & mask));
    uint8_t *dk = d + k * 32; /* k-group k / 4 of panel 0: (k / 4) * 128 bytes */
    for (size_t q = 0; q < pairs; q++) {
      __m512i v[4];
      for (int t = 0; t < 4; t++) v[t] = src[t] ? _mm512_loadu_si512((const void *)(src[t] + 64 * q)) : z;
      __m512i ab0 = _mm512_unpacklo_epi8(v[0], v[1]), ab1 = _mm512_unpackhi_epi8(v[0], v[1]);
      __m512i cd0 = _mm512_unpacklo_epi8(v[2], v[3]), cd1 = _mm512_unpackhi_epi8(v[2], v[3]);
      __m512i x0 = _mm512_unpacklo_epi16(ab0, cd0), x1 = _mm512_unpackhi_epi16(ab0, cd0); /* 0-3, 4-7 per lane */
      __m512i x2 = _mm512_unpacklo_epi16(ab1, cd1), x3 = _mm512_unpackhi_epi16(ab1, cd1); /* 8-11, 12-15 */
      __m512i t0 = _mm512_shuffle_i64x2(x0, x1, 0x44), t1 = _mm512_shuffle_i64x2(x2, x3, 0x44); /* lanes 0, 1 */
      __m512i t2 = _mm512_shuffle_i64x2(x0, x1, 0xee), t3 = _mm512_shuffle_i64x2(x2, x3, 0xee); /* lanes 2, 3 */
      uint8_t *p0 = dk + 2 * q * pstride, *p1 = p0 + pstride;
      _mm512_storeu_si512((void *)p0, _mm512_xor_si512(_mm512_shuffle_i64x2(t0, t1, 0x88), vf));
      _mm512_storeu_si512((void *)(p0 + 64), _mm512_xor_si512(_mm512_shuffle_i64x2(t0, t1, 0xdd), vf));
      _mm512_storeu_si512((void *)p1, _mm512_xor_si512(_mm512_shuffle_i64x2(t2, t3, 0x88), vf));
      _mm512_storeu_si512((void *)(p1 + 64), _mm512_xor_si512(_mm512_shuffle_i64x2(t2, t3, 0xdd), vf));
    }
  }
  if (panels & 1) oxrt_qpack_panel_avx2(rows, off + 64 * pairs, kc, 32, flip, d + 2 * pairs * pstride);
}

/* d[c] = s[2c] for c < n: a stride-2 phase row of a convolution's input. VPMOVWB keeps the low (even) byte of each
 * 16-bit word, 32 outputs per 64 bytes read; masked loads never read past s[2n - 2] (the row may end the tensor). */
void oxrt_qstride2_copy_avx512(const uint8_t *s, size_t n, uint8_t *d) {
  size_t c = 0;
  for (; c + 33 <= n; c += 32) /* s[2c + 63] <= s[2n - 2] */
    _mm256_storeu_si256((__m256i *)(void *)(d + c), _mm512_cvtepi16_epi8(_mm512_loadu_si512((const void *)(s + 2 * c))));
  for (; c < n; c += 32) {
    size_t m = n - c < 32 ? n - c : 32, bytes = 2 * m - 1; /* <= 63 */
    __m512i v = _mm512_maskz_loadu_epi8((__mmask64)((1ull << bytes) - 1), s + 2 * c);
    _mm256_mask_storeu_epi8(d + c, (__mmask32)(m == 32 ? 0xffffffffu : (1u << m) - 1), _mm512_cvtepi16_epi8(v));
  }
}
