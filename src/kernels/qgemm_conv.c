/* qgemm_conv.c - 8-bit convolution: implicit im2col into the 8-bit GEMM (see qgemm_conv.h). */
#include "qgemm_conv.h"
#include "scratch.h"
#include <stdlib.h>
#include <string.h>

void oxrt_qconv_wpack_free(oxrt_qconv_wpack *p) {
  if (!p) return;
  for (size_t g = 0; p->g && g < p->group; g++) oxrt_qpack_free(&p->g[g]);
  free(p->g);
  memset(p, 0, sizeof *p);
}

static size_t kprod_of(const oxrt_conv_shape *s) {
  size_t kp = 1;
  for (int d = 0; d < s->nd; d++) kp *= (size_t)s->k[d];
  return kp;
}

bool oxrt_qconv_pack(const oxrt_conv_shape *s, const void *w, bool w_signed, const int32_t *wzp, size_t n_wzp,
                     oxrt_qconv_wpack *out) {
  memset(out, 0, sizeof *out);
  out->group = s->group, out->Mg = s->M / s->group, out->Kg = (s->C / s->group) * kprod_of(s);
  out->g = calloc(s->group, sizeof(oxrt_qpack));
  if (!out->g) return false;
  for (size_t g = 0; g < s->group; g++) {
    const int32_t *zp = wzp ? (n_wzp == 1 ? wzp : wzp + g * out->Mg) : NULL;
    oxrt_qmat m = {(const uint8_t *)w + g * out->Mg * out->Kg, w_signed, out->Kg, 1, zp, n_wzp != 1, NULL};
    if (!oxrt_qpack_make_weight(true, out->Mg, out->Kg, &m, &out->g[g])) {
      oxrt_qconv_wpack_free(out);
      return false;
    }
  }
  return true;
}

typedef struct {
  const oxrt_conv_shape *s;
  const uint8_t *x; /* this image and group: [Cg, in...] */
  uint8_t zp;
  size_t kprod, in_size, out_size;
} qfill_ctx;

/* Row k of the implicit im2col matrix, columns [j0, j0+n): kernel tap (c, taps...) at every output position. */
static void fill_row_2d(const qfill_ctx *f, size_t k, size_t j0, size_t n, uint8_t *dst) {
  const oxrt_conv_shape *s = f->s;
  bool two = s->nd == 2;
  size_t c = k / f->kprod, tap = k % f->kprod;
  int64_t KW = s->k[s->nd - 1], kh = two ? (int64_t)tap / KW : 0, kw = (int64_t)tap % KW;
  int64_t IH = two ? s->in[0] : 1, IW = s->in[s->nd - 1], OW = s->out[s->nd - 1];
  int64_t sh = two ? s->stride[0] : 1, sw = s->stride[s->nd - 1], dh = two ? s->dil[0] : 1, dw = s->dil[s->nd - 1];
  int64_t ph = two ? s->pad[0] : 0, pw = s->pad[s->nd - 1];
  const uint8_t *xc = f->x + c * f->in_size;
  size_t j = 0;
  while (j < n) {
    int64_t o = (int64_t)(j0 + j), oh = o / OW, ow = o % OW;
    size_t run = (size_t)(OW - ow) < n - j ? (size_t)(OW - ow) : n - j; /* to the end of this output row */
    int64_t ih = oh * sh - ph + kh * dh;
    uint8_t *d = dst + j;
    if (ih < 0 || ih >= IH) {
      memset(d, f->zp, run);
    } else {
      const uint8_t *xr = xc + ih * IW;
      int64_t iw = ow * sw - pw + kw * dw;
      size_t r = 0;
      for (; r < run && iw < 0; r++, iw += sw) d[r] = f->zp;
      if (sw == 1) {
        size_t len = iw < IW ? (size_t)(IW - iw) : 0;
        if (len > run - r) len = run - r;
        memcpy(d + r, xr + iw, len);
        r += len;
      } else {
        for (; r < run && iw < IW; r++, iw += sw) d[r] = xr[iw];
      }
      for (; r < run; r++) d[r] = f->zp;
    }
    j += run;
  }
}

/* Any number of spatial dims: each element's input position decoded on its own (3-D and beyond). */
static void fill_row_nd(const qfill_ctx *f, size_t k, size_t j0, size_t n, uint8_t *dst) {
  const oxrt_conv_shape *s = f->s;
  size_t c = k / f->kprod, tap = k % f->kprod;
  int64_t kidx[OXRT_CONV_MAX_DIMS];
  for (int d = s->nd - 1; d >= 0; d--) kidx[d] = (int64_t)(tap % (size_t)s->k[d]), tap /= (size_t)s->k[d];
  const uint8_t *xc = f->x + c * f->in_size;
  for (size_t j = 0; j < n; j++) {
    size_t o = j0 + j, off = 0;
    bool in = true;
    int64_t mul = 1;
    for (int d = s->nd - 1; d >= 0; d--) {
      int64_t od = (int64_t)(o % (size_t)s->out[d]);
      o /= (size_t)s->out[d];
      int64_t id = od * s->stride[d] - s->pad[d] + kidx[d] * s->dil[d];
      if (id < 0 || id >= s->in[d]) in = false;
      off += (size_t)(id * mul);
      mul *= s->in[d];
    }
    dst[j] = in ? xc[off] : f->zp;
  }
}

static void qconv_fill(const void *ctx, size_t k0, size_t kc, size_t j0, size_t n, uint8_t *dst, size_t ld) {
  const qfill_ctx *f = ctx;
  for (size_t k = 0; k < kc; k++) {
    if (f->s->nd <= 2) fill_row_2d(f, k0 + k, j0, n, dst + k * ld);
    else fill_row_nd(f, k0 + k, j0, n, dst + k * ld);
  }
}

/* 1-D and 2-D convolutions with pads >= 0, any stride and dilation, without im2col: the zero-point-padded input
 * is split into stride phases (phase (a, b) holds padded rows a, a + sh, ... and columns b, b + sw, ...), each a
 * plane of pitch PW = OW + (KW-1)*dw/sw. Tap (kh, kw) reads phase ((kh*dh) % sh, (kw*dw) % sw) shifted by
 * (kh*dh / sh) rows and (kw*dw / sw) columns at unit stride, so the im2col row of (c, kh, kw) is a pointer into
 * the phases: the GEMM packs its B panels straight from those k-row pointers, computing PW - OW pad columns per
 * output row that the output stage drops (oxrt_qcols). Worth it while the pad columns stay a small share. */
static bool shifted_ok(const oxrt_conv_shape *s) {
  if (s->nd < 1 || s->nd > 2) return false;
  for (int d = 0; d < s->nd; d++)
    if (s->pad[d] < 0 || s->stride[d] < 1 || s->dil[d] < 1) return false;
  int64_t OW = s->out[s->nd - 1], PW = OW + (s->k[s->nd - 1] - 1) * s->dil[s->nd - 1] / s->stride[s->nd - 1];
  return OW > 0 && PW * 2 <= OW * 3 && s->stride[0] * (s->nd == 2 ? s->stride[1] : 1) <= 64;
}

/* d[c] = s[c * step] for c < n; step 2 spelled out so the loads vectorize */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#endif
static void strided_copy(const uint8_t *restrict s, size_t step, size_t n, uint8_t *restrict d) {
  if (step == 2) {
    for (size_t c = 0; c < n; c++) d[c] = s[2 * c];
  } else {
    for (size_t c = 0; c < n; c++) d[c] = s[c * step];
  }
}

static bool qconv_shifted(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp,
                          const oxrt_qconv_wpack *wp, const oxrt_qgemm_out *out, void *y, size_t y_esize,
                          oxrt_threadpool *pool) {
  bool two = s->nd == 2;
  size_t Cg = s->C / s->group, KH = two ? (size_t)s->k[0] : 1, KW = (size_t)s->k[s->nd - 1];
  size_t dh = two ? (size_t)s->dil[0] : 1, dw = (size_t)s->dil[s->nd - 1];
  size_t sh = two ? (size_t)s->stride[0] : 1, sw = (size_t)s->stride[s->nd - 1];
  size_t IH = two ? (size_t)s->in[0] : 1, IW = (size_t)s->in[s->nd - 1], OH = two ? (size_t)s->out[0] : 1;
  size_t OW = (size_t)s->out[s->nd - 1], pt = two ? (size_t)s->pad[0] : 0, pl = (size_t)s->pad[s->nd - 1];
  size_t PH = OH + (KH - 1) * dh / sh, PW = OW + (KW - 1) * dw / sw, plane = PH * PW, phases = sh * sw;
  size_t slack = (KW - 1) * dw / sw + 64, in_size = IH * IW, out_size = OH * OW, K = Cg * KH * KW;
  size_t kp_bytes = (K * sizeof(uint8_t *) + 63) / 64 * 64;
  /* 1x1, unit stride, no pads: the input channels are the im2col rows as they are (the GEMM packs its panels
   * straight from the activation, no copy) */
  bool direct = KH == 1 && KW == 1 && phases == 1 && pt == 0 && pl == 0 && PH == IH && PW == IW;
  uint8_t *buf = oxrt_scratch_get(OXRT_SCRATCH_QCONV, kp_bytes + (direct ? 0 : Cg * phases * plane + slack));
  if (!buf) return false;
  const uint8_t **kp = (const uint8_t **)(void *)buf;
  bool used[64] = {false}; /* stride phases some tap reads (phases <= 64 checked by shifted_ok) */
  for (size_t kh = 0; kh < KH; kh++)
    for (size_t kw = 0; kw < KW; kw++) used[(kh * dh) % sh * sw + (kw * dw) % sw] = true;
  uint8_t *xp = buf + kp_bytes, zp8 = (uint8_t)x_zp;
  for (size_t c = 0; c < Cg; c++)
    for (size_t kh = 0; kh < KH; kh++)
      for (size_t kw = 0; kw < KW; kw++) {
        size_t ph = (kh * dh) % sh * sw + (kw * dw) % sw;
        kp[(c * KH + kh) * KW + kw] = xp + (c * phases + ph) * plane + (kh * dh / sh) * PW + kw * dw / sw;
      }
  for (size_t n = 0; n < s->N; n++)
    for (size_t g = 0; g < s->group; g++) {
      const uint8_t *xg = (const uint8_t *)x + (n * s->C + g * Cg) * in_size;
      if (direct)
        for (size_t c = 0; c < Cg; c++) kp[c] = xg + c * in_size;
      for (size_t c = 0; c < Cg && !direct; c++)
        for (size_t a = 0; a < sh; a++)
          for (size_t b = 0; b < sw; b++) {
            uint8_t *dst = xp + (c * phases + a * sw + b) * plane;
            if (!used[a * sw + b]) { /* no tap reads it (a 1x1 stride-2 convolution reads one phase of four); */
              memset(dst, zp8, slack < plane ? slack : plane); /* the previous phase's last row runs into it */
              continue;
            }
            for (size_t r = 0; r < PH; r++, dst += PW) {
              size_t ih = r * sh + a; /* padded row */
              if (ih < pt || ih - pt >= IH) {
                memset(dst, zp8, PW);
                continue;
              }
              const uint8_t *src = xg + c * in_size + (ih - pt) * IW;
              if (sw == 1) { /* a shifted copy with the pads set */
                size_t lead = pl < PW ? pl : PW, len = IW < PW - lead ? IW : PW - lead;
                memset(dst, zp8, lead);
                memcpy(dst + lead, src, len);
                memset(dst + lead + len, zp8, PW - lead - len);
              } else { /* columns c0 .. c1 read the row (c * sw + b - pl inside it), the rest are pads */
                size_t c0 = pl > b ? (pl - b + sw - 1) / sw : 0, c1 = (IW + pl - b + sw - 1) / sw;
                if (c1 > PW) c1 = PW;
                if (c0 > c1) c0 = c1;
                memset(dst, zp8, c0);
                strided_copy(src + (c0 * sw + b - pl), sw, c1 - c0, dst + c0);
                memset(dst + c1, zp8, PW - c1);
              }
            }
          }
      if (!direct) memset(xp + Cg * phases * plane, zp8, slack);
      int32_t zp = x_zp;
      oxrt_qgemm_ex ge = {.M = wp->Mg, .N = OH * PW, .K = K, .ap = &wp->g[g], .out = *out};
      ge.b = (oxrt_qmat){xp, x_signed, 1, 0, &zp, false, kp};
      size_t m0 = g * wp->Mg;
      ge.out.C = (uint8_t *)y + (n * s->M + m0) * out_size * y_esize;
      oxrt_qres rq;
      if (out->res) { /* the residual has the output's layout: same offset */
        rq = *out->res;
        rq.r = (const uint8_t *)rq.r + (n * s->M + m0) * out_size * y_esize;
        ge.out.res = &rq;
      }
      ge.out.ldc = out_size;
      if (PW != OW) ge.out.cols = (oxrt_qcols){PW, OW}; /* else columns are output positions as they are */
      if (ge.out.bias) ge.out.bias += m0;
      if (ge.out.scale && ge.out.n_scale != 1) ge.out.scale += m0;
      if (ge.out.fbias) ge.out.fbias += m0;
      if (!oxrt_qgemm_run(&ge, pool)) return false;
    }
  return true;
}

bool oxrt_qconv_run(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp, const oxrt_qconv_wpack *wp,
                    const oxrt_qgemm_out *out, void *y, size_t y_esize, oxrt_threadpool *pool) {
  if (out->per_row && shifted_ok(s) && wp->Kg == (s->C / s->group) * kprod_of(s))
    return qconv_shifted(s, x, x_signed, x_zp, wp, out, y, y_esize, pool);
  size_t in_size = 1, out_size = 1, Cg = s->C / s->group;
  for (int d = 0; d < s->nd; d++) in_size *= (size_t)s->in[d], out_size *= (size_t)s->out[d];
  for (size_t n = 0; n < s->N; n++)
    for (size_t g = 0; g < s->group; g++) {
      qfill_ctx f = {s, (const uint8_t *)x + (n * s->C + g * Cg) * in_size, (uint8_t)x_zp, kprod_of(s), in_size,
                     out_size};
      int32_t zp = x_zp;
      oxrt_qgemm_ex ge = {.M = wp->Mg, .N = out_size, .K = wp->Kg, .ap = &wp->g[g], .bfill = qconv_fill, .bctx = &f,
                          .b = {NULL, x_signed, 1, 0, &zp, false, NULL}, .out = *out};
      size_t m0 = g * wp->Mg;
      ge.out.C = (uint8_t *)y + (n * s->M + m0) * out_size * y_esize;
      oxrt_qres rq;
      if (out->res) { /* the residual has the output's layout: same offset */
        rq = *out->res;
        rq.r = (const uint8_t *)rq.r + (n * s->M + m0) * out_size * y_esize;
        ge.out.res = &rq;
      }
      ge.out.ldc = out_size;
      if (ge.out.bias) ge.out.bias += m0;
      if (ge.out.scale && ge.out.n_scale != 1) ge.out.scale += m0; /* ConvInteger has no scale */
      if (ge.out.fbias) ge.out.fbias += m0;
      if (!oxrt_qgemm_run(&ge, pool)) return false;
    }
  return true;
}
