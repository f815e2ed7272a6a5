/* nchwc.h - the blocked-channel activation layout ("NCHWc") and its float kernels.
 *
 * A logical [N, C, H, W] float tensor in NCHWc is stored as [N, Cb, H, W, B] with Cb = ceil(C / B): B consecutive
 * channels of one pixel sit side by side, so one vector holds one pixel's B channels and every kernel tap, pool
 * window element or channel scale is one full-width vector operation whatever the plane size. B is fixed per
 * session from the ISA the session runs with: 16 with AVX-512, 8 with AVX2 and the portable build (whose vector
 * types map to 256 bits or narrower). Channels C..Cb*B-1 ("pad channels") hold finite values (zeros after a
 * reorder, act(0) after a conv) and packed weights read from them are zero, so they never reach a real channel.
 *
 * In the graph a blocked tensor keeps the logical shape [N, Cb*B, H, W]; the session's layout pass
 * (opt/pass_nchwc_layout.c) puts ReorderInput / ReorderOutput (domain com.microsoft.nchwc, as ONNX Runtime names
 * them) at the edges of a region of blocked operators. Tensors with H = W = 1 are laid out the same way in both
 * layouts (a pooled [N, Cb*B, 1, 1] vector), so squeeze-excitation scales pass between the two without a reorder. */
#ifndef OXRT_KERNELS_NCHWC_H
#define OXRT_KERNELS_NCHWC_H
#include "../core/threadpool.h"
#include "gemm.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Channels per block for an ISA level: 16 (AVX-512) or 8. */
int oxrt_nchwc_block(oxrt_isa isa);
static inline size_t oxrt_nchwc_padded(size_t C, int B) { return (C + (size_t)B - 1) / (size_t)B * (size_t)B; }

/* x [N, C, HW] (NCHW) -> y [N, Cb, HW, B]; pad channels become 0. */
void oxrt_nchwc_reorder_in(const float *x, float *y, size_t N, size_t C, size_t HW, int B, oxrt_threadpool *pool);
/* x [N, Cb, HW, B] -> y [N, C, HW] (NCHW), the first C channels. */
void oxrt_nchwc_reorder_out(const float *x, float *y, size_t N, size_t C, size_t HW, int B, oxrt_threadpool *pool);

/* Geometry of a blocked 2-D window operator (convolution or pooling). C and M are padded channel counts
 * (multiples of B); pads may be asymmetric (pb/pr: the bottom/right padding). */
typedef struct oxrt_nchwc_geom {
  size_t N, C, M;
  int64_t H, W, OH, OW;
  int64_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  int B;
} oxrt_nchwc_geom;

/* ---- depthwise convolution (one input channel per output channel: group == C, M == C) */
/* Weights [C_real, 1, kh, kw] -> packed [Cb, kh*kw, B] (pad channels 0); returns floats written
 * (oxrt_nchwc_dw_packed_floats). */
size_t oxrt_nchwc_dw_packed_floats(const oxrt_nchwc_geom *g);
void oxrt_nchwc_dw_pack(const oxrt_nchwc_geom *g, size_t C_real, const float *w, float *packed);
/* y [N, Cb, OH, OW, B] = act(dwconv(x [N, Cb, H, W, B]) + bias + z); bias [C] padded (or NULL), z blocked like y
 * (or NULL). isa <= oxrt_cpu_isa(), B == oxrt_nchwc_block(isa). */
void oxrt_nchwc_dwconv(const oxrt_nchwc_geom *g, const float *x, const float *wpacked, const float *bias,
                       const float *z, oxrt_activation act, float *y, oxrt_isa isa, oxrt_threadpool *pool);

/* ---- pooling (C == M) */
typedef enum oxrt_nchwc_pool_kind {
  OXRT_NCHWC_MAX = 0,
  OXRT_NCHWC_AVG_EXCLUDE_PAD, /* AveragePool count_include_pad = 0 */
  OXRT_NCHWC_AVG_INCLUDE_PAD
} oxrt_nchwc_pool_kind;
void oxrt_nchwc_pool(const oxrt_nchwc_geom *g, oxrt_nchwc_pool_kind kind, const float *x, float *y, oxrt_isa isa,
                     oxrt_threadpool *pool);
/* y [N, Cb*B] (= [N, Cb, 1, 1, B]) = mean or max of x [N, Cb, HW, B] over HW. */
void oxrt_nchwc_global_pool(size_t N, size_t C, size_t HW, int B, bool max, const float *x, float *y, oxrt_isa isa,
                            oxrt_threadpool *pool);

/* ---- per-channel broadcast (squeeze-excitation): y[n, c, p] = x[n, c, p] (op) s[n, c] with s [N, C] (padded C),
 * op '*' or '+'; y may equal x. */
void oxrt_nchwc_channel_op(size_t N, size_t C, size_t HW, int B, char op, const float *x, const float *s, float *y,
                           oxrt_isa isa, oxrt_threadpool *pool);

/* ---- general convolution (group == 1): blocked input, packed weights, blocked output */
/* bfloat16 (the session's bf16 compute mode; call only where oxrt_sgemm_bf16_native()): the weights packed as
 * pairs of input channels, [M/B, C/B, kh*kw, B/2, B, 2] (oxrt_nchwc_conv_packed_floats elements, round to nearest
 * even), and a group-1 conv of a float X (converted to a bfloat16 copy first, so the activations round as the
 * weights do) with float32 sums and output pass; false when out of memory for that copy. */
void oxrt_nchwc_conv_pack_bf16(const oxrt_nchwc_geom *g, size_t M_real, size_t C_real, const float *w,
                               uint16_t *packed);
bool oxrt_nchwc_conv_bf16(const oxrt_nchwc_geom *g, const float *x, const uint16_t *wpacked, const float *bias,
                          const float *z, oxrt_activation act, float *y, oxrt_threadpool *pool);
/* Weights [M_real, C_real, kh, kw] -> packed for oxrt_nchwc_conv; pad channels 0. */
size_t oxrt_nchwc_conv_packed_floats(const oxrt_nchwc_geom *g);
void oxrt_nchwc_conv_pack(const oxrt_nchwc_geom *g, size_t M_real, size_t C_real, const float *w, float *packed);
/* y [N, M/B, OH, OW, B] = act(conv(x) + bias + z); bias [M] padded (or NULL), z blocked like y (or NULL). */
void oxrt_nchwc_conv(const oxrt_nchwc_geom *g, const float *x, const float *wpacked, const float *bias,
                     const float *z, oxrt_activation act, float *y, oxrt_isa isa, oxrt_threadpool *pool);
/* The same from a plain NCHW x [N, C_real, H, W] with C_real <= B (g->C = B): an RGB stem that writes a blocked y
 * without a reorder. Weights packed by oxrt_nchwc_conv_pack for g. */
void oxrt_nchwc_conv_nchw_input(const oxrt_nchwc_geom *g, size_t C_real, const float *x, const float *wpacked,
                                const float *bias, const float *z, oxrt_activation act, float *y, oxrt_isa isa,
                                oxrt_threadpool *pool);
/* oxrt_nchwc_conv_nchw_input with bfloat16 weights (oxrt_nchwc_conv_pack_bf16) and X rounded to bfloat16
 * (AVX512_BF16 only; false when out of memory). */
bool oxrt_nchwc_conv_nchw_input_bf16(const oxrt_nchwc_geom *g, size_t C_real, const float *x, const uint16_t *wpacked,
                                     const float *bias, const float *z, oxrt_activation act, float *y,
                                     oxrt_threadpool *pool);

#endif
