/* im2col.h - convolution kernels over plain buffers: im2col / col2im lowering to GEMM, a direct depthwise
 * path, for float and double. Geometry is resolved by the operator (attributes, auto_pad) beforehand. */
#ifndef OXRT_KERNELS_IM2COL_H
#define OXRT_KERNELS_IM2COL_H
#include "../core/threadpool.h"
#include "gemm.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OXRT_CONV_MAX_DIMS 8

typedef struct oxrt_conv_shape {
  int nd;               /* spatial dims */
  size_t N, C, M, group; /* batch, input channels, output channels, groups */
  int64_t in[OXRT_CONV_MAX_DIMS], k[OXRT_CONV_MAX_DIMS], stride[OXRT_CONV_MAX_DIMS], dil[OXRT_CONV_MAX_DIMS];
  int64_t pad[OXRT_CONV_MAX_DIMS]; /* padding at the start of each spatial dim (may be negative) */
  int64_t out[OXRT_CONV_MAX_DIMS];
} oxrt_conv_shape;

/* Y[N, M, out...] = conv(X[N, C, in...], W[M, C/group, k...]) + bias[M] (bias may be NULL).
 * Returns false when scratch memory could not be allocated. */
bool oxrt_conv_f32(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias, float *y,
                   oxrt_threadpool *pool);
/* Float weights packed once for the GEMM (constant W): one panel set per group. */
typedef struct oxrt_conv_wpack {
  size_t group, Mg, Kg;
  oxrt_sgemm_apack *g;
} oxrt_conv_wpack;
bool oxrt_conv_f32_pack(const oxrt_conv_shape *s, const float *w, oxrt_conv_wpack *out);
void oxrt_conv_wpack_free(oxrt_conv_wpack *p);
/* False for the shapes that do not use packed weights (depthwise, 3-D and beyond): no need to pack. */
bool oxrt_conv_f32_uses_pack(const oxrt_conv_shape *s);
/* oxrt_conv_f32 with optional pre-packed weights (wp may be NULL; w is always required) and an activation
 * applied to the output (after the bias). */
bool oxrt_conv_f32_ex(const oxrt_conv_shape *s, const float *x, const float *w, const oxrt_conv_wpack *wp,
                      const float *bias, oxrt_act act, float *y, oxrt_threadpool *pool);
bool oxrt_conv_f64(const oxrt_conv_shape *s, const double *x, const double *w, const double *bias, double *y,
                   oxrt_threadpool *pool);

/* Transposed convolution: `in` are the spatial dims of X, `out` those of Y, `pad` the start padding of Y;
 * X[N, C, in...], W[C, M/group, k...], Y[N, M, out...]. */
bool oxrt_conv_transpose_f32(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias, float *y,
                             oxrt_threadpool *pool);
bool oxrt_conv_transpose_f64(const oxrt_conv_shape *s, const double *x, const double *w, const double *bias,
                             double *y, oxrt_threadpool *pool);

#endif
