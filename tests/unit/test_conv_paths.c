/* test_conv_paths.c - every float convolution path (pointwise GEMM, implicit-im2col GEMM with strides, dilation
 * and groups, batched small images, one product per thread, depthwise, the generic N-D loops) with and without a
 * residual Z, with every fused activation, packed and unpacked weights, against plain double loops, at every ISA
 * level this machine runs (one process: oxrt_cpu_isa_cap). A path that dropped Z or the activation fails here
 * (issue 9). */
#include "kernels/dwconv.h"
#include "kernels/gemm.h"
#include "kernels/im2col.h"
#include "kernels/winograd.h"
#include "unit.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static unsigned cseed = 23;
static float crnd(void) {
  cseed = cseed * 1103515245u + 12345u;
  return (float)((cseed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* The activation in double (shared with test_gemm.c). */
double unit_act_ref(oxrt_activation a, double x) {
  switch (a.kind) {
  case OXRT_ACT_RELU: return x < 0 ? 0 : x;
  case OXRT_ACT_CLIP: return x < a.a ? a.a : x > a.b ? a.b : x;
  case OXRT_ACT_LEAKY_RELU: return x < 0 ? a.a * x : x;
  case OXRT_ACT_HARD_SIGMOID: return fmax(0, fmin(1, a.a * x + a.b));
  case OXRT_ACT_HARD_SWISH: return x * fmax(0, fmin(1, x / 6 + 0.5));
  case OXRT_ACT_SIGMOID: return 1 / (1 + exp(-x));
  case OXRT_ACT_TANH: return tanh(x);
  case OXRT_ACT_SILU: return x / (1 + exp(-x));
  case OXRT_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
  case OXRT_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  default: return x;
  }
}

/* Spatial dims 1 to 3 (missing leading dims are 1), groups, strides, dilations, start pads. */
static void conv_paths_ref(const oxrt_conv_shape *s, const float *x, const float *w, const float *b, const float *z,
                           oxrt_activation act, double *y) {
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, out[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pd[3] = {0};
  for (int d = 0; d < s->nd; d++) {
    int e = 3 - s->nd + d;
    in[e] = s->in[d], k[e] = s->k[d], out[e] = s->out[d], st[e] = s->stride[d], dl[e] = s->dil[d], pd[e] = s->pad[d];
  }
  size_t Cg = s->C / s->group, Mg = s->M / s->group, isz = (size_t)(in[0] * in[1] * in[2]);
  size_t osz = (size_t)(out[0] * out[1] * out[2]), ksz = (size_t)(k[0] * k[1] * k[2]);
  for (size_t n = 0; n < s->N; n++)
    for (size_t m = 0; m < s->M; m++) {
      size_t g = m / Mg;
      for (int64_t o0 = 0; o0 < out[0]; o0++)
        for (int64_t o1 = 0; o1 < out[1]; o1++)
          for (int64_t o2 = 0; o2 < out[2]; o2++) {
            double acc = b ? b[m] : 0;
            for (size_t c = 0; c < Cg; c++)
              for (int64_t k0 = 0; k0 < k[0]; k0++)
                for (int64_t k1 = 0; k1 < k[1]; k1++)
                  for (int64_t k2 = 0; k2 < k[2]; k2++) {
                    int64_t i0 = o0 * st[0] + k0 * dl[0] - pd[0], i1 = o1 * st[1] + k1 * dl[1] - pd[1];
                    int64_t i2 = o2 * st[2] + k2 * dl[2] - pd[2];
                    if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2]) continue;
                    acc += (double)x[(n * s->C + g * Cg + c) * isz + (size_t)((i0 * in[1] + i1) * in[2] + i2)] *
                           w[(m * Cg + c) * ksz + (size_t)((k0 * k[1] + k1) * k[2] + k2)];
                  }
            size_t at = (n * s->M + m) * osz + (size_t)((o0 * out[1] + o1) * out[2] + o2);
            if (z) acc += z[at];
            y[at] = unit_act_ref(act, acc);
          }
    }
}

/* Runs fn once per ISA level this machine has, lowest first (shared with test_gemm.c and test_kernels.c). */
void unit_each_isa(void (*fn)(void)) {
  oxrt_isa top = oxrt_cpu_isa();
  for (int isa = 0; isa <= (int)top; isa++) {
    oxrt_cpu_isa_cap((oxrt_isa)isa);
    fn();
  }
  oxrt_cpu_isa_cap(top);
}

typedef struct {
  const char *path;
  int nd;
  size_t N, C, M, group;
  int64_t in, k, stride, dil, pad;
} conv_case;

static void make_shape(const conv_case *c, oxrt_conv_shape *s) {
  memset(s, 0, sizeof *s);
  s->nd = c->nd, s->N = c->N, s->C = c->C, s->M = c->M, s->group = c->group;
  for (int d = 0; d < c->nd; d++) {
    int64_t in = c->in + d; /* not square: rows and columns differ */
    s->in[d] = in, s->k[d] = c->k, s->stride[d] = c->stride, s->dil[d] = c->dil, s->pad[d] = c->pad;
    s->out[d] = (in + 2 * c->pad - c->dil * (c->k - 1) - 1) / c->stride + 1;
  }
}

void test_kernel_conv_paths(void) {
  static const conv_case cases[] = {
      {"pointwise", 2, 1, 16, 13, 1, 17, 1, 1, 1, 0},    {"im2col 3x3", 2, 1, 6, 14, 1, 16, 3, 1, 1, 1},
      {"im2col stride 2", 2, 1, 5, 7, 1, 19, 3, 2, 1, 1}, {"im2col dilated", 2, 1, 4, 9, 1, 18, 3, 1, 2, 2},
      {"grouped", 2, 1, 8, 12, 2, 16, 3, 1, 1, 1},        {"batched small", 2, 3, 6, 13, 1, 7, 3, 1, 1, 1},
      {"per-thread", 2, 2, 3, 6, 1, 17, 3, 1, 1, 1},      {"1-D", 1, 1, 5, 11, 1, 40, 5, 2, 1, 2},
      {"depthwise", 2, 1, 7, 7, 7, 15, 3, 1, 1, 1},       {"depthwise s2 x2", 2, 2, 5, 10, 5, 16, 5, 2, 1, 2},
      {"generic 3-D", 3, 1, 3, 5, 1, 6, 3, 1, 1, 1},      {"narrow 1x2", 2, 1, 20, 24, 1, 3, 3, 1, 1, 0},
  };
  static const oxrt_activation acts[] = {
      {OXRT_ACT_NONE, 0, 0},     {OXRT_ACT_RELU, 0, 0},          {OXRT_ACT_CLIP, -0.5f, 0.7f},
      {OXRT_ACT_LEAKY_RELU, 0.1f, 0}, {OXRT_ACT_HARD_SIGMOID, 0.2f, 0.5f}, {OXRT_ACT_HARD_SWISH, 0, 0},
      {OXRT_ACT_SIGMOID, 0, 0},  {OXRT_ACT_TANH, 0, 0},          {OXRT_ACT_SILU, 0, 0},
      {OXRT_ACT_GELU, 0, 0},     {OXRT_ACT_GELU_TANH, 0, 0},
  };
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  oxrt_isa top = oxrt_cpu_isa();
  int bad = 0, runs = 0;
  for (int isa = 0; isa <= (int)top; isa++) {
    oxrt_cpu_isa_cap((oxrt_isa)isa);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
      oxrt_conv_shape s;
      make_shape(&cases[ci], &s);
      size_t ksz = 1, isz = 1, osz = 1;
      for (int d = 0; d < s.nd; d++) ksz *= (size_t)s.k[d], isz *= (size_t)s.in[d], osz *= (size_t)s.out[d];
      size_t nx = s.N * s.C * isz, nw = s.M * (s.C / s.group) * ksz, ny = s.N * s.M * osz;
      float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), *b = malloc(sizeof(float) * s.M);
      float *z = malloc(sizeof(float) * ny), *y = malloc(sizeof(float) * ny);
      double *ref = malloc(sizeof(double) * ny);
      for (size_t i = 0; i < nx; i++) x[i] = crnd();
      for (size_t i = 0; i < nw; i++) w[i] = crnd();
      for (size_t i = 0; i < s.M; i++) b[i] = crnd();
      for (size_t i = 0; i < ny; i++) z[i] = 2 * crnd();
      oxrt_conv_wpack wp = {0};
      bool packed = oxrt_conv_f32_uses_pack(&s) && ci % 2 == 0;
      if (packed) CHECK(oxrt_conv_f32_pack(&s, w, &wp));
      for (size_t ai = 0; ai < sizeof acts / sizeof acts[0] && !bad; ai++)
        for (int use_z = 0; use_z < 2 && !bad; use_z++) {
          bool threaded = (ai + (size_t)use_z) % 2 == 0 || !strcmp(cases[ci].path, "per-thread");
          const float *bias = (ai + ci) % 3 == 2 ? NULL : b;
          for (size_t i = 0; i < ny; i++) y[i] = NAN; /* every output must be written */
          CHECK(oxrt_conv_f32_ex(&s, x, w, packed ? &wp : NULL, bias, use_z ? z : NULL, acts[ai], y,
                                 threaded ? pool : NULL));
          conv_paths_ref(&s, x, w, bias, use_z ? z : NULL, acts[ai], ref);
          runs++;
          for (size_t i = 0; i < ny; i++)
            if (!(fabs((double)y[i] - ref[i]) <= 2e-4 * (1 + fabs(ref[i])))) {
              fprintf(stderr, "  conv path '%s' isa %s act %d z %d bias %d packed %d threads %d: y[%zu] = %g, "
                              "expected %g\n",
                      cases[ci].path, oxrt_isa_name((oxrt_isa)isa), (int)acts[ai].kind, use_z, bias != NULL, packed,
                      threaded ? 2 : 1, i, y[i], ref[i]);
              bad++;
              break;
            }
        }
      oxrt_conv_wpack_free(&wp);
      free(x), free(w), free(b), free(z), free(y), free(ref);
    }
  }
  oxrt_cpu_isa_cap(top);
  /* Weights packed in bfloat16 (bf16 compute mode, AVX512_BF16 only): every path that takes packed weights must
   * read them as bfloat16 or leave them to the GEMM (a float reader of such panels once gave NaN), against the
   * reference on x and w rounded to bfloat16. */
  for (size_t ci = 0; oxrt_sgemm_bf16_native() && ci < sizeof cases / sizeof cases[0]; ci++) {
    oxrt_conv_shape s;
    make_shape(&cases[ci], &s);
    if (!oxrt_conv_f32_uses_pack(&s)) continue;
    size_t ksz = 1, isz = 1, osz = 1;
    for (int d = 0; d < s.nd; d++) ksz *= (size_t)s.k[d], isz *= (size_t)s.in[d], osz *= (size_t)s.out[d];
    size_t nx = s.N * s.C * isz, nw = s.M * (s.C / s.group) * ksz, ny = s.N * s.M * osz;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), *y = malloc(sizeof(float) * ny);
    float *xr = malloc(sizeof(float) * nx), *wr = malloc(sizeof(float) * nw);
    double *ref = malloc(sizeof(double) * ny);
    for (size_t i = 0; i < nx; i++) x[i] = crnd(), xr[i] = unit_bf16_round(x[i]);
    for (size_t i = 0; i < nw; i++) w[i] = crnd(), wr[i] = unit_bf16_round(w[i]);
    oxrt_conv_wpack wp = {0};
    CHECK(oxrt_conv_f32_pack_bf16(&s, w, &wp) && wp.g && wp.g[0].bf16);
    for (size_t i = 0; i < ny; i++) y[i] = NAN;
    oxrt_activation relu = {OXRT_ACT_RELU, 0, 0};
    CHECK(oxrt_conv_f32_ex(&s, x, NULL, &wp, NULL, NULL, relu, y, ci % 2 ? pool : NULL));
    conv_paths_ref(&s, xr, wr, NULL, NULL, relu, ref);
    runs++;
    for (size_t i = 0; i < ny; i++)
      if (!(fabs((double)y[i] - ref[i]) <= 2e-4 * (1 + fabs(ref[i])))) {
        fprintf(stderr, "  conv path '%s' bf16 packs: y[%zu] = %g, expected %g\n", cases[ci].path, i, y[i], ref[i]);
        bad++;
        break;
      }
    oxrt_conv_wpack_free(&wp);
    free(x), free(w), free(y), free(xr), free(wr), free(ref);
  }
  CHECK(bad == 0);
  CHECK(runs > 0);
  oxrt_threadpool_free(pool);
}

/* Winograd F(4x4, 3x3) forced on (oxrt_conv_f32_pack_method) for odd plane sizes (partial edge tiles), pads 0-2,
 * batches, blocks of several tile rows, with bias, Z and every activation, at every ISA level, one and two
 * threads, against the double reference. Its rounding differs from the direct sum, hence the wider bound. */
void test_kernel_conv_winograd(void) {
  typedef struct {
    size_t N, C, M;
    int64_t h, w, pad;
  } wcase;
  static const wcase cases[] = {{1, 3, 5, 7, 9, 1}, {2, 16, 24, 13, 11, 1}, {1, 17, 33, 30, 21, 0},
                                {1, 8, 40, 5, 6, 2}, {1, 64, 32, 45, 38, 1}, {3, 4, 4, 4, 4, 1}};
  static const oxrt_activation acts[] = {
      {OXRT_ACT_NONE, 0, 0},     {OXRT_ACT_RELU, 0, 0},          {OXRT_ACT_CLIP, -0.5f, 0.7f},
      {OXRT_ACT_LEAKY_RELU, 0.1f, 0}, {OXRT_ACT_HARD_SIGMOID, 0.2f, 0.5f}, {OXRT_ACT_HARD_SWISH, 0, 0},
      {OXRT_ACT_SIGMOID, 0, 0},  {OXRT_ACT_TANH, 0, 0},          {OXRT_ACT_SILU, 0, 0},
      {OXRT_ACT_GELU, 0, 0},     {OXRT_ACT_GELU_TANH, 0, 0},
  };
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  oxrt_isa top = oxrt_cpu_isa();
  int bad = 0, runs = 0;
  for (int isa = 0; isa <= (int)top; isa++) {
    oxrt_cpu_isa_cap((oxrt_isa)isa);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
      const wcase *c = &cases[ci];
      oxrt_conv_shape s;
      memset(&s, 0, sizeof s);
      s.nd = 2, s.N = c->N, s.C = c->C, s.M = c->M, s.group = 1;
      s.in[0] = c->h, s.in[1] = c->w;
      for (int d = 0; d < 2; d++) {
        s.k[d] = 3, s.stride[d] = 1, s.dil[d] = 1, s.pad[d] = c->pad;
        s.out[d] = s.in[d] + 2 * c->pad - 2;
      }
      CHECK(oxrt_wino_shape_ok(&s));
      size_t nx = s.N * s.C * (size_t)(c->h * c->w), nw = s.M * s.C * 9, ny = s.N * s.M * (size_t)(s.out[0] * s.out[1]);
      float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), *b = malloc(sizeof(float) * s.M);
      float *z = malloc(sizeof(float) * ny), *y = malloc(sizeof(float) * ny);
      double *ref = malloc(sizeof(double) * ny);
      for (size_t i = 0; i < nx; i++) x[i] = crnd();
      for (size_t i = 0; i < nw; i++) w[i] = crnd();
      for (size_t i = 0; i < s.M; i++) b[i] = crnd();
      for (size_t i = 0; i < ny; i++) z[i] = 2 * crnd();
      oxrt_conv_wpack wp = {0};
      CHECK(oxrt_conv_f32_pack_method(&s, w, true, &wp));
      CHECK(wp.wino != NULL);
      for (size_t ai = 0; ai < sizeof acts / sizeof acts[0] && !bad; ai++)
        for (int use_z = 0; use_z < 2 && !bad; use_z++) {
          bool threaded = (ai + (size_t)use_z + ci) % 2 == 0;
          const float *bias = (ai + ci) % 3 == 2 ? NULL : b;
          for (size_t i = 0; i < ny; i++) y[i] = NAN;
          CHECK(oxrt_conv_f32_ex(&s, x, w, &wp, bias, use_z ? z : NULL, acts[ai], y, threaded ? pool : NULL));
          conv_paths_ref(&s, x, w, bias, use_z ? z : NULL, acts[ai], ref);
          runs++;
          double scale = sqrt((double)s.C * 9); /* typical magnitude of a sum of C*9 products of [-1, 1) */
          for (size_t i = 0; i < ny; i++)
            if (!(fabs((double)y[i] - ref[i]) <= 1e-5 * scale * (1 + fabs(ref[i])) + 1e-5 * scale)) {
              fprintf(stderr, "  winograd case %zu isa %s act %d z %d threads %d: y[%zu] = %.7g, expected %.7g\n", ci,
                      oxrt_isa_name((oxrt_isa)isa), (int)acts[ai].kind, use_z, threaded ? 2 : 1, i, y[i], ref[i]);
              bad++;
              break;
            }
        }
      oxrt_conv_wpack_free(&wp);
      free(x), free(w), free(b), free(z), free(y), free(ref);
    }
  }
  oxrt_cpu_isa_cap(top);
  CHECK(bad == 0);
  CHECK(runs > 0);
  oxrt_threadpool_free(pool);
}
