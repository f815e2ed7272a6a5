/* test_nchwc_dw_pool.c - the NCHWc depthwise, pooling and channel-broadcast kernels (kernels/nchwc.h) against the
 * NCHW paths oxrt runs today, through oxrt_nchwc_reorder_in / reorder_out: depthwise against
 * oxrt_dwconv_f32_fused, window pooling against the MaxPool / AveragePool operators (ops/onnx/Pool.c, run in a
 * one-node session without optimisation), global pooling and the channel broadcast against plain loops. Shapes
 * cover odd widths, channel counts that are no multiple of the block, N = 2, kernels 2..7, strides 1 and 2,
 * asymmetric pads, dilation 2 and ceil_mode; every activation with and without a residual; at every ISA level the
 * machine runs (its block size with it), on one thread and on two; and B = 16 at the portable level (scalar loops). */
#include "kernels/dwconv.h"
#include "kernels/nchwc.h"
#include "oxrt.h"
#include "unit.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned nseed = 77;
static float nrnd(void) {
  nseed = nseed * 1103515245u + 12345u;
  return (float)((nseed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rnd_buf(size_t n) {
  float *p = malloc(sizeof(float) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) p[i] = nrnd();
  return p;
}

/* Blocked copy of an NCHW tensor (pad channels 0), or NULL for NULL. */
static float *blocked(const float *x, size_t N, size_t C, size_t HW, int B) {
  if (!x) return NULL;
  float *y = malloc(sizeof(float) * (N * oxrt_nchwc_padded(C, B) * HW + 1));
  oxrt_nchwc_reorder_in(x, y, N, C, HW, B, NULL);
  return y;
}

/* max |a - b| relative to 1 + |b|; NaN where exactly one is NaN counts as a mismatch */
static int close_all(const float *a, const float *b, size_t n, float tol, size_t *bad) {
  for (size_t i = 0; i < n; i++) {
    if (isnan(a[i]) || isnan(b[i])) {
      if (isnan(a[i]) != isnan(b[i])) return *bad = i, 0;
      continue;
    }
    if (isinf(b[i]) ? a[i] != b[i] : fabsf(a[i] - b[i]) > tol * (1.0f + fabsf(b[i]))) return *bad = i, 0;
  }
  return 1;
}

typedef struct {
  size_t N, C;
  int64_t H, W, kh, kw, s, d, pt, pl, pb, pr;
} win_case;

static const win_case dw_cases[] = {
    {1, 32, 112, 112, 3, 3, 1, 1, 1, 1, 1, 1}, {2, 5, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},
    {1, 19, 15, 13, 3, 3, 2, 1, 0, 0, 1, 1},   {1, 24, 56, 56, 3, 3, 2, 1, 1, 1, 1, 1},
    {2, 40, 14, 14, 5, 5, 1, 1, 2, 2, 2, 2},   {1, 17, 28, 27, 5, 5, 2, 1, 1, 2, 2, 1},
    {1, 9, 7, 7, 5, 5, 1, 1, 2, 2, 2, 2},      {1, 12, 19, 21, 7, 7, 1, 1, 3, 3, 3, 3},
    {1, 33, 16, 16, 7, 7, 2, 1, 3, 2, 3, 4},   {1, 20, 17, 18, 3, 3, 1, 2, 2, 2, 2, 2},
    {2, 8, 11, 9, 5, 3, 2, 2, 3, 0, 4, 2},     {1, 3, 9, 31, 3, 3, 1, 1, 0, 0, 0, 0},
    {1, 16, 6, 5, 7, 7, 1, 1, 3, 3, 3, 3},     {1, 21, 10, 10, 1, 1, 1, 1, 0, 0, 0, 0},
    {1, 7, 12, 12, 4, 2, 3, 1, 1, 0, 2, 1},    {1, 50, 8, 8, 3, 3, 1, 1, 2, 2, 0, 0},
    /* output rows of 32 and more columns run row by row (narrower planes through a padded copy) */
    {1, 13, 20, 70, 5, 5, 2, 1, 1, 2, 3, 0},   {1, 9, 12, 40, 7, 7, 1, 2, 5, 6, 6, 5},
    {2, 20, 9, 33, 3, 3, 1, 1, 0, 1, 2, 0},    {1, 6, 10, 45, 3, 3, 2, 1, 1, 1, 1, 1},
};

static const oxrt_activation nchwc_acts[] = {
    {OXRT_ACT_NONE, 0, 0},         {OXRT_ACT_RELU, 0, 0},    {OXRT_ACT_CLIP, -0.3f, 0.6f},
    {OXRT_ACT_LEAKY_RELU, 0.1f, 0}, {OXRT_ACT_HARD_SIGMOID, 0.2f, 0.5f}, {OXRT_ACT_HARD_SWISH, 0, 0},
    {OXRT_ACT_SIGMOID, 0, 0},      {OXRT_ACT_TANH, 0, 0},    {OXRT_ACT_SILU, 0, 0},
    {OXRT_ACT_GELU, 0, 0},         {OXRT_ACT_GELU_TANH, 0, 0},
};

static oxrt_nchwc_geom geom_of(const win_case *c, int B, int64_t OH, int64_t OW) {
  const size_t Cp = oxrt_nchwc_padded(c->C, B);
  return (oxrt_nchwc_geom){.N = c->N, .C = Cp, .M = Cp, .H = c->H, .W = c->W, .OH = OH, .OW = OW, .kh = c->kh,
                           .kw = c->kw, .sh = c->s, .sw = c->s, .dh = c->d, .dw = c->d, .pt = c->pt, .pl = c->pl,
                           .pb = c->pb, .pr = c->pr, .B = B};
}

static void dw_case(const win_case *c, oxrt_isa isa, int B, oxrt_threadpool *pool) {
  const int64_t OH = (c->H + c->pt + c->pb - c->d * (c->kh - 1) - 1) / c->s + 1;
  const int64_t OW = (c->W + c->pl + c->pr - c->d * (c->kw - 1) - 1) / c->s + 1;
  const size_t C = c->C, Cp = oxrt_nchwc_padded(C, B), HW = (size_t)(c->H * c->W), OHW = (size_t)(OH * OW);
  oxrt_conv_shape s = {.nd = 2, .N = c->N, .C = C, .M = C, .group = C, .in = {c->H, c->W}, .k = {c->kh, c->kw},
                       .stride = {c->s, c->s}, .dil = {c->d, c->d}, .pad = {c->pt, c->pl}, .out = {OH, OW}};
  oxrt_nchwc_geom g = geom_of(c, B, OH, OW);
  float *x = rnd_buf(c->N * C * HW), *w = rnd_buf(C * (size_t)(c->kh * c->kw)), *bias = rnd_buf(Cp);
  float *z = rnd_buf(c->N * C * OHW), *ref = malloc(sizeof(float) * c->N * C * OHW);
  float *got = malloc(sizeof(float) * c->N * C * OHW), *yb = malloc(sizeof(float) * c->N * Cp * OHW);
  float *wp = malloc(sizeof(float) * oxrt_nchwc_dw_packed_floats(&g));
  float *xb = blocked(x, c->N, C, HW, B), *zb = blocked(z, c->N, C, OHW, B);
  for (size_t i = C; i < Cp; i++) bias[i] = 0.0f;
  oxrt_nchwc_dw_pack(&g, C, w, wp);
  for (size_t ai = 0; ai < sizeof nchwc_acts / sizeof *nchwc_acts; ai++)
    for (int use_z = 0; use_z < 2; use_z++) {
      const bool use_bias = (ai + (size_t)use_z) % 3 != 2;
      CHECK(oxrt_dwconv_f32_fused(&s, x, w, use_bias ? bias : NULL, use_z ? z : NULL, nchwc_acts[ai], ref, isa, NULL));
      oxrt_nchwc_dwconv(&g, xb, wp, use_bias ? bias : NULL, use_z ? zb : NULL, nchwc_acts[ai], yb, isa, pool);
      oxrt_nchwc_reorder_out(yb, got, c->N, C, OHW, B, NULL);
      size_t bad = 0;
      if (!close_all(got, ref, c->N * C * OHW, 2e-5f, &bad)) {
        CHECK(!"nchwc dwconv matches the NCHW depthwise");
        fprintf(stderr, "  dw %zux%zux%lldx%lld k%lldx%lld s%lld d%lld pads %lld %lld %lld %lld isa %s act %d z %d: "
                "y[%zu] = %.7g, expected %.7g\n", c->N, C, (long long)c->H, (long long)c->W, (long long)c->kh,
                (long long)c->kw, (long long)c->s, (long long)c->d, (long long)c->pt, (long long)c->pl,
                (long long)c->pb, (long long)c->pr, oxrt_isa_name(isa), (int)nchwc_acts[ai].kind, use_z, bad, got[bad],
                ref[bad]);
        ai = sizeof nchwc_acts / sizeof *nchwc_acts - 1;
        break;
      }
    }
  free(x), free(w), free(bias), free(z), free(ref), free(got), free(yb), free(wp), free(xb), free(zb);
}

/* ---- pooling against the operators */

typedef struct {
  win_case w;
  int ceil_mode;
} pool_case;

static const pool_case pool_cases[] = {
    {{1, 64, 112, 112, 3, 3, 2, 1, 1, 1, 1, 1}, 0}, {{2, 5, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1}, 0},
    {{1, 19, 15, 13, 3, 3, 2, 1, 0, 0, 0, 0}, 1},   {{1, 24, 14, 14, 2, 2, 2, 1, 0, 0, 0, 0}, 0},
    {{2, 17, 13, 11, 2, 2, 2, 1, 0, 0, 0, 0}, 1},   {{1, 9, 20, 21, 5, 5, 1, 1, 2, 2, 2, 2}, 0},
    {{1, 12, 19, 21, 7, 7, 2, 1, 3, 2, 1, 3}, 1},   {{1, 20, 17, 18, 3, 3, 1, 2, 2, 1, 0, 2}, 0},
    {{1, 8, 11, 9, 3, 2, 2, 2, 1, 0, 1, 1}, 1},     {{1, 33, 9, 31, 3, 3, 1, 1, 0, 1, 2, 0}, 0},
    {{1, 16, 8, 8, 4, 3, 3, 1, 1, 1, 2, 2}, 1},     {{1, 3, 56, 56, 3, 3, 2, 1, 1, 1, 1, 1}, 1},
};

/* y = op(x) through a one-node session; returns the output (malloc'd) and its spatial dims, or NULL. */
static float *pool_op(const char *op, const pool_case *pc, int cip, const float *x, int64_t *OH, int64_t *OW) {
  const win_case *c = &pc->w;
  char text[1024], extra[64] = "";
  if (!strcmp(op, "AveragePool")) snprintf(extra, sizeof extra, ", count_include_pad = %d", cip);
  snprintf(text, sizeof text,
           "<ir_version: 8, opset_import: [\"\" : 19]>\n"
           "g (float[%zu,%zu,%lld,%lld] x) => (float y) {\n"
           "  y = %s <kernel_shape = [%lld, %lld], strides = [%lld, %lld], dilations = [%lld, %lld], "
           "pads = [%lld, %lld, %lld, %lld], ceil_mode = %d%s> (x)\n}\n",
           c->N, c->C, (long long)c->H, (long long)c->W, op, (long long)c->kh, (long long)c->kw, (long long)c->s,
           (long long)c->s, (long long)c->d, (long long)c->d, (long long)c->pt, (long long)c->pl, (long long)c->pb,
           (long long)c->pr, pc->ceil_mode, extra);
  void *model = NULL;
  size_t size = 0;
  oxrt_status *st = oxrt_parse_model_text(text, &model, &size);
  oxrt_session_options *o = NULL;
  oxrt_session *s = NULL;
  oxrt_value *xv = NULL, *yv = NULL;
  float *y = NULL;
  if (!st) {
    oxrt_session_options_create(&o);
    oxrt_session_options_set_opt_level(o, OXRT_OPT_DISABLE);
    st = oxrt_session_create_from_memory(model, size, o, &s);
  }
  const int64_t xd[4] = {(int64_t)c->N, (int64_t)c->C, c->H, c->W};
  const size_t xn = c->N * c->C * (size_t)(c->H * c->W);
  if (!st) st = oxrt_value_wrap_tensor(OXRT_FLOAT, xd, 4, (void *)x, xn * sizeof(float), &xv);
  if (!st) {
    const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
    const oxrt_value *ins[1] = {xv};
    st = oxrt_session_run(s, NULL, in_names, ins, 1, out_names, 1, &yv);
  }
  if (st) {
    fprintf(stderr, "  %s model: %s\n", op, oxrt_status_get_message(st));
    oxrt_status_free(st);
    unit_failures++;
  } else {
    const int64_t *yd = oxrt_value_get_dims(yv);
    *OH = yd[2], *OW = yd[3];
    y = malloc(oxrt_value_get_nbytes(yv) + sizeof(float));
    memcpy(y, oxrt_value_get_data(yv), oxrt_value_get_nbytes(yv));
  }
  oxrt_value_free(yv);
  oxrt_value_free(xv);
  oxrt_session_free(s);
  oxrt_session_options_free(o);
  free(model);
  return y;
}

static void pool_case_run(const pool_case *pc, oxrt_isa isa, int B, oxrt_threadpool *pool) {
  static const struct {
    const char *op;
    int cip;
    oxrt_nchwc_pool_kind kind;
  } kinds[] = {{"MaxPool", 0, OXRT_NCHWC_MAX},
               {"AveragePool", 0, OXRT_NCHWC_AVG_EXCLUDE_PAD},
               {"AveragePool", 1, OXRT_NCHWC_AVG_INCLUDE_PAD}};
  const win_case *c = &pc->w;
  const size_t C = c->C, Cp = oxrt_nchwc_padded(C, B), HW = (size_t)(c->H * c->W);
  float *x = rnd_buf(c->N * C * HW), *xb = blocked(x, c->N, C, HW, B);
  for (size_t ki = 0; ki < sizeof kinds / sizeof *kinds; ki++) {
    int64_t OH = 0, OW = 0;
    float *ref = pool_op(kinds[ki].op, pc, kinds[ki].cip, x, &OH, &OW);
    if (!ref) continue;
    const size_t OHW = (size_t)(OH * OW);
    oxrt_nchwc_geom g = geom_of(c, B, OH, OW);
    float *yb = malloc(sizeof(float) * (c->N * Cp * OHW + 1)), *got = malloc(sizeof(float) * (c->N * C * OHW + 1));
    oxrt_nchwc_pool(&g, kinds[ki].kind, xb, yb, isa, pool);
    oxrt_nchwc_reorder_out(yb, got, c->N, C, OHW, B, NULL);
    size_t bad = 0;
    if (!close_all(got, ref, c->N * C * OHW, 1e-5f, &bad)) {
      CHECK(!"nchwc pool matches the NCHW operator");
      fprintf(stderr, "  %s cip %d %zux%zux%lldx%lld k%lldx%lld s%lld d%lld pads %lld %lld %lld %lld ceil %d isa %s: "
              "y[%zu] = %.7g, expected %.7g\n", kinds[ki].op, kinds[ki].cip, c->N, C, (long long)c->H,
              (long long)c->W, (long long)c->kh, (long long)c->kw, (long long)c->s, (long long)c->d,
              (long long)c->pt, (long long)c->pl, (long long)c->pb, (long long)c->pr, pc->ceil_mode,
              oxrt_isa_name(isa), bad, got[bad], ref[bad]);
    }
    free(ref), free(yb), free(got);
  }
  free(x), free(xb);
}

/* A NaN never wins a windowed max (a window of NaN and numbers gives the largest number); global max lets it
 * through. */
static void pool_nan(oxrt_isa isa) {
  const int B = oxrt_nchwc_block(isa);
  const win_case c = {1, (size_t)B, 4, 4, 2, 2, 2, 1, 0, 0, 0, 0};
  float x[16 * 16], y[16 * 4];
  for (size_t i = 0; i < 16 * (size_t)B; i++) x[i] = (float)(i % 7);
  x[0] = NAN;                  /* pixel (0, 0), channel 0: window (0, 0) */
  x[(size_t)B * 5 + 1] = NAN;  /* pixel (1, 1), channel 1: window (0, 0) */
  oxrt_nchwc_geom g = geom_of(&c, B, 2, 2);
  oxrt_nchwc_pool(&g, OXRT_NCHWC_MAX, x, y, isa, NULL);
  for (int b = 0; b < 2; b++) {
    float m = -INFINITY;
    for (int p = 0; p < 16; p++)
      if ((p / 4) < 2 && (p % 4) < 2 && !isnan(x[p * B + b])) m = fmaxf(m, x[p * B + b]);
    CHECK(y[b] == m);
  }
  oxrt_nchwc_global_pool(1, (size_t)B, 16, B, true, x, y, isa, NULL);
  CHECK(isnan(y[0]) && isnan(y[1]) && !isnan(y[2]));
}

/* aarch64 GCC 12's vectorizer fails on this function's reductions (internal compiler error in
 * vect_transform_reduction): compiled without it there */
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-vectorize")))
#endif
static void global_and_channel(oxrt_isa isa, int B, oxrt_threadpool *pool) {
  static const size_t shapes[][3] = {{1, 1280, 49}, {2, 19, 3}, {1, 40, 112 * 112}, {2, 8, 1}, {1, 72, 15 * 17}};
  for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
    const size_t N = shapes[si][0], C = shapes[si][1], HW = shapes[si][2], Cp = oxrt_nchwc_padded(C, B);
    float *x = rnd_buf(N * C * HW), *xb = blocked(x, N, C, HW, B), *s = rnd_buf(N * Cp);
    float *yb = malloc(sizeof(float) * N * Cp * HW), *got = malloc(sizeof(float) * N * C * HW);
    for (int max = 0; max < 2; max++) {
      oxrt_nchwc_global_pool(N, Cp, HW, B, max, xb, yb, isa, pool);
      for (size_t n = 0; n < N; n++)
        for (size_t ch = 0; ch < C; ch++) {
          const float *xp = x + (n * C + ch) * HW;
          double a = max ? -INFINITY : 0.0;
          for (size_t p = 0; p < HW; p++) a = max ? fmax(a, xp[p]) : a + xp[p];
          if (!max) a /= (double)HW;
          const float v = yb[n * Cp + ch];
          CHECK(fabs(v - a) <= 1e-5 * (1 + fabs(a)));
        }
    }
    for (int op = 0; op < 2; op++) {
      /* in place, as the squeeze-excitation Mul runs */
      float *t = malloc(sizeof(float) * N * Cp * HW);
      memcpy(t, xb, sizeof(float) * N * Cp * HW);
      oxrt_nchwc_channel_op(N, Cp, HW, B, op ? '+' : '*', t, s, t, isa, pool);
      oxrt_nchwc_reorder_out(t, got, N, C, HW, B, NULL);
      size_t bad_count = 0;
      for (size_t n = 0; n < N; n++)
        for (size_t ch = 0; ch < C; ch++)
          for (size_t p = 0; p < HW; p++) {
            const float xv = x[(n * C + ch) * HW + p], sv = s[n * Cp + ch];
            bad_count += got[(n * C + ch) * HW + p] != (op ? xv + sv : xv * sv);
          }
      CHECK(bad_count == 0);
      free(t);
    }
    free(x), free(xb), free(s), free(yb), free(got);
  }
}

void test_kernel_nchwc_dw_pool(void) {
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  const oxrt_isa top = oxrt_cpu_isa();
  for (int level = 0; level <= (int)top; level++) {
    const oxrt_isa isa = (oxrt_isa)level;
    const int B = oxrt_nchwc_block(isa);
    oxrt_cpu_isa_cap(isa); /* the NCHW references and the activations follow the level too */
    for (size_t ci = 0; ci < sizeof dw_cases / sizeof *dw_cases; ci++)
      dw_case(&dw_cases[ci], isa, B, ci % 2 ? pool : NULL);
    for (size_t ci = 0; ci < sizeof pool_cases / sizeof *pool_cases; ci++)
      pool_case_run(&pool_cases[ci], isa, B, ci % 2 ? NULL : pool);
    pool_nan(isa);
    global_and_channel(isa, B, level % 2 ? pool : NULL);
  }
  /* a block size the level has no vector kernel for (16 without AVX-512) takes the scalar loops */
  oxrt_cpu_isa_cap(OXRT_ISA_PORTABLE);
  for (size_t ci = 0; ci < 4; ci++) dw_case(&dw_cases[ci], OXRT_ISA_PORTABLE, 16, NULL);
  for (size_t ci = 0; ci < 4; ci++) pool_case_run(&pool_cases[ci], OXRT_ISA_PORTABLE, 16, NULL);
  global_and_channel(OXRT_ISA_PORTABLE, 16, NULL);
  oxrt_cpu_isa_cap(top);
  oxrt_threadpool_free(pool);
}
