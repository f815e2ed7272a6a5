/* dwconv.h - depthwise 2-D float convolution (one input channel per group, up to a few outputs each: MobileNet,
 * EfficientNet), any kernel size, stride, dilation and non-negative padding.
 *
 * Each input plane is copied once into a zeroed "phase" buffer: the padded plane split into stride_h x stride_w
 * phase planes (row phase ki*dh % sh, column phase kj*dw % sw), so every tap of every output row reads a
 * contiguous run and stride 2 needs no gathers. Rows of a phase plane are Wq floats apart, where Wq >= OW is
 * picked so that a tap running past a row's end lands on zeros only (the right padding of one row shares the
 * left padding of the next). An output row is then a plain 1-D correlation: out[q] = sum_t w[t] * buf[q + toff[t]]
 * with q = oh*Wq + ow, no bounds checks anywhere. Small planes ("flat" mode) run that over the whole plane as one
 * long row into scratch and keep the OW useful columns of each row, so 7x7 outputs fill whole vectors; with
 * AVX-512, small stride-1 planes skip the buffer and read the input under per-tap lane masks ("direct").
 * Bias and a clamp (Relu, Clip) are applied before the single store. The per-ISA bodies (dwconv_body.h) are
 * compiled in dwconv.c (portable), dwconv_avx2.c and dwconv_avx512.c. */
#ifndef OXRT_KERNELS_DWCONV_H
#define OXRT_KERNELS_DWCONV_H
#include "gemm.h"
#include "im2col.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct oxrt_dw_geom {
  int64_t H, W, OH, OW;
  int64_t sh, sw, dh, dw, pt, pl, kh, kw;
  int64_t Hq, Wq;     /* rows of one phase plane, distance between its rows */
  size_t plane;       /* floats per phase plane (Hq * Wq) */
  size_t buf_floats;  /* the whole phase buffer: sh*sw planes and a zero tail the last vectors may read */
  int ntaps;          /* kh * kw */
  const int64_t *toff; /* per tap: offset in the phase buffer from output q's position */
  const int64_t *rows; /* fill plan: n_rows triples (dwconv.c, dw_plan_rows) */
  int64_t n_rows, n_even, n_odd;
  bool flat;          /* whole plane as one row (through scratch of flat_floats) */
  size_t flat_floats;
  const uint16_t *cmask; /* flat with 16 lanes: per vector the lanes that are outputs, compressed into y at */
  const int64_t *cyoff;  /* cyoff (no scratch) */
  /* direct (AVX-512, small stride-1 planes with OW == W): no phase buffer; output q = oh*W + ow reads
   * x[q + doff[t]] under the lane mask dmask[t * nvec + q / 16] of inputs inside the plane */
  bool direct;
  int64_t nvec;
  const int64_t *doff;
  const uint16_t *dmask;
} oxrt_dw_geom;

/* Copies input plane x [H, W] into the zeroed phase buffer by the plan in g->rows (only positions that hold input
 * are written, so the zeros stay from one plane to the next). */
typedef void (*oxrt_dw_fill_fn)(const oxrt_dw_geom *g, const float *x, float *buf);
/* One output plane y [OH, OW] from a filled buffer: taps w [ntaps], then clamp to [lo, hi]. */
typedef void (*oxrt_dw_plane_fn)(const oxrt_dw_geom *g, const float *buf, const float *w, float bias, float lo,
                                 float hi, float *y, float *scratch);

void oxrt_dw_fill_avx2(const oxrt_dw_geom *g, const float *x, float *buf);
void oxrt_dw_plane_avx2(const oxrt_dw_geom *g, const float *buf, const float *w, float bias, float lo, float hi,
                        float *y, float *scratch);
void oxrt_dw_direct_avx512(const oxrt_dw_geom *g, const float *x, const float *w, float bias, float lo, float hi,
                           float *y);
void oxrt_dw_fill_avx512(const oxrt_dw_geom *g, const float *x, float *buf);
void oxrt_dw_plane_avx512(const oxrt_dw_geom *g, const float *buf, const float *w, float bias, float lo, float hi,
                          float *y, float *scratch);

/* True when oxrt_dwconv_f32 takes this shape: 2-D, group == C, M a multiple of C, pads >= 0. */
bool oxrt_dwconv_f32_ok(const oxrt_conv_shape *s);
/* Y = clamp(conv(X, W) + bias, lo, hi) (bias may be NULL; lo = -INFINITY, hi = INFINITY for none; NaN passes).
 * `isa` picks the kernels (at most oxrt_cpu_isa(); tests pass each level). False when out of memory. */
bool oxrt_dwconv_f32(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias, float lo, float hi,
                     float *y, oxrt_isa isa, oxrt_threadpool *pool);
/* Y = act(conv(X, W) + bias + z) (z of Y's shape, or NULL): a clamp activation without z runs in the kernels'
 * store, anything else over each output plane right after it is written. */
bool oxrt_dwconv_f32_fused(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias,
                           const float *z, oxrt_activation act, float *y, oxrt_isa isa, oxrt_threadpool *pool);
/* The same with the process's ISA (im2col.c's entry). */
bool oxrt_dwconv_f32_act(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias, const float *z,
                         oxrt_activation act, float *y, oxrt_threadpool *pool);

#endif
