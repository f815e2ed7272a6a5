/* nchwc_pool.c - max / average and global pooling in the NCHWc layout (nchwc.h): the split of the work over the
 * pool, the portable vector kernels (nchwc_pool_body.h on 8-float GCC vectors) and scalar loops, with the same
 * semantics, for a block size no vector kernel serves. */
#if defined(__GNUC__) /* the vector kernels need GCC/Clang vector extensions; other compilers get the loops */
#include "nchwc_dw_isa.h"
#include "nchwc_pool_body.h"
#else
#include "nchwc_dw_impl.h"
#include <math.h>
#include <string.h>
#endif

static oxrt_range_fn pool_rows_fn(oxrt_isa isa) {
  switch (isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  case OXRT_ISA_AVX512: return oxrt_nchwc_pool_rows_avx512;
  case OXRT_ISA_AVX2: return oxrt_nchwc_pool_rows_avx2;
#endif
  default:
#if defined(__GNUC__)
    return oxrt_nchwc_pool_rows_portable;
#else
    return NULL;
#endif
  }
}

static oxrt_range_fn gpool_fn(oxrt_isa isa) {
  switch (isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  case OXRT_ISA_AVX512: return oxrt_nchwc_gpool_range_avx512;
  case OXRT_ISA_AVX2: return oxrt_nchwc_gpool_range_avx2;
#endif
  default:
#if defined(__GNUC__)
    return oxrt_nchwc_gpool_range_portable;
#else
    return NULL;
#endif
  }
}

static void pool_scalar(const oxrt_nchwc_geom *g, oxrt_nchwc_pool_kind kind, const float *x, float *y) {
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
          const int64_t ih = oh * g->sh - g->pt + i * g->dh;
          for (int64_t k = 0; k < g->kw; k++) {
            const int64_t iw = ow * g->sw - g->pl + k * g->dw;
            if (ih < g->H + g->pb && iw < g->W + g->pr) window++;
            if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
            inside++;
            const float *xi = xp + (size_t)(ih * g->W + iw) * B;
            for (size_t b = 0; b < B; b++)
              o[b] = kind == OXRT_NCHWC_MAX ? (xi[b] > o[b] ? xi[b] : o[b]) : o[b] + xi[b];
          }
        }
        const int64_t d = kind == OXRT_NCHWC_AVG_INCLUDE_PAD ? window : inside;
        for (size_t b = 0; b < B; b++) o[b] = kind != OXRT_NCHWC_MAX ? o[b] / (float)d : inside ? o[b] : 0.0f;
      }
  }
}

void oxrt_nchwc_pool(const oxrt_nchwc_geom *g, oxrt_nchwc_pool_kind kind, const float *x, float *y, oxrt_isa isa,
                     oxrt_threadpool *pool) {
  bool vector;
  isa = oxrt_nchwc_level(isa, g->B, &vector);
  if (!vector) {
    pool_scalar(g, kind, x, y);
    return;
  }
  nchwc_pool_job j = {.g = g, .kind = kind, .x = x, .y = y};
  oxrt_nchwc_interior(g, &j.owa, &j.owb);
  const size_t rows = g->N * (g->C / (size_t)g->B) * (size_t)g->OH;
  const size_t per_row = (size_t)(g->OW * g->kh * g->kw) * (size_t)g->B + 1;
  oxrt_parallel_for(pool, rows, 1 + 32768 / per_row, pool_rows_fn(isa), &j);
}

void oxrt_nchwc_global_pool(size_t N, size_t C, size_t HW, int B, bool max, const float *x, float *y, oxrt_isa isa,
                            oxrt_threadpool *pool) {
  bool vector;
  isa = oxrt_nchwc_level(isa, B, &vector);
  const size_t Bz = (size_t)B, Cb = C / Bz;
  if (!vector) {
    for (size_t it = 0; it < N * Cb; it++) {
      const float *xp = x + it * HW * Bz;
      for (size_t b = 0; b < Bz; b++) {
        float m = max ? -INFINITY : 0.0f;
        for (size_t p = 0; p < HW; p++) {
          const float v = xp[p * Bz + b];
          m = max ? (v > m || isnan(v) || isnan(m) ? (isnan(m) ? m : v) : m) : m + v;
        }
        y[it * Bz + b] = max ? m : m / (float)HW;
      }
    }
    return;
  }
  nchwc_gpool_job j = {.HW = HW, .max = max, .x = x, .y = y};
  oxrt_parallel_for(pool, N * Cb, 1 + 65536 / (HW * Bz + 1), gpool_fn(isa), &j); /* waking a worker costs ~10 us */
}
