/* nchwc_dw_body.h - depthwise convolution and the channel broadcast in NCHWc, one vector = one pixel's NB channels
 * (nchwc_dw_isa.h picks the vector). Included once per ISA by nchwc_dw.c, nchwc_dw_avx2.c, nchwc_dw_avx512.c.
 *
 * One work item is one output row of one (image, channel block). The kernel rows that fall inside the input are a
 * contiguous range, found once per row, so no tap ever tests a row bound. Output columns whose every column tap is
 * inside the row (the interior) run in tiles of DW_RT pixels: each tap's weight vector is loaded once per tile and
 * FMA'd into DW_RT accumulators (the x vectors come in as the FMAs' memory operands); the common shapes (3x3, 5x5,
 * 7x7, stride 1 or 2, no column dilation) are compiled with constant kernel width and stride, taps unrolled.
 * Border columns take their valid column-tap range per pixel. Small planes, where border columns are a large share,
 * are instead copied once into a zero-padded plane (one item = one whole plane) and run without borders, two output
 * rows per tile. Bias starts the accumulators; z and the clamp are applied before the single store; any other
 * activation runs over the finished row while it is in L1. */

#if NB == 16
#define DW_RT 8 /* 32 registers: 8 accumulators, up to 14 x vectors of a 7-wide row, a weight */
#else
#define DW_RT 4
#endif

typedef struct dw_row {
  const float *x0;  /* input at the first valid kernel row, column 0 */
  const float *w0;  /* weights of the first valid kernel row */
  int64_t nr;       /* valid kernel rows */
  size_t xrs, wrs;  /* floats between successive kernel rows in x and w */
  size_t irs, ors;  /* two-row tiles: floats between the input windows / the outputs of successive output rows */
  int64_t W, kw, sw, dw, pl;
  nv bv, lo, hi;
  bool clamp;       /* lo / hi are a real clamp (Relu, Clip) */
  const float *zr;  /* residual row (or NULL) */
  float *yr;
} dw_row;

/* rr (1 or 2) output rows x rt pixels from output column ow on, every tap inside the row; KW and SW are 0 (read
 * from r) or constants (then the column dilation is 1). Two rows share each weight load and give narrow planes
 * (7 or 14 columns) enough independent accumulators to hide the FMA latency. */
static NV_ALWAYS void dw_tile(const int rr, const int rt, const int KW, const int SW, const dw_row *r, int64_t ow) {
  const int64_t kw = KW ? KW : r->kw, sw = SW ? SW : r->sw, td = KW ? 1 : r->dw;
  const float *xc = r->x0 + (ow * sw - r->pl) * NB;
  nv acc[2][DW_RT];
#pragma GCC unroll 2
  for (int q = 0; q < rr; q++)
#pragma GCC unroll 8
    for (int p = 0; p < rt; p++) acc[q][p] = r->bv;
  for (int64_t i = 0; i < r->nr; i++) {
    const float *xr = xc + i * r->xrs, *wr = r->w0 + i * r->wrs;
#pragma GCC unroll 7
    for (int64_t k = 0; k < kw; k++) {
      const nv wv = NV_LOAD(wr + k * NB);
#pragma GCC unroll 2
      for (int q = 0; q < rr; q++)
#pragma GCC unroll 8
        for (int p = 0; p < rt; p++)
          acc[q][p] = NV_FMA(NV_LOAD(xr + q * r->irs + (size_t)(p * sw + k * td) * NB), wv, acc[q][p]);
    }
  }
#pragma GCC unroll 2
  for (int q = 0; q < rr; q++) {
    float *y = r->yr + q * r->ors + ow * NB;
    const float *z = r->zr ? r->zr + q * r->ors + ow * NB : NULL;
#pragma GCC unroll 8
    for (int p = 0; p < rt; p++) {
      nv v = acc[q][p];
      if (z) v = NV_ADD(v, NV_LOAD(z + p * NB));
      if (r->clamp) v = NV_MIN(r->hi, NV_MAX(r->lo, v)); /* skipped when there is none (1-2% on 3x3) */
      NV_STORE(y + p * NB, v);
    }
  }
}

static NV_ALWAYS void dw_interior(const int rr, const int KW, const int SW, const dw_row *r, int64_t owa,
                                  int64_t owb) {
  int64_t ow = owa;
  for (; ow + DW_RT <= owb; ow += DW_RT) dw_tile(rr, DW_RT, KW, SW, r, ow);
#if DW_RT > 4
  if (owb - ow >= 4) dw_tile(rr, 4, KW, SW, r, ow), ow += 4;
#endif
  if (owb - ow >= 2) dw_tile(rr, 2, KW, SW, r, ow), ow += 2;
  if (ow < owb) dw_tile(rr, 1, KW, SW, r, ow);
}

/* A border pixel: only the column taps inside the row. */
static void dw_pixel(const dw_row *r, int64_t ow) {
  const int64_t iw0 = ow * r->sw - r->pl, d = r->dw;
  int64_t k0, k1;
  if (d == 1) /* no divisions: they cost as much as the taps here */
    k0 = iw0 < 0 ? -iw0 : 0, k1 = r->W - iw0 <= 0 ? 0 : r->W - iw0;
  else
    k0 = iw0 < 0 ? (-iw0 + d - 1) / d : 0, k1 = r->W - iw0 <= 0 ? 0 : (r->W - iw0 + d - 1) / d;
  if (k1 > r->kw) k1 = r->kw;
  nv acc = r->bv;
  for (int64_t i = 0; i < r->nr; i++) {
    const float *xr = r->x0 + i * r->xrs + iw0 * NB, *wr = r->w0 + i * r->wrs;
    for (int64_t k = k0; k < k1; k++) acc = NV_FMA(NV_LOAD(xr + k * d * NB), NV_LOAD(wr + k * NB), acc);
  }
  if (r->zr) acc = NV_ADD(acc, NV_LOAD(r->zr + ow * NB));
  NV_STORE(r->yr + ow * NB, NV_MIN(r->hi, NV_MAX(r->lo, acc)));
}

/* The interior of rr output rows (columns [owa, owb)) with the constant-shape copy that fits. */
#define DW_SHAPES(rr)                                                                                                 \
  switch (shape) {                                                                                                   \
  case 2: dw_interior(rr, 3, 1, r, owa, owb); break;                                                                 \
  case 3: dw_interior(rr, 3, 2, r, owa, owb); break;                                                                 \
  case 4: dw_interior(rr, 5, 1, r, owa, owb); break;                                                                 \
  case 5: dw_interior(rr, 5, 2, r, owa, owb); break;                                                                 \
  case 6: dw_interior(rr, 7, 1, r, owa, owb); break;                                                                 \
  case 7: dw_interior(rr, 7, 2, r, owa, owb); break;                                                                 \
  default: dw_interior(rr, 0, 0, r, owa, owb); break;                                                                \
  }
static void dw_interior_any(int rr, int shape, const dw_row *r, int64_t owa, int64_t owb) {
  if (rr == 2) {
    DW_SHAPES(2)
  } else {
    DW_SHAPES(1)
  }
}
#undef DW_SHAPES

/* One (image, channel block) through the padded plane buf (Hp x Wp pixels, zero where no input is copied). */
static void dw_plane_padded(const nchwc_dw_job *j, int shape, size_t nc, float *buf, dw_row *r) {
  const oxrt_nchwc_geom *g = j->g;
  const size_t Cb = g->C / NB, T = (size_t)(g->kh * g->kw), OW = (size_t)g->OW;
  const size_t plane_out = (size_t)g->OH * OW * NB;
  const int64_t c0 = g->pl < 0 ? -g->pl : 0, c1 = g->W < j->Wp - g->pl ? g->W : j->Wp - g->pl;
  const float *xp = j->x + nc * (size_t)(g->H * g->W) * NB;
  for (int64_t ih = 0; ih < g->H; ih++) {
    const int64_t ph = ih + g->pt;
    if (ph < 0 || ph >= j->Hp || c1 <= c0) continue;
    memcpy(buf + (size_t)((ph * j->Wp + c0 + g->pl) * NB), xp + (size_t)((ih * g->W + c0) * NB),
           sizeof(float) * (size_t)(c1 - c0) * NB);
  }
  r->nr = g->kh;
  r->w0 = j->w + nc % Cb * T * NB;
  r->bv = j->bias ? NV_LOAD(j->bias + nc % Cb * NB) : NV_SET1(0.0f);
  for (int64_t oh = 0; oh < g->OH; oh += 2) {
    const int rr = oh + 1 < g->OH ? 2 : 1;
    r->x0 = buf + (size_t)(oh * g->sh * j->Wp) * NB;
    r->yr = j->y + nc * plane_out + (size_t)oh * OW * NB;
    r->zr = j->z ? j->z + nc * plane_out + (size_t)oh * OW * NB : NULL;
    dw_interior_any(rr, shape, r, 0, g->OW);
    if (j->act.kind != OXRT_ACT_NONE) oxrt_act_apply(j->act, r->yr, (size_t)rr * OW * NB);
  }
}

void NV_SFX(oxrt_nchwc_dw_rows)(void *job, size_t begin, size_t end) {
  const nchwc_dw_job *j = job;
  const oxrt_nchwc_geom *g = j->g;
  const size_t Cb = g->C / NB, T = (size_t)(g->kh * g->kw), OH = (size_t)g->OH, OW = (size_t)g->OW;
  const size_t plane_in = (size_t)(g->H * g->W) * NB, plane_out = OH * OW * NB;
  /* which constant-shape interior: kernel width 3/5/7 x stride 1/2 without column dilation, else generic */
  int shape = 0;
  if (g->dw == 1 && (g->sw == 1 || g->sw == 2) && (g->kw == 3 || g->kw == 5 || g->kw == 7))
    shape = (int)(g->kw - 1) + (int)g->sw - 1; /* 2 3 4 5 6 7 */
  dw_row r = {.xrs = (size_t)(g->dh * g->W) * NB, .wrs = (size_t)g->kw * NB, .W = g->W, .kw = g->kw, .sw = g->sw,
              .dw = g->dw, .pl = g->pl, .lo = NV_SET1(j->lo), .hi = NV_SET1(j->hi),
              .clamp = j->lo > -INFINITY || j->hi < INFINITY};
  if (j->Hp) {
    const size_t bytes = sizeof(float) * (size_t)(j->Hp * j->Wp) * NB;
    float *buf = oxrt_aligned_alloc(bytes);
    if (buf) {
      memset(buf, 0, bytes);
      r.xrs = (size_t)(g->dh * j->Wp) * NB, r.W = j->Wp, r.pl = 0;
      r.irs = (size_t)(g->sh * j->Wp) * NB, r.ors = OW * NB;
      for (size_t nc = begin; nc < end; nc++) dw_plane_padded(j, shape, nc, buf, &r);
      oxrt_aligned_free(buf);
      return;
    }
    /* no memory for the plane: the same planes row by row */
    begin *= OH, end *= OH;
  }
  for (size_t it = begin; it < end; it++) {
    const size_t nc = it / OH, cb = nc % Cb;
    const int64_t oh = (int64_t)(it % OH), ih0 = oh * g->sh - g->pt;
    int64_t i0 = ih0 < 0 ? (-ih0 + g->dh - 1) / g->dh : 0, i1 = g->H - ih0 <= 0 ? 0 : (g->H - ih0 + g->dh - 1) / g->dh;
    if (i1 > g->kh) i1 = g->kh;
    if (i0 > i1) i0 = i1;
    r.nr = i1 - i0;
    r.x0 = j->x + nc * plane_in + (r.nr ? (size_t)((ih0 + i0 * g->dh) * g->W) * NB : 0);
    r.w0 = j->w + (cb * T + (size_t)(i0 * g->kw)) * NB;
    r.bv = j->bias ? NV_LOAD(j->bias + cb * NB) : NV_SET1(0.0f);
    r.yr = j->y + nc * plane_out + (size_t)oh * OW * NB;
    r.zr = j->z ? j->z + nc * plane_out + (size_t)oh * OW * NB : NULL;
    for (int64_t ow = 0; ow < j->owa; ow++) dw_pixel(&r, ow);
    dw_interior_any(1, shape, &r, j->owa, j->owb);
    for (int64_t ow = j->owb; ow < g->OW; ow++) dw_pixel(&r, ow);
    if (j->act.kind != OXRT_ACT_NONE) oxrt_act_apply(j->act, r.yr, OW * NB);
  }
}

void NV_SFX(oxrt_nchwc_chan_range)(void *job, size_t begin, size_t end) {
  const nchwc_chan_job *j = job;
  for (size_t it = begin; it < end; it++) {
    const size_t nc = it / j->nchunks, p0 = it % j->nchunks * j->chunk;
    const size_t p1 = p0 + j->chunk < j->HW ? p0 + j->chunk : j->HW;
    const nv s = NV_LOAD(j->s + nc / j->Cb * j->C + nc % j->Cb * NB);
    const float *x = j->x + (nc * j->HW + p0) * NB;
    float *y = j->y + (nc * j->HW + p0) * NB;
    const size_t n = p1 - p0;
    if (j->op == '*')
      for (size_t p = 0; p < n; p++) NV_STORE(y + p * NB, NV_MUL(NV_LOAD(x + p * NB), s));
    else
      for (size_t p = 0; p < n; p++) NV_STORE(y + p * NB, NV_ADD(NV_LOAD(x + p * NB), s));
  }
}
