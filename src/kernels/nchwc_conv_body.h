/* nchwc_conv_body.h - the NCHWc direct convolution row kernel, compiled once per ISA (nchwc_conv.h).
 * The includer defines NC_ROWS (function name), NC_B (lanes = block), NC_V (vector type), NC_SET1, NC_LOAD,
 * NC_STORE, NC_FMA, NC_ADD, NC_MUL, NC_MIN, NC_MAX, NC_MBMAX and NC_NPMAX(mb) (pixels per tile for mb output blocks:
 * mb * NC_NPMAX(mb) accumulators stay in registers).
 *
 * A tile is mb output blocks x np output pixels of one row: for every input block, kernel tap and input channel,
 * mb weight vectors times np broadcast input values. Interior pixels run np at a time with no bounds checks; a
 * border pixel runs alone over the kernel columns that land inside the input. Rows outside the input are skipped
 * per row. With j->nchw the input is plain NCHW with j->nic <= B channels (an RGB stem writing blocked output):
 * the same tiles with run-time strides.
 *
 * bfloat16 (nchwc_conv_avx512bf16.c) defines NC_XT uint16_t, NC_ICSTEP 2, NC_XSRC/NC_WSRC (the job's bfloat16
 * input copy and weights), NC_WLOAD, NC_XBCAST (the pair of input channels ic, ic+1 as one 32-bit broadcast) and
 * NC_DOT (VDPBF16PS): the same loops then take two input channels per step. Defaults are the float ones. */
#include <stdint.h>

#ifndef NC_XT
#define NC_XT float
#define NC_ICSTEP 1
#define NC_XSRC(j) ((j)->x)
#define NC_WSRC(j) ((j)->w)
#define NC_WLOAD(p) NC_LOAD(p)
#define NC_XBCAST(p) NC_SET1(*(p))
#define NC_DOT(acc, w, x) NC_FMA(w, x, acc)
#endif

/* UBSan's pointer-overflow check stays off in the tile (ASan still checks every load and store): its checks on each
 * unrolled address multiplied this file's sanitizer compile time by ten. */
#if defined(OXRT_SANITIZER_BUILD) && defined(__clang__)
#define NC_TILE_ATTR __attribute__((always_inline, no_sanitize("pointer-overflow")))
#else
#define NC_TILE_ATTR __attribute__((always_inline))
#endif
static inline NC_TILE_ATTR void nc_tile(const int mb, const int np, const int sws, const int nchw,
                                        const oxrt_nchwc_conv_job *j, const NC_XT *x, const NC_XT *w, size_t wstride,
                                        int64_t ih0, int64_t ki0, int64_t ki1, int64_t iw0, int64_t kj0, int64_t kj1,
                                        const float *bias, const float *z, float *y, size_t ystride) {
  const oxrt_nchwc_geom *g = &j->g;
  const NC_V lo = NC_SET1(j->lo), hi = NC_SET1(j->hi), pa = NC_SET1(j->pa), pb = NC_SET1(j->pb);
  const size_t B = NC_B, BB = (size_t)NC_B * NC_B, T = (size_t)(g->kh * g->kw), Cb = nchw ? 1 : g->C / B;
  /* blocked X: a pixel is B floats, channels adjacent; NCHW X (nchw): a pixel is one float, channels H*W apart (in
   * bfloat16, a pixel is the pair of channels 2u, 2u+1: planes of pairs, [N, C/2, H, W, 2]) */
  const size_t px = nchw ? NC_ICSTEP : B, cstride = nchw ? (size_t)(g->H * g->W) : 1, nic = nchw ? (size_t)j->nic : B;
  const size_t plane = (size_t)(g->H * g->W) * B, pstep = (size_t)(sws ? sws : g->sw) * px; /* constant: offsets fold */
  NC_V acc[NC_MBMAX][NC_NPMAX(1)];
#pragma GCC unroll 4
  for (int m = 0; m < mb; m++) {
    const NC_V b0 = bias ? NC_LOAD(bias + (size_t)m * B) : NC_SET1(0.0f);
#pragma GCC unroll 16
    for (int p = 0; p < np; p++) acc[m][p] = b0;
  }
  for (size_t cb = 0; cb < Cb; cb++) {
    const NC_XT *xc = x + cb * plane, *wc = w + cb * T * BB;
    for (int64_t ki = ki0; ki < ki1; ki++) {
      const NC_XT *xr = xc + (size_t)((ih0 + ki * g->dh) * g->W) * px;
      for (int64_t kj = kj0; kj < kj1; kj++) {
        const NC_XT *xs = xr + (size_t)(iw0 + kj * g->dw) * px, *ws = wc + (size_t)(ki * g->kw + kj) * BB;
#pragma GCC unroll 2
        for (size_t ic = 0; ic < nic; ic += NC_ICSTEP) {
          NC_V wv[NC_MBMAX];
#pragma GCC unroll 4
          for (int m = 0; m < mb; m++) wv[m] = NC_WLOAD(ws + (size_t)m * wstride + ic * B);
#pragma GCC unroll 16
          for (int p = 0; p < np; p++) {
            const NC_V xv = NC_XBCAST(xs + (size_t)p * pstep + ic * cstride);
#pragma GCC unroll 4
            for (int m = 0; m < mb; m++) acc[m][p] = NC_DOT(acc[m][p], wv[m], xv);
          }
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int m = 0; m < mb; m++)
#pragma GCC unroll 16
    for (int p = 0; p < np; p++) {
      NC_V v = acc[m][p];
      if (z) v = NC_ADD(v, NC_LOAD(z + (size_t)m * ystride + (size_t)p * B));
      if (j->clamp) v = NC_MIN(hi, NC_MAX(lo, v)); /* operand order: NaN passes */
      if (j->clamp && j->post) v = NC_ADD(NC_MUL(v, pa), pb); /* other activations: nc_post over the run */
      NC_STORE(y + (size_t)m * ystride + (size_t)p * B, v);
    }
}

/* y[0 .. n) (n a multiple of NC_B) = act(y) * pa + pb for a job whose activation runs over finished runs */
static inline void nc_post(const oxrt_nchwc_conv_job *j, float *y, size_t n) {
  oxrt_act_apply(j->act, y, n);
  if (!j->post) return;
  const NC_V pa = NC_SET1(j->pa), pb = NC_SET1(j->pb);
  for (size_t i = 0; i < n; i += NC_B) NC_STORE(y + i, NC_ADD(NC_MUL(NC_LOAD(y + i), pa), pb));
}

/* The tile shapes a row may ask for, as constants so that the accumulators stay in registers. */
#define NC_CASE(MB, NP)                                                                                                \
  case (MB) * 32 + (NP):                                                                                               \
    if ((MB) <= NC_MBMAX && (NP) <= NC_NPMAX(MB)) {                                                                    \
      if (j->nchw) {                                                                                                   \
        NC_NCHW_TILE(MB, NP);                                                                                          \
      } else                                                                                                           \
        NC_BLOCKED_TILE(MB, NP);                                                                                       \
    }                                                                                                                  \
    break;
/* Blocked input: strides 1 and 2 as constants (the pixel offsets fold into the loads), others at run time. The
 * sanitizer builds (OXRT_SANITIZER_BUILD) take every stride at run time: the same loads and stores from a third of
 * the tile instantiations (UBSan's pointer checks over ~120 unrolled tiles made this file a 10-minute compile). */
#ifdef OXRT_SANITIZER_BUILD
#define NC_BLOCKED_TILE(MB, NP) nc_tile(MB, NP, 0, 0, j, x, w, wstride, ih0, ki0, ki1, iw0, kj0, kj1, bias, z, y, ystride)
#define NC_NCHW_TILE(MB, NP) nc_tile(MB, NP, 0, 1, j, x, w, wstride, ih0, ki0, ki1, iw0, kj0, kj1, bias, z, y, ystride)
#else
/* NCHW input (RGB stems): stride 2 as a constant, the usual stem */
#define NC_NCHW_TILE(MB, NP)                                                                                           \
  do {                                                                                                                 \
    if ((NP) > 1 && j->g.sw == 2)                                                                                      \
      nc_tile(MB, NP, 2, 1, j, x, w, wstride, ih0, ki0, ki1, iw0, kj0, kj1, bias, z, y, ystride);                      \
    else                                                                                                               \
      nc_tile(MB, NP, 0, 1, j, x, w, wstride, ih0, ki0, ki1, iw0, kj0, kj1, bias, z, y, ystride);                      \
  } while (0)
#define NC_BLOCKED_TILE(MB, NP)                                                                                        \
  do {                                                                                                                 \
    if ((NP) > 1 && j->g.sw == 1)                                                                                      \
      nc_tile(MB, NP, 1, 0, j, x, w, wstride, ih0, ki0, ki1, iw0, kj0, kj1, bias, z, y, ystride);                      \
    else if ((NP) > 1 && j->g.sw == 2)                                                                                 \
      nc_tile(MB, NP, 2, 0, j, x, w, wstride, ih0, ki0, ki1, iw0, kj0, kj1, bias, z, y, ystride);                      \
    else                                                                                                               \
      nc_tile(MB, NP, 0, 0, j, x, w, wstride, ih0, ki0, ki1, iw0, kj0, kj1, bias, z, y, ystride);                      \
  } while (0)
#endif
#define NC_CASES(MB)                                                                                                   \
  NC_CASE(MB, 1) NC_CASE(MB, 2) NC_CASE(MB, 3) NC_CASE(MB, 4) NC_CASE(MB, 5) NC_CASE(MB, 6) NC_CASE(MB, 7)            \
  NC_CASE(MB, 8) NC_CASE(MB, 9) NC_CASE(MB, 10) NC_CASE(MB, 11) NC_CASE(MB, 12)

static void nc_dispatch(int mb, int np, const oxrt_nchwc_conv_job *j, const NC_XT *x, const NC_XT *w, size_t wstride,
                        int64_t ih0, int64_t ki0, int64_t ki1, int64_t iw0, int64_t kj0, int64_t kj1,
                        const float *bias, const float *z, float *y, size_t ystride) {
  switch (mb * 32 + np) {
    NC_CASES(1)
    NC_CASES(2)
    NC_CASES(3)
    NC_CASES(4)
  default: break;
  }
}

/* [lo, hi) of the kernel offsets k with 0 <= base + k * d < n */
static inline void nc_taps(int64_t base, int64_t d, int64_t k, int64_t n, int64_t *lo, int64_t *hi) {
  int64_t a = base >= 0 ? 0 : (-base + d - 1) / d, b = base > n - 1 ? 0 : (n - 1 - base) / d + 1;
  *lo = a < k ? a : k;
  *hi = b < k ? b : k;
  if (*hi < *lo) *hi = *lo;
}

void NC_ROWS(const oxrt_nchwc_conv_job *j, size_t begin, size_t end) {
  const oxrt_nchwc_geom *g = &j->g;
  const size_t B = NC_B, BB = (size_t)NC_B * NC_B, T = (size_t)(g->kh * g->kw), Cb = g->C / B, Mb = g->M / B;
  const size_t wstride = Cb * T * BB, ystride = (size_t)(g->OH * g->OW) * B;
  for (size_t it = begin; it < end; it++) {
    size_t r = it / j->nchunk;
    const int64_t c = (int64_t)(it % j->nchunk), oh = (int64_t)(r % (size_t)g->OH);
    r /= (size_t)g->OH;
    const size_t mg = r % j->nmg, n = r / j->nmg, mb0 = mg * (size_t)j->mbmax;
    const int mbn = (int)(Mb - mb0 < (size_t)j->mbmax ? Mb - mb0 : (size_t)j->mbmax);
    const NC_XT *x = NC_XSRC(j) + n * (j->nchw ? (size_t)j->nic : Cb * B) * (size_t)(g->H * g->W);
    const NC_XT *w = NC_WSRC(j) + mb0 * wstride;
    const float *bias = j->bias ? j->bias + mb0 * B : NULL;
    const size_t yoff = ((n * Mb + mb0) * (size_t)g->OH + (size_t)oh) * (size_t)g->OW * B;
    float *yrow = j->y + yoff;
    const float *zrow = j->z ? j->z + yoff : NULL;
    const int64_t ih0 = oh * g->sh - g->pt;
    int64_t ki0, ki1;
    nc_taps(ih0, g->dh, g->kh, g->H, &ki0, &ki1);
    const int64_t p0 = c * j->chunk, p1 = p0 + j->chunk < g->OW ? p0 + j->chunk : g->OW;
    for (int64_t ow = p0; ow < p1;) {
      const int64_t iw0 = ow * g->sw - g->pl;
      float *y = yrow + (size_t)ow * B;
      const float *z = zrow ? zrow + (size_t)ow * B : NULL;
      if (ow < j->ow_lo || ow >= j->ow_hi) {
        int64_t kj0, kj1;
        nc_taps(iw0, g->dw, g->kw, g->W, &kj0, &kj1);
        nc_dispatch(mbn, 1, j, x, w, wstride, ih0, ki0, ki1, iw0, kj0, kj1, bias, z, y, ystride);
        ow++;
      } else {
        const int64_t left = (p1 < j->ow_hi ? p1 : j->ow_hi) - ow;
        int np = left < NC_NPMAX(mbn) ? (int)left : NC_NPMAX(mbn);
#ifdef NC_BALANCED_TAIL
        /* two even tiles rather than a full one and a sliver (7 pixels: 4 + 3, not 6 + 1) */
        if (left > NC_NPMAX(mbn) && left < 2 * NC_NPMAX(mbn)) np = (int)(left + 1) / 2;
#endif
        nc_dispatch(mbn, np, j, x, w, wstride, ih0, ki0, ki1, iw0, 0, g->kw, bias, z, y, ystride);
        ow += np;
      }
    }
    if (!j->clamp)
      for (int m = 0; m < mbn; m++)
        nc_post(j, yrow + (size_t)m * ystride + (size_t)p0 * B, (size_t)(p1 - p0) * B);
  }
}

#undef NC_XT
#undef NC_ICSTEP
#undef NC_XSRC
#undef NC_WSRC
#undef NC_WLOAD
#undef NC_XBCAST
#undef NC_DOT
#undef NC_BLOCKED_TILE
#undef NC_NCHW_TILE
#undef NC_BALANCED_TAIL
#undef NC_TILE_ATTR
