/* nchwc_dw_bench.c - the NCHWc depthwise kernel (kernels/nchwc.h) against the NCHW depthwise path
 * (kernels/dwconv.h, oxrt_dwconv_f32_fused) on the depthwise shapes of mobilenet_v2, efficientnet_b0 and PP-LCNet
 * (orientation), with each model's fused activation, and the NCHWc pooling kernels on a few pooling shapes.
 * One thread, thread CPU time, the two paths interleaved in one process, best of REPS calls each. Prints per
 * shape and per (model, kind) totals (shape time x the number of such convs in the model).
 *
 *   cmake --build build --target nchwc_dw_bench
 *   (or: cc -O2 -Isrc bench/nchwc_dw_bench.c build/liboxrt.a -lpthread -lm -o build/nchwc_dw_bench)
 *   flock /tmp/oxrt-bench.lock build/nchwc_dw_bench [reps [shape index or -1 [threads]]]
 * With threads > 1 both paths run on a pool of that many threads and the times are wall-clock. */
#include "kernels/dwconv.h"
#include "kernels/nchwc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int use_wall; /* with a pool: wall time (thread CPU time would miss the workers) */
static double cpu_now(void) {
  struct timespec t;
  clock_gettime(use_wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
  const char *model;
  int C, H, k, s, count;
  oxrt_act act;
} dw_shape;

/* from the models by onnx shape inference (bench/models/out); pads are k / 2 on every side */
static const dw_shape shapes[] = {
    {"mobilenet_v2", 32, 112, 3, 1, 1, OXRT_ACT_CLIP},      {"mobilenet_v2", 96, 112, 3, 2, 1, OXRT_ACT_CLIP},
    {"mobilenet_v2", 144, 56, 3, 1, 1, OXRT_ACT_CLIP},      {"mobilenet_v2", 144, 56, 3, 2, 1, OXRT_ACT_CLIP},
    {"mobilenet_v2", 192, 28, 3, 1, 2, OXRT_ACT_CLIP},      {"mobilenet_v2", 192, 28, 3, 2, 1, OXRT_ACT_CLIP},
    {"mobilenet_v2", 384, 14, 3, 1, 4, OXRT_ACT_CLIP},      {"mobilenet_v2", 576, 14, 3, 1, 2, OXRT_ACT_CLIP},
    {"mobilenet_v2", 576, 14, 3, 2, 1, OXRT_ACT_CLIP},      {"mobilenet_v2", 960, 7, 3, 1, 3, OXRT_ACT_CLIP},
    {"efficientnet_b0", 32, 112, 3, 1, 1, OXRT_ACT_SILU},   {"efficientnet_b0", 96, 112, 3, 2, 1, OXRT_ACT_SILU},
    {"efficientnet_b0", 144, 56, 3, 1, 1, OXRT_ACT_SILU},   {"efficientnet_b0", 144, 56, 5, 2, 1, OXRT_ACT_SILU},
    {"efficientnet_b0", 240, 28, 3, 2, 1, OXRT_ACT_SILU},   {"efficientnet_b0", 240, 28, 5, 1, 1, OXRT_ACT_SILU},
    {"efficientnet_b0", 480, 14, 3, 1, 2, OXRT_ACT_SILU},   {"efficientnet_b0", 480, 14, 5, 1, 1, OXRT_ACT_SILU},
    {"efficientnet_b0", 672, 14, 5, 1, 2, OXRT_ACT_SILU},   {"efficientnet_b0", 672, 14, 5, 2, 1, OXRT_ACT_SILU},
    {"efficientnet_b0", 1152, 7, 3, 1, 1, OXRT_ACT_SILU},   {"efficientnet_b0", 1152, 7, 5, 1, 3, OXRT_ACT_SILU},
    {"orientation", 16, 112, 3, 1, 1, OXRT_ACT_HARD_SWISH}, {"orientation", 32, 112, 3, 2, 1, OXRT_ACT_HARD_SWISH},
    {"orientation", 64, 56, 3, 1, 1, OXRT_ACT_HARD_SWISH},  {"orientation", 64, 56, 3, 2, 1, OXRT_ACT_HARD_SWISH},
    {"orientation", 128, 28, 3, 1, 1, OXRT_ACT_HARD_SWISH}, {"orientation", 128, 28, 3, 2, 1, OXRT_ACT_HARD_SWISH},
    {"orientation", 256, 14, 5, 1, 5, OXRT_ACT_HARD_SWISH}, {"orientation", 256, 14, 5, 2, 1, OXRT_ACT_HARD_SWISH},
    {"orientation", 512, 7, 5, 1, 1, OXRT_ACT_HARD_SWISH},
};

static float *filled(size_t n) {
  float *p = malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) p[i] = (float)((int)(i * 7919 % 1000) - 500) / 500.f;
  return p;
}

/* per (model, kernel, stride) totals, in the order first seen */
typedef struct {
  const char *model;
  int k, s;
  double t[3];
} kind_total;

int main(int argc, char **argv) {
  const int reps = argc > 1 ? atoi(argv[1]) : 30;
  const oxrt_isa isa = oxrt_cpu_isa();
  const int B = oxrt_nchwc_block(isa);
  const size_t nshapes = sizeof shapes / sizeof *shapes;
  kind_total kinds[sizeof shapes / sizeof *shapes];
  size_t nkinds = 0;
  printf("isa %s, B = %d, best of %d, thread CPU ms; nchw / nchwc without activation, then nchwc with the "
         "model's fused activation\n", oxrt_isa_name(isa), B, reps);
  printf("%-16s %5s %4s %2s %2s %3s %9s %9s %6s %9s\n", "model", "C", "H", "k", "s", "cnt", "nchw", "nchwc", "ratio",
         "nchwc+act");
  const int only = argc > 2 ? atoi(argv[2]) : -1; /* one shape (its index), for a quick look */
  const int threads = argc > 3 ? atoi(argv[3]) : 1;
  oxrt_threadpool *pool = threads > 1 ? oxrt_threadpool_create(threads) : NULL;
  use_wall = pool != NULL;
  if (pool) printf("%d threads, wall-clock ms\n", threads);
  for (size_t si = 0; si < nshapes; si++) {
    const dw_shape *d = &shapes[si];
    if (only >= 0 && (size_t)only != si) continue;
    const int64_t H = d->H, p = d->k / 2, OH = (H + 2 * p - d->k) / d->s + 1;
    const size_t C = (size_t)d->C, Cp = oxrt_nchwc_padded(C, B), HW = (size_t)(H * H), OHW = (size_t)(OH * OH);
    oxrt_conv_shape s = {.nd = 2, .N = 1, .C = C, .M = C, .group = C, .in = {H, H}, .k = {d->k, d->k},
                         .stride = {d->s, d->s}, .dil = {1, 1}, .pad = {p, p}, .out = {OH, OH}};
    oxrt_nchwc_geom g = {.N = 1, .C = Cp, .M = Cp, .H = H, .W = H, .OH = OH, .OW = OH, .kh = d->k, .kw = d->k,
                         .sh = d->s, .sw = d->s, .dh = 1, .dw = 1, .pt = p, .pl = p, .pb = p, .pr = p, .B = B};
    float *x = filled(C * HW), *w = filled(C * (size_t)(d->k * d->k)), *bias = filled(Cp), *y = filled(C * OHW);
    float *xb = filled(Cp * HW), *yb = filled(Cp * OHW), *wp = filled(oxrt_nchwc_dw_packed_floats(&g));
    oxrt_nchwc_reorder_in(x, xb, 1, C, HW, B, NULL);
    oxrt_nchwc_dw_pack(&g, C, w, wp);
    const oxrt_activation none = {OXRT_ACT_NONE, 0, 0};
    const oxrt_activation act = {d->act, 0.0f, d->act == OXRT_ACT_CLIP ? 6.0f : 0.0f};
    double t[3] = {1e9, 1e9, 1e9};
    for (int r = 0; r < reps; r++) {
      double t0 = cpu_now();
      oxrt_dwconv_f32_fused(&s, x, w, bias, NULL, none, y, isa, pool);
      double t1 = cpu_now();
      oxrt_nchwc_dwconv(&g, xb, wp, bias, NULL, none, yb, isa, pool);
      double t2 = cpu_now();
      oxrt_nchwc_dwconv(&g, xb, wp, bias, NULL, act, yb, isa, pool);
      double t3 = cpu_now();
      t[0] = t1 - t0 < t[0] ? t1 - t0 : t[0];
      t[1] = t2 - t1 < t[1] ? t2 - t1 : t[1];
      t[2] = t3 - t2 < t[2] ? t3 - t2 : t[2];
    }
    printf("%-16s %5d %4d %2d %2d %3d %9.4f %9.4f %6.2f %9.4f\n", d->model, d->C, d->H, d->k, d->s, d->count,
           t[0] * 1e3, t[1] * 1e3, t[0] / t[1], t[2] * 1e3);
    size_t ki = 0;
    while (ki < nkinds && (strcmp(kinds[ki].model, d->model) || kinds[ki].k != d->k || kinds[ki].s != d->s)) ki++;
    if (ki == nkinds) kinds[nkinds++] = (kind_total){d->model, d->k, d->s, {0, 0, 0}};
    for (int m = 0; m < 3; m++) kinds[ki].t[m] += t[m] * 1e3 * d->count;
    free(x), free(w), free(bias), free(y), free(xb), free(yb), free(wp);
  }
  printf("\nper model and kind (shape time x count), ms: nchw, nchwc, ratio, nchwc with the activation\n");
  for (size_t ki = 0; ki < nkinds; ki++)
    printf("%-16s dw%dx%d s%d %8.3f %8.3f %6.2f %8.3f\n", kinds[ki].model, kinds[ki].k, kinds[ki].k, kinds[ki].s,
           kinds[ki].t[0], kinds[ki].t[1], kinds[ki].t[0] / kinds[ki].t[1], kinds[ki].t[2]);
  /* pooling: ResNet's 3x3/2 max pool, a 2x2/2 max pool, global average pools of the classifier heads */
  static const int pools[][4] = {{64, 112, 3, 2}, {256, 28, 2, 2}, {128, 28, 3, 1}};
  for (size_t pi = 0; pi < sizeof pools / sizeof *pools; pi++) {
    const int64_t H = pools[pi][1], k = pools[pi][2], st = pools[pi][3], p = k == 3 ? 1 : 0;
    const int64_t OH = (H + 2 * p - k) / st + 1;
    const size_t Cp = oxrt_nchwc_padded((size_t)pools[pi][0], B);
    oxrt_nchwc_geom g = {.N = 1, .C = Cp, .M = Cp, .H = H, .W = H, .OH = OH, .OW = OH, .kh = k, .kw = k, .sh = st,
                         .sw = st, .dh = 1, .dw = 1, .pt = p, .pl = p, .pb = p, .pr = p, .B = B};
    float *xb = filled(Cp * (size_t)(H * H)), *yb = filled(Cp * (size_t)(OH * OH));
    double tm = 1e9, ta = 1e9;
    for (int r = 0; r < reps; r++) {
      double t0 = cpu_now();
      oxrt_nchwc_pool(&g, OXRT_NCHWC_MAX, xb, yb, isa, pool);
      double t1 = cpu_now();
      oxrt_nchwc_pool(&g, OXRT_NCHWC_AVG_EXCLUDE_PAD, xb, yb, isa, pool);
      double t2 = cpu_now();
      tm = t1 - t0 < tm ? t1 - t0 : tm;
      ta = t2 - t1 < ta ? t2 - t1 : ta;
    }
    printf("pool %zux%lldx%lld k%lld s%lld: max %.4f ms, avg %.4f ms\n", Cp, (long long)H, (long long)H,
           (long long)k, (long long)st, tm * 1e3, ta * 1e3);
    free(xb), free(yb);
  }
  static const int gpools[][2] = {{1280, 7}, {960, 7}, {1152, 7}, {672, 14}};
  for (size_t pi = 0; pi < sizeof gpools / sizeof *gpools; pi++) {
    const size_t Cp = oxrt_nchwc_padded((size_t)gpools[pi][0], B), HW = (size_t)(gpools[pi][1] * gpools[pi][1]);
    float *xb = filled(Cp * HW), *yb = filled(Cp), *s = filled(Cp);
    double tg = 1e9, tc = 1e9;
    for (int r = 0; r < reps; r++) {
      double t0 = cpu_now();
      oxrt_nchwc_global_pool(1, Cp, HW, B, false, xb, yb, isa, pool);
      double t1 = cpu_now();
      oxrt_nchwc_channel_op(1, Cp, HW, B, '*', xb, s, xb, isa, pool);
      double t2 = cpu_now();
      tg = t1 - t0 < tg ? t1 - t0 : tg;
      tc = t2 - t1 < tc ? t2 - t1 : tc;
    }
    printf("global avg / channel mul %zux%zu: %.4f ms / %.4f ms\n", Cp, HW, tg * 1e3, tc * 1e3);
    free(xb), free(yb), free(s);
  }
  oxrt_threadpool_free(pool);
  return 0;
}
