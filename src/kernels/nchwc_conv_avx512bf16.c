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
#include "nchwc_conv_zmm.h"
#include "nchwc_conv_body.h"
