/* gemm_avx512bf16.c - the bfloat16 GEMM micro-kernel and its packing (AVX512_BF16: VDPBF16PS).
 *
 * A bfloat16 product is the float one over K/2 "units": each 32-bit unit of a packed panel holds the two bfloat16
 * values of k-steps 2u and 2u+1, and VDPBF16PS multiplies a unit of A (broadcast) by 16 units of B and adds both
 * products to a float32 sum. So the micro-kernel is gemm_body.h's, with the k-step's FMA replaced by the pair dot
 * product and K counted in units; C, bias, residual and the clamp stay float32. Packing converts float32 to
 * bfloat16 with round-to-nearest-even (VCVTNE2PS2BF16), as a Cast does; a missing odd k-step (odd K) is zero.
 * VDPBF16PS adds the product of a unit's high half first, so k-step 2u goes in the high half and 2u+1 in the low
 * one (as oxrt_nchwc_to_bf16 swaps channel pairs): each sum then runs over k in the float kernel's order, and
 * products of bfloat16 values are exact in float32, so the result is the float GEMM's on rounded inputs (the bf16
 * emulation) bit for bit where both block K alike (gemm.c) and the tile has more than two rows. */
#include "gemm.h"
#include <immintrin.h>

#include "transpose_avx512.h"

#define GB_KERNEL_ONLY
#define GB_EXPORT
#define GB_UKERNEL oxrt_sgemm_ukernel_avx512bf16
#define GB_KFMA(a, b, c) _mm512_dpbf16_ps(c, (__m512bh)(a), (__m512bh)(b))
#include "gemm_zmm.h"
#include "gemm_body.h"

static inline __mmask16 lanes(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* 32 floats (lo: k-steps 0..15, hi: 16..31 of one row) as 16 units of bfloat16 pairs, each pair swapped. */
static inline __m512 units_of_row(__m512 lo, __m512 hi) {
  return (__m512)_mm512_rol_epi32((__m512i)_mm512_cvtne2ps_pbh(hi, lo), 16);
}

/* dst unit [u*width + r] = (src(r, 2u+1) low, src(r, 2u) high) in bfloat16 for u < ceil(kc/2), r < rows; zero for
 * rows <= r < width and for the k-step kc when kc is odd. src(r, k) as in oxrt_sgemm_packer's contract. */
void oxrt_sgemm_pack_avx512bf16(bool contiguous, const float *src, size_t ld, size_t rows, size_t width, size_t kc,
                                float *dst) {
  const size_t ku = (kc + 1) / 2;
  if (contiguous) { /* rows of src are k-steps: interleave two of them lane by lane */
    __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                          21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (size_t u = 0; u < ku; u++, dst += width) {
      const float *s0 = src + 2 * u * ld, *s1 = 2 * u + 1 < kc ? s0 + ld : NULL;
      for (size_t r = 0; r < width; r += 16) {
        __mmask16 m = r < rows ? lanes(rows - r) : 0;
        __m512 v0 = _mm512_maskz_loadu_ps(m, s0 + r), v1 = s1 ? _mm512_maskz_loadu_ps(m, s1 + r) : _mm512_setzero_ps();
        __m512i p = (__m512i)_mm512_cvtne2ps_pbh(v0, v1); /* v1's 16 values, then v0's */
        _mm512_mask_storeu_ps(dst + r, lanes(width - r), (__m512)_mm512_permutexvar_epi16(interleave, p));
      }
    }
    return;
  }
  /* rows of src run along k: 32 k-steps of 16 rows become 16 rows of 16 units, transposed in registers */
  for (size_t g = 0; g < width; g += 16) {
    const __mmask16 wm = lanes(width - g);
    for (size_t k = 0; k < kc; k += 32) {
      size_t kn = kc - k < 32 ? kc - k : 32, un = (kn + 1) / 2;
      const __mmask16 m0 = lanes(kn), m1 = kn > 16 ? lanes(kn - 16) : 0;
      __m512 r[16];
      for (size_t i = 0; i < 16; i++) {
        if (g + i >= rows) {
          r[i] = _mm512_setzero_ps();
          continue;
        }
        const float *s = src + (g + i) * ld + k;
        r[i] = units_of_row(_mm512_maskz_loadu_ps(m0, s), _mm512_maskz_loadu_ps(m1, s + 16));
      }
      oxrt_transpose16_ps(r);
      for (size_t j = 0; j < un; j++) _mm512_mask_storeu_ps(dst + (k / 2 + j) * width + g, wm, r[j]);
    }
  }
}
