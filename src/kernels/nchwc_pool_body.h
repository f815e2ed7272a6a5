/* nchwc_pool_body.h - max / average window pooling and global pooling in NCHWc, one vector = one pixel's NB
 * channels (nchwc_dw_isa.h). Included once per ISA by nchwc_pool.c, nchwc_pool_avx2.c, nchwc_pool_avx512.c.
 *
 * The layout of the work is the depthwise one (nchwc_dw_body.h): an item is an output row, the kernel rows inside
 * the input are found once per row, interior columns run in tiles of PL_RT pixels (constant kernel width and
 * stride for 2x2/2 and 3x3/1, 3x3/2), borders take their valid column-tap range per pixel.
 * Semantics are those of the NCHW pooling (ops/onnx/Pool.c): in a max a NaN never wins a comparison
 * (max(x, acc) keeps acc), a window with no input cell gives 0; an average divides the sum by the number of input
 * cells, or with count_include_pad by the cells up to the padded edge (not the ceil_mode overhang past it).
 * Global max lets a NaN through (as GlobalMaxPool does), global average divides by H * W. */

#if NB == 16
#define PL_RT 8
#else
#define PL_RT 4
#endif

typedef struct pl_row {
  const float *x0; /* input at the first valid kernel row, column 0 */
  int64_t nr;      /* valid kernel rows */
  int64_t prow;    /* kernel rows up to the padded bottom edge (count_include_pad) */
  size_t xrs;
  int64_t W, kw, sw, dw, pl, pr;
  bool include_pad;
  nv div;          /* the divisor of interior pixels */
  float *yr;
} pl_row;

static NV_ALWAYS void pl_tile(const int rt, const bool MAX, const int KW, const int SW, const pl_row *r, int64_t ow) {
  const int64_t kw = KW ? KW : r->kw, sw = SW ? SW : r->sw, td = KW ? 1 : r->dw;
  const float *xc = r->x0 + (ow * sw - r->pl) * NB;
  nv acc[PL_RT];
#pragma GCC unroll 8
  for (int p = 0; p < rt; p++) acc[p] = NV_SET1(MAX ? -INFINITY : 0.0f);
  for (int64_t i = 0; i < r->nr; i++) {
    const float *xr = xc + i * r->xrs;
#pragma GCC unroll 7
    for (int64_t k = 0; k < kw; k++) {
#pragma GCC unroll 8
      for (int p = 0; p < rt; p++) {
        const nv v = NV_LOAD(xr + (p * sw + k * td) * NB);
        acc[p] = MAX ? NV_MAX(v, acc[p]) : NV_ADD(acc[p], v);
      }
    }
  }
  float *y = r->yr + ow * NB;
#pragma GCC unroll 8
  for (int p = 0; p < rt; p++) NV_STORE(y + p * NB, MAX ? acc[p] : NV_DIV(acc[p], r->div));
}

static NV_ALWAYS void pl_interior(const bool MAX, const int KW, const int SW, const pl_row *r, int64_t owa,
                                  int64_t owb) {
  int64_t ow = owa;
  for (; ow + PL_RT <= owb; ow += PL_RT) pl_tile(PL_RT, MAX, KW, SW, r, ow);
#if PL_RT > 4
  if (owb - ow >= 4) pl_tile(4, MAX, KW, SW, r, ow), ow += 4;
#endif
  if (owb - ow >= 2) pl_tile(2, MAX, KW, SW, r, ow), ow += 2;
  if (ow < owb) pl_tile(1, MAX, KW, SW, r, ow);
}

static void pl_pixel(const pl_row *r, bool max, int64_t ow) {
  const int64_t iw0 = ow * r->sw - r->pl, d = r->dw;
  int64_t k0 = iw0 < 0 ? (-iw0 + d - 1) / d : 0, k1 = r->W - iw0 <= 0 ? 0 : (r->W - iw0 + d - 1) / d;
  if (k1 > r->kw) k1 = r->kw;
  if (k0 > k1) k0 = k1;
  nv acc = NV_SET1(max ? -INFINITY : 0.0f);
  for (int64_t i = 0; i < r->nr; i++) {
    const float *xr = r->x0 + i * r->xrs + iw0 * NB;
    for (int64_t k = k0; k < k1; k++) {
      const nv v = NV_LOAD(xr + k * d * NB);
      acc = max ? NV_MAX(v, acc) : NV_ADD(acc, v);
    }
  }
  if (max) {
    NV_STORE(r->yr + ow * NB, k0 < k1 && r->nr ? acc : NV_SET1(0.0f));
    return;
  }
  int64_t cells = r->nr * (k1 - k0);
  if (r->include_pad) {
    int64_t pc = r->W + r->pr - iw0 <= 0 ? 0 : (r->W + r->pr - iw0 + d - 1) / d;
    cells = r->prow * (pc > r->kw ? r->kw : pc);
  }
  NV_STORE(r->yr + ow * NB, NV_DIV(acc, NV_SET1((float)cells)));
}

void NV_SFX(oxrt_nchwc_pool_rows)(void *job, size_t begin, size_t end) {
  const nchwc_pool_job *j = job;
  const oxrt_nchwc_geom *g = j->g;
  const size_t OH = (size_t)g->OH, OW = (size_t)g->OW;
  const size_t plane_in = (size_t)(g->H * g->W) * NB, plane_out = OH * OW * NB;
  const bool max = j->kind == OXRT_NCHWC_MAX;
  int shape = 0; /* 1: 2x2 stride 2, 2: 3x3 stride 1, 3: 3x3 stride 2 (no column dilation) */
  if (g->dw == 1 && g->kw == 2 && g->sw == 2) shape = 1;
  else if (g->dw == 1 && g->kw == 3 && (g->sw == 1 || g->sw == 2)) shape = 1 + (int)g->sw;
  pl_row r = {.xrs = (size_t)(g->dh * g->W) * NB, .W = g->W, .kw = g->kw, .sw = g->sw, .dw = g->dw, .pl = g->pl,
              .pr = g->pr, .include_pad = j->kind == OXRT_NCHWC_AVG_INCLUDE_PAD};
  for (size_t it = begin; it < end; it++) {
    const size_t nc = it / OH;
    const int64_t oh = (int64_t)(it % OH), ih0 = oh * g->sh - g->pt;
    int64_t i0 = ih0 < 0 ? (-ih0 + g->dh - 1) / g->dh : 0, i1 = g->H - ih0 <= 0 ? 0 : (g->H - ih0 + g->dh - 1) / g->dh;
    if (i1 > g->kh) i1 = g->kh;
    if (i0 > i1) i0 = i1;
    r.nr = i1 - i0;
    r.prow = g->H + g->pb - ih0 <= 0 ? 0 : (g->H + g->pb - ih0 + g->dh - 1) / g->dh;
    if (r.prow > g->kh) r.prow = g->kh;
    r.x0 = j->x + nc * plane_in + (r.nr ? (size_t)((ih0 + i0 * g->dh) * g->W) * NB : 0);
    r.yr = j->y + nc * plane_out + (size_t)oh * OW * NB;
    r.div = NV_SET1((float)((r.include_pad ? r.prow : r.nr) * g->kw));
    if (max && !r.nr) { /* no input row in the window */
      for (size_t ow = 0; ow < OW; ow++) NV_STORE(r.yr + ow * NB, NV_SET1(0.0f));
      continue;
    }
    for (int64_t ow = 0; ow < j->owa; ow++) pl_pixel(&r, max, ow);
    switch (shape * 2 + (int)max) {
    case 0: pl_interior(false, 0, 0, &r, j->owa, j->owb); break;
    case 1: pl_interior(true, 0, 0, &r, j->owa, j->owb); break;
    case 2: pl_interior(false, 2, 2, &r, j->owa, j->owb); break;
    case 3: pl_interior(true, 2, 2, &r, j->owa, j->owb); break;
    case 4: pl_interior(false, 3, 1, &r, j->owa, j->owb); break;
    case 5: pl_interior(true, 3, 1, &r, j->owa, j->owb); break;
    case 6: pl_interior(false, 3, 2, &r, j->owa, j->owb); break;
    default: pl_interior(true, 3, 2, &r, j->owa, j->owb); break;
    }
    for (int64_t ow = j->owb; ow < g->OW; ow++) pl_pixel(&r, max, ow);
  }
}

void NV_SFX(oxrt_nchwc_gpool_range)(void *job, size_t begin, size_t end) {
  const nchwc_gpool_job *j = job;
  const size_t HW = j->HW;
  for (size_t it = begin; it < end; it++) {
    const float *x = j->x + it * HW * NB;
    size_t p = 0;
    nv out;
    if (j->max) { /* four chains for the latency of max; NaN lanes are remembered apart */
      nv a0 = NV_SET1(-INFINITY), a1 = a0, a2 = a0, a3 = a0;
      nv_nan m = NV_NAN_NONE;
      for (; p + 4 <= HW; p += 4) {
        const nv v0 = NV_LOAD(x + p * NB), v1 = NV_LOAD(x + (p + 1) * NB), v2 = NV_LOAD(x + (p + 2) * NB),
                 v3 = NV_LOAD(x + (p + 3) * NB);
        a0 = NV_MAX(v0, a0), a1 = NV_MAX(v1, a1), a2 = NV_MAX(v2, a2), a3 = NV_MAX(v3, a3);
        m = NV_NAN_OR(m, v0), m = NV_NAN_OR(m, v1), m = NV_NAN_OR(m, v2), m = NV_NAN_OR(m, v3);
      }
      for (; p < HW; p++) {
        const nv v = NV_LOAD(x + p * NB);
        a0 = NV_MAX(v, a0), m = NV_NAN_OR(m, v);
      }
      out = NV_NAN_SET(m, NV_MAX(NV_MAX(a0, a1), NV_MAX(a2, a3)));
    } else {
      nv a0 = NV_SET1(0.0f), a1 = a0, a2 = a0, a3 = a0;
      for (; p + 4 <= HW; p += 4) {
        a0 = NV_ADD(a0, NV_LOAD(x + p * NB)), a1 = NV_ADD(a1, NV_LOAD(x + (p + 1) * NB));
        a2 = NV_ADD(a2, NV_LOAD(x + (p + 2) * NB)), a3 = NV_ADD(a3, NV_LOAD(x + (p + 3) * NB));
      }
      for (; p < HW; p++) a0 = NV_ADD(a0, NV_LOAD(x + p * NB));
      out = NV_DIV(NV_ADD(NV_ADD(a0, a1), NV_ADD(a2, a3)), NV_SET1((float)HW));
    }
    NV_STORE(j->y + it * NB, out);
  }
}
