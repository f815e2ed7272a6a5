/* qdwconv_avx512.c - 8-bit depthwise convolution read straight from the bytes (AVX-512): one output channel per input
 * channel, stride 1 or 2, no dilation (qdwconv.c sends the rest to the float kernels).
 *
 * Each channel's input goes into a zero-point-padded byte plane (re-centred to uint8 when signed), so every tap of
 * 16 outputs is one unaligned load (stride 2: 32 bytes, whose even bytes widen to the 16 lanes). Products of a byte
 * and a 9-bit weight summed over at most 256 taps stay below 2^24, so float FMAs add them exactly; the zero point
 * leaves as zp * sum(w), a constant per channel. The integer sums then go through the 8-bit GEMM's output stage
 * (oxrt_qgemm_store), as on every other 8-bit path: the same bytes as the float-kernel path. */
#include "qdwconv.h"
#include "scratch.h"
#include "qdwconv_plane_avx512.h"
#include <immintrin.h>
#include <string.h>

typedef struct {
  const oxrt_conv_shape *s;
  const uint8_t *x; /* this image: [C, IH, IW] */
  bool x_signed;
  int32_t zp; /* in the uint8 domain */
  const float *wf; /* [C][taps], w - wzp */
  const int32_t *wsum; /* [C]: sum over taps of w - wzp */
  const oxrt_qgemm_out *o;
  int failed;
} qdw_job;

/* nr output rows x nv vectors of 16 outputs from column ow (prow: the first row's first padded input row; rows
 * rstep input bytes apart), stride sw; nr, nv and sw are constants at every call, so the loops unroll and the
 * nr * nv <= 4 independent sums stay in registers (one sum alone would wait on the FMA latency every tap). */
static inline __attribute__((always_inline)) void qdw_block(const uint8_t *prow, size_t rstep, size_t PW, size_t KH,
                                                            size_t KW, const float *w, size_t ow, const size_t sw,
                                                            const size_t nr, const size_t nv, __m512i vcorr,
                                                            int32_t *srow, size_t OW) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (size_t kh = 0; kh < KH; kh++) {
    for (size_t kw = 0; kw < KW; kw++) {
      const __m512 wv = _mm512_set1_ps(w[kh * KW + kw]);
      for (size_t r = 0; r < nr; r++) {
        const uint8_t *p = prow + r * rstep + kh * PW + ow * sw + kw;
        for (size_t v = 0; v < nv; v++) {
          __m512i xi;
          if (sw == 1) {
            xi = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * v)));
          } else { /* stride 2: the even bytes of 32 */
            __m512i h = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * v)));
            xi = _mm512_and_si512(h, _mm512_set1_epi32(0xffff));
          }
          acc[r * nv + v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(xi), wv, acc[r * nv + v]);
        }
      }
    }
  }
  for (size_t r = 0; r < nr; r++)
    for (size_t v = 0; v < nv; v++) {
      size_t o0 = ow + 16 * v;
      if (o0 >= OW) break;
      __m512i q = _mm512_sub_epi32(_mm512_cvtps_epi32(acc[r * nv + v]), vcorr);
      size_t n = OW - o0 < 16 ? OW - o0 : 16;
      _mm512_mask_storeu_epi32(srow + r * OW + o0, (__mmask16)((1u << n) - 1), q);
    }
}

/* One channel's output plane from its padded input plane, stride sw (a constant at each call). */
static inline __attribute__((always_inline)) void qdw_plane(const uint8_t *plane, size_t PW, size_t KH, size_t KW,
                                                            const float *w, size_t sh, const size_t sw, size_t OH,
                                                            size_t OW, size_t OWv, __m512i vcorr, int32_t *sums) {
  const size_t rstep = sh * PW, ow4 = OWv / 64 * 64;
  for (size_t oh = 0; oh < OH; oh++)
    for (size_t ow = 0; ow < ow4; ow += 64)
      qdw_block(plane + oh * rstep, rstep, PW, KH, KW, w, ow, sw, 1, 4, vcorr, sums + oh * OW, OW);
  for (size_t ow = ow4; ow < OWv; ow += 16) { /* the rest of each row: four rows at a time */
    size_t oh = 0;
    for (; oh + 4 <= OH; oh += 4)
      qdw_block(plane + oh * rstep, rstep, PW, KH, KW, w, ow, sw, 4, 1, vcorr, sums + oh * OW, OW);
    for (; oh < OH; oh++) qdw_block(plane + oh * rstep, rstep, PW, KH, KW, w, ow, sw, 1, 1, vcorr, sums + oh * OW, OW);
  }
}

static void qdw_channels(void *arg, size_t c0, size_t c1) {
  qdw_job *j = arg;
  const oxrt_conv_shape *s = j->s;
  const size_t IH = (size_t)s->in[0], IW = (size_t)s->in[1], OH = (size_t)s->out[0], OW = (size_t)s->out[1];
  const size_t KH = (size_t)s->k[0], KW = (size_t)s->k[1], sh = (size_t)s->stride[0], sw = (size_t)s->stride[1];
  const size_t pt = (size_t)s->pad[0], pl = (size_t)s->pad[1], taps = KH * KW;
  const size_t OWv = (OW + 15) / 16 * 16;                  /* outputs computed per row */
  const size_t PH = (OH - 1) * sh + KH, PW = (OWv - 1) * sw + KW + 32; /* rows read; columns read, with slack */
  uint8_t *plane = oxrt_scratch_get(OXRT_SCRATCH_QCONV_T, PH * PW + OH * OWv * sizeof(int32_t) + 64);
  if (!plane) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  int32_t *sums = (int32_t *)(void *)(plane + (PH * PW + 63) / 64 * 64);
  const uint8_t flip = j->x_signed ? 0x80 : 0;
  for (size_t c = c0; c < c1; c++) {
    qdw_fill_plane(plane, PH * PW, j->zp, j->x + c * IH * IW, IH, IW, PH, PW, pt, pl, flip);
    const float *w = j->wf + c * taps;
    const __m512i vcorr = _mm512_set1_epi32(j->zp * j->wsum[c]);
    if (sw == 1) qdw_plane(plane, PW, KH, KW, w, sh, 1, OH, OW, OWv, vcorr, sums);
    else qdw_plane(plane, PW, KH, KW, w, sh, 2, OH, OW, OWv, vcorr, sums);
    oxrt_qgemm_store(j->o, c, 0, OH * OW, sums);
  }
}

bool oxrt_qdwconv_direct_avx512(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp,
                                const float *wf, const int32_t *wsum, const oxrt_qgemm_out *o, oxrt_threadpool *pool) {
  qdw_job j = {s, x, x_signed, x_signed ? x_zp + 128 : x_zp, wf, wsum, o, 0};
  if (pool && s->C > 1) oxrt_parallel_for(pool, s->C, 1, qdw_channels, &j);
  else qdw_channels(&j, 0, s->C);
  return !j.failed;
}
