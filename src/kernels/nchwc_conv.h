/* nchwc_conv.h - internal: the job that oxrt_nchwc_conv (nchwc_conv.c) hands to its per-ISA row kernels
 * (nchwc_conv_body.h compiled in nchwc_conv_avx512.c, nchwc_conv_avx2.c and, portable, nchwc_conv.c).
 *
 * Packed weights: [M/B, C/B, kh*kw, B (input channel), B (output channel)], so one (input block, tap, input
 * channel) is one vector of B output-channel weights. A work item is one (image, group of up to mbmax output
 * blocks, output row, chunk of that row); a 1x1 stride-1 unpadded conv is run as one flat row of H*W pixels. */
#ifndef OXRT_KERNELS_NCHWC_CONV_H
#define OXRT_KERNELS_NCHWC_CONV_H
#include "nchwc.h"
#include <stdint.h>

typedef struct oxrt_nchwc_conv_job {
  oxrt_nchwc_geom g; /* flattened to one row for 1x1 stride-1 unpadded convs */
  const float *x, *w, *bias, *z;
  const uint16_t *xh, *wh; /* bfloat16 input copy and weights (oxrt_nchwc_conv_bf16), else NULL */
  float *y;
  oxrt_activation act;
  oxrt_isa isa;
  bool nchw; /* X is NCHW with nic channels (oxrt_nchwc_conv_nchw_input) */
  int nic;
  bool clamp; /* act is a clamp to [lo, hi], applied in registers; otherwise act runs over each finished run */
  float lo, hi;
  bool post; /* y = act(..) * pa + pb after the activation (a folded scalar Mul / Add, pass_nchwc_layout.c) */
  float pa, pb;
  int mbmax;           /* output blocks per register tile */
  size_t nmg;          /* output block groups: ceil(M/B / mbmax) */
  size_t nchunk;       /* chunks per output row */
  int64_t chunk;       /* pixels per chunk */
  int64_t ow_lo, ow_hi; /* interior output columns: every tap's column inside the input */
} oxrt_nchwc_conv_job;

void oxrt_nchwc_conv_rows_portable(const oxrt_nchwc_conv_job *j, size_t begin, size_t end);
void oxrt_nchwc_conv_rows_avx2(const oxrt_nchwc_conv_job *j, size_t begin, size_t end);
void oxrt_nchwc_conv_rows_avx512(const oxrt_nchwc_conv_job *j, size_t begin, size_t end);
void oxrt_nchwc_conv_rows_avx512bf16(const oxrt_nchwc_conv_job *j, size_t begin, size_t end);
/* n floats (n even) to bfloat16 (round to nearest even; AVX512_BF16 only), for the bfloat16 conv's input: each pair
 * stored swapped, xh[i ^ 1] = x[i], as oxrt_nchwc_conv_pack_bf16 packs the weights. */
void oxrt_nchwc_to_bf16(const float *x, uint16_t *xh, size_t n);
/* The bfloat16 conv for 1x1 stride-1 unpadded convs over planes larger than L2, converting X a band of pixels at a
 * time; false when it does not apply (or out of memory): then nothing was written. */
bool oxrt_nchwc_conv1x1_bf16(const oxrt_nchwc_geom *g, const float *x, const uint16_t *wpacked, const float *bias,
                             const float *z, oxrt_activation act, const float *post, float *y, oxrt_threadpool *pool);
/* oxrt_nchwc_conv and oxrt_nchwc_conv_bf16 (nchwc.h) with post = {a, b} (or NULL): Y = act(..) * a + b, computed
 * in registers before the store (a clamp activation) or over each finished run while it is in cache (others); the
 * product is rounded before the sum, as a separate Mul then Add would. */
void oxrt_nchwc_conv_post(const oxrt_nchwc_geom *g, const float *x, const float *wpacked, const float *bias,
                          const float *z, oxrt_activation act, const float *post, float *y, oxrt_isa isa,
                          oxrt_threadpool *pool);
bool oxrt_nchwc_conv_bf16_post(const oxrt_nchwc_geom *g, const float *x, const uint16_t *wpacked, const float *bias,
                               const float *z, oxrt_activation act, const float *post, float *y,
                               oxrt_threadpool *pool);
/* NCHW X [N, C, HW] to bfloat16 planes of channel pairs [N, ceil(C/2), HW, 2] (odd C: the last pair's second zero). */
void oxrt_nchw_to_bf16_pairs(const float *x, uint16_t *xh, size_t N, size_t C, size_t HW);
/* rows of W pixels of 16 floats to bfloat16 rows of pl + W + pr pixels, the pl and pr pixels zero. */
void oxrt_nchwc_to_bf16_rows(const float *x, uint16_t *xh, size_t rows, size_t W, size_t pl, size_t pr);

#endif
