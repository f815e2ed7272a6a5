/* test_qconv.c - 8-bit convolution paths against plain int64 loops: the implicit-im2col GEMM, the stride-1
 * shifted-plane GEMM (qgemm_conv.c) with weights packed for every kernel this machine runs, and the depthwise path
 * (qdwconv.c) at every ISA level, and the weights-as-B (transposed) path for the k-group-4 A-unsigned kernels, over
 * random 1-D / 2-D shapes with pads, strides, dilations, groups, both signednesses and per-channel weight zero
 * points; requantized outputs must match exactly. */
#include "kernels/gemm.h"
#include "kernels/qdwconv.h"
#include "kernels/qgemm_conv.h"
#include "kernels/qmaxpool.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void unit_each_isa(void (*fn)(void));

static unsigned cseed = 11;
static unsigned crnd(void) {
  cseed = cseed * 1103515245u + 12345u;
  return (cseed >> 8) & 0xffffff;
}

typedef struct {
  oxrt_conv_shape s;
  uint8_t *x, *w, *y, *yref;
  bool xs, ws;
  int32_t xzp, *wzp, *bias;
  float *scale;
  size_t ysize;
  oxrt_qgemm_out o;
  uint8_t *r; /* a fused residual (o.res), or NULL */
  oxrt_qres res;
} qcase;

static int32_t v8(const uint8_t *p, bool s) { return s ? (int32_t)(int8_t)*p : (int32_t)*p; }

static const oxrt_conv_shape *g_shape; /* when set, make_case takes this shape (data still drawn) */

static void make_case(qcase *c, bool depthwise) {
  oxrt_conv_shape *s = &c->s;
  memset(c, 0, sizeof *c);
  s->nd = crnd() % 3 ? 2 : 1;
  s->N = 1 + crnd() % 2;
  s->group = depthwise ? 1 + crnd() % 24 : 1 + crnd() % 2;
  s->C = depthwise ? s->group : s->group * (1 + crnd() % 9);
  s->M = depthwise ? s->group * (1 + crnd() % 2) : s->group * (1 + crnd() % 20);
  for (int d = 0; d < s->nd; d++) {
    s->k[d] = 1 + crnd() % 3;
    s->stride[d] = crnd() % 3 ? 1 : 2;
    s->dil[d] = crnd() % 4 ? 1 : 2;
    s->pad[d] = crnd() % 3 ? (int64_t)(crnd() % (size_t)s->k[d]) : 0;
    if (!depthwise && crnd() % 4 == 0) s->k[d] = 1, s->stride[d] = 1, s->pad[d] = 0; /* 1x1: the direct path */
    s->in[d] = (int64_t)(s->k[d] - 1) * s->dil[d] + 1 + crnd() % 14;
    if (d == s->nd - 1 && crnd() % 4 == 0) s->in[d] += 40; /* rows of 32 and more: the per-segment output stage */
    s->out[d] = (s->in[d] + 2 * s->pad[d] - (s->k[d] - 1) * s->dil[d] - 1) / s->stride[d] + 1;
  }
  if (g_shape) *s = *g_shape;
  size_t in_size = 1, out_size = 1, kp = 1;
  for (int d = 0; d < s->nd; d++) in_size *= (size_t)s->in[d], out_size *= (size_t)s->out[d], kp *= (size_t)s->k[d];
  size_t Cg = s->C / s->group, wsz = s->M * Cg * kp;
  c->xs = crnd() & 1, c->ws = crnd() & 1;
  c->x = malloc(s->N * s->C * in_size), c->w = malloc(wsz);
  for (size_t i = 0; i < s->N * s->C * in_size; i++) c->x[i] = (uint8_t)crnd();
  for (size_t i = 0; i < wsz; i++) c->w[i] = (uint8_t)crnd();
  c->xzp = c->xs ? (int32_t)(crnd() % 256) - 128 : (int32_t)(crnd() % 256);
  c->wzp = calloc(s->M, sizeof(int32_t)), c->bias = malloc(sizeof(int32_t) * s->M), c->scale = malloc(sizeof(float) * s->M);
  bool symmetric = crnd() % 2;
  for (size_t m = 0; m < s->M; m++) {
    if (!symmetric) c->wzp[m] = c->ws ? (int32_t)(crnd() % 256) - 128 : (int32_t)(crnd() % 256);
    c->bias[m] = (int32_t)(crnd() % 40001) - 20000;
    c->scale[m] = 1e-5f * (float)(1 + crnd() % 300);
  }
  c->ysize = s->N * s->M * out_size;
  c->y = malloc(c->ysize), c->yref = malloc(c->ysize);
  bool ys = crnd() & 1;
  int32_t yzp = ys ? (int32_t)(crnd() % 256) - 128 : (int32_t)(crnd() % 256);
  c->o = (oxrt_qgemm_out){.kind = ys ? OXRT_QOUT_S8 : OXRT_QOUT_U8, .per_row = true, .bias = c->bias,
                          .scale = c->scale, .n_scale = s->M, .zp = yzp, .lo = ys ? -128 : 0, .hi = ys ? 127 : 255};
  if (crnd() % 4 == 0) c->o.lo = yzp; /* a fused Relu */
  /* reference: exact sums, then the output stage's formula */
  int64_t KH = s->nd == 2 ? s->k[0] : 1, KW = s->k[s->nd - 1], IH = s->nd == 2 ? s->in[0] : 1, IW = s->in[s->nd - 1];
  int64_t OH = s->nd == 2 ? s->out[0] : 1, OW = s->out[s->nd - 1];
  int64_t sh = s->nd == 2 ? s->stride[0] : 1, sw = s->stride[s->nd - 1], dh = s->nd == 2 ? s->dil[0] : 1;
  int64_t dw = s->dil[s->nd - 1], ph = s->nd == 2 ? s->pad[0] : 0, pw = s->pad[s->nd - 1];
  for (size_t n = 0; n < s->N; n++)
    for (size_t m = 0; m < s->M; m++) {
      size_t g = m / (s->M / s->group);
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          int64_t acc = 0;
          for (size_t ci = 0; ci < Cg; ci++)
            for (int64_t kh = 0; kh < KH; kh++)
              for (int64_t kw = 0; kw < KW; kw++) {
                int64_t ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw;
                int32_t xv = ih < 0 || ih >= IH || iw < 0 || iw >= IW
                                 ? c->xzp
                                 : v8(c->x + ((n * s->C + g * Cg + ci) * (size_t)IH + (size_t)ih) * (size_t)IW + (size_t)iw, c->xs);
                int32_t wv = v8(c->w + ((m * Cg + ci) * (size_t)KH + (size_t)kh) * (size_t)KW + (size_t)kw, c->ws);
                acc += (int64_t)(xv - c->xzp) * (wv - c->wzp[m]);
              }
          float v = (float)(int32_t)(acc + c->bias[m]) * c->scale[m];
          float lo = (float)(c->o.lo - yzp), hi = (float)(c->o.hi - yzp);
          v = v > lo ? v : lo;
          v = v < hi ? v : hi;
          int32_t q = (int32_t)nearbyintf(v) + yzp;
          c->yref[(n * s->M + m) * out_size + (size_t)(oh * OW + ow)] = (uint8_t)q;
        }
    }
  if (crnd() % 3 == 0) { /* a fused QLinearAdd of a residual: its float32 formula on the requantized bytes */
    c->r = malloc(c->ysize);
    for (size_t i = 0; i < c->ysize; i++) c->r[i] = (uint8_t)crnd();
    int32_t rz = ys ? (int32_t)(crnd() % 256) - 128 : (int32_t)(crnd() % 256);
    int32_t cz = ys ? (int32_t)(crnd() % 256) - 128 : (int32_t)(crnd() % 256);
    c->res = (oxrt_qres){c->r, 0.3f + 0.01f * (float)(crnd() % 100), 0.2f + 0.01f * (float)(crnd() % 100), yzp, rz, cz,
                         ys ? -128 : 0, ys ? 127 : 255};
    c->o.res = &c->res;
    for (size_t i = 0; i < c->ysize; i++) {
      float v = ((float)v8(c->yref + i, ys) - (float)yzp) * c->res.ta + ((float)v8(c->r + i, ys) - (float)rz) * c->res.ra;
      float lo = (float)(c->res.lo - cz), hi = (float)(c->res.hi - cz);
      v = v > lo ? v : lo;
      v = v < hi ? v : hi;
      c->yref[i] = (uint8_t)((int32_t)nearbyintf(v) + cz);
    }
  }
}

static void free_case(qcase *c) {
  free(c->x), free(c->w), free(c->y), free(c->yref), free(c->wzp), free(c->bias), free(c->scale), free(c->r);
}

static void report(const qcase *c, const char *path, int *bad) {
  for (size_t i = 0; i < c->ysize; i++)
    if (c->y[i] != c->yref[i]) {
      fprintf(stderr, "  qconv %s nd=%d N=%zu C=%zu M=%zu group=%zu k=%lld s=%lld d=%lld p=%lld in=%lld: y[%zu] = %d, want %d\n",
              path, c->s.nd, c->s.N, c->s.C, c->s.M, c->s.group, (long long)c->s.k[0], (long long)c->s.stride[0],
              (long long)c->s.dil[0], (long long)c->s.pad[0], (long long)c->s.in[0], i, c->y[i], c->yref[i]);
      *bad = 1;
      return;
    }
}

static oxrt_threadpool *g_pool;
static int g_bad;

static void check_depthwise(void) {
  for (int t = 0; t < 40 && !g_bad; t++) {
    qcase c;
    make_case(&c, true);
    if (oxrt_qdwconv_ok(&c.s)) {
      memset(c.y, 0xaa, c.ysize);
      CHECK(oxrt_qdwconv_run(&c.s, c.x, c.xs, c.xzp, c.w, c.ws, c.wzp, c.s.M, &c.o, c.y, 1, t % 2 ? g_pool : NULL));
      report(&c, oxrt_isa_name(oxrt_cpu_isa()), &g_bad);
    }
    free_case(&c);
  }
}

/* Weights as A, one pack per group, with kernel k: the conv run and its output checked. */
static void run_weights_as_a(qcase *c, const oxrt_qkernel *k, oxrt_threadpool *pool, int *bad) {
  size_t kp = 1;
  for (int d = 0; d < c->s.nd; d++) kp *= (size_t)c->s.k[d];
  const size_t Mg = c->s.M / c->s.group, Kg = (c->s.C / c->s.group) * kp;
  oxrt_qconv_wpack wp = {c->s.group, Mg, Kg, calloc(c->s.group, sizeof(oxrt_qpack)), false};
  CHECK(wp.g != NULL);
  for (size_t g = 0; wp.g && g < c->s.group; g++) {
    oxrt_qmat m = {c->w + g * Mg * Kg, c->ws, Kg, 1, c->wzp + g * Mg, true, NULL};
    CHECK(oxrt_qpack_make(k, true, Mg, Kg, &m, &wp.g[g]));
  }
  memset(c->y, 0xaa, c->ysize);
  CHECK(oxrt_qconv_run(&c->s, c->x, c->xs, c->xzp, &wp, &c->o, c->y, 1, pool));
  report(c, k->name, bad);
  oxrt_qconv_wpack_free(&wp);
}

/* Output channels per group and the padded columns a row's last output reaches past its input (0: none dropped). */
static void group_geometry(const oxrt_conv_shape *s, size_t *Mg, int64_t *pw_ow) {
  *Mg = s->M / s->group;
  *pw_ow = (s->k[s->nd - 1] - 1) * s->dil[s->nd - 1] / s->stride[s->nd - 1];
}

static void check_gemm_paths(void) {
  int bad = 0, ran = 0, ran_wt = 0;
  for (int t = 0; t < 60 && !bad; t++) {
    qcase c;
    make_case(&c, false);
    for (int id = 0; id < OXRT_QK_COUNT && !bad; id++) {
      const oxrt_qkernel *k = oxrt_qgemm_kernel_at((oxrt_qkernel_id)id);
      if (!k || k->pairs7) continue; /* VPMADDUBSW kernels take 7-bit weights only (test_qgemm covers them) */
      run_weights_as_a(&c, k, t % 2 ? g_pool : NULL, &bad);
      ran++;
      if (k->g != 4 || k->b_u8) continue;
      /* weights as B: the transposed GEMM over output positions */
      oxrt_qconv_wpack wp = {0};
      CHECK(oxrt_qconv_pack_wt(&c.s, c.w, c.ws, c.wzp, c.s.M, k, &wp));
      memset(c.y, 0xaa, c.ysize);
      CHECK(oxrt_qconv_run(&c.s, c.x, c.xs, c.xzp, &wp, &c.o, c.y, 1, t % 2 ? g_pool : NULL));
      report(&c, k->name, &bad);
      oxrt_qconv_wpack_free(&wp);
      ran_wt++;
    }
    free_case(&c);
  }
  CHECK(bad == 0 && ran >= 60 && ran_wt >= 60); /* portable-bytes runs everywhere */
  /* the requantizing epilogue with a fused residual (weights as A, whole 4-row groups, no dropped pad columns),
   * rare among the draws above: drawn until enough turn up */
  int hits = 0;
  for (int t = 0; t < 4000 && hits < 12 && !bad; t++) {
    qcase c;
    make_case(&c, false);
    size_t Mg;
    int64_t PW_OW;
    group_geometry(&c.s, &Mg, &PW_OW);
    if (c.r && Mg % 4 == 0 && PW_OW == 0) {
      hits++;
      for (int id = 0; id < OXRT_QK_COUNT && !bad; id++) {
        const oxrt_qkernel *k = oxrt_qgemm_kernel_at((oxrt_qkernel_id)id);
        if (k && !k->pairs7) run_weights_as_a(&c, k, t % 2 ? g_pool : NULL, &bad);
      }
    }
    free_case(&c);
  }
  CHECK(bad == 0 && hits >= 12);
  /* the same epilogue over rows with dropped pad columns (padded pitch of 32 or more: a kernel tile's columns cross
   * at most one pad gap, stored in two pieces), with and without a fused residual */
  int seg_hits[2] = {0, 0};
  for (int t = 0; t < 20000 && (seg_hits[0] < 8 || seg_hits[1] < 8) && !bad; t++) {
    qcase c;
    make_case(&c, false);
    size_t Mg;
    int64_t PW_OW;
    group_geometry(&c.s, &Mg, &PW_OW);
    if (Mg % 4 == 0 && PW_OW > 0 && c.s.out[c.s.nd - 1] + PW_OW >= 32 && seg_hits[c.r != NULL] < 8) {
      seg_hits[c.r != NULL]++;
      for (int id = 0; id < OXRT_QK_COUNT && !bad; id++) {
        const oxrt_qkernel *k = oxrt_qgemm_kernel_at((oxrt_qkernel_id)id);
        if (k && !k->pairs7) run_weights_as_a(&c, k, t % 2 ? g_pool : NULL, &bad);
      }
    }
    free_case(&c);
  }
  CHECK(bad == 0 && seg_hits[0] >= 8 && seg_hits[1] >= 8);
  /* planes large enough to be filled by the pool's threads (and a weights-as-B residual split in chunks), both
   * orientations, with the pool */
  static const int64_t big[][5] = {{40, 40, 3, 1, 1}, {48, 36, 3, 2, 1}, {32, 12, 3, 1, 1}, {36, 44, 1, 2, 0}};
  int res_wt = 0;
  for (size_t b = 0; b < sizeof big / sizeof *big && !bad; b++)
    for (int rep = 0; rep < 6 && !bad; rep++) {
      oxrt_conv_shape bs = {.nd = 2, .N = 1, .C = (size_t)big[b][0], .M = 40, .group = 1};
      for (int d = 0; d < 2; d++) {
        bs.in[d] = big[b][1], bs.k[d] = big[b][2], bs.stride[d] = big[b][3], bs.pad[d] = big[b][4], bs.dil[d] = 1;
        bs.out[d] = (bs.in[d] + 2 * bs.pad[d] - bs.k[d]) / bs.stride[d] + 1;
      }
      qcase c;
      g_shape = &bs;
      make_case(&c, false);
      g_shape = NULL;
      const oxrt_qkernel *k = oxrt_qgemm_kernel();
      bool wt = rep >= 3;
      if (wt && (k->g != 4 || k->b_u8)) { /* no weights-as-B kernel at this level */
        free_case(&c);
        continue;
      }
      oxrt_qconv_wpack wp = {0};
      CHECK(wt ? oxrt_qconv_pack_wt(&c.s, c.w, c.ws, c.wzp, c.s.M, k, &wp)
               : oxrt_qconv_pack(&c.s, c.w, c.ws, c.wzp, c.s.M, &wp));
      res_wt += wt && c.r;
      memset(c.y, 0xaa, c.ysize);
      CHECK(oxrt_qconv_run(&c.s, c.x, c.xs, c.xzp, &wp, &c.o, c.y, 1, g_pool));
      report(&c, "large planes", &bad);
      oxrt_qconv_wpack_free(&wp);
      free_case(&c);
    }
  CHECK(bad == 0 && (res_wt > 0 || oxrt_qgemm_kernel()->g != 4 || oxrt_qgemm_kernel()->b_u8));
}

/* The VNNI depthwise kernel's flat planes (small outputs, qdwconv_avx512vnni.c): int8 symmetric weights, one output
 * per input channel, equal strides of 1 or 2, no dilation, outputs of 2 to 9 columns; drawn until enough turn up,
 * with and without a fused residual (the int32 sums path and the in-register requantization). */
static void check_depthwise_flat(void) {
  int hits[2] = {0, 0};
  for (int t = 0; t < 20000 && (hits[0] < 10 || hits[1] < 10) && !g_bad; t++) {
    qcase c;
    make_case(&c, true);
    const oxrt_conv_shape *s = &c.s;
    bool take = s->nd == 2 && s->M == s->C && c.ws && s->dil[0] == 1 && s->dil[1] == 1 &&
                s->stride[0] == s->stride[1] && s->out[0] >= 2 && s->out[1] >= 2 && s->out[1] <= 9;
    for (size_t m = 0; take && m < s->M; m++) take = c.wzp[m] == 0;
    if (take && oxrt_qdwconv_ok(s) && hits[c.r != NULL] < 10) {
      hits[c.r != NULL]++;
      memset(c.y, 0xaa, c.ysize);
      CHECK(oxrt_qdwconv_run(s, c.x, c.xs, c.xzp, c.w, c.ws, c.wzp, s->M, &c.o, c.y, 1, t % 2 ? g_pool : NULL));
      report(&c, "depthwise-flat", &g_bad);
    }
    free_case(&c);
  }
  CHECK(hits[0] >= 10 && hits[1] >= 10);
}

/* The 8-bit MaxPool against a plain loop over windows, both signednesses, at every ISA level (the 3-wide stride-2
 * column pass has an AVX-512 form): rows long enough for its 32-output vectors and their tails. */
static void check_qmaxpool(void) {
  int bad = 0;
  for (int t = 0; t < 60; t++) {
    oxrt_qpool_geom g = {0};
    g.KH = 1 + crnd() % 3, g.KW = t % 2 ? 3 : 1 + crnd() % 3, g.SH = 1 + crnd() % 2, g.SW = t % 2 ? 2 : 1 + crnd() % 2;
    g.PT = crnd() % g.KH, g.PL = crnd() % g.KW;
    g.IH = g.KH + crnd() % 9, g.IW = g.KW + crnd() % 150;
    g.OH = (g.IH + 2 * g.PT - g.KH) / g.SH + 1, g.OW = (g.IW + 2 * g.PL - g.KW) / g.SW + 1;
    bool sg = crnd() & 1;
    size_t planes = 1 + crnd() % 3, nx = planes * g.IH * g.IW, ny = planes * g.OH * g.OW;
    uint8_t *x = malloc(nx), *y = malloc(ny);
    for (size_t i = 0; i < nx; i++) x[i] = (uint8_t)crnd();
    CHECK(oxrt_qmaxpool2d(x, y, sg, planes, &g, t % 3 ? NULL : g_pool));
    for (size_t p = 0; p < planes; p++)
      for (size_t oh = 0; oh < g.OH; oh++)
        for (size_t ow = 0; ow < g.OW; ow++) {
          int best = -1000;
          for (size_t kh = 0; kh < g.KH; kh++)
            for (size_t kw = 0; kw < g.KW; kw++) {
              size_t ih = oh * g.SH + kh, iw = ow * g.SW + kw;
              if (ih < g.PT || ih - g.PT >= g.IH || iw < g.PL || iw - g.PL >= g.IW) continue;
              int v = v8(x + (p * g.IH + ih - g.PT) * g.IW + iw - g.PL, sg);
              best = v > best ? v : best;
            }
          bad += v8(y + (p * g.OH + oh) * g.OW + ow, sg) != best;
        }
    free(x);
    free(y);
  }
  CHECK(bad == 0);
}

void test_kernel_qconv_paths(void) {
  g_pool = oxrt_threadpool_create(2);
  unit_each_isa(check_gemm_paths);
  g_bad = 0;
  unit_each_isa(check_depthwise);
  CHECK(g_bad == 0);
  check_depthwise_flat();
  CHECK(g_bad == 0);
  unit_each_isa(check_qmaxpool);
  oxrt_threadpool_free(g_pool);
}
