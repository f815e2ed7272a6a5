/* qdwconv.h - 8-bit depthwise 2-D convolution (group == C, M a multiple of C), the shape the GEMM path serves
 * worst (one GEMM of a single row per channel). */
#ifndef OXRT_KERNELS_QDWCONV_H
#define OXRT_KERNELS_QDWCONV_H
#include "im2col.h"
#include "qgemm.h"

/* True when oxrt_qdwconv_run takes this shape: the float depthwise kernel's shapes with at most 256 taps. */
bool oxrt_qdwconv_ok(const oxrt_conv_shape *s);

/* Y[N, M, out...] through output stage `out` (per_row vectors per output channel; C and ldc are set here) of
 * conv(X - x_zp, W - wzp) for X and W 8-bit (x_signed / w_signed), wzp: n_wzp = 1 or M values (NULL: 0).
 * y_esize is the output element size. False when out of memory. */
bool oxrt_qdwconv_run(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp, const void *w,
                      bool w_signed, const int32_t *wzp, size_t n_wzp, const oxrt_qgemm_out *out, void *y,
                      size_t y_esize, oxrt_threadpool *pool);

#endif
