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
/* Float weights packed once (constant W): one GEMM panel set per group, or for a 3x3 stride-1 shape where
 * Winograd pays (winograd.h), the 36 transformed-weight packs instead (g NULL, wino set). */
typedef struct oxrt_conv_wpack {
  size_t group, Mg, Kg;
  oxrt_sgemm_apack *g;
  oxrt_sgemm_apack *wino; /* OXRT_WINO_POS packs, or NULL */
} oxrt_conv_wpack;
bool oxrt_conv_f32_pack(const oxrt_conv_shape *s, const float *w, oxrt_conv_wpack *out);
/* The same with the GEMM operands in bfloat16 (the session's bf16 compute mode; oxrt_sgemm_pack_a_bf16): false
 * when out of memory or without a bfloat16 kernel. */
bool oxrt_conv_f32_pack_bf16(const oxrt_conv_shape *s, const float *w, oxrt_conv_wpack *out);
/* The same with the method forced: winograd true packs for Winograd when the shape allows it at all
 * (oxrt_wino_shape_ok), false always for the GEMM (tests and benchmarks compare the two). */
bool oxrt_conv_f32_pack_method(const oxrt_conv_shape *s, const float *w, bool winograd, oxrt_conv_wpack *out);
void oxrt_conv_wpack_free(oxrt_conv_wpack *p);
/* False for the shapes that do not use packed weights (depthwise, 3-D and beyond): no need to pack. */
bool oxrt_conv_f32_uses_pack(const oxrt_conv_shape *s);
/* oxrt_conv_f32 with optional pre-packed weights (wp may be NULL; w is always required), an optional residual z
 * of Y's shape added after the bias (NULL for none), and an activation applied last: y = act(conv + bias + z).
 * Every path (GEMM tiles, batched small images, depthwise, generic loops) applies all three in its output pass. */
bool oxrt_conv_f32_ex(const oxrt_conv_shape *s, const float *x, const float *w, const oxrt_conv_wpack *wp,
                      const float *bias, const float *z, oxrt_activation act, float *y, oxrt_threadpool *pool);
/* Internal (im2col.c and its ISA variants im2col_avx2.c / im2col_avx512.c): fills kc rows of an implicit-im2col
 * B panel, starting at channel c, kernel tap `tap`. Row k takes the entries of its tap: lanes set in lanes[e]
 * read x[c * in_size + off[e] + lane * sw]; all other lanes are zero. nr <= 32 (AVX-512), <= 16 (AVX2). */
typedef struct oxrt_conv_fill {
  const float *x;
  size_t in_size, kprod;
  int64_t sw;
  const int32_t *first, *count; /* per tap: its entries */
  const int64_t *off;
  const uint32_t *lanes;
} oxrt_conv_fill;
void oxrt_conv_fill_avx512(const oxrt_conv_fill *f, size_t c, size_t tap, size_t kc, size_t nr, float *dst);
void oxrt_conv_fill_avx2(const oxrt_conv_fill *f, size_t c, size_t tap, size_t kc, size_t nr, float *dst);

bool oxrt_conv_f64(const oxrt_conv_shape *s, const double *x, const double *w, const double *bias, double *y,
                   oxrt_threadpool *pool);

/* Transposed convolution: `in` are the spatial dims of X, `out` those of Y, `pad` the start padding of Y;
 * X[N, C, in...], W[C, M/group, k...], Y[N, M, out...]. */
bool oxrt_conv_transpose_f32(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias, float *y,
                             oxrt_threadpool *pool);
bool oxrt_conv_transpose_f64(const oxrt_conv_shape *s, const double *x, const double *w, const double *bias,
                             double *y, oxrt_threadpool *pool);

#endif
