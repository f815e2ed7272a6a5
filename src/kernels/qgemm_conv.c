/* qgemm_conv.c - 8-bit convolution: implicit im2col into the 8-bit GEMM (see qgemm_conv.h). */
#include "qgemm_conv.h"
#include "scratch.h"
#include "../core/cpu.h"
#include <stdint.h>
#ifdef __SSE2__
#include "transpose_u8x16.h"
#endif
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

static bool shifted_ok(const oxrt_conv_shape *s);

static size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

/* The kernel for weights as B: this process's, when it is k-group 4 with A unsigned (VNNI); else NULL. */
static const oxrt_qkernel *wt_kernel(void) {
  const oxrt_qkernel *k = oxrt_qgemm_kernel();
  return k->g == 4 && !k->b_u8 && !k->pairs7 ? k : NULL;
}

/* Weights as B when the transposed GEMM multiplies fewer padding products: weights as A compute Mg rows (in steps
 * of the short-panel kernels) by OH * PW columns in steps of nr (pad columns included), weights as B compute
 * OH * OW positions by Mg columns in steps of nr. A margin for the gather of positions, which costs more than the
 * plain copy of k-rows. */
static bool prefer_wt(const oxrt_conv_shape *s, const oxrt_qkernel *k) {
  if (!k || !shifted_ok(s)) return false;
  bool two = s->nd == 2;
  size_t Mg = s->M / s->group, OW = (size_t)s->out[s->nd - 1], OH = two ? (size_t)s->out[0] : 1;
  size_t PW = OW + (size_t)((s->k[s->nd - 1] - 1) * s->dil[s->nd - 1] / s->stride[s->nd - 1]);
  size_t rstep = k->run8 ? 4 : k->mr;
  double as_a = (double)round_up(Mg, rstep) * (double)round_up(OH * PW, k->nr);
  double as_b = (double)round_up(OH * OW, rstep) * (double)round_up(Mg, k->nr);
  return as_b * 1.05 < as_a;
}

bool oxrt_qconv_pack_wt(const oxrt_conv_shape *s, const void *w, bool w_signed, const int32_t *wzp, size_t n_wzp,
                        const oxrt_qkernel *kern, oxrt_qconv_wpack *out) {
  memset(out, 0, sizeof *out);
  out->group = s->group, out->Mg = s->M / s->group, out->Kg = (s->C / s->group) * kprod_of(s), out->wt = true;
  out->g = calloc(s->group, sizeof(oxrt_qpack));
  if (!out->g) return false;
  for (size_t g = 0; g < s->group; g++) {
    const int32_t *zp = wzp ? (n_wzp == 1 ? wzp : wzp + g * out->Mg) : NULL;
    oxrt_qmat m = {(const uint8_t *)w + g * out->Mg * out->Kg, w_signed, out->Kg, 1, zp, n_wzp != 1, NULL};
    if (!oxrt_qpack_make(kern, false, out->Mg, out->Kg, &m, &out->g[g])) {
      oxrt_qconv_wpack_free(out);
      return false;
    }
  }
  return true;
}

bool oxrt_qconv_pack(const oxrt_conv_shape *s, const void *w, bool w_signed, const int32_t *wzp, size_t n_wzp,
                     oxrt_qconv_wpack *out) {
  const oxrt_qkernel *kt = wt_kernel();
  if (prefer_wt(s, kt)) return oxrt_qconv_pack_wt(s, w, w_signed, wzp, n_wzp, kt, out);
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

/* ------------------------------------------------------------------ weights as B */

/* Output positions as A rows: position p reads k-row k at kp[k][(p / OW) * PW + p % OW] (no pad columns). */
typedef struct {
  const uint8_t *const *kp;
  size_t K, OW, PW, npos, lim; /* lim: bytes readable from each k-row's start (SIZE_MAX: slack follows) */
  uint32_t flip;
  const oxrt_qpack *ap;
  bool sums;
} qpos_ctx;

static void pack_positions(void *arg, size_t p0, size_t p1) {
  const qpos_ctx *c = arg;
  const oxrt_qpack *ap = c->ap;
  const size_t mr = ap->kern->mr, kg = ap->kg;
  for (size_t p = p0; p < p1; p++) {
    uint8_t *d = (uint8_t *)ap->data + p * kg * mr * 4;
    size_t off[16], n = c->npos - p * mr < mr ? c->npos - p * mr : mr;
    for (size_t i = 0; i < mr; i++) { /* rows past the last position repeat it (their sums are never stored) */
      size_t pos = p * mr + (i < n ? i : n - 1);
      off[i] = (pos / c->OW) * c->PW + pos % c->OW;
    }
    bool vec = false;
#if defined(__x86_64__) && defined(__GNUC__)
    vec = mr <= 16 && off[mr - 1] - off[0] < 16 && (c->lim == SIZE_MAX || off[0] + 16 <= c->lim) &&
          oxrt_cpu_isa() >= OXRT_ISA_AVX2;
    if (vec) oxrt_qpack_positions_avx2(c->kp, c->K, off, mr, c->flip, d);
#endif
    if (!vec) {
      uint8_t *dd = d, f8 = (uint8_t)(c->flip & 0xff);
      for (size_t kk = 0; kk < kg; kk++, dd += mr * 4)
        for (size_t t = 0; t < 4; t++) {
          size_t k = kk * 4 + t;
          const uint8_t *row = k < c->K ? c->kp[k] : NULL;
          for (size_t i = 0; i < mr; i++) dd[4 * i + t] = row ? (uint8_t)(row[off[i]] ^ f8) : 0;
        }
    }
    if (c->sums) { /* row sums of the packed (unsigned) bytes */
      int32_t *sm = ap->sums + p * mr;
      for (size_t i = 0; i < mr; i++) sm[i] = 0;
      for (size_t kk = 0; kk < kg; kk++)
        for (size_t i = 0; i < mr; i++) {
          const uint8_t *q = d + (kk * mr + i) * 4;
          sm[i] += (int32_t)q[0] + q[1] + q[2] + q[3];
        }
    }
  }
}

/* y[c][r] = t[r][c] for t [rows, cols]: 16 x 16 blocks through two registers' worth of byte / word / dword /
 * qword unpacks, edges one by one. */
static void transpose_u8(const uint8_t *t, size_t rows, size_t cols, uint8_t *y) {
  size_t r0 = 0;
#ifdef __SSE2__
  for (; r0 + 16 <= rows; r0 += 16) {
    size_t c0 = 0;
    for (; c0 + 16 <= cols; c0 += 16) {
      __m128i a[16], b[16];
      for (int i = 0; i < 16; i++) a[i] = _mm_loadu_si128((const __m128i *)(const void *)(t + (r0 + i) * cols + c0));
      oxrt_transpose_u8x16(a, b);
      for (int q = 0; q < 16; q++) _mm_storeu_si128((__m128i *)(void *)(y + (c0 + q) * rows + r0), b[q]); /* column */
    }
    for (; c0 < cols; c0++)
      for (size_t i = 0; i < 16; i++) y[c0 * rows + r0 + i] = t[(r0 + i) * cols + c0];
  }
#endif
  for (size_t c = 0; c < cols; c++)
    for (size_t r = r0; r < rows; r++) y[c * rows + r] = t[r * cols + c];
}

typedef struct {
  const oxrt_qgemm_out *o;
  size_t n;
} qres_ctx;

static void residual_chunks(void *arg, size_t c0, size_t c1) { /* chunks of 16K elements */
  const qres_ctx *r = arg;
  size_t a = c0 << 14, b = c1 << 14 < r->n ? c1 << 14 : r->n;
  oxrt_qgemm_residual(r->o, a, b - a);
}

/* One image and group with weights as B: positions packed as A, the product [npos, Mg] through the output stage
 * per column (output channel) into a scratch block, transposed into y (at image n, channel m0), then the fused
 * residual over that block. */
static bool run_wt(const uint8_t *const *kp, size_t lim, size_t OW, size_t PW, size_t npos, bool x_signed,
                   int32_t x_zp, const oxrt_qpack *bp, size_t m0, const oxrt_qgemm_out *out, uint8_t *yb,
                   size_t y_esize, size_t ybase, oxrt_threadpool *pool) {
  const oxrt_qkernel *k = bp->kern;
  const size_t mr = k->mr, panels = (npos + mr - 1) / mr, Mg = bp->rows, K = bp->K, kg = bp->kg;
  size_t data_b = round_up(panels * kg * mr * 4, 64), vec_b = round_up(panels * mr * 4, 64);
  size_t es = out->kind == OXRT_QOUT_I32 || out->kind == OXRT_QOUT_F32 ? 4 : 1;
  size_t tmp_b = round_up(npos * Mg * es, 64);
  uint8_t *buf = oxrt_scratch_get(OXRT_SCRATCH_QCONV_T, data_b + 2 * vec_b + tmp_b + Mg * sizeof(int32_t));
  if (!buf) return false;
  bool sums = false; /* A's row sums count only where B has a packed zero point */
  for (size_t j = 0; j < Mg && !sums; j++) sums = bp->zp[j] != 0;
  oxrt_qpack ap = {.kern = k, .is_a = true, .rows = npos, .K = K, .kg = kg, .data = buf,
                   .sums = (int32_t *)(void *)(buf + data_b), .zp = (int32_t *)(void *)(buf + data_b + vec_b)};
  /* A re-centred to uint8. With B's zero points all 0 the correction is -zpa * (column sum of B), a constant per
   * column: it joins the bias and A's zero point reads as 0 (no correction pass over the sums). */
  int32_t zpa = x_zp + (x_signed ? 128 : 0);
  for (size_t i = 0; i < panels * mr; i++) ap.zp[i] = sums ? zpa : 0;
  if (!sums) memset(ap.sums, 0, panels * mr * sizeof(int32_t));
  int32_t *fbias = (int32_t *)(void *)(buf + data_b + 2 * vec_b + tmp_b);
  qpos_ctx pc = {kp, K, OW, PW, npos, lim, x_signed ? 0x80808080u : 0, &ap, sums};
  if (pool && panels > 1 && npos * K >= 65536) oxrt_parallel_for(pool, panels, 1, pack_positions, &pc);
  else pack_positions(&pc, 0, panels);
  uint8_t *tmp = buf + data_b + 2 * vec_b, *y = yb + ybase * y_esize;
  oxrt_qgemm_ex ge = {.M = npos, .N = Mg, .K = K, .ap = &ap, .bp = bp, .out = *out};
  ge.out.per_row = false, ge.out.C = tmp, ge.out.ldc = Mg, ge.out.cols = (oxrt_qcols){0, 0}, ge.out.res = NULL;
  /* 8-bit output without zero-point corrections on AVX-512 VNNI: the kernels requantize and store it transposed in
   * registers, straight into y (no int32 tile pass, no transpose pass) */
  bool direct = false;
#if defined(__x86_64__) && defined(__GNUC__)
  direct = es == 1 && !sums && k->id == OXRT_QK_AVX512VNNI && oxrt_cpu_isa() >= OXRT_ISA_AVX512;
#endif
  if (direct) ge.out.C = y, ge.out.ldc = npos, ge.out.transposed = true;
  if (ge.out.bias) ge.out.bias += m0;
  if (!sums) {
    for (size_t j = 0; j < Mg; j++)
      fbias[j] = (int32_t)((uint32_t)(ge.out.bias ? ge.out.bias[j] : 0) - (uint32_t)zpa * (uint32_t)bp->sums[j]);
    ge.out.bias = fbias;
  }
  if (ge.out.scale && ge.out.n_scale != 1) ge.out.scale += m0;
  if (ge.out.fbias) ge.out.fbias += m0;
  if (!oxrt_qgemm_run(&ge, pool)) return false;
  if (!direct && es == 1) {
    transpose_u8(tmp, npos, Mg, y);
  } else if (!direct) {
    const uint32_t *t32 = (const uint32_t *)(void *)tmp;
    for (size_t m = 0; m < Mg; m++) {
      uint8_t *ym = y + m * npos * 4;
      for (size_t p = 0; p < npos; p++) memcpy(ym + 4 * p, &t32[p * Mg + m], 4);
    }
  }
  if (out->res) {
    oxrt_qres rq = *out->res;
    rq.r = (const uint8_t *)rq.r + ybase * y_esize;
    oxrt_qgemm_out ro = *out;
    ro.C = y, ro.res = &rq;
    qres_ctx rc = {&ro, Mg * npos};
    size_t chunks = (rc.n + 16383) >> 14;
    if (pool && chunks > 1 && oxrt_threadpool_size(pool) > 1) oxrt_parallel_for(pool, chunks, 1, residual_chunks, &rc);
    else residual_chunks(&rc, 0, chunks);
  }
  return true;
}

/* Weights as B for a shape the stride-phase planes do not take: the im2col rows made explicitly (positions
 * contiguous, 16 bytes of slack for the gather's loads). */
static bool qconv_wt_im2col(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp,
                            const oxrt_qconv_wpack *wp, const oxrt_qgemm_out *out, void *y, size_t y_esize,
                            oxrt_threadpool *pool) {
  size_t in_size = 1, out_size = 1, Cg = s->C / s->group, K = wp->Kg;
  for (int d = 0; d < s->nd; d++) in_size *= (size_t)s->in[d], out_size *= (size_t)s->out[d];
  size_t kp_bytes = round_up(K * sizeof(uint8_t *), 64);
  uint8_t *buf = oxrt_scratch_get(OXRT_SCRATCH_QCONV, kp_bytes + K * out_size + 64);
  if (!buf) return false;
  const uint8_t **kp = (const uint8_t **)(void *)buf;
  uint8_t *cols = buf + kp_bytes;
  for (size_t k = 0; k < K; k++) kp[k] = cols + k * out_size;
  memset(cols + K * out_size, 0, 64);
  for (size_t n = 0; n < s->N; n++)
    for (size_t g = 0; g < s->group; g++) {
      qfill_ctx f = {s, (const uint8_t *)x + (n * s->C + g * Cg) * in_size, (uint8_t)x_zp, kprod_of(s), in_size,
                     out_size};
      qconv_fill(&f, 0, K, 0, out_size, cols, out_size);
      if (!run_wt(kp, SIZE_MAX, out_size, out_size, out_size, x_signed, x_zp, &wp->g[g], g * wp->Mg, out, y, y_esize,
                  (n * s->M + g * wp->Mg) * out_size, pool))
        return false;
    }
  return true;
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

/* d[0..n) = s[0..n) for short n, inline: overlapping 16-, 8-, 4-byte moves */
static inline void copy_short(uint8_t *d, const uint8_t *s, size_t n) {
  if (n >= 16) {
    for (size_t t = 0; t + 16 <= n; t += 16) memcpy(d + t, s + t, 16);
    memcpy(d + n - 16, s + n - 16, 16);
  } else if (n >= 8) {
    uint64_t a, b;
    memcpy(&a, s, 8), memcpy(&b, s + n - 8, 8);
    memcpy(d, &a, 8), memcpy(d + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4), memcpy(&b, s + n - 4, 4);
    memcpy(d, &a, 4), memcpy(d + n - 4, &b, 4);
  } else {
    for (size_t t = 0; t < n; t++) d[t] = s[t];
  }
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

/* The stride-phase planes of channels [c0, c1) of one image and group (see qconv_shifted). */
typedef struct {
  const uint8_t *xg;
  uint8_t *xp;
  const bool *used;
  size_t phases, plane, slack, sh, sw, PH, PW, IH, IW, pt, pl, in_size;
  uint8_t zp8;
  bool avx512; /* stride-2 rows through oxrt_qstride2_copy_avx512 */
} qplanes_ctx;

static void fill_planes(void *arg, size_t c0, size_t c1) {
  const qplanes_ctx *f = arg;
  const size_t sh = f->sh, sw = f->sw, PH = f->PH, PW = f->PW, IH = f->IH, IW = f->IW, pt = f->pt, pl = f->pl;
  for (size_t c = c0; c < c1; c++)
    for (size_t a = 0; a < sh; a++)
      for (size_t b = 0; b < sw; b++) {
        uint8_t *dst = f->xp + (c * f->phases + a * sw + b) * f->plane;
        if (!f->used[a * sw + b]) { /* no tap reads it (a 1x1 stride-2 convolution reads one phase of four); */
          memset(dst, f->zp8, f->slack < f->plane ? f->slack : f->plane); /* the previous phase's last row runs
                                                                            * into it */
          continue;
        }
        memset(dst, f->zp8, f->plane); /* the pads; one call per plane, rows copied inline (short rows: libc calls
                                        * per row cost more than the copy) */
        for (size_t r = 0; r < PH; r++, dst += PW) {
          size_t ih = r * sh + a; /* padded row */
          if (ih < pt || ih - pt >= IH) continue;
          const uint8_t *src = f->xg + c * f->in_size + (ih - pt) * IW;
          if (sw == 1) { /* a shifted copy */
            size_t lead = pl < PW ? pl : PW, len = IW < PW - lead ? IW : PW - lead;
            copy_short(dst + lead, src, len);
          } else { /* columns c0 .. c1 read the row (c * sw + b - pl inside it), the rest are pads */
            size_t k0 = pl > b ? (pl - b + sw - 1) / sw : 0, k1 = (IW + pl - b + sw - 1) / sw;
            if (k1 > PW) k1 = PW;
            if (k0 > k1) k0 = k1;
#if defined(__x86_64__) && defined(__GNUC__)
            if (sw == 2 && f->avx512) {
              oxrt_qstride2_copy_avx512(src + (k0 * sw + b - pl), k1 - k0, dst + k0);
              continue;
            }
#endif
            strided_copy(src + (k0 * sw + b - pl), sw, k1 - k0, dst + k0);
          }
        }
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
      if (!direct) { /* channels split over the pool's threads when the planes are large enough */
        qplanes_ctx f = {xg, xp, used, phases, plane, slack, sh, sw, PH, PW, IH, IW, pt, pl, in_size, zp8,
                         oxrt_cpu_isa() >= OXRT_ISA_AVX512};
        if (pool && Cg > 1 && Cg * phases * plane >= 65536 && oxrt_threadpool_size(pool) > 1)
          oxrt_parallel_for(pool, Cg, 1, fill_planes, &f);
        else
          fill_planes(&f, 0, Cg);
      }
      if (!direct) memset(xp + Cg * phases * plane, zp8, slack);
      if (wp->wt) {
        if (!run_wt(kp, direct ? in_size : SIZE_MAX, OW, PW, out_size, x_signed, x_zp, &wp->g[g], g * wp->Mg, out, y,
                    y_esize, (n * s->M + g * wp->Mg) * out_size, pool))
          return false;
        continue;
      }
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
  if (wp->wt) return qconv_wt_im2col(s, x, x_signed, x_zp, wp, out, y, y_esize, pool);
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
