/* qdwconv_plane_avx512.h - the zero-point-padded byte plane of one channel that the AVX-512 8-bit depthwise kernels
 * read (qdwconv_avx512.c, qdwconv_avx512vnni.c; include only from files compiled for AVX-512 BW). */
#ifndef OXRT_KERNELS_QDWCONV_PLANE_AVX512_H
#define OXRT_KERNELS_QDWCONV_PLANE_AVX512_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* plane[0, fill) = zp, then input rows xc [IH, IW] at (pt, pl) of the PH x PW plane, each byte XOR flip (0x80 turns
 * int8 into the uint8 the kernels take), 64 bytes per masked load/store. */
static inline void qdw_fill_plane(uint8_t *plane, size_t fill, uint8_t zp, const uint8_t *xc, size_t IH, size_t IW,
                                  size_t PH, size_t PW, size_t pt, size_t pl, uint8_t flip) {
  memset(plane, zp, fill);
  const __m512i vflip = _mm512_set1_epi8((char)flip);
  for (size_t r = pt; r < PH && r - pt < IH; r++) {
    uint8_t *d = plane + r * PW + pl;
    const uint8_t *src = xc + (r - pt) * IW;
    size_t n = IW < PW - pl ? IW : PW - pl;
    for (size_t t = 0; t < n; t += 64) {
      __mmask64 m = n - t >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (n - t)) - 1);
      _mm512_mask_storeu_epi8(d + t, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + t), vflip));
    }
  }
}

#endif
