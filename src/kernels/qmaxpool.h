/* qmaxpool.h - 2-D MaxPool on 8-bit values (the QDQ form's MaxPool runs on the quantized bytes: dequantization is
 * monotone, so the largest byte is the largest value). */
#ifndef OXRT_KERNELS_QMAXPOOL_H
#define OXRT_KERNELS_QMAXPOOL_H
#include "../core/threadpool.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct oxrt_qpool_geom {
  size_t IH, IW, OH, OW, KH, KW, SH, SW, PT, PL; /* no dilation; end pads implied by OH, OW */
} oxrt_qpool_geom;

/* Y[planes][OH][OW] = max over each window's taps inside X[planes][IH][IW] (padding never wins). Every window must
 * hold at least one input tap. False when out of memory. */
bool oxrt_qmaxpool2d(const void *x, void *y, bool is_signed, size_t planes, const oxrt_qpool_geom *g,
                     oxrt_threadpool *pool);

/* Internal (qmaxpool.c): y[o] = max(v[2o], v[2o+1], v[2o+2]) for o < n (bytes of the given signedness; v holds vw
 * bytes); returns how many outputs it wrote: n, or 0 when vw < 2n + 2 (qmaxpool_avx512.c). */
size_t oxrt_qmaxpool_cols_s2k3_avx512(const uint8_t *v, size_t vw, size_t n, bool is_signed, uint8_t *y);

#endif
