/* conv_narrow.h - float convolutions whose output planes hold only a few positions (at most CONV_NARROW_MAX_OUT:
 * a 1-D audio encoder after its strides, as Silero VAD's 1-3 wide outputs, or a 2-D map reduced to 2x2).
 *
 * The GEMM paths put output positions along the vector lanes, so such a plane fills 1-3 of 16 or 32 lanes and
 * the product runs at a tenth of the machine's rate. Here the output channels lie along the lanes instead
 * (Y^T = col^T W^T): the weights packed for the GEMM (oxrt_sgemm_apack: panels of up to mr rows, interleaved per k)
 * stream once per image and group, and each k broadcasts the im2col entries of the few positions, gathered
 * once into a [Kg][positions] buffer. One thread: such a product takes a few microseconds, less than waking
 * another. AVX2 and AVX-512 only: a scalar version measured slower than the portable GEMM, so without a vector
 * ISA the shape stays on the GEMM. */
#ifndef OXRT_KERNELS_CONV_NARROW_H
#define OXRT_KERNELS_CONV_NARROW_H
#include "im2col.h"

#define CONV_NARROW_MAX_OUT 4            /* output positions per plane */
#define CONV_NARROW_MAX_MACS ((size_t)1 << 21) /* multiply-adds of the whole node; more are worth threads */
#define CONV_NARROW_MAX_MR 16            /* panel rows one call of the per-ISA kernel handles */

/* True when oxrt_conv_narrow_f32 takes this shape with these packed weights at this process's ISA. */
bool oxrt_conv_narrow_ok(const oxrt_conv_shape *s, const oxrt_conv_wpack *wp);
/* y = act(conv(x, W) + bias + z) for a shape oxrt_conv_narrow_ok accepted (bias, z may be NULL); false when out
 * of memory (or called where oxrt_conv_narrow_ok is false for the ISA). */
bool oxrt_conv_narrow_f32(const oxrt_conv_shape *s, const float *x, const oxrt_conv_wpack *wp, const float *bias,
                          const float *z, oxrt_activation act, float *y);

/* Internal, per ISA: for one packed panel of m <= CONV_NARROW_MAX_MR rows over K,
 *   y[i*ldy + p] = sum_k ap[k*m + i] * col[k*np + p]   for i < m, p < np <= CONV_NARROW_MAX_OUT. */
typedef void (*oxrt_conv_narrow_fn)(size_t K, size_t m, const float *ap, const float *col, size_t np, float *y,
                                    size_t ldy);
void oxrt_conv_narrow_avx2(size_t K, size_t m, const float *ap, const float *col, size_t np, float *y, size_t ldy);
void oxrt_conv_narrow_avx512(size_t K, size_t m, const float *ap, const float *col, size_t np, float *y, size_t ldy);

#endif
