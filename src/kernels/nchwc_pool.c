/* nchwc_pool.c - max / average pooling and global pooling in the NCHWc layout (nchwc.h).
 * Reference loops: the per-ISA vector kernels replace them. */
#include "nchwc.h"
#include <math.h>

void oxrt_nchwc_pool(const oxrt_nchwc_geom *g, oxrt_nchwc_pool_kind kind, const float *x, float *y, oxrt_isa isa,
                     oxrt_threadpool *pool) {
  (void)isa, (void)pool;
  const size_t B = (size_t)g->B, Cb = g->C / B;
  for (size_t it = 0; it < g->N * Cb; it++) {
    const float *xp = x + it * (size_t)(g->H * g->W) * B;
    float *yp = y + it * (size_t)(g->OH * g->OW) * B;
    for (int64_t oh = 0; oh < g->OH; oh++)
      for (int64_t ow = 0; ow < g->OW; ow++) {
        float *o = yp + (size_t)(oh * g->OW + ow) * B;
        for (size_t b = 0; b < B; b++) o[b] = kind == OXRT_NCHWC_MAX ? -INFINITY : 0.0f;
        int64_t inside = 0, window = 0;
        for (int64_t i = 0; i < g->kh; i++) {
          int64_t ih = oh * g->sh - g->pt + i * g->dh;
          for (int64_t k = 0; k < g->kw; k++) {
            int64_t iw = ow * g->sw - g->pl + k * g->dw;
            /* include_pad counts window cells up to the padded edge, not past it (ceil_mode overhang) */
            if (ih < g->H + g->pb && iw < g->W + g->pr) window++;
            if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
            inside++;
            const float *xi = xp + (size_t)(ih * g->W + iw) * B;
            for (size_t b = 0; b < B; b++)
              o[b] = kind == OXRT_NCHWC_MAX ? (o[b] > xi[b] || isnan(o[b]) ? o[b] : xi[b]) : o[b] + xi[b];
          }
        }
        if (kind != OXRT_NCHWC_MAX) {
          int64_t d = kind == OXRT_NCHWC_AVG_INCLUDE_PAD ? window : inside;
          for (size_t b = 0; b < B; b++) o[b] = d ? o[b] / (float)d : 0.0f;
        }
      }
  }
}

void oxrt_nchwc_global_pool(size_t N, size_t C, size_t HW, int B, bool max, const float *x, float *y, oxrt_isa isa,
                            oxrt_threadpool *pool) {
  (void)isa, (void)pool;
  const size_t Bz = (size_t)B, Cb = C / Bz;
  for (size_t it = 0; it < N * Cb; it++) {
    const float *xp = x + it * HW * Bz;
    float *o = y + it * Bz;
    for (size_t b = 0; b < Bz; b++) o[b] = max ? -INFINITY : 0.0f;
    for (size_t p = 0; p < HW; p++)
      for (size_t b = 0; b < Bz; b++)
        o[b] = max ? (o[b] > xp[p * Bz + b] || isnan(o[b]) ? o[b] : xp[p * Bz + b]) : o[b] + xp[p * Bz + b];
    if (!max)
      for (size_t b = 0; b < Bz; b++) o[b] /= (float)(HW ? HW : 1);
  }
}
