/* nchwc.c - block size and the reorders between NCHW and NCHWc (nchwc.h). */
#include "nchwc.h"
#include <string.h>

int oxrt_nchwc_block(oxrt_isa isa) { return isa >= OXRT_ISA_AVX512 ? 16 : 8; }

typedef struct {
  const float *x;
  float *y;
  size_t C, HW, Cb;
  int B;
} reorder_job;

/* one item = one (image, channel block): B source planes interleaved into one blocked plane */
static void reorder_in_range(void *arg, size_t begin, size_t end) {
  const reorder_job *j = arg;
  const size_t HW = j->HW, B = (size_t)j->B;
  for (size_t it = begin; it < end; it++) {
    size_t n = it / j->Cb, cb = it % j->Cb, c0 = cb * B, nc = j->C - c0 < B ? j->C - c0 : B;
    const float *x = j->x + (n * j->C + c0) * HW;
    float *y = j->y + it * HW * B;
    if (nc < B) memset(y, 0, HW * B * sizeof *y);
    /* a few pixels at a time keep the B source rows' cache lines in use */
    for (size_t p0 = 0; p0 < HW; p0 += 16) {
      size_t p1 = p0 + 16 < HW ? p0 + 16 : HW;
      for (size_t b = 0; b < nc; b++)
        for (size_t p = p0; p < p1; p++) y[p * B + b] = x[b * HW + p];
    }
  }
}

static void reorder_out_range(void *arg, size_t begin, size_t end) {
  const reorder_job *j = arg;
  const size_t HW = j->HW, B = (size_t)j->B;
  for (size_t it = begin; it < end; it++) {
    size_t n = it / j->Cb, cb = it % j->Cb, c0 = cb * B, nc = j->C - c0 < B ? j->C - c0 : B;
    const float *x = j->x + it * HW * B;
    float *y = j->y + (n * j->C + c0) * HW;
    for (size_t p0 = 0; p0 < HW; p0 += 16) {
      size_t p1 = p0 + 16 < HW ? p0 + 16 : HW;
      for (size_t b = 0; b < nc; b++)
        for (size_t p = p0; p < p1; p++) y[b * HW + p] = x[p * B + b];
    }
  }
}

static void reorder(oxrt_range_fn fn, const float *x, float *y, size_t N, size_t C, size_t HW, int B,
                    oxrt_threadpool *pool) {
  reorder_job j = {x, y, C, HW, (C + (size_t)B - 1) / (size_t)B, B};
  size_t items = N * j.Cb, grain = HW * (size_t)B >= 16384 ? 1 : 16384 / (HW * (size_t)B + 1) + 1;
  oxrt_parallel_for(pool, items, grain, fn, &j);
}

void oxrt_nchwc_reorder_in(const float *x, float *y, size_t N, size_t C, size_t HW, int B, oxrt_threadpool *pool) {
  reorder(reorder_in_range, x, y, N, C, HW, B, pool);
}

void oxrt_nchwc_reorder_out(const float *x, float *y, size_t N, size_t C, size_t HW, int B, oxrt_threadpool *pool) {
  reorder(reorder_out_range, x, y, N, C, HW, B, pool);
}
