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
#include "transpose_u8x16.h"
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

/* Small output planes (7x7) waste most of each 16-output vector on row ends. There the plane is read flat: output
 * (oh, ow) is flat position q = oh * QP + ow, and every tap of it sits at a fixed offset from q (stride 1: rows of
 * pitch QP = OW + KW - 1, tap (kh, kw) at q + kh * QP + kw; stride 2: one plane per kernel row kh holding padded rows
 * 2 oh + kh at pitch 2 QP, QP = OW + KW / 2, tap at 2 q + kw of plane kh), so one pass of vectors covers the whole
 * plane, (QP - OW) positions per row computed and dropped. Taken where it needs a fifth fewer vectors or better. */
static bool qdwv_flat(size_t OH, size_t OW, size_t KW, size_t sh, size_t sw) {
  if (sh != sw || OH < 2) return false;
  size_t QP = sw == 1 ? OW + KW - 1 : OW + KW / 2, Q = (OH - 1) * QP + OW;
  return (Q + 15) / 16 * 5 <= OH * ((OW + 15) / 16) * 4;
}

/* The stride-2 flat planes: plane kh (at kh * ks) row oh = padded input row 2 oh + kh at pitch PWin, XOR flip. */
static void qdwv_fill_s2(uint8_t *buf, size_t fill, uint8_t zp, const uint8_t *xc, size_t IH, size_t IW, size_t OH,
                         size_t KH, size_t PWin, size_t ks, size_t pt, size_t pl, uint8_t flip) {
  memset(buf, zp, fill);
  const __m512i vflip = _mm512_set1_epi8((char)flip);
  size_t n = IW < PWin - pl ? IW : PWin - pl;
  for (size_t kh = 0; kh < KH; kh++)
    for (size_t oh = 0; oh < OH; oh++) {
      size_t pr = 2 * oh + kh;
      if (pr < pt || pr - pt >= IH) continue;
      const uint8_t *src = xc + (pr - pt) * IW;
      uint8_t *d = buf + kh * ks + oh * PWin + pl;
      for (size_t t = 0; t < n; t += 64) {
        __mmask64 m = n - t >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (n - t)) - 1);
        _mm512_mask_storeu_epi8(d + t, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + t), vflip));
      }
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
  /* flat: QP the flat row pitch, Q the flat positions computed, ks the step between kernel rows in the buffer */
  const bool flat = qdwv_flat(OH, OW, KW, sh, sw);
  const size_t QP = sw == 1 ? OW + KW - 1 : OW + KW / 2, Q = (OH - 1) * QP + OW, Qv = (Q + 15) / 16 * 16;
  const size_t ks = sw == 1 ? QP : (OH * 2 * QP + 64 + 63) / 64 * 64;
  const size_t fbytes = sw == 1 ? (OH + KH - 1) * QP + 128 : KH * ks + 64;
  size_t pbytes = flat ? fbytes : PH * PW + 128, sbytes = (flat ? Qv + 16 : OH * OWv) * sizeof(int32_t);
  uint8_t *plane = oxrt_scratch_get(OXRT_SCRATCH_QCONV_T, (pbytes + 63) / 64 * 64 + sbytes + (flat ? Qv + 64 : 0) + 64);
  if (!plane) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  int32_t *sums = (int32_t *)(void *)(plane + (pbytes + 63) / 64 * 64);
  uint8_t *tb = (uint8_t *)(sums + (flat ? Qv + 16 : 0)); /* flat: the requantized flat positions */
  const uint8_t flip = j->x_signed ? 0x80 : 0;
  /* lane L of the permuted load holds input bytes from 4 * L * sw on; output i of the lane takes i * sw .. + 3 */
  const __m512i idx = sw == 1 ? _mm512_setr_epi32(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6)
                              : _mm512_setr_epi32(0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9);
  const __m512i shuf = sw == 1 ? _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6))
                               : _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9));
  for (size_t c = c0; c < c1; c++) {
    if (!flat) qdw_fill_plane(plane, PH * PW + 128, j->zp, j->x + c * IH * IW, IH, IW, PH, PW, pt, pl, flip);
    else if (sw == 1) qdw_fill_plane(plane, fbytes, j->zp, j->x + c * IH * IW, IH, IW, OH + KH - 1, QP, pt, pl, flip);
    else qdwv_fill_s2(plane, fbytes, j->zp, j->x + c * IH * IW, IH, IW, OH, KH, 2 * QP, ks, pt, pl, flip);
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
    if (flat) { /* one row of Q positions, kernel rows ks apart; then the kept OW of each QP */
      uint8_t *y = q.y;
      if (y) q.y = tb;
      if (sw == 1) qdwv_plane(plane, ks, KH, wd, 1, 1, 1, Q, Qv, idx, shuf, vcorr, sums, &q);
      else qdwv_plane(plane, ks, KH, wd, 1, 2, 1, Q, Qv, idx, shuf, vcorr, sums, &q);
      if (y) {
        for (size_t oh = 0; oh < OH; oh++) memcpy(y + oh * OW, tb + oh * QP, OW);
      } else {
        for (size_t oh = 1; oh < OH; oh++) memmove(sums + oh * OW, sums + oh * QP, OW * sizeof(int32_t));
        oxrt_qgemm_store(o, c, 0, OH * OW, sums);
      }
      continue;
    }
    if (sw == 1) qdwv_plane(plane, PW, KH, wd, sh, 1, OH, OW, OWv, idx, shuf, vcorr, sums, &q);
    else qdwv_plane(plane, PW, KH, wd, sh, 2, OH, OW, OWv, idx, shuf, vcorr, sums, &q);
    if (!q.y) oxrt_qgemm_store(o, c, 0, OH * OW, sums);
  }
}

/* ------------------------------------------------------------------ channels last, for small planes */


/* A plane of a few dozen outputs leaves the per-channel passes mostly overhead (a plane fill, short rows, calls per
 * row), where ONNX Runtime's channels-last kernel vectorizes over channels. The same here for blocks of 16 channels:
 * the input block transposed into a zero-point-padded [pixel][16] plane, each output pixel the sum over taps of
 * 16 widened bytes times 16 int32 weights (exact int32, the zero point leaving as zp * sum(w) as above), the output
 * stage's fast-path operations in registers, and the bytes transposed back. For 8-bit outputs without a fused
 * residual (the in-register case of qdwv_channels). */
#define QDWV_CL_MAX_OUT 64

typedef struct {
  const oxrt_conv_shape *s;
  const uint8_t *x;
  bool x_signed;
  int32_t zp;
  const int8_t *w;
  const oxrt_qgemm_out *o;
  int failed;
} qdwv_cl_job;

typedef struct {
  __m512i corr, add, zp;
  __m512 sc, lo, hi;
} qdwv_cl_out;

/* np (1 or 4) output pixels from column ow of a row: independent sums over the taps, then the output stage */
static inline __attribute__((always_inline)) void qdwv_cl_px(const uint8_t *row, uint8_t *orow, size_t ow, size_t sw,
                                                             size_t PWp, const int32_t *w32, const size_t KH,
                                                             const size_t KW, const size_t np, const qdwv_cl_out *co) {
  __m512i acc[4] = {co->corr, co->corr, co->corr, co->corr};
  for (size_t kh = 0; kh < KH; kh++)
    for (size_t kw = 0; kw < KW; kw++) {
      const __m512i wv = _mm512_loadu_si512((const void *)(w32 + (kh * KW + kw) * 16));
      for (size_t t = 0; t < np; t++) {
        const uint8_t *p = row + (kh * PWp + (ow + t) * sw + kw) * 16;
        __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
        acc[t] = _mm512_add_epi32(acc[t], _mm512_mullo_epi32(v, wv));
      }
    }
  for (size_t t = 0; t < np; t++) {
    __m512 f = _mm512_cvtepi32_ps(_mm512_add_epi32(acc[t], co->add));
    f = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(f, co->sc), co->lo), co->hi);
    _mm_storeu_si128((__m128i *)(void *)(orow + (ow + t) * 16),
                     _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), co->zp)));
  }
}

static void qdwv_cl_blocks(void *arg, size_t b0, size_t b1) {
  qdwv_cl_job *j = arg;
  const oxrt_conv_shape *s = j->s;
  const oxrt_qgemm_out *o = j->o;
  const size_t C = s->C, IH = (size_t)s->in[0], IW = (size_t)s->in[1], OH = (size_t)s->out[0], OW = (size_t)s->out[1];
  const size_t KH = (size_t)s->k[0], KW = (size_t)s->k[1], sh = (size_t)s->stride[0], sw = (size_t)s->stride[1];
  const size_t pt = (size_t)s->pad[0], pl = (size_t)s->pad[1], HW = IH * IW, OHW = OH * OW, taps = KH * KW;
  const size_t PHp = (OH - 1) * sh + KH, PWp = (OW - 1) * sw + KW;
  size_t xp_b = (PHp * PWp * 16 + 63) / 64 * 64, oc_b = (OHW + 16) * 16, w_b = taps * 64;
  uint8_t *xp = oxrt_scratch_get(OXRT_SCRATCH_QCONV_T, xp_b + oc_b + w_b + 128);
  if (!xp) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  uint8_t *oc = xp + xp_b;
  int32_t *w32 = (int32_t *)(void *)(oc + oc_b);
  const __m128i vflip = _mm_set1_epi8((char)(j->x_signed ? 0x80 : 0));
  const __m512 lo = _mm512_set1_ps((float)(o->lo - o->zp)), hi = _mm512_set1_ps((float)(o->hi - o->zp));
  const __m512i zpo = _mm512_set1_epi32(o->zp);
  for (size_t b = b0; b < b1; b++) {
    const size_t c0 = b * 16, nc = C - c0 < 16 ? C - c0 : 16;
    /* weights widened per tap, the zero point's correction, the bias and the scale per lane */
    int32_t corr[16] = {0}, add[16] = {0};
    float scl[16] = {0};
    for (size_t i = 0; i < 16; i++) {
      if (i >= nc) {
        for (size_t t = 0; t < taps; t++) w32[t * 16 + i] = 0;
        continue;
      }
      const int8_t *wc = j->w + (c0 + i) * taps;
      int32_t ws = 0;
      for (size_t t = 0; t < taps; t++) w32[t * 16 + i] = wc[t], ws += wc[t];
      corr[i] = -j->zp * ws;
      add[i] = o->bias ? o->bias[c0 + i] : 0;
      scl[i] = o->n_scale == 1 ? o->scale[0] : o->scale[c0 + i];
    }
    const __m512i vcorr = _mm512_loadu_si512((const void *)corr), vadd = _mm512_loadu_si512((const void *)add);
    const __m512 vsc = _mm512_loadu_ps(scl);
    /* the padded plane: zero point everywhere, then the input pixels it holds, transposed 16 at a time */
    memset(xp, j->zp, PHp * PWp * 16);
    for (size_t p0 = 0; p0 < HW; p0 += 16) {
      size_t np = HW - p0 < 16 ? HW - p0 : 16;
      __mmask16 m = (__mmask16)(np == 16 ? 0xffffu : (1u << np) - 1);
      __m128i in[16], px[16];
      for (size_t i = 0; i < 16; i++)
        in[i] = i < nc ? _mm_maskz_loadu_epi8(m, j->x + (c0 + i) * HW + p0) : _mm_setzero_si128();
      oxrt_transpose_u8x16(in, px);
      for (size_t q = 0; q < np; q++) {
        size_t ih = (p0 + q) / IW + pt, iw = (p0 + q) % IW + pl;
        if (ih < PHp && iw < PWp) _mm_storeu_si128((__m128i *)(void *)(xp + (ih * PWp + iw) * 16), _mm_xor_si128(px[q], vflip));
      }
    }
    const qdwv_cl_out co = {vcorr, vadd, zpo, vsc, lo, hi};
    for (size_t oh = 0; oh < OH; oh++) {
      const uint8_t *row = xp + oh * sh * PWp * 16;
      uint8_t *orow = oc + oh * OW * 16;
      size_t ow = 0;
      if (KH == 3 && KW == 3) {
        for (; ow + 4 <= OW; ow += 4) qdwv_cl_px(row, orow, ow, sw, PWp, w32, 3, 3, 4, &co);
        for (; ow < OW; ow++) qdwv_cl_px(row, orow, ow, sw, PWp, w32, 3, 3, 1, &co);
      } else {
        for (; ow + 4 <= OW; ow += 4) qdwv_cl_px(row, orow, ow, sw, PWp, w32, KH, KW, 4, &co);
        for (; ow < OW; ow++) qdwv_cl_px(row, orow, ow, sw, PWp, w32, KH, KW, 1, &co);
      }
    }
    for (size_t p0 = 0; p0 < OHW; p0 += 16) { /* back to channel planes */
      size_t np = OHW - p0 < 16 ? OHW - p0 : 16;
      __mmask16 m = (__mmask16)(np == 16 ? 0xffffu : (1u << np) - 1);
      __m128i in[16], ch[16];
      for (size_t q = 0; q < 16; q++)
        in[q] = q < np ? _mm_loadu_si128((const __m128i *)(const void *)(oc + (p0 + q) * 16)) : _mm_setzero_si128();
      oxrt_transpose_u8x16(in, ch);
      for (size_t i = 0; i < nc; i++) _mm_mask_storeu_epi8((uint8_t *)o->C + (c0 + i) * o->ldc + p0, m, ch[i]);
    }
  }
}

bool oxrt_qdwconv_vnni(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp, const int8_t *w,
                       const oxrt_qgemm_out *o, oxrt_threadpool *pool) {
  if ((size_t)(s->out[0] * s->out[1]) <= QDWV_CL_MAX_OUT && !o->res && o->per_row &&
      (o->kind == OXRT_QOUT_U8 || o->kind == OXRT_QOUT_S8)) {
    qdwv_cl_job cj = {s, x, x_signed, x_signed ? x_zp + 128 : x_zp, w, o, 0};
    size_t blocks = (s->C + 15) / 16;
    if (pool && blocks > 1) oxrt_parallel_for(pool, blocks, 1, qdwv_cl_blocks, &cj);
    else qdwv_cl_blocks(&cj, 0, blocks);
    return !cj.failed;
  }
  qdwv_job j = {s, x, x_signed, x_signed ? x_zp + 128 : x_zp, w, o, 0};
  if (pool && s->C > 1) oxrt_parallel_for(pool, s->C, 1, qdwv_channels, &j);
  else qdwv_channels(&j, 0, s->C);
  return !j.failed;
}
