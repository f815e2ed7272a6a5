/* maxpool_row.c - portable loops and the ISA dispatch (maxpool_row.h). */
#include "maxpool_row.h"
#include "../core/cpu.h"

/* the comparison order of Pool.c's loops: the new value wins only when greater (NaN never does) */
static inline float mx(float acc, float x) { return x > acc ? x : acc; }

void oxrt_maxpool_rows(const float *x, size_t stride, int nrows, float *v, size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (oxrt_cpu_isa() == OXRT_ISA_AVX512) {
    oxrt_maxpool_rows_avx512(x, stride, nrows, v, n);
    return;
  }
#endif
  for (size_t j = 0; j < n; j++) v[j] = x[j];
  for (int r = 1; r < nrows; r++)
    for (size_t j = 0; j < n; j++) v[j] = mx(v[j], x[(size_t)r * stride + j]);
}

void oxrt_maxpool_cols_k3s2(const float *v, float *y, size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (oxrt_cpu_isa() == OXRT_ISA_AVX512) {
    oxrt_maxpool_cols_k3s2_avx512(v, y, n);
    return;
  }
#endif
  for (size_t o = 0; o < n; o++) y[o] = mx(mx(v[2 * o], v[2 * o + 1]), v[2 * o + 2]);
}
