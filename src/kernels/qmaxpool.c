/* qmaxpool.c - 8-bit 2-D MaxPool, rows first: for each output row the byte maxima of its window's input rows over
 * the whole width (contiguous, so it vectorizes), into a row padded with the type's minimum, then the maxima over
 * the window's columns, one tap at a time over all outputs of the row. */
#include "qmaxpool.h"
#include "../core/cpu.h"
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#define QP_VEC __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define QP_VEC
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define QP_S2K3 1
#else
#define QP_S2K3 0
#define oxrt_qmaxpool_cols_s2k3_avx512(v, vw, n, s, y) ((size_t)0)
#endif

typedef struct {
  const void *x;
  void *y;
  const oxrt_qpool_geom *g;
  int failed;
} qpool_job;

#define QMAXPOOL(name, T, TMIN)                                                                                       \
  QP_VEC static void name##_rowmax(T *restrict v, const T *restrict r, size_t n) {                                    \
    for (size_t i = 0; i < n; i++) v[i] = r[i] > v[i] ? r[i] : v[i];                                                   \
  }                                                                                                                    \
  QP_VEC static void name##_cols(const T *restrict v, size_t sw, size_t kw, size_t n, T *restrict y) {                \
    if (sw == 2) {                                                                                                     \
      for (size_t o = 0; o < n; o++) y[o] = v[2 * o + kw] > y[o] ? v[2 * o + kw] : y[o];                               \
    } else {                                                                                                           \
      for (size_t o = 0; o < n; o++) y[o] = v[o * sw + kw] > y[o] ? v[o * sw + kw] : y[o];                             \
    }                                                                                                                  \
  }                                                                                                                    \
  static void name(void *arg, size_t p0, size_t p1) {                                                                  \
    qpool_job *J = arg;                                                                                                \
    const oxrt_qpool_geom *g = J->g;                                                                                   \
    size_t vw = g->OW * g->SW + g->KW; /* the padded row: column c holds input column c - PL */                      \
    if (vw < g->PL + g->IW) vw = g->PL + g->IW;                                                                        \
    T *v = malloc(vw * sizeof(T));                                                                                     \
    if (!v) {                                                                                                          \
      __atomic_store_n(&J->failed, 1, __ATOMIC_RELAXED);                                                               \
      return;                                                                                                          \
    }                                                                                                                  \
    for (size_t c = 0; c < vw; c++) v[c] = (T)(TMIN);                                                                  \
    bool s2k3 = QP_S2K3 && g->SW == 2 && g->KW == 3 && oxrt_cpu_isa() >= OXRT_ISA_AVX512;                              \
    for (size_t p = p0; p < p1; p++) {                                                                                 \
      const T *x = (const T *)J->x + p * g->IH * g->IW;                                                                \
      T *y = (T *)J->y + p * g->OH * g->OW;                                                                            \
      for (size_t oh = 0; oh < g->OH; oh++) {                                                                          \
        size_t r0 = oh * g->SH, r1 = r0 + g->KH; /* padded rows [r0, r1), inside the input from PT on */              \
        r0 = r0 > g->PT ? r0 - g->PT : 0;                                                                              \
        r1 = r1 > g->PT ? r1 - g->PT : 0;                                                                              \
        if (r1 > g->IH) r1 = g->IH;                                                                                    \
        T *vi = v + g->PL;                                                                                             \
        memcpy(vi, x + r0 * g->IW, g->IW * sizeof(T)); /* r0 < r1: every window holds an input tap */                \
        for (size_t r = r0 + 1; r < r1; r++) name##_rowmax(vi, x + r * g->IW, g->IW);                                  \
        T *yr = y + oh * g->OW;                                                                                        \
        size_t done = s2k3 ? oxrt_qmaxpool_cols_s2k3_avx512((const uint8_t *)v, vw, g->OW, (TMIN) < 0, (uint8_t *)yr) \
                           : 0;                                                                                        \
        for (size_t o = done; o < g->OW; o++) yr[o] = (T)(TMIN);                                                       \
        for (size_t kw = 0; kw < g->KW; kw++) name##_cols(v + 2 * done, g->SW, kw, g->OW - done, yr + done);           \
      }                                                                                                                \
    }                                                                                                                  \
    free(v);                                                                                                           \
  }
QMAXPOOL(qmaxpool_u8, uint8_t, 0)
QMAXPOOL(qmaxpool_s8, int8_t, -128)

bool oxrt_qmaxpool2d(const void *x, void *y, bool is_signed, size_t planes, const oxrt_qpool_geom *g,
                     oxrt_threadpool *pool) {
  qpool_job J = {x, y, g, 0};
  oxrt_range_fn fn = is_signed ? qmaxpool_s8 : qmaxpool_u8;
  size_t per = g->IH * g->IW * g->KH;
  if (pool && oxrt_threadpool_size(pool) > 1 && planes > 1)
    oxrt_parallel_for(pool, planes, per >= 16384 ? 1 : 16384 / (per + 1) + 1, fn, &J);
  else fn(&J, 0, planes);
  return !J.failed;
}
