/* winograd.h - 3x3 stride-1 float convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray, 2015):
 * each 4x4 output tile comes from a 6x6 input tile through 36 element-wise products, so the multiplications drop
 * 144 -> 36 per tile and channel pair, against three cheap linear transforms.
 *
 *   weights (pack time, once): U = G g G^T per (m, c), stored as 36 GEMM-packed [M, C] matrices;
 *   input:  V = B^T d B per (c, tile), written as 36 matrices [C, tiles];
 *   product: for each of the 36 positions, O = U V with oxrt_sgemm_run ([M, tiles]);
 *   output: Y = A^T O A per (m, tile), plus bias, residual Z and the activation, into the NCHW output rows.
 *
 * Tiles are processed in blocks of whole tile rows so V and O stay near the caches; the three phases run split
 * across the pool (channels, positions, output channels), so two threads share every block. The transforms
 * live in winograd_body.h, compiled portable (winograd.c), AVX2 and AVX-512 (winograd_avx2.c, _avx512.c). */
#ifndef OXRT_KERNELS_WINOGRAD_H
#define OXRT_KERNELS_WINOGRAD_H
#include "gemm.h"
#include "im2col.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OXRT_WINO_POS 36 /* 6 x 6 transformed positions */

/* True when the shape can run through Winograd at all: 2-D, one group, 3x3, stride 1, dilation 1. */
bool oxrt_wino_shape_ok(const oxrt_conv_shape *s);
/* True when Winograd is expected to beat the implicit-im2col GEMM on this shape (measured thresholds). */
bool oxrt_wino_pays(const oxrt_conv_shape *s);
/* u[OXRT_WINO_POS]: the transformed weights W [M, C, 3, 3], each position packed for oxrt_sgemm_run. */
bool oxrt_wino_pack(const oxrt_conv_shape *s, const float *w, bool bf16, oxrt_sgemm_apack *u);
/* The transformed kernel G g G^T (6 x 6, row-major) of one 3x3 kernel g, as oxrt_wino_pack stores it. */
void oxrt_wino_weight(const float *g, float *u);
/* Y = act(conv(X, W) + bias + z) for a shape that passes oxrt_wino_shape_ok, with weights from oxrt_wino_pack. */
bool oxrt_wino_run(const oxrt_conv_shape *s, const float *x, const oxrt_sgemm_apack *u, const float *bias,
                   const float *z, oxrt_activation act, float *y, oxrt_threadpool *pool);
/* The same with X, z and Y in the blocked layout [N, C/B, H, W, B] of nchwc.h (s->C, s->M the real channel counts,
 * planes padded to whole blocks): the transforms read and write the blocks in place, no reorders. The output's
 * pad channels are not written. */
bool oxrt_wino_run_blocked(const oxrt_conv_shape *s, int B, const float *x, const oxrt_sgemm_apack *u,
                           const float *bias, const float *z, oxrt_activation act, float *y, oxrt_threadpool *pool);

/* Internal (winograd_body.h, per ISA). The input transform of one channel over tile rows [ty0, ty0 + nty): the
 * plane x [IH, IW] (pixels xs floats apart: 1 for NCHW, B for a blocked channel) read with top/left padding ph/pw,
 * TW tiles per row; V position p of block tile b goes to v[p * vstride + b]. scratch: at least
 * oxrt_wino_scratch(TW) floats. */
typedef void (*oxrt_wino_in_fn)(const float *x, int64_t xs, int64_t IH, int64_t IW, int64_t ph, int64_t pw,
                                int64_t ty0, int64_t nty, int64_t TW, float *v, size_t vstride, float *scratch);
/* The output transform of one output channel: O position p of block tile b at o[p * ostride + b]; rows of the
 * plane y [OH, OW] (pixels ys floats apart, z's too) that the block covers get act(. + bias + z) (z the channel's
 * residual plane or NULL). */
typedef void (*oxrt_wino_out_fn)(const float *o, size_t ostride, int64_t ty0, int64_t nty, int64_t TW, int64_t OH,
                                 int64_t OW, float bias, const float *z, oxrt_activation act, float *y, int64_t ys,
                                 float *scratch);
size_t oxrt_wino_scratch(int64_t TW);
void oxrt_wino_in_avx2(const float *x, int64_t xs, int64_t IH, int64_t IW, int64_t ph, int64_t pw, int64_t ty0,
                       int64_t nty, int64_t TW, float *v, size_t vstride, float *scratch);
void oxrt_wino_out_avx2(const float *o, size_t ostride, int64_t ty0, int64_t nty, int64_t TW, int64_t OH, int64_t OW,
                        float bias, const float *z, oxrt_activation act, float *y, int64_t ys, float *scratch);
void oxrt_wino_in_avx512(const float *x, int64_t xs, int64_t IH, int64_t IW, int64_t ph, int64_t pw, int64_t ty0,
                         int64_t nty, int64_t TW, float *v, size_t vstride, float *scratch);
void oxrt_wino_out_avx512(const float *o, size_t ostride, int64_t ty0, int64_t nty, int64_t TW, int64_t OH,
                          int64_t OW, float bias, const float *z, oxrt_activation act, float *y, int64_t ys,
                          float *scratch);

#endif
