/* dwconv_body.h - the vector fill and plane kernels of dwconv.h, included once per ISA. The including file
 * defines: DW_PLANE, DW_FILL (exported names), DW_VW (lanes), DW_V (vector type), DW_SET1, DW_LOADU,
 * DW_FMA(a, b, c) = a*b + c, DW_MIN, DW_MAX (the second operand is returned when either is NaN, as x86 min/max
 * do), DW_STOREU, DW_LOAD_N(p, n) / DW_STORE_N(p, v, n) (first n lanes only, the others not touched), and
 * optionally DW_STORE_COMPRESS(p, v, m) (lanes set in m stored to p, p + 1, ...), and
 * dw_split2(even, ne, odd, no, src, W): even[j] = src[2j] (j < ne), odd[j] = src[2j+1] (j < no), reading src[0, W)
 * only (2*ne <= W + 1, 2*no <= W). */
#include "dwconv.h"

#define DW_NB 8 /* output vectors per tile: each tap's weight is broadcast once for all of them */

/* Short runs (rows of 7 or 14) are too short for a libc call. */
static inline void dw_copy(float *dst, const float *src, int64_t n) {
  int64_t j = 0;
  for (; j + DW_VW <= n; j += DW_VW) DW_STOREU(dst + j, DW_LOADU(src + j));
  if (j < n) DW_STORE_N(dst + j, DW_LOAD_N(src + j, (int)(n - j)), (int)(n - j));
}

void DW_FILL(const oxrt_dw_geom *g, const float *x, float *buf) {
  const int64_t *r = g->rows, sw = g->sw;
  for (int64_t k = 0; k < g->n_rows; k++, r += 3) {
    const float *src = x + r[0];
    float *dst = buf + r[1];
    if (sw == 1) dw_copy(dst, src, r[2]);
    else if (sw == 2) dw_split2(dst, g->n_even, buf + r[2], g->n_odd, src, g->W);
    else
      for (int64_t j = 0; j < r[2]; j++) dst[j] = src[j * sw];
  }
}

/* NV output vectors at in + voff[i] (input) / out + ooff[i] (output), cnt[i] lanes kept. */
static inline __attribute__((always_inline)) void dw_tile(int nv, int ntaps, const int64_t *toff, const float *w,
                                                          const float *in, const int64_t *voff, float *out,
                                                          const int64_t *ooff, const int *cnt, const uint16_t *cm,
                                                          DW_V vb, DW_V vlo, DW_V vhi) {
  DW_V acc[DW_NB];
#pragma GCC unroll 8
  for (int i = 0; i < nv; i++) acc[i] = vb;
  for (int t = 0; t < ntaps; t++) {
    const DW_V wv = DW_SET1(w[t]);
    const float *s = in + toff[t];
#pragma GCC unroll 8
    for (int i = 0; i < nv; i++) acc[i] = DW_FMA(wv, DW_LOADU(s + voff[i]), acc[i]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < nv; i++) {
    DW_V v = DW_MAX(vlo, DW_MIN(vhi, acc[i]));
#ifdef DW_STORE_COMPRESS
    if (cm) {
      DW_STORE_COMPRESS(out + ooff[i], v, cm[i]);
      continue;
    }
#else
    (void)cm;
#endif
    if (cnt[i] == DW_VW) DW_STOREU(out + ooff[i], v);
    else DW_STORE_N(out + ooff[i], v, cnt[i]);
  }
}

static void dw_tile_n(int nv, int ntaps, const int64_t *toff, const float *w, const float *in, const int64_t *voff,
                      float *out, const int64_t *ooff, const int *cnt, const uint16_t *cm, DW_V vb, DW_V vlo,
                      DW_V vhi) {
  switch (nv) { /* constant trip counts keep the accumulators in registers */
  case 1: dw_tile(1, ntaps, toff, w, in, voff, out, ooff, cnt, cm, vb, vlo, vhi); break;
  case 2: dw_tile(2, ntaps, toff, w, in, voff, out, ooff, cnt, cm, vb, vlo, vhi); break;
  case 3: dw_tile(3, ntaps, toff, w, in, voff, out, ooff, cnt, cm, vb, vlo, vhi); break;
  case 4: dw_tile(4, ntaps, toff, w, in, voff, out, ooff, cnt, cm, vb, vlo, vhi); break;
  case 5: dw_tile(5, ntaps, toff, w, in, voff, out, ooff, cnt, cm, vb, vlo, vhi); break;
  case 6: dw_tile(6, ntaps, toff, w, in, voff, out, ooff, cnt, cm, vb, vlo, vhi); break;
  case 7: dw_tile(7, ntaps, toff, w, in, voff, out, ooff, cnt, cm, vb, vlo, vhi); break;
  default: dw_tile(8, ntaps, toff, w, in, voff, out, ooff, cnt, cm, vb, vlo, vhi); break;
  }
}

void DW_PLANE(const oxrt_dw_geom *g, const float *buf, const float *w, float bias, float lo, float hi, float *y,
              float *scratch) {
  const DW_V vb = DW_SET1(bias), vlo = DW_SET1(lo), vhi = DW_SET1(hi);
  const int64_t OH = g->OH, OW = g->OW, Wq = g->Wq;
  int64_t voff[DW_NB], ooff[DW_NB];
  int cnt[DW_NB];
  if (g->flat) { /* the plane as one row of OH*Wq outputs; rows of Wq == OW need no compaction */
    const int64_t total = OH * Wq, nvec = (total + DW_VW - 1) / DW_VW;
    for (int i = 0; i < DW_NB; i++) voff[i] = ooff[i] = (int64_t)i * DW_VW, cnt[i] = DW_VW;
    if (g->cmask) { /* each vector's outputs compressed into place */
      for (int64_t v0 = 0; v0 < nvec; v0 += DW_NB) {
        const int nv = nvec - v0 < DW_NB ? (int)(nvec - v0) : DW_NB;
        for (int i = 0; i < nv; i++) ooff[i] = g->cyoff[v0 + i];
        dw_tile_n(nv, g->ntaps, g->toff, w, buf + v0 * DW_VW, voff, y, ooff, cnt, g->cmask + v0, vb, vlo, vhi);
      }
      return;
    }
    float *out = Wq == OW ? y : scratch;
    for (int64_t v0 = 0; v0 < nvec; v0 += DW_NB) {
      const int nv = nvec - v0 < DW_NB ? (int)(nvec - v0) : DW_NB;
      if (v0 + nv == nvec && out == y) cnt[nv - 1] = (int)(total - (nvec - 1) * DW_VW);
      dw_tile_n(nv, g->ntaps, g->toff, w, buf + v0 * DW_VW, voff, out + v0 * DW_VW, ooff, cnt, NULL, vb, vlo, vhi);
    }
    if (out != y)
      for (int64_t oh = 0; oh < OH; oh++) dw_copy(y + oh * OW, scratch + oh * Wq, OW);
    return;
  }
  const int64_t nc = (OW + DW_VW - 1) / DW_VW;
  const int tail = (int)(OW - (nc - 1) * DW_VW);
  if (nc >= DW_NB) { /* wide rows: tiles along the row */
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t c0 = 0; c0 < nc; c0 += DW_NB) {
        const int nv = nc - c0 < DW_NB ? (int)(nc - c0) : DW_NB;
        for (int i = 0; i < nv; i++) voff[i] = ooff[i] = (int64_t)i * DW_VW, cnt[i] = DW_VW;
        if (c0 + nv == nc) cnt[nv - 1] = tail;
        dw_tile_n(nv, g->ntaps, g->toff, w, buf + oh * Wq + c0 * DW_VW, voff, y + oh * OW + c0 * DW_VW, ooff, cnt, NULL,
                  vb, vlo, vhi);
      }
    return;
  }
  /* short rows: tiles of nr whole rows */
  const int64_t nr = DW_NB / nc;
  for (int64_t r = 0; r < nr; r++)
    for (int64_t c = 0; c < nc; c++) {
      voff[r * nc + c] = r * Wq + c * DW_VW;
      ooff[r * nc + c] = r * OW + c * DW_VW;
      cnt[r * nc + c] = c == nc - 1 ? tail : DW_VW;
    }
  for (int64_t oh = 0; oh < OH; oh += nr) {
    const int64_t rows = OH - oh < nr ? OH - oh : nr;
    dw_tile_n((int)(rows * nc), g->ntaps, g->toff, w, buf + oh * Wq, voff, y + oh * OW, ooff, cnt, NULL, vb, vlo,
              vhi);
  }
}
