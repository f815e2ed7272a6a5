/* test_conv_narrow.c - convolutions with 1-4 output positions per plane (conv_narrow.h: channels along the lanes),
 * 1-D and 2-D, strides, dilation, pads, groups, batches, panel remainders, with and without bias, residual Z and
 * an activation, through oxrt_conv_f32_ex with packed weights, against plain double loops at every ISA level (the
 * portable level keeps the GEMM path for them). */
#include "kernels/conv_narrow.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>

static unsigned nseed = 41;
static float nrnd(void) {
  nseed = nseed * 1103515245u + 12345u;
  return (float)((nseed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

typedef struct {
  int nd;
  size_t N, C, M, G;
  int64_t in[2], k[2], st[2], dl[2], pd[2];
} narrow_case;

static void narrow_ref(const oxrt_conv_shape *s, const float *x, const float *w, const float *b, const float *z,
                       bool relu, double *y) {
  const bool two = s->nd == 2;
  const int64_t IH = two ? s->in[0] : 1, IW = s->in[s->nd - 1], OH = two ? s->out[0] : 1, OW = s->out[s->nd - 1];
  const int64_t KH = two ? s->k[0] : 1, KW = s->k[s->nd - 1];
  const size_t Cg = s->C / s->group, Mg = s->M / s->group;
  for (size_t n = 0; n < s->N; n++)
    for (size_t m = 0; m < s->M; m++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          double acc = b ? b[m] : 0;
          for (size_t c = 0; c < Cg; c++)
            for (int64_t kh = 0; kh < KH; kh++)
              for (int64_t kw = 0; kw < KW; kw++) {
                int64_t ih = two ? oh * s->stride[0] + kh * s->dil[0] - s->pad[0] : 0;
                int64_t iw = ow * s->stride[s->nd - 1] + kw * s->dil[s->nd - 1] - s->pad[s->nd - 1];
                if (ih < 0 || ih >= IH || iw < 0 || iw >= IW) continue;
                acc += (double)w[((m * Cg + c) * (size_t)KH + (size_t)kh) * (size_t)KW + (size_t)kw] *
                       x[((n * s->C + m / Mg * Cg + c) * (size_t)IH + (size_t)ih) * (size_t)IW + (size_t)iw];
              }
          size_t o = ((n * s->M + m) * (size_t)OH + (size_t)oh) * (size_t)OW + (size_t)ow;
          if (z) acc += z[o];
          y[o] = relu && acc < 0 ? 0 : acc;
        }
}

void test_kernel_conv_narrow(void) {
  static const narrow_case cases[] = {
      {1, 1, 129, 128, 1, {3}, {3}, {1}, {1}, {1}},          /* Silero's first encoder conv: 3 wide */
      {1, 1, 128, 64, 1, {3}, {3}, {2}, {1}, {1}},           /* stride 2: 2 wide */
      {1, 1, 64, 64, 1, {1}, {3}, {2}, {1}, {1}},            /* 1 wide, both taps outside but one */
      {1, 2, 12, 13, 1, {9}, {4}, {3}, {2}, {2}},            /* batch 2, dilation, 13 rows: a panel remainder */
      {2, 1, 6, 20, 2, {4, 4}, {3, 3}, {2, 2}, {1, 1}, {1, 1}}, /* 2-D 2x2, groups */
      {2, 3, 5, 7, 1, {3, 1}, {2, 2}, {1, 1}, {1, 1}, {0, 1}},  /* 2-D 2x2, padded along one axis only */
  };
  oxrt_isa top = oxrt_cpu_isa();
  int bad = 0, runs = 0;
  for (int isa = 0; isa <= (int)top; isa++) {
    oxrt_cpu_isa_cap((oxrt_isa)isa);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
      const narrow_case *c = &cases[ci];
      oxrt_conv_shape s = {.nd = c->nd, .N = c->N, .C = c->C, .M = c->M, .group = c->G};
      size_t ksz = 1, isz = 1, osz = 1;
      for (int d = 0; d < c->nd; d++) {
        s.in[d] = c->in[d], s.k[d] = c->k[d], s.stride[d] = c->st[d], s.dil[d] = c->dl[d], s.pad[d] = c->pd[d];
        s.out[d] = (c->in[d] + 2 * c->pd[d] - c->dl[d] * (c->k[d] - 1) - 1) / c->st[d] + 1;
        ksz *= (size_t)s.k[d], isz *= (size_t)s.in[d], osz *= (size_t)s.out[d];
      }
      size_t nx = s.N * s.C * isz, nw = s.M * (s.C / s.group) * ksz, ny = s.N * s.M * osz;
      float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), *b = malloc(sizeof(float) * s.M);
      float *z = malloc(sizeof(float) * ny), *y = malloc(sizeof(float) * ny);
      double *ref = malloc(sizeof(double) * ny);
      for (size_t i = 0; i < nx; i++) x[i] = nrnd();
      for (size_t i = 0; i < nw; i++) w[i] = nrnd();
      for (size_t i = 0; i < s.M; i++) b[i] = nrnd();
      for (size_t i = 0; i < ny; i++) z[i] = nrnd();
      oxrt_conv_wpack wp = {0};
      CHECK(oxrt_conv_f32_pack_method(&s, w, false, &wp));
      /* the path under test takes every case where the ISA has its kernel (not portable: the GEMM there) */
      CHECK(oxrt_conv_narrow_ok(&s, &wp) == (isa >= (int)OXRT_ISA_AVX2));
      for (int v = 0; v < 4 && !bad; v++) {
        const bool use_b = v != 1, use_z = v >= 2, relu = v == 3;
        oxrt_activation act = {relu ? OXRT_ACT_RELU : OXRT_ACT_NONE, 0, 0};
        for (size_t i = 0; i < ny; i++) y[i] = NAN; /* every output must be written */
        CHECK(oxrt_conv_f32_ex(&s, x, w, &wp, use_b ? b : NULL, use_z ? z : NULL, act, y, NULL));
        narrow_ref(&s, x, w, use_b ? b : NULL, use_z ? z : NULL, relu, ref);
        runs++;
        for (size_t i = 0; i < ny; i++)
          if (!(fabs((double)y[i] - ref[i]) <= 1e-4 * (1 + fabs(ref[i])))) {
            fprintf(stderr, "  narrow conv case %zu isa %s variant %d: y[%zu] = %g, expected %g\n", ci,
                    oxrt_isa_name((oxrt_isa)isa), v, i, y[i], ref[i]);
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
}
