/* nchwc_conv_avx512bf16.c - the NCHWc convolution row kernel (nchwc_conv_body.h) in bfloat16 (AVX512_BF16): the
 * input as a bfloat16 copy and the weights packed [.., B/2 input-channel pairs, B output channels, 2], so one step
 * multiplies two input channels into float32 sums with VDPBF16PS. Tiles as in nchwc_conv_avx512.c. */
#include "nchwc_conv.h"
#include "scratch.h"
#include <immintrin.h>
#include <stdatomic.h>
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

/* n floats (n even) to bfloat16, round to nearest even (VCVTNE2PS2BF16, as the GEMM's packing converts; its flush of
 * subnormal inputs changes nothing here: VDPBF16PS reads subnormal bfloat16 as zero anyway), each pair of channels
 * stored swapped: xh[i ^ 1] = x[i]. VDPBF16PS adds the product of a pair's second half first, so with the weights
 * swapped alike (oxrt_nchwc_conv_pack_bf16) each sum runs over the channels in the float kernel's order: the result
 * is the float32 kernel's on rounded inputs (the bf16 emulation) bit for bit. */
void oxrt_nchwc_to_bf16(const float *x, uint16_t *xh, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512i v = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(xh + i, _mm512_rol_epi32(v, 16));
  }
  for (; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
    __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, x + i));
    _mm256_mask_storeu_epi16(xh + i, k, _mm256_rol_epi32(v, 16));
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

/* ---- 1x1 stride-1 convolutions over planes larger than L2: the input converted a band of pixels at a time into
 * per-thread scratch and used while it is in cache, instead of a bfloat16 copy of the whole input written and read
 * back (PP-LCNet's pointwise convs: 16 -> 32 channels on 400x304 spent 24% of their time in that copy). Same tiles,
 * same sums per output pixel as the flat-row path of the body. */
typedef struct {
  oxrt_nchwc_conv_job j; /* j.g: one row of `band` pixels (the band's own plane) */
  const float *x;        /* float input [N, Cb, HW, B] */
  size_t HW, band, nband, Cb, Mb;
  atomic_bool failed;
} pw_job;

static void pw_range(void *arg, size_t begin, size_t end) {
  pw_job *p = arg;
  const size_t B = 16, Cb = p->Cb, Mb = p->Mb, HW = p->HW, wstride = Cb * B * B, ystride = HW * B;
  uint16_t *xh = oxrt_scratch_get(OXRT_SCRATCH_GEMM, sizeof *xh * Cb * p->band * B);
  if (!xh) {
    atomic_store(&p->failed, true);
    return;
  }
  for (size_t it = begin; it < end; it++) {
    const size_t n = it / p->nband, p0 = it % p->nband * p->band, len = HW - p0 < p->band ? HW - p0 : p->band;
    for (size_t cb = 0; cb < Cb; cb++)
      oxrt_nchwc_to_bf16(p->x + ((n * Cb + cb) * HW + p0) * B, xh + cb * len * B, len * B);
    oxrt_nchwc_conv_job j = p->j;
    j.g.W = j.g.OW = (int64_t)len;
    for (size_t mb0 = 0; mb0 < Mb; mb0 += 4) {
      const int mbn = (int)(Mb - mb0 < 4 ? Mb - mb0 : 4);
      const uint16_t *w = j.wh + mb0 * wstride;
      const float *bias = j.bias ? j.bias + mb0 * B : NULL;
      const size_t yoff = ((n * Mb + mb0) * HW + p0) * B;
      for (size_t ow = 0; ow < len;) {
        const size_t left = len - ow, npmax = (size_t)NC_NPMAX(mbn);
        size_t np = left < npmax ? left : npmax;
        if (left > npmax && left < 2 * npmax) np = (left + 1) / 2;
        nc_dispatch(mbn, (int)np, &j, xh, w, wstride, 0, 0, 1, (int64_t)ow, 0, 1, bias,
                    j.z ? j.z + yoff + ow * B : NULL, j.y + yoff + ow * B, ystride);
        ow += np;
      }
      if (!j.clamp)
        for (int m = 0; m < mbn; m++) nc_post(&j, j.y + yoff + (size_t)m * ystride, len * B);
    }
  }
}

/* ---- strided 1x1 convolutions (ResNet's downsampling shortcuts): only the pixels the conv reads, a quarter of the
 * input at stride 2, are converted, into a compact copy that then runs as a 1x1 stride-1 conv (one flat row). */
typedef struct {
  const float *x;
  uint16_t *xh;
  size_t H, W, OH, OW, sh, sw;
} sub_job;

static void sub_range(void *arg, size_t begin, size_t end) {
  const sub_job *t = arg;
  for (size_t r = begin; r < end; r++) { /* r = (n * Cb + cb) * OH + oh */
    const float *x = t->x + ((r / t->OH) * t->H + r % t->OH * t->sh) * t->W * 16;
    uint16_t *xh = t->xh + r * t->OW * 16;
    const size_t step = t->sw * 16;
    size_t ow = 0;
    for (; ow + 2 <= t->OW; ow += 2) { /* two pixels per conversion, each channel pair swapped */
      __m512i v = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + (ow + 1) * step), _mm512_loadu_ps(x + ow * step));
      _mm512_storeu_si512(xh + ow * 16, _mm512_rol_epi32(v, 16));
    }
    if (ow < t->OW) {
      __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + ow * step));
      _mm256_storeu_si256((__m256i *)(xh + ow * 16), _mm256_rol_epi32(v, 16));
    }
  }
}

static void strided_rows(void *arg, size_t begin, size_t end) {
  oxrt_nchwc_conv_rows_avx512bf16(arg, begin, end);
}

static bool conv1x1_strided(const oxrt_nchwc_geom *g, const float *x, const uint16_t *wpacked, const float *bias,
                            const float *z, oxrt_activation act, const float *post, float *y,
                            oxrt_threadpool *pool) {
  const size_t Cb = g->C / 16, OHW = (size_t)(g->OH * g->OW);
  uint16_t *xh = oxrt_scratch_get(OXRT_SCRATCH_GEMM, sizeof *xh * (g->N * g->C * OHW + 1));
  if (!xh) return false;
  sub_job t = {x, xh, (size_t)g->H, (size_t)g->W, (size_t)g->OH, (size_t)g->OW, (size_t)g->sh, (size_t)g->sw};
  oxrt_parallel_for(pool, g->N * Cb * t.OH, 65536 / (t.OW * 16) + 1, sub_range, &t);
  /* the compact copy is a stride-1 input: one flat row per image, tiled as the float kernel's conv_run does */
  oxrt_nchwc_conv_job j = {.g = *g, .xh = xh, .wh = wpacked, .bias = bias, .z = z, .y = y, .act = act,
                           .isa = OXRT_ISA_AVX512, .mbmax = 4};
  j.clamp = oxrt_act_is_clamp(act, &j.lo, &j.hi);
  if (post) j.post = true, j.pa = post[0], j.pb = post[1];
  j.g.H = j.g.OH = 1, j.g.W = j.g.OW = (int64_t)OHW, j.g.sh = j.g.sw = 1;
  j.ow_lo = 0, j.ow_hi = (int64_t)OHW;
  j.chunk = OHW <= 96 ? (int64_t)OHW : 48;
  j.nmg = (g->M / 16 + 3) / 4;
  const size_t nthr = (size_t)oxrt_threadpool_size(pool), rows = g->N * j.nmg;
  if (nthr > 1)
    while (rows * ((OHW + (size_t)j.chunk - 1) / (size_t)j.chunk) < 4 * nthr && j.chunk > 12)
      j.chunk = (j.chunk / 2 + 5) / 6 * 6;
  j.nchunk = (OHW + (size_t)j.chunk - 1) / (size_t)j.chunk;
  const double per_item = (double)j.chunk * 64.0 * (double)g->C;
  oxrt_parallel_for(pool, rows * j.nchunk, per_item >= 262144.0 ? 1 : (size_t)(262144.0 / (per_item + 1.0)) + 1,
                    strided_rows, &j);
  return true;
}

bool oxrt_nchwc_conv1x1_bf16(const oxrt_nchwc_geom *g, const float *x, const uint16_t *wpacked, const float *bias,
                             const float *z, oxrt_activation act, const float *post, float *y,
                             oxrt_threadpool *pool) {
  if (g->B != 16 || g->kh != 1 || g->kw != 1 || g->pt || g->pl || g->pb || g->pr) return false;
  if ((g->sh > 1 || g->sw > 1) && g->OH == (g->H - 1) / g->sh + 1 && g->OW == (g->W - 1) / g->sw + 1 && g->OH > 0 &&
      g->OW > 0)
    return conv1x1_strided(g, x, wpacked, bias, z, act, post, y, pool);
  if (g->sh != 1 || g->sw != 1 || g->OH != g->H || g->OW != g->W) return false;
  const size_t HW = (size_t)(g->H * g->W), C = g->C;
  if (C * HW * sizeof(uint16_t) < ((size_t)1 << 20)) return false; /* the whole copy stays in L2: no gain */
  /* bands of about 64 KB of bfloat16 input, a multiple of 24 pixels (whole 6-, 8- and 12-pixel tiles) */
  size_t band = 65536 / (C * sizeof(uint16_t)) / 24 * 24;
  band = band < 24 ? 24 : band > 384 ? 384 : band;
  const size_t nband = (HW + band - 1) / band, nthr = (size_t)oxrt_threadpool_size(pool);
  if (g->N * nband < 4 * nthr) return false; /* too few bands to share out */
  pw_job p = {.x = x, .HW = HW, .band = band, .nband = nband, .Cb = C / 16, .Mb = g->M / 16};
  p.j = (oxrt_nchwc_conv_job){.g = *g, .wh = wpacked, .bias = bias, .z = z, .y = y, .act = act,
                              .isa = OXRT_ISA_AVX512, .mbmax = 4};
  p.j.clamp = oxrt_act_is_clamp(act, &p.j.lo, &p.j.hi);
  if (post) p.j.post = true, p.j.pa = post[0], p.j.pb = post[1];
  p.j.g.H = p.j.g.OH = 1;
  atomic_init(&p.failed, false);
  oxrt_parallel_for(pool, g->N * nband, 1, pw_range, &p);
  return !atomic_load(&p.failed);
}

/* NCHW float X [N, C, HW] to bfloat16 planes of channel pairs [N, ceil(C/2), HW, 2] (an odd C's last pair padded
 * with zero), for the bfloat16 stem: the row kernel broadcasts one pair per step as for a blocked input. A pair holds
 * channel 2u + 1 first and 2u second, as oxrt_nchwc_to_bf16 swaps them. */
void oxrt_nchw_to_bf16_pairs(const float *x, uint16_t *xh, size_t N, size_t C, size_t HW) {
  const __m512i pairs = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21,
                                         5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const size_t P = (C + 1) / 2;
  for (size_t n = 0; n < N; n++)
    for (size_t u = 0; u < P; u++) {
      const float *a = x + (n * C + 2 * u) * HW, *b = 2 * u + 1 < C ? a + HW : NULL;
      uint16_t *d = xh + (n * P + u) * HW * 2;
      for (size_t i = 0; i < HW; i += 16) {
        const __mmask16 k = HW - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (HW - i)) - 1u);
        __m512 va = _mm512_maskz_loadu_ps(k, a + i), vb = b ? _mm512_maskz_loadu_ps(k, b + i) : _mm512_setzero_ps();
        /* cvtne2ps: va's 16 values in the high half, vb's in the low; interleave them as pairs (b_i, a_i) */
        __m512i p = _mm512_permutexvar_epi16(pairs, (__m512i)_mm512_cvtne2ps_pbh(va, vb));
        _mm512_mask_storeu_epi32(d + 2 * i, k, p);
      }
    }
}
