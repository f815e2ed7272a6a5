/* nchwc_conv_avx512bf16.c - the NCHWc convolution row kernel (nchwc_conv_body.h) in bfloat16 (AVX512_BF16): the
 * input as a bfloat16 copy and the weights packed [.., B/2 input-channel pairs, B output channels, 2], so one step
 * multiplies two input channels into float32 sums with VDPBF16PS. Tiles as in nchwc_conv_avx512.c. */
#include "nchwc_conv.h"
#include <immintrin.h>
#include <string.h>

static inline __m512 nc_bcast_pair(const uint16_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v); /* input channels ic and ic + 1 of one pixel: adjacent in the blocked layout */
  return _mm512_castsi512_ps(_mm512_set1_epi32(v));
}

#define NC_ROWS oxrt_nchwc_conv_rows_avx512bf16
#define NC_XT uint16_t
#define NC_ICSTEP 2
#define NC_XSRC(j) ((j)->xh)
#define NC_WSRC(j) ((j)->wh)
#define NC_WLOAD(p) _mm512_castsi512_ps(_mm512_loadu_si512(p))
#define NC_XBCAST(p) nc_bcast_pair(p)
#define NC_DOT(acc, w, x) _mm512_dpbf16_ps(acc, (__m512bh)(w), (__m512bh)(x))
#define NC_BALANCED_TAIL
#include "nchwc_conv_zmm.h"
#include "nchwc_conv_body.h"

/* n floats to bfloat16, round to nearest even (VCVTNE2PS2BF16, as the GEMM's packing converts; its flush of
 * subnormal inputs changes nothing here: VDPBF16PS reads subnormal bfloat16 as zero anyway). */
void oxrt_nchwc_to_bf16(const float *x, uint16_t *xh, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    _mm512_storeu_si512(xh + i, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i)));
  for (; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
    _mm256_mask_storeu_epi16(xh + i, k, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, x + i)));
  }
}

/* rows rows of W blocked pixels (16 floats each) to bfloat16, each row written with pl zero pixels before it and pr
 * after it: a conv over that copy has no column padding left, so every output pixel runs in a full register tile
 * instead of alone at the borders (ResNet-50's 7x7 3x3 layers: 2 of 7 pixels). */
void oxrt_nchwc_to_bf16_rows(const float *x, uint16_t *xh, size_t rows, size_t W, size_t pl, size_t pr) {
  const size_t wp = (W + pl + pr) * 16;
  for (size_t r = 0; r < rows; r++, x += W * 16, xh += wp) {
    memset(xh, 0, pl * 16 * sizeof *xh);
    oxrt_nchwc_to_bf16(x, xh + pl * 16, W * 16);
    memset(xh + (pl + W) * 16, 0, pr * 16 * sizeof *xh);
  }
}
