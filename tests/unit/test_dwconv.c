/* test_dwconv.c - the depthwise convolution kernels (every ISA level the machine runs, whatever OXRT_ISA says
 * for the rest) against a plain double-precision loop over random shapes: odd sizes, strides 1..3, dilation,
 * asymmetric padding, kernels 1..7, channel multipliers, with and without bias and clamp. */
#include "kernels/dwconv.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>

static unsigned dw_seed = 11;
static int dw_rand(int n) { /* 0 .. n-1 */
  dw_seed = dw_seed * 1103515245u + 12345u;
  return (int)((dw_seed >> 8) % (unsigned)n);
}
static float dw_rnd(void) { return (float)dw_rand(65536) / 32768.0f - 1.0f; }

static void dw_reference(const oxrt_conv_shape *s, const float *x, const float *w, const float *b, float lo, float hi,
                         float *y) {
  const size_t Mg = s->M / s->group;
  for (size_t n = 0; n < s->N; n++)
    for (size_t m = 0; m < s->M; m++) {
      const size_t c = m / Mg;
      for (int64_t oh = 0; oh < s->out[0]; oh++)
        for (int64_t ow = 0; ow < s->out[1]; ow++) {
          double acc = b ? b[m] : 0.0;
          for (int64_t ki = 0; ki < s->k[0]; ki++)
            for (int64_t kj = 0; kj < s->k[1]; kj++) {
              const int64_t ih = oh * s->stride[0] + ki * s->dil[0] - s->pad[0];
              const int64_t iw = ow * s->stride[1] + kj * s->dil[1] - s->pad[1];
              if (ih < 0 || ih >= s->in[0] || iw < 0 || iw >= s->in[1]) continue;
              acc += (double)w[(m * (size_t)s->k[0] + (size_t)ki) * (size_t)s->k[1] + (size_t)kj] *
                     (double)x[((n * s->C + c) * (size_t)s->in[0] + (size_t)ih) * (size_t)s->in[1] + (size_t)iw];
            }
          float v = (float)acc;
          v = v > hi ? hi : v;
          v = v < lo ? lo : v;
          y[((n * s->M + m) * (size_t)s->out[0] + (size_t)oh) * (size_t)s->out[1] + (size_t)ow] = v;
        }
    }
}

void test_kernel_dwconv_random(void) {
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  int bad = 0;
  for (int t = 0; t < 400 && bad < 5; t++) {
    oxrt_conv_shape s = {.nd = 2, .N = 1 + (size_t)(t % 5 == 0), .C = 1 + (size_t)dw_rand(t % 3 ? 5 : 40)};
    const size_t Mg = t % 4 == 3 ? 2 + (size_t)dw_rand(3) : 1;
    s.group = s.C, s.M = s.C * Mg;
    int64_t pad_end[2];
    for (int d = 0; d < 2; d++) {
      s.k[d] = t % 7 == 0 ? 1 + dw_rand(7) : 3 + 2 * dw_rand(2);
      s.stride[d] = t % 3 == 0 ? 1 + dw_rand(3) : 1 + dw_rand(2);
      s.dil[d] = t % 6 == 5 ? 1 + dw_rand(3) : 1;
      s.in[d] = 1 + dw_rand(t % 2 ? 20 : 70);
      const int64_t span = (s.k[d] - 1) * s.dil[d] + 1;
      s.pad[d] = t % 5 == 4 ? dw_rand((int)span + 1) : span / 2;
      pad_end[d] = t % 5 == 4 ? dw_rand((int)span + 1) : span / 2;
      if (s.in[d] + s.pad[d] + pad_end[d] < span) pad_end[d] = span - s.in[d] - s.pad[d];
      s.out[d] = (s.in[d] + s.pad[d] + pad_end[d] - span) / s.stride[d] + 1;
    }
    const size_t nx = s.N * s.C * (size_t)(s.in[0] * s.in[1]), nw = s.M * (size_t)(s.k[0] * s.k[1]);
    const size_t ny = s.N * s.M * (size_t)(s.out[0] * s.out[1]);
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), *b = malloc(sizeof(float) * s.M);
    float *y = malloc(sizeof(float) * ny), *r = malloc(sizeof(float) * ny);
    for (size_t i = 0; i < nx; i++) x[i] = dw_rnd();
    for (size_t i = 0; i < nw; i++) w[i] = dw_rnd();
    for (size_t i = 0; i < s.M; i++) b[i] = dw_rnd();
    const bool has_b = t % 2 == 0;
    const float lo = t % 3 == 1 ? 0.0f : -INFINITY, hi = t % 9 == 1 ? 0.5f : INFINITY;
    CHECK(oxrt_dwconv_f32_ok(&s));
    dw_reference(&s, x, w, has_b ? b : NULL, lo, hi, r);
    for (int isa = 0; isa <= (int)oxrt_cpu_isa(); isa++) {
      for (size_t i = 0; i < ny; i++) y[i] = NAN;
      CHECK(oxrt_dwconv_f32(&s, x, w, has_b ? b : NULL, lo, hi, y, (oxrt_isa)isa, t % 2 ? pool : NULL));
      for (size_t i = 0; i < ny; i++)
        if (!(fabsf(y[i] - r[i]) <= 1e-4f * (1.0f + fabsf(r[i])))) {
          fprintf(stderr,
                  "  dwconv %s: C %zu Mg %zu in %lldx%lld k %lldx%lld s %lldx%lld d %lldx%lld pad %lld,%lld out "
                  "%lldx%lld: y[%zu] = %g, want %g\n",
                  oxrt_isa_name((oxrt_isa)isa), s.C, Mg, (long long)s.in[0], (long long)s.in[1],
                  (long long)s.k[0], (long long)s.k[1], (long long)s.stride[0], (long long)s.stride[1],
                  (long long)s.dil[0], (long long)s.dil[1], (long long)s.pad[0], (long long)s.pad[1],
                  (long long)s.out[0], (long long)s.out[1], i, y[i], r[i]);
          unit_failures++;
          bad++;
          break;
        }
    }
    free(x);
    free(w);
    free(b);
    free(y);
    free(r);
  }
  oxrt_threadpool_free(pool);
}
