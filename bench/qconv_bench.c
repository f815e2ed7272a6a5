/* qconv_bench.c - the 8-bit convolution (oxrt_qconv_run, uint8 input, int8 per-channel weights, uint8 output) on
 * ResNet-18's and MobileNet-v2's group-1 shapes at 224x224, one thread, this thread's CPU time (minimum over the
 * repetitions: other processes' time slices do not count, their cache pollution does).
 * Prints ms per convolution and multiply-adds per ns (the useful ones: pad columns and rows not counted) for the
 * orientation oxrt_qconv_pack picks ("pick": A = weights as A, B = weights as B), and the time of each orientation
 * (weights as B only where the process's kernel has it).
 *   cmake --build build --target qconv_bench && build/qconv_bench [reps]
 * QCONV_BENCH_ONLY=name runs the one shape, QCONV_BENCH_VARIANT=0/1/2 the picked / A / B orientation alone
 * (for a profiler). QCONV_BENCH_COLD=1 writes a 64 MB buffer before each repetition (untimed), so weights and
 * input come from memory, as they do inside a model whose weights exceed the caches. */
#include "kernels/qdwconv.h"
#include "kernels/qgemm_conv.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned char *g_evict;

static void evict(void) {
  if (!g_evict) return;
  for (size_t i = 0; i < ((size_t)64 << 20); i += 64) g_evict[i]++;
}

static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
  const char *name;
  size_t C, M, H, k, stride, pad, count; /* count: how many times the model runs it */
} shp;

static const shp g_shapes[] = {
    {"r18.conv1", 3, 64, 224, 7, 2, 3, 1},      {"r18.l1", 64, 64, 56, 3, 1, 1, 4},
    {"r18.l2.0", 64, 128, 56, 3, 2, 1, 1},      {"r18.l2", 128, 128, 28, 3, 1, 1, 3},
    {"r18.l2.ds", 64, 128, 56, 1, 2, 0, 1},     {"r18.l3.0", 128, 256, 28, 3, 2, 1, 1},
    {"r18.l3", 256, 256, 14, 3, 1, 1, 3},       {"r18.l3.ds", 128, 256, 28, 1, 2, 0, 1},
    {"r18.l4.0", 256, 512, 14, 3, 2, 1, 1},     {"r18.l4", 512, 512, 7, 3, 1, 1, 3},
    {"r18.l4.ds", 256, 512, 14, 1, 2, 0, 1},    {"mv2.conv0", 3, 32, 224, 3, 2, 1, 1},
    {"mv2.pw16-96", 16, 96, 112, 1, 1, 0, 1},   {"mv2.pw24-144", 24, 144, 56, 1, 1, 0, 1},
    {"mv2.pw144-24", 144, 24, 56, 1, 1, 0, 1},  {"mv2.pw32-192", 32, 192, 28, 1, 1, 0, 2},
    {"mv2.pw192-32", 192, 32, 28, 1, 1, 0, 2},  {"mv2.pw64-384", 64, 384, 14, 1, 1, 0, 4},
    {"mv2.pw384-64", 384, 64, 14, 1, 1, 0, 3},  {"mv2.pw96-576", 96, 576, 14, 1, 1, 0, 3},
    {"mv2.pw160-960", 160, 960, 7, 1, 1, 0, 3}, {"mv2.pw960-160", 960, 160, 7, 1, 1, 0, 2},
    {"mv2.pw320-1280", 320, 1280, 7, 1, 1, 0, 1},
};

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 20;
  const char *only = getenv("QCONV_BENCH_ONLY"), *variant = getenv("QCONV_BENCH_VARIANT");
  const char *cold = getenv("QCONV_BENCH_COLD");
  if (cold && atoi(cold) && !(g_evict = calloc((size_t)64 << 20, 1))) return 1;
  double total[3] = {0, 0, 0};
  printf("%-16s %9s %9s %8s %5s %9s %9s\n", "shape", "Mmac", "ms", "mac/ns", "pick", "A ms", "B ms");
  for (size_t si = 0; si < sizeof g_shapes / sizeof *g_shapes; si++) {
    const shp *h = &g_shapes[si];
    if (only && strcmp(only, h->name)) continue;
    oxrt_conv_shape s = {.nd = 2, .N = 1, .C = h->C, .M = h->M, .group = 1};
    for (int d = 0; d < 2; d++) {
      s.in[d] = (int64_t)h->H, s.k[d] = (int64_t)h->k, s.stride[d] = (int64_t)h->stride, s.dil[d] = 1;
      s.pad[d] = (int64_t)h->pad;
      s.out[d] = ((int64_t)h->H + 2 * (int64_t)h->pad - (int64_t)h->k) / (int64_t)h->stride + 1;
    }
    size_t K = h->C * h->k * h->k, O = (size_t)(s.out[0] * s.out[1]);
    uint8_t *x = malloc(h->C * h->H * h->H), *y = malloc(h->M * O);
    int8_t *w = malloc(h->M * K);
    int32_t *bias = malloc(sizeof(int32_t) * h->M);
    float *scale = malloc(sizeof(float) * h->M);
    unsigned seed = 1;
    for (size_t i = 0; i < h->C * h->H * h->H; i++) x[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
    for (size_t i = 0; i < h->M * K; i++) w[i] = (int8_t)((seed = seed * 1103515245u + 12345u) >> 17);
    for (size_t m = 0; m < h->M; m++) bias[m] = (int32_t)m * 7 - 100, scale[m] = 1e-4f * (float)(m % 7 + 1);
    oxrt_qgemm_out o = {.kind = OXRT_QOUT_U8, .per_row = true, .bias = bias, .scale = scale, .n_scale = h->M,
                        .zp = 3, .lo = 0, .hi = 255};
    double best[3] = {1e9, 1e9, 1e9}; /* picked, weights as A, weights as B */
    bool picked_b = false;
    for (int v = 0; v < 3; v++) {
      oxrt_qconv_wpack wp;
      const oxrt_qkernel *k = oxrt_qgemm_kernel();
      if ((v == 2 && (k->g != 4 || k->b_u8)) || (variant && atoi(variant) != v)) continue;
      if (v == 0 && !oxrt_qconv_pack(&s, w, true, NULL, 1, &wp)) return 1;
      if (v == 1) { /* weights as A: the pack without the output size never picks B */
        oxrt_conv_shape s0 = s;
        memset(s0.out, 0, sizeof s0.out);
        if (!oxrt_qconv_pack(&s0, w, true, NULL, 1, &wp)) return 1;
      }
      if (v == 2 && !oxrt_qconv_pack_wt(&s, w, true, NULL, 1, k, &wp)) return 1;
      if (v == 0) picked_b = wp.wt;
      for (int r = 0; r < reps + 2; r++) {
        evict();
        double t = cpu_s();
        if (!oxrt_qconv_run(&s, x, false, 117, &wp, &o, y, 1, NULL)) return 1;
        t = cpu_s() - t;
        if (r >= 2 && t < best[v]) best[v] = t;
      }
      oxrt_qconv_wpack_free(&wp);
    }
    double macs = (double)h->M * (double)O * (double)K;
    printf("%-16s %9.1f %9.3f %8.1f %5s %9.3f %9.3f\n", h->name, macs / 1e6, best[0] * 1e3, macs / best[0] / 1e9,
           picked_b ? "B" : "A", best[1] < 1e9 ? best[1] * 1e3 : 0.0, best[2] < 1e9 ? best[2] * 1e3 : 0.0);
    total[h->name[0] == 'm'] += best[0] * 1e3 * (double)h->count;
    free(x), free(y), free(w), free(bias), free(scale);
  }
  /* MobileNet-v2's depthwise 3x3 layers (oxrt_qdwconv_run): channels, input size, stride, count */
  static const size_t dws[][4] = {{32, 112, 1, 1}, {96, 112, 2, 1}, {144, 56, 1, 1}, {144, 56, 2, 1}, {192, 28, 1, 2},
                                  {192, 28, 2, 1}, {384, 14, 1, 4},  {576, 14, 1, 2}, {576, 14, 2, 1}, {960, 7, 1, 3}};
  for (size_t di = 0; di < sizeof dws / sizeof *dws; di++) {
    char name[32];
    snprintf(name, sizeof name, "mv2.dw%zu@%zus%zu", dws[di][0], dws[di][1], dws[di][2]);
    if (only && strcmp(only, name)) continue;
    size_t C = dws[di][0], H = dws[di][1], st = dws[di][2], OH = (H + 2 - 3) / st + 1;
    oxrt_conv_shape s = {.nd = 2, .N = 1, .C = C, .M = C, .group = C};
    for (int d = 0; d < 2; d++)
      s.in[d] = (int64_t)H, s.k[d] = 3, s.stride[d] = (int64_t)st, s.dil[d] = 1, s.pad[d] = 1, s.out[d] = (int64_t)OH;
    uint8_t *x = malloc(C * H * H), *y = malloc(C * OH * OH), *w = malloc(C * 9);
    int32_t *bias = malloc(sizeof(int32_t) * C);
    float *scale = malloc(sizeof(float) * C);
    unsigned seed = 3;
    for (size_t i = 0; i < C * H * H; i++) x[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
    for (size_t i = 0; i < C * 9; i++) w[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 17);
    for (size_t m = 0; m < C; m++) bias[m] = (int32_t)m * 7 - 100, scale[m] = 1e-3f * (float)(m % 7 + 1);
    oxrt_qgemm_out o = {.kind = OXRT_QOUT_U8, .per_row = true, .bias = bias, .scale = scale, .n_scale = C,
                        .zp = 3, .lo = 0, .hi = 255};
    double best = 1e9;
    for (int r = 0; r < reps + 2; r++) {
      evict();
      double t = cpu_s();
      if (!oxrt_qdwconv_run(&s, x, false, 117, w, true, NULL, 1, &o, y, 1, NULL)) return 1;
      t = cpu_s() - t;
      if (r >= 2 && t < best) best = t;
    }
    double macs = (double)C * (double)(OH * OH) * 9.0;
    printf("%-16s %9.1f %9.3f %8.1f\n", name, macs / 1e6, best * 1e3, macs / best / 1e9);
    total[2] += best * 1e3 * (double)dws[di][3];
    free(x), free(y), free(w), free(bias), free(scale);
  }
  printf("sum over the model's convs (ms): resnet18 %.3f  mobilenet_v2 group-1 %.3f, depthwise %.3f\n", total[0],
         total[1], total[2]);
  free(g_evict);
  return 0;
}
