/* dwconv.c - depthwise 2-D float convolution through phase buffers (layout in dwconv.h): geometry, the fill,
 * the portable plane kernel, and the split of input channels over the pool. */
#include "dwconv.h"
#include "../core/value.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

bool oxrt_dwconv_f32_ok(const oxrt_conv_shape *s) {
  if (s->nd != 2 || s->group == 0 || s->C != s->group || s->M % s->group != 0) return false;
  for (int d = 0; d < 2; d++)
    if (s->pad[d] < 0 || s->k[d] < 1 || s->stride[d] < 1 || s->dil[d] < 1 || s->in[d] < 1) return false;
  return true;
}

/* Column j of tap column offset t (phase a) reads the right value when j < Wq, or when it runs past the row
 * onto a column that is padding both where it belongs and where it lands (the next row, j - Wq). */
static bool dw_wq_ok(const oxrt_dw_geom *g, int64_t Wq) {
  for (int64_t kj = 0; kj < g->kw; kj++) {
    const int64_t a = kj * g->dw % g->sw, t = kj * g->dw / g->sw;
    for (int64_t j = Wq > t ? Wq : t; j < g->OW + t; j++) {
      const int64_t c = g->sw * j + a - g->pl, j2 = j - Wq, c2 = g->sw * j2 + a - g->pl;
      if ((c >= 0 && c < g->W) || j2 >= Wq || (c2 >= 0 && c2 < g->W)) return false;
    }
  }
  return true;
}

static int64_t dw_plan_rows(oxrt_dw_geom *g, int64_t *rows);

/* false: out of memory (toff and the fill plan are malloc'ed into *toff_out) */
static bool dw_geom_init(const oxrt_conv_shape *s, int vw, oxrt_dw_geom *g, int64_t **toff_out) {
  *g = (oxrt_dw_geom){.H = s->in[0], .W = s->in[1], .OH = s->out[0], .OW = s->out[1], .sh = s->stride[0],
                      .sw = s->stride[1], .dh = s->dil[0], .dw = s->dil[1], .pt = s->pad[0], .pl = s->pad[1],
                      .kh = s->k[0], .kw = s->k[1]};
  g->Hq = g->OH + (g->kh - 1) * g->dh / g->sh;
  g->Wq = g->OW;
  while (!dw_wq_ok(g, g->Wq)) g->Wq++;
  g->plane = (size_t)((g->Hq + 1) * g->Wq); /* one more row of zeros under the last for runs past its end */
  /* garbage lanes past the last output may read up to about two rows and a vector beyond the last plane */
  g->buf_floats = (size_t)(g->sh * g->sw) * g->plane + (size_t)(2 * g->Wq) + 64;
  g->ntaps = (int)(g->kh * g->kw);
  /* flat when whole rows waste fewer lanes than rounding each row up to vectors (compaction costs ~10%) */
  if (vw > 1) {
    const int64_t rounded = (g->OW + vw - 1) / vw * vw;
    const double row_eff = (double)g->OW / (double)rounded;
    const double flat_eff = (double)g->OW / (double)g->Wq * (g->Wq == g->OW ? 1.0 : 0.9);
    g->flat = flat_eff > row_eff;
  }
  g->flat_floats = g->flat ? (size_t)((g->OH * g->Wq + vw - 1) / vw * vw) : 0;
  /* 16 lanes (AVX-512) compress each flat vector's outputs straight into y */
  const size_t ncv = g->flat && vw == 16 && g->Wq != g->OW ? g->flat_floats / 16 : 0;
  const size_t plan = 3 * (size_t)(g->sh * g->sw * g->Hq + g->H);
  int64_t *toff = malloc(sizeof(int64_t) * ((size_t)g->ntaps + plan + ncv) + sizeof(uint16_t) * ncv);
  if (!toff) return false;
  for (int64_t ki = 0; ki < g->kh; ki++)
    for (int64_t kj = 0; kj < g->kw; kj++) {
      const int64_t rh = ki * g->dh, rw = kj * g->dw;
      toff[ki * g->kw + kj] = (rh % g->sh * g->sw + rw % g->sw) * (int64_t)g->plane + rh / g->sh * g->Wq + rw / g->sw;
    }
  g->toff = toff;
  g->rows = toff + g->ntaps;
  g->n_rows = dw_plan_rows(g, toff + g->ntaps);
  if (ncv) {
    int64_t *cy = toff + g->ntaps + plan, done = 0;
    uint16_t *cm = (uint16_t *)(cy + ncv);
    for (size_t v = 0; v < ncv; v++) {
      unsigned m = 0;
      cy[v] = done;
      for (int l = 0; l < 16; l++) {
        const int64_t q = (int64_t)v * 16 + l;
        if (q < g->OH * g->Wq && q % g->Wq < g->OW) m |= 1u << l, done++;
      }
      cm[v] = (uint16_t)m;
    }
    g->cyoff = cy;
    g->cmask = cm;
    g->flat_floats = 0;
  }
  *toff_out = toff;
  return true;
}

/* Direct mode's per-tap offsets and lane masks (AVX-512, 16 lanes); false: out of memory (*mem owns them). */
static bool dw_direct_init(oxrt_dw_geom *g, void **mem) {
  const int64_t total = g->OH * g->OW;
  g->nvec = (total + 15) / 16;
  int64_t *doff = malloc(sizeof(int64_t) * (size_t)g->ntaps + sizeof(uint16_t) * (size_t)(g->ntaps * g->nvec));
  if (!doff) return false;
  uint16_t *dm = (uint16_t *)(doff + g->ntaps);
  for (int64_t ki = 0; ki < g->kh; ki++)
    for (int64_t kj = 0; kj < g->kw; kj++) {
      const int64_t t = ki * g->kw + kj, dy = ki * g->dh - g->pt, dx = kj * g->dw - g->pl;
      doff[t] = dy * g->W + dx;
      for (int64_t v = 0; v < g->nvec; v++) {
        unsigned m = 0;
        for (int l = 0; l < 16; l++) {
          const int64_t q = v * 16 + l, ih = q / g->OW + dy, iw = q % g->OW + dx;
          if (q < total && ih >= 0 && ih < g->H && iw >= 0 && iw < g->W) m |= 1u << l;
        }
        dm[t * g->nvec + v] = (uint16_t)m;
      }
    }
  g->doff = doff;
  g->dmask = dm;
  g->direct = true;
  *mem = doff;
  return true;
}

/* Input plane x into the phase planes of the zeroed buffer, following the plan made by dw_plan_rows. */
static void dw_fill_portable(const oxrt_dw_geom *g, const float *x, float *buf) {
  const int64_t *r = g->rows, sw = g->sw;
  for (int64_t k = 0; k < g->n_rows; k++, r += 3) {
    const float *src = x + r[0];
    float *dst = buf + r[1];
    if (sw == 1) memcpy(dst, src, sizeof(float) * (size_t)r[2]);
    else if (sw == 2) {
      float *odd = buf + r[2];
      for (int64_t j = 0; j < g->n_even; j++) dst[j] = src[2 * j];
      for (int64_t j = 0; j < g->n_odd; j++) odd[j] = src[2 * j + 1];
    } else
      for (int64_t j = 0; j < r[2]; j++) dst[j] = src[j * sw];
  }
}

/* The fill plan (rows[] has room for 3*sh*sw*Hq entries); returns its number of runs. Stride 1 and 3+: per phase
 * row, (source offset in x, offset in the buffer, length). Stride 2: per input row, (source offset, where its
 * even columns go, where its odd columns go), with lengths g->n_even, g->n_odd for every row. */
static int64_t dw_plan_rows(oxrt_dw_geom *g, int64_t *rows) {
  int64_t n = 0;
  if (g->sw == 2) { /* column c is padded column c + pl: phase (c + pl) % 2, index (c + pl) / 2 */
    const int64_t je = g->pl / 2, jo = (g->pl + 1) / 2;
    g->n_even = (g->W + 1) / 2 < g->Wq - je ? (g->W + 1) / 2 : g->Wq - je;
    g->n_odd = g->W / 2 < g->Wq - jo ? g->W / 2 : g->Wq - jo;
    if (g->n_even < 0) g->n_even = 0;
    if (g->n_odd < 0) g->n_odd = 0;
    for (int64_t r = 0; r < g->H; r++) {
      const int64_t b = (r + g->pt) % g->sh, i = (r + g->pt) / g->sh;
      if (i >= g->Hq) continue;
      const int64_t base = b * 2 * (int64_t)g->plane + i * g->Wq;
      rows[3 * n] = r * g->W;
      rows[3 * n + 1] = base + g->pl % 2 * (int64_t)g->plane + je;
      rows[3 * n + 2] = base + (g->pl + 1) % 2 * (int64_t)g->plane + jo;
      n++;
    }
    return n;
  }
  for (int64_t b = 0; b < g->sh; b++)
    for (int64_t a = 0; a < g->sw; a++) {
      const int64_t i0 = g->pt > b ? (g->pt - b + g->sh - 1) / g->sh : 0;
      const int64_t j0 = g->pl > a ? (g->pl - a + g->sw - 1) / g->sw : 0;
      int64_t j1 = g->W - 1 + g->pl - a < 0 ? 0 : (g->W - 1 + g->pl - a) / g->sw + 1;
      if (j1 > g->Wq) j1 = g->Wq;
      if (j1 <= j0) continue;
      for (int64_t i = i0; i < g->Hq; i++) {
        const int64_t r = g->sh * i + b - g->pt;
        if (r >= g->H) break;
        rows[3 * n] = r * g->W + (g->sw * j0 + a - g->pl);
        rows[3 * n + 1] = (b * g->sw + a) * (int64_t)g->plane + i * g->Wq + j0;
        rows[3 * n + 2] = j1 - j0;
        n++;
      }
    }
  return n;
}

/* Portable: each output row accumulates tap by tap (the inner loop over the row vectorises). */
static void dw_plane_portable(const oxrt_dw_geom *g, const float *buf, const float *w, float bias, float lo,
                              float hi, float *y, float *scratch) {
  (void)scratch;
  for (int64_t oh = 0; oh < g->OH; oh++) {
    float *yr = y + oh * g->OW;
    for (int64_t ow = 0; ow < g->OW; ow++) yr[ow] = bias;
    for (int t = 0; t < g->ntaps; t++) {
      const float wt = w[t], *src = buf + oh * g->Wq + g->toff[t];
      for (int64_t ow = 0; ow < g->OW; ow++) yr[ow] += wt * src[ow];
    }
    for (int64_t ow = 0; ow < g->OW; ow++) { /* NaN passes through both */
      float v = yr[ow];
      v = v > hi ? hi : v;
      yr[ow] = v < lo ? lo : v;
    }
  }
}

typedef void (*dw_direct_fn)(const oxrt_dw_geom *g, const float *x, const float *w, float bias, float lo, float hi,
                             float *y);

typedef struct {
  const oxrt_conv_shape *s;
  const oxrt_dw_geom *g;
  oxrt_dw_fill_fn fill;
  oxrt_dw_plane_fn plane;
  dw_direct_fn direct;
  const float *x, *w, *b;
  float lo, hi;
  float *y;
  const float *z;      /* residual of Y's shape, or NULL */
  oxrt_activation act; /* after z, when not applied as the kernels' clamp */
  bool post;           /* z or act run over each output plane right after it is written (still in cache) */
  size_t Mg;
  atomic_int failed;
} dw_job;

/* The plane at offset off of Y: + z, then the activation. */
static void dw_post(const dw_job *j, size_t off, size_t n) {
  float *y = j->y + off;
  if (j->z) {
    const float *z = j->z + off;
    for (size_t i = 0; i < n; i++) y[i] += z[i];
  }
  if (j->act.kind != OXRT_ACT_NONE) oxrt_act_apply(j->act, y, n);
}

/* Input planes [t0, t1) (image n, channel c), each giving Mg output planes. */
static void dw_planes(void *arg, size_t t0, size_t t1) {
  dw_job *j = arg;
  const oxrt_conv_shape *s = j->s;
  const oxrt_dw_geom *g = j->g;
  const size_t in_size = (size_t)(g->H * g->W), out_size = (size_t)(g->OH * g->OW);
  if (g->direct) {
    for (size_t t = t0; t < t1; t++) {
      const size_t n = t / s->C, c = t % s->C;
      for (size_t k = 0; k < j->Mg; k++) {
        const size_t m = c * j->Mg + k;
        j->direct(g, j->x + (n * s->C + c) * in_size, j->w + m * (size_t)g->ntaps, j->b ? j->b[m] : 0.0f, j->lo,
                  j->hi, j->y + (n * s->M + m) * out_size);
        if (j->post) dw_post(j, (n * s->M + m) * out_size, out_size);
      }
    }
    return;
  }
  float *buf = oxrt_aligned_alloc(sizeof(float) * g->buf_floats);
  float *scratch = g->flat_floats ? oxrt_aligned_alloc(sizeof(float) * g->flat_floats) : NULL;
  if (!buf || (g->flat_floats && !scratch)) {
    atomic_store(&j->failed, 1);
  } else {
    memset(buf, 0, sizeof(float) * g->buf_floats);
    for (size_t t = t0; t < t1; t++) {
      const size_t n = t / s->C, c = t % s->C;
      j->fill(g, j->x + (n * s->C + c) * in_size, buf);
      for (size_t k = 0; k < j->Mg; k++) {
        const size_t m = c * j->Mg + k;
        j->plane(g, buf, j->w + m * (size_t)g->ntaps, j->b ? j->b[m] : 0.0f, j->lo, j->hi,
                 j->y + (n * s->M + m) * out_size, scratch);
        if (j->post) dw_post(j, (n * s->M + m) * out_size, out_size);
      }
    }
  }
  oxrt_aligned_free(buf);
  oxrt_aligned_free(scratch);
}

static bool dwconv_run(dw_job *jp, oxrt_isa isa, oxrt_threadpool *pool);

bool oxrt_dwconv_f32(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias, float lo, float hi,
                     float *y, oxrt_isa isa, oxrt_threadpool *pool) {
  dw_job j = {.s = s, .x = x, .w = w, .b = bias, .lo = lo, .hi = hi, .y = y};
  return dwconv_run(&j, isa, pool);
}

bool oxrt_dwconv_f32_fused(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias,
                           const float *z, oxrt_activation act, float *y, oxrt_isa isa, oxrt_threadpool *pool) {
  dw_job j = {.s = s, .x = x, .w = w, .b = bias, .y = y, .z = z, .act = act};
  /* without z a clamp runs in the kernels' store; otherwise the plane gets z and the activation after it */
  if (!z && oxrt_act_is_clamp(act, &j.lo, &j.hi)) {
    j.act.kind = OXRT_ACT_NONE;
  } else {
    j.lo = -INFINITY, j.hi = INFINITY, j.post = true;
  }
  return dwconv_run(&j, isa, pool);
}

static bool dwconv_run(dw_job *jp, oxrt_isa isa, oxrt_threadpool *pool) {
  dw_job *j = jp;
  const oxrt_conv_shape *s = j->s;
  j->Mg = s->M / s->group, j->fill = dw_fill_portable, j->plane = dw_plane_portable;
  int vw = 1;
  switch (isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  case OXRT_ISA_AVX512: j->fill = oxrt_dw_fill_avx512, j->plane = oxrt_dw_plane_avx512, vw = 16; break;
  case OXRT_ISA_AVX2: j->fill = oxrt_dw_fill_avx2, j->plane = oxrt_dw_plane_avx2, vw = 8; break;
#endif
  default: break;
  }
  oxrt_dw_geom g;
  int64_t *toff;
  if (!dw_geom_init(s, vw, &g, &toff)) return false;
  j->g = &g;
  void *dmem = NULL;
#if defined(__x86_64__) && defined(__GNUC__)
  /* small stride-1 planes as wide as their input: AVX-512 reads the input in place (no copies at all); with more
   * taps, or larger planes, the mask loads cost more than the copy they save */
  if (isa == OXRT_ISA_AVX512 && g.sh == 1 && g.sw == 1 && g.OW == g.W && g.ntaps <= 9 && g.OH * g.OW <= 256) {
    if (!dw_direct_init(&g, &dmem)) {
      free(toff);
      return false;
    }
    j->direct = oxrt_dw_direct_avx512;
  }
#endif
  const size_t planes = s->N * s->C;
  /* chunks of at least ~64K multiply-adds, so the per-chunk buffer set-up stays small */
  const size_t per_plane = (size_t)(g.OH * g.OW) * (size_t)g.ntaps * j->Mg + (size_t)(g.H * g.W);
  oxrt_parallel_for(pool, planes, 1 + 65536 / (per_plane + 1), dw_planes, j);
  free(toff);
  free(dmem);
  return !atomic_load(&j->failed);
}

bool oxrt_dwconv_f32_act(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias, const float *z,
                         oxrt_activation act, float *y, oxrt_threadpool *pool) {
  return oxrt_dwconv_f32_fused(s, x, w, bias, z, act, y, oxrt_cpu_isa(), pool);
}
