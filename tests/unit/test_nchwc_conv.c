/* test_nchwc_conv.c - the NCHWc direct convolution (nchwc.h: oxrt_nchwc_conv) against oxrt_conv_f32_ex on NCHW
 * data, through the reorders: 1x1 (flat row), 3x3 stride 1 and 2, 7x7 stride 2, dilation, asymmetric pads,
 * channel counts that are no multiple of the block, N = 2, every activation, with and without a residual z and a
 * bias, one thread and two, at every ISA level this machine runs; the cases with at most 8 input channels also from
 * plain NCHW input (oxrt_nchwc_conv_nchw_input, the stem). Pad channels of the output must stay finite. The 3x3
 * stride-1 cases also through the Winograd conv on blocked data (oxrt_wino_run_blocked, the Conv op's route; it
 * leaves pad channels to the op). */
#include "core/dtype.h"
#include "kernels/im2col.h"
#include "kernels/nchwc.h"
#include "kernels/nchwc_conv.h"
#include "kernels/winograd.h"
#include "unit.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void unit_each_isa(void (*fn)(void)); /* test_conv_paths.c */

static unsigned nseed = 101;
static float nrnd(void) {
  nseed = nseed * 1103515245u + 12345u;
  return (float)((nseed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

typedef struct {
  size_t N, C, M;
  int64_t H, W, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} nc_case;

/* nchw_in: x goes in as plain NCHW (oxrt_nchwc_conv_nchw_input; C <= 8 so one block at either width).
 * bf16: the bfloat16 kernel (oxrt_nchwc_conv_bf16), against the reference on x and w rounded to bfloat16.
 * wino: oxrt_wino_run_blocked with Winograd packs (pad channels then unchecked). */
static int check_case_ex(const nc_case *c, oxrt_activation act, bool with_z, bool with_bias, oxrt_threadpool *pool,
                         bool nchw_in, bool bf16, bool wino) {
  const oxrt_isa isa = oxrt_cpu_isa();
  const int B = oxrt_nchwc_block(isa);
  oxrt_nchwc_geom g = {.N = c->N, .C = oxrt_nchwc_padded(c->C, B), .M = oxrt_nchwc_padded(c->M, B), .H = c->H,
                       .W = c->W, .kh = c->kh, .kw = c->kw, .sh = c->sh, .sw = c->sw, .dh = c->dh, .dw = c->dw,
                       .pt = c->pt, .pl = c->pl, .pb = c->pb, .pr = c->pr, .B = B};
  g.OH = (c->H + c->pt + c->pb - c->dh * (c->kh - 1) - 1) / c->sh + 1;
  g.OW = (c->W + c->pl + c->pr - c->dw * (c->kw - 1) - 1) / c->sw + 1;
  const size_t HW = (size_t)(c->H * c->W), OHW = (size_t)(g.OH * g.OW), T = (size_t)(c->kh * c->kw);
  float *x = malloc(sizeof(float) * c->N * c->C * HW), *w = malloc(sizeof(float) * c->M * c->C * T);
  float *bias = malloc(sizeof(float) * g.M), *z = malloc(sizeof(float) * c->N * c->M * OHW);
  float *ref = malloc(sizeof(float) * c->N * c->M * OHW), *out = malloc(sizeof(float) * c->N * c->M * OHW);
  float *xb = malloc(sizeof(float) * c->N * g.C * HW), *zb = malloc(sizeof(float) * c->N * g.M * OHW);
  float *yb = malloc(sizeof(float) * c->N * g.M * OHW), *wp = malloc(sizeof(float) * oxrt_nchwc_conv_packed_floats(&g));
  int bad = 0;
  if (!x || !w || !bias || !z || !ref || !out || !xb || !zb || !yb || !wp) {
    bad = 1;
    goto done;
  }
  for (size_t i = 0; i < c->N * c->C * HW; i++) x[i] = bf16 ? unit_bf16_round(nrnd()) : nrnd();
  for (size_t i = 0; i < c->M * c->C * T; i++) w[i] = bf16 ? unit_bf16_round(nrnd() * 0.5f) : nrnd() * 0.5f;
  for (size_t i = 0; i < g.M; i++) bias[i] = i < c->M ? nrnd() : 0.0f;
  for (size_t i = 0; i < c->N * c->M * OHW; i++) z[i] = nrnd();
  oxrt_conv_shape s = {.nd = 2, .N = c->N, .C = c->C, .M = c->M, .group = 1, .in = {c->H, c->W}, .k = {c->kh, c->kw},
                       .stride = {c->sh, c->sw}, .dil = {c->dh, c->dw}, .pad = {c->pt, c->pl}, .out = {g.OH, g.OW}};
  if (!oxrt_conv_f32_ex(&s, x, w, NULL, with_bias ? bias : NULL, with_z ? z : NULL, act, ref, NULL)) {
    bad = 1;
    goto done;
  }
  oxrt_nchwc_reorder_in(x, xb, c->N, c->C, HW, B, pool);
  oxrt_nchwc_reorder_in(z, zb, c->N, c->M, OHW, B, pool);
  oxrt_nchwc_conv_pack(&g, c->M, c->C, w, wp);
  for (size_t i = 0; i < c->N * g.M * OHW; i++) yb[i] = NAN; /* every output, pad channels too, must be written */
  if (bf16) {
    oxrt_nchwc_conv_pack_bf16(&g, c->M, c->C, w, (uint16_t *)wp); /* half of wp's floats */
    if (nchw_in ? !oxrt_nchwc_conv_nchw_input_bf16(&g, c->C, x, (const uint16_t *)wp, with_bias ? bias : NULL,
                                                   with_z ? zb : NULL, act, yb, pool)
                : !oxrt_nchwc_conv_bf16(&g, xb, (const uint16_t *)wp, with_bias ? bias : NULL, with_z ? zb : NULL, act,
                                        yb, pool))
      bad = 1;
  } else if (wino) {
    oxrt_conv_wpack wk = {0};
    if (!oxrt_conv_f32_pack_method(&s, w, true, &wk) || !wk.wino ||
        !oxrt_wino_run_blocked(&s, B, xb, wk.wino, with_bias ? bias : NULL, with_z ? zb : NULL, act, yb, pool))
      bad = 1;
    oxrt_conv_wpack_free(&wk);
  } else if (nchw_in)
    oxrt_nchwc_conv_nchw_input(&g, c->C, x, wp, with_bias ? bias : NULL, with_z ? zb : NULL, act, yb, isa, pool);
  else oxrt_nchwc_conv(&g, xb, wp, with_bias ? bias : NULL, with_z ? zb : NULL, act, yb, isa, pool);
  for (size_t i = 0; i < c->N * g.M * OHW && !wino; i++)
    if (!isfinite(yb[i])) bad = 1;
  oxrt_nchwc_reorder_out(yb, out, c->N, c->M, OHW, B, pool);
  for (size_t i = 0; i < c->N * c->M * OHW; i++)
    if (!(fabsf(out[i] - ref[i]) <= 2e-4f * (1.0f + fabsf(ref[i])) * sqrtf((float)(c->C * T) / 16.0f + 1.0f)))
      bad = 1;
done:
  free(x), free(w), free(bias), free(z), free(ref), free(out), free(xb), free(zb), free(yb), free(wp);
  return bad;
}

static int check_case(const nc_case *c, oxrt_activation act, bool with_z, bool with_bias, oxrt_threadpool *pool,
                      bool nchw_in) {
  return check_case_ex(c, act, with_z, with_bias, pool, nchw_in, false, false);
}

static const nc_case cases[] = {
    /* N  C   M   H   W  kh kw sh sw dh dw pt pl pb pr */
    {1, 32, 64, 7, 9, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     /* 1x1 flat row, full blocks */
    {2, 24, 40, 5, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     /* partial blocks, N = 2 */
    {1, 3, 20, 11, 13, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},    /* 1x1 stride 2 */
    {1, 16, 80, 9, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* 3x3 s1, 5 output blocks */
    {2, 19, 33, 10, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},  /* 3x3 s2 */
    {1, 3, 24, 23, 21, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},    /* 7x7 s2 stem */
    {1, 3, 20, 9, 121, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},    /* wide stem: 61 columns, chunks ending in partial tiles */
    {1, 8, 16, 12, 12, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},   /* dilation 2 */
    {1, 12, 12, 8, 11, 3, 5, 1, 2, 1, 1, 0, 2, 1, 0},   /* asymmetric kernel, pads and strides */
    {1, 5, 7, 4, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},      /* kernel wider than the image: no interior column */
    {1, 48, 64, 30, 30, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  /* wide rows: several pixel tiles, 48-pixel chunks */
    {1, 64, 32, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    /* 1x1 image */
    {1, 7, 9, 6, 200, 1, 3, 1, 1, 1, 3, 0, 3, 0, 3},    /* row chunks and dilated columns */
    {2, 1, 40, 17, 30, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},   /* one input channel */
    {1, 4, 16, 9, 10, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    /* 1x1 flat row from 4 channels */
    {2, 19, 33, 10, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  /* 3x3 s1, partial blocks, N = 2 (Winograd too) */
    {1, 40, 72, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  /* 3x3 s1 on 14x14, 72 = 4.5 blocks (Winograd too) */
    {2, 40, 72, 14, 14, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},  /* 1x1 s2, N = 2 (bf16: a compact copy of the read pixels) */
    {1, 32, 48, 9, 20, 1, 1, 3, 2, 1, 1, 0, 0, 0, 0},   /* 1x1 strides 3 x 2, odd output row */
};

static void nchwc_conv_at_level(void) {
  const oxrt_activation acts[] = {
      {OXRT_ACT_NONE, 0, 0},       {OXRT_ACT_RELU, 0, 0},    {OXRT_ACT_CLIP, -0.5f, 0.75f},
      {OXRT_ACT_LEAKY_RELU, 0.1f, 0}, {OXRT_ACT_HARD_SIGMOID, 0.2f, 0.5f}, {OXRT_ACT_HARD_SWISH, 0, 0},
      {OXRT_ACT_SIGMOID, 0, 0},    {OXRT_ACT_TANH, 0, 0},    {OXRT_ACT_SILU, 0, 0},
      {OXRT_ACT_GELU, 0, 0},       {OXRT_ACT_GELU_TANH, 0, 0}};
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  CHECK(pool != NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
      for (int v = 0; v < 4; v++) {
        /* every variant on the first activations, then one per activation to keep the test short */
        if (a > 2 && v != (int)(a % 4)) continue;
        int bad = check_case(&cases[i], acts[a], v & 1, v & 2, v == 3 ? pool : NULL, false);
        if (bad)
          fprintf(stderr, "  nchwc conv case %zu act %d variant %d at %s\n", i, (int)acts[a].kind, v,
                  oxrt_isa_name(oxrt_cpu_isa()));
        CHECK(!bad);
        const nc_case *k = &cases[i];
        const oxrt_conv_shape ws = {.nd = 2, .C = k->C, .M = k->M, .group = 1, .k = {k->kh, k->kw},
                                    .stride = {k->sh, k->sw}, .dil = {k->dh, k->dw}, .pad = {k->pt, k->pl},
                                    .out = {1, 1}};
        if (oxrt_wino_shape_ok(&ws) && k->pt == k->pb && k->pl == k->pr) {
          bad = check_case_ex(&cases[i], acts[a], v & 1, v & 2, v == 3 ? pool : NULL, false, false, true);
          if (bad)
            fprintf(stderr, "  winograd on blocked data case %zu act %d variant %d at %s\n", i, (int)acts[a].kind, v,
                    oxrt_isa_name(oxrt_cpu_isa()));
          CHECK(!bad);
        }
        if (cases[i].C <= 8 && a < 3) {
          bad = check_case(&cases[i], acts[a], v & 1, v & 2, v == 3 ? pool : NULL, true);
          if (bad)
            fprintf(stderr, "  nchwc conv (NCHW input) case %zu act %d variant %d at %s\n", i, (int)acts[a].kind, v,
                    oxrt_isa_name(oxrt_cpu_isa()));
          CHECK(!bad);
        }
        if (oxrt_sgemm_bf16_native() && a < 3) {
          bad = check_case_ex(&cases[i], acts[a], v & 1, v & 2, v == 3 ? pool : NULL, false, true, false);
          if (bad) fprintf(stderr, "  nchwc conv bf16 case %zu act %d variant %d\n", i, (int)acts[a].kind, v);
          CHECK(!bad);
          if (cases[i].C <= 8) { /* the bfloat16 stem: planes of channel pairs, odd C's last pair half zero */
            bad = check_case_ex(&cases[i], acts[a], v & 1, v & 2, v == 3 ? pool : NULL, true, true, false);
            if (bad) fprintf(stderr, "  nchwc conv bf16 (NCHW input) case %zu act %d variant %d\n", i, (int)acts[a].kind, v);
            CHECK(!bad);
          }
        }
      }
  oxrt_threadpool_free(pool);
}

/* The bfloat16 conv's input conversion (VCVTNE2PS2BF16) against Cast's scalar one (oxrt_f32_to_bf16): the same
 * round to nearest even, ties included, infinities, overflow to infinity and quiet NaN; every even tail length; each
 * pair of values swapped (got[i ^ 1] is x[i]). (The instruction flushes subnormals, which VDPBF16PS reads as zero
 * anyway: not compared.) */
static void nchwc_bf16_convert(void) {
  enum { N = 100 };
  float x[N];
  uint16_t got[N + 1];
  const uint32_t special[] = {0x3F808000u, 0x3F818000u, 0xBF808000u, 0x3F80FFFFu, 0x7F7FFFFFu, 0xFF7FFFFFu,
                              0x7F800000u, 0xFF800000u, 0x7FC00001u, 0xFFA12345u, 0x00800000u, 0x80000000u};
  for (size_t i = 0; i < N; i++) {
    uint32_t u = i < sizeof special / sizeof special[0] ? special[i] : 0;
    if (u) memcpy(&x[i], &u, 4);
    else x[i] = nrnd() * (float)(1u << (i % 20)) / 1024.0f;
  }
  for (size_t n = 0; n <= N; n += n < 40 ? 2 : 30) {
    got[n] = 0xABCDu;
    oxrt_nchwc_to_bf16(x, got, n);
    int bad = got[n] != 0xABCDu; /* nothing written past n */
    for (size_t i = 0; i < n; i++) bad |= got[i ^ 1] != oxrt_f32_to_bf16(x[i]);
    if (bad) fprintf(stderr, "  nchwc bf16 conversion differs from oxrt_f32_to_bf16 at n = %zu\n", n);
    CHECK(!bad);
  }
}

/* The bfloat16 pointwise path for planes over L2 (oxrt_nchwc_conv1x1_bf16: the input converted a band of pixels at a
 * time): band tails, partial input and output blocks, 5 output blocks (a group of 4 and one of 1), N = 2, a long C;
 * it must take these cases (else the shapes above already test the other path). */
static void nchwc_bf16_pointwise(void) {
  static const nc_case big[] = {
      /* N  C    M   H    W  kh kw sh sw dh dw pt pl pb pr */
      {1, 16, 32, 160, 211, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {2, 40, 70, 75, 150, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {1, 1024, 32, 24, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
  };
  const oxrt_activation acts[] = {{OXRT_ACT_NONE, 0, 0}, {OXRT_ACT_RELU, 0, 0}, {OXRT_ACT_HARD_SWISH, 0, 0}};
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  CHECK(pool != NULL);
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
    oxrt_nchwc_geom g = {.N = big[i].N, .C = oxrt_nchwc_padded(big[i].C, 16), .M = oxrt_nchwc_padded(big[i].M, 16),
                         .H = big[i].H, .W = big[i].W, .OH = big[i].H, .OW = big[i].W, .kh = 1, .kw = 1, .sh = 1,
                         .sw = 1, .dh = 1, .dw = 1, .B = 16};
    /* applies: returns true on these shapes (nothing to compare here: check_case_ex does that) */
    size_t n = g.N * g.C * (size_t)(g.H * g.W), nw = g.M * g.C;
    float *x = calloc(n, sizeof(float)), *y = malloc(sizeof(float) * g.N * g.M * (size_t)(g.H * g.W));
    uint16_t *w = calloc(nw, sizeof(uint16_t));
    CHECK(x && y && w && oxrt_nchwc_conv1x1_bf16(&g, x, w, NULL, NULL, acts[0], NULL, y, pool));
    free(x), free(y), free(w);
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
      for (int v = 0; v < 4; v++) {
        int bad = check_case_ex(&big[i], acts[a], v & 1, v & 2, v >= 2 ? pool : NULL, false, true, false);
        if (bad) fprintf(stderr, "  nchwc conv bf16 pointwise case %zu act %d variant %d\n", i, (int)acts[a].kind, v);
        CHECK(!bad);
      }
  }
  oxrt_threadpool_free(pool);
}

/* post = {a, b} (oxrt_nchwc_conv_post / _bf16_post, the folded scalar Mul and Add): every output, pad channels
 * included, must equal the conv without it then y * a + b in float (product rounded first), bit for bit: a clamp in
 * registers, other activations over each run, the bfloat16 band (1x1 over L2) and strided paths. */
static int post_case(const nc_case *c, oxrt_activation act, bool bf16, oxrt_threadpool *pool) {
  const oxrt_isa isa = oxrt_cpu_isa();
  const int B = bf16 ? 16 : oxrt_nchwc_block(isa);
  oxrt_nchwc_geom g = {.N = c->N, .C = oxrt_nchwc_padded(c->C, B), .M = oxrt_nchwc_padded(c->M, B), .H = c->H,
                       .W = c->W, .kh = c->kh, .kw = c->kw, .sh = c->sh, .sw = c->sw, .dh = c->dh, .dw = c->dw,
                       .pt = c->pt, .pl = c->pl, .pb = c->pb, .pr = c->pr, .B = B};
  g.OH = (c->H + c->pt + c->pb - c->dh * (c->kh - 1) - 1) / c->sh + 1;
  g.OW = (c->W + c->pl + c->pr - c->dw * (c->kw - 1) - 1) / c->sw + 1;
  const size_t nx = c->N * g.C * (size_t)(c->H * c->W), ny = c->N * g.M * (size_t)(g.OH * g.OW);
  const size_t nw = oxrt_nchwc_conv_packed_floats(&g);
  float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * c->M * c->C * (size_t)(c->kh * c->kw));
  float *wp = malloc(sizeof(float) * nw), *bias = malloc(sizeof(float) * g.M);
  float *y0 = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * ny);
  const float post[2] = {-1.37f, 0.23f};
  int bad = 0;
  if (!x || !w || !wp || !bias || !y0 || !y1) {
    bad = 1;
    goto done;
  }
  for (size_t i = 0; i < nx; i++) x[i] = nrnd(); /* pad channels too: finite either way */
  for (size_t i = 0; i < c->M * c->C * (size_t)(c->kh * c->kw); i++) w[i] = nrnd() * 0.5f;
  for (size_t i = 0; i < g.M; i++) bias[i] = i < c->M ? nrnd() : 0.0f;
  for (size_t i = 0; i < ny; i++) y0[i] = y1[i] = NAN;
  if (bf16) {
    oxrt_nchwc_conv_pack_bf16(&g, c->M, c->C, w, (uint16_t *)wp);
    bad = !oxrt_nchwc_conv_bf16(&g, x, (const uint16_t *)wp, bias, NULL, act, y0, pool) ||
          !oxrt_nchwc_conv_bf16_post(&g, x, (const uint16_t *)wp, bias, NULL, act, post, y1, pool);
  } else {
    oxrt_nchwc_conv_pack(&g, c->M, c->C, w, wp);
    oxrt_nchwc_conv(&g, x, wp, bias, NULL, act, y0, isa, pool);
    oxrt_nchwc_conv_post(&g, x, wp, bias, NULL, act, post, y1, isa, pool);
  }
  for (size_t i = 0; i < ny && !bad; i++) {
    volatile float prod = y0[i] * post[0]; /* rounded, never contracted into an FMA */
    const float want = prod + post[1];
    if (memcmp(&want, &y1[i], sizeof want)) bad = 1;
  }
done:
  free(x), free(w), free(wp), free(bias), free(y0), free(y1);
  return bad;
}

static void nchwc_post_at_level(void) {
  const oxrt_activation acts[] = {{OXRT_ACT_NONE, 0, 0}, {OXRT_ACT_RELU, 0, 0}, {OXRT_ACT_HARD_SWISH, 0, 0}};
  static const nc_case big[] = {{1, 16, 32, 160, 211, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}}; /* the bf16 band path */
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  CHECK(pool != NULL);
  const bool bf = oxrt_sgemm_bf16_native() && oxrt_cpu_isa() == OXRT_ISA_AVX512;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0] + 1; i++) {
    const nc_case *c = i < sizeof cases / sizeof cases[0] ? &cases[i] : &big[0];
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
      for (int f = 0; f < 1 + bf; f++) {
        int bad = post_case(c, acts[a], f, i % 2 ? pool : NULL);
        if (bad)
          fprintf(stderr, "  nchwc conv post case %zu act %d%s at %s\n", i, (int)acts[a].kind, f ? " bf16" : "",
                  oxrt_isa_name(oxrt_cpu_isa()));
        CHECK(!bad);
      }
  }
  oxrt_threadpool_free(pool);
}

void test_kernel_nchwc_conv(void) {
  if (oxrt_sgemm_bf16_native()) nchwc_bf16_convert(), nchwc_bf16_pointwise();
  unit_each_isa(nchwc_conv_at_level);
  unit_each_isa(nchwc_post_at_level);
}
