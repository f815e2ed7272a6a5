/* qdwconv_avx512vnni.c - 8-bit depthwise convolution with VPDPBUSD (AVX-512 VNNI): one output channel per input
 * channel, kernel width <= 3, column stride 1 or 2, no dilation, int8 weights with zero point 0 (qdwconv.c checks).
 *
 * A kernel row of taps is one k-group of four bytes: output j of a row needs input bytes j*sw .. j*sw + 2, so one
 * 64-byte load of the zero-point-padded byte plane, a dword permute (each 128-bit lane gets the 16 bytes its four
 * outputs start in) and a byte shuffle give each output's group, multiplied by the row's weights (fourth weight 0)
 * in one VPDPBUSD: three instructions per kernel row and 16 outputs, in exact int32. The input zero point leaves as
 * zp * sum(w) per channel; the sums go through the 8-bit GEMM's output stage (oxrt_qgemm_store) as on every other
 * 8-bit path, or, for 8-bit outputs without a fused residual, through its fast path's operations in registers. */
#include "qdwconv.h"
#include "scratch.h"
#include "qdwconv_plane_avx512.h"
#include <immintrin.h>
#include <string.h>

typedef struct {
  const oxrt_conv_shape *s;
  const uint8_t *x; /* this image: [C, IH, IW] */
  bool x_signed;
  int32_t zp;       /* in the uint8 domain */
  const int8_t *w;  /* [C][KH][KW] */
  const oxrt_qgemm_out *o;
  int failed;
} qdwv_job;

/* The output stage's 8-bit fast path (qgemm_store_body.h) in registers, the same operations in the same order:
 * for a plane without a fused residual, so the sums need not go through memory. y NULL: sums stored instead. */
typedef struct {
  uint8_t *y; /* this channel's output plane, or NULL */
  const int32_t *sbase; /* the sums plane: output (oh, ow) of y sits at srow - sbase + ... */
  __m512i add, zp;
  __m512 sc, lo, hi;
} qdwv_out;

/* nr output rows x nv vectors of 16 outputs from column ow; nr, nv and sw are constants at every call, so the loops
 * unroll and the nr * nv <= 4 independent sums stay in registers. */
static inline __attribute__((always_inline)) void qdwv_block(const uint8_t *prow, size_t rstep, size_t PW, size_t KH,
                                                             const int32_t *wd, size_t ow, const size_t sw,
                                                             const size_t nr, const size_t nv, __m512i idx,
                                                             __m512i shuf, __m512i vcorr, int32_t *srow, size_t OW,
                                                             const qdwv_out *q) {
  __m512i acc[4] = {vcorr, vcorr, vcorr, vcorr};
  for (size_t kh = 0; kh < KH; kh++) {
    const __m512i wv = _mm512_set1_epi32(wd[kh]);
    for (size_t r = 0; r < nr; r++)
      for (size_t v = 0; v < nv; v++) {
        const uint8_t *p = prow + r * rstep + kh * PW + (ow + 16 * v) * sw;
        __m512i g = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(idx, _mm512_loadu_si512((const void *)p)), shuf);
        acc[r * nv + v] = _mm512_dpbusd_epi32(acc[r * nv + v], g, wv);
      }
  }
  for (size_t r = 0; r < nr; r++)
    for (size_t v = 0; v < nv; v++) {
      size_t o0 = ow + 16 * v;
      if (o0 >= OW) break;
      size_t n = OW - o0 < 16 ? OW - o0 : 16;
      if (q->y) {
        __m512 f = _mm512_cvtepi32_ps(_mm512_add_epi32(acc[r * nv + v], q->add));
        f = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(f, q->sc), q->lo), q->hi);
        __m128i b = _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), q->zp));
        _mm_mask_storeu_epi8(q->y + (size_t)(srow - q->sbase) + r * OW + o0, (__mmask16)((1u << n) - 1), b);
      } else {
        _mm512_mask_storeu_epi32(srow + r * OW + o0, (__mmask16)((1u << n) - 1), acc[r * nv + v]);
      }
    }
}

static inline __attribute__((always_inline)) void qdwv_plane(const uint8_t *plane, size_t PW, size_t KH,
                                                             const int32_t *wd, size_t sh, const size_t sw, size_t OH,
                                                             size_t OW, size_t OWv, __m512i idx, __m512i shuf,
                                                             __m512i vcorr, int32_t *sums, const qdwv_out *q) {
  const size_t rstep = sh * PW, ow4 = OWv / 64 * 64;
  for (size_t oh = 0; oh < OH; oh++)
    for (size_t ow = 0; ow < ow4; ow += 64)
      qdwv_block(plane + oh * rstep, rstep, PW, KH, wd, ow, sw, 1, 4, idx, shuf, vcorr, sums + oh * OW, OW, q);
  for (size_t ow = ow4; ow < OWv; ow += 16) { /* the rest of each row: four rows at a time */
    size_t oh = 0;
    for (; oh + 4 <= OH; oh += 4)
      qdwv_block(plane + oh * rstep, rstep, PW, KH, wd, ow, sw, 4, 1, idx, shuf, vcorr, sums + oh * OW, OW, q);
    for (; oh < OH; oh++)
      qdwv_block(plane + oh * rstep, rstep, PW, KH, wd, ow, sw, 1, 1, idx, shuf, vcorr, sums + oh * OW, OW, q);
  }
}

static void qdwv_channels(void *arg, size_t c0, size_t c1) {
  qdwv_job *j = arg;
  const oxrt_conv_shape *s = j->s;
  const size_t IH = (size_t)s->in[0], IW = (size_t)s->in[1], OH = (size_t)s->out[0], OW = (size_t)s->out[1];
  const size_t KH = (size_t)s->k[0], KW = (size_t)s->k[1], sh = (size_t)s->stride[0], sw = (size_t)s->stride[1];
  const size_t pt = (size_t)s->pad[0], pl = (size_t)s->pad[1];
  const size_t OWv = (OW + 15) / 16 * 16;
  const size_t PH = (OH - 1) * sh + KH, PW = sw * OWv + 64; /* 64-byte loads from any computed output's column */
  if (KH > 64) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  uint8_t *plane = oxrt_scratch_get(OXRT_SCRATCH_QCONV_T, PH * PW + 128 + OH * OWv * sizeof(int32_t) + 64);
  if (!plane) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  int32_t *sums = (int32_t *)(void *)(plane + (PH * PW + 128 + 63) / 64 * 64);
  const uint8_t flip = j->x_signed ? 0x80 : 0;
  /* lane L of the permuted load holds input bytes from 4 * L * sw on; output i of the lane takes i * sw .. + 3 */
  const __m512i idx = sw == 1 ? _mm512_setr_epi32(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6)
                              : _mm512_setr_epi32(0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9);
  const __m512i shuf = sw == 1 ? _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6))
                               : _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9));
  for (size_t c = c0; c < c1; c++) {
    qdw_fill_plane(plane, PH * PW + 128, j->zp, j->x + c * IH * IW, IH, IW, PH, PW, pt, pl, flip);
    int32_t wd[64], wsum = 0;
    const int8_t *w = j->w + c * KH * KW;
    for (size_t kh = 0; kh < KH; kh++) {
      uint8_t b[4] = {0, 0, 0, 0};
      for (size_t kw = 0; kw < KW; kw++) b[kw] = (uint8_t)w[kh * KW + kw], wsum += w[kh * KW + kw];
      memcpy(&wd[kh], b, 4);
    }
    const __m512i vcorr = _mm512_set1_epi32(-j->zp * wsum);
    qdwv_out q = {.y = NULL, .sbase = sums};
    const oxrt_qgemm_out *o = j->o;
    if (!o->res && o->per_row && (o->kind == OXRT_QOUT_U8 || o->kind == OXRT_QOUT_S8)) {
      q.y = (uint8_t *)o->C + c * o->ldc;
      q.add = _mm512_set1_epi32(o->bias ? o->bias[c] : 0), q.zp = _mm512_set1_epi32(o->zp);
      q.sc = _mm512_set1_ps(o->n_scale == 1 ? o->scale[0] : o->scale[c]);
      q.lo = _mm512_set1_ps((float)(o->lo - o->zp)), q.hi = _mm512_set1_ps((float)(o->hi - o->zp));
    }
    if (sw == 1) qdwv_plane(plane, PW, KH, wd, sh, 1, OH, OW, OWv, idx, shuf, vcorr, sums, &q);
    else qdwv_plane(plane, PW, KH, wd, sh, 2, OH, OW, OWv, idx, shuf, vcorr, sums, &q);
    if (!q.y) oxrt_qgemm_store(o, c, 0, OH * OW, sums);
  }
}

bool oxrt_qdwconv_vnni(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp, const int8_t *w,
                       const oxrt_qgemm_out *o, oxrt_threadpool *pool) {
  qdwv_job j = {s, x, x_signed, x_signed ? x_zp + 128 : x_zp, w, o, 0};
  if (pool && s->C > 1) oxrt_parallel_for(pool, s->C, 1, qdwv_channels, &j);
  else qdwv_channels(&j, 0, s->C);
  return !j.failed;
}
