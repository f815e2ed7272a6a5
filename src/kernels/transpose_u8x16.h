/* transpose_u8x16.h - a 16 x 16 byte transpose in SSE2 registers (byte / word / dword / qword unpacks), shared by
 * the 8-bit convolution's output transpose (qgemm_conv.c) and the channels-last 8-bit depthwise kernel
 * (qdwconv_avx512vnni.c). Include where SSE2 is available. */
#ifndef OXRT_KERNELS_TRANSPOSE_U8X16_H
#define OXRT_KERNELS_TRANSPOSE_U8X16_H
#include <emmintrin.h>

/* out[q] = byte q of each in[i] (out may not alias in) */
static inline void oxrt_transpose_u8x16(const __m128i in[16], __m128i out[16]) {
  __m128i a[16], b[16];
  for (int i = 0; i < 8; i++)
    b[i] = _mm_unpacklo_epi8(in[2 * i], in[2 * i + 1]), b[i + 8] = _mm_unpackhi_epi8(in[2 * i], in[2 * i + 1]);
  for (int h = 0; h < 2; h++)
    for (int i = 0; i < 4; i++)
      a[h * 8 + i] = _mm_unpacklo_epi16(b[h * 8 + 2 * i], b[h * 8 + 2 * i + 1]),
                a[h * 8 + i + 4] = _mm_unpackhi_epi16(b[h * 8 + 2 * i], b[h * 8 + 2 * i + 1]);
  for (int h = 0; h < 4; h++)
    for (int i = 0; i < 2; i++)
      b[h * 4 + i] = _mm_unpacklo_epi32(a[h * 4 + 2 * i], a[h * 4 + 2 * i + 1]),
                b[h * 4 + i + 2] = _mm_unpackhi_epi32(a[h * 4 + 2 * i], a[h * 4 + 2 * i + 1]);
  for (int h = 0; h < 8; h++)
    out[h * 2] = _mm_unpacklo_epi64(b[h * 2], b[h * 2 + 1]), out[h * 2 + 1] = _mm_unpackhi_epi64(b[h * 2], b[h * 2 + 1]);
}

#endif
