/* nchwc_dw_impl.h - the jobs the NCHWc depthwise, pooling and channel-broadcast entry points (nchwc_dw.c,
 * nchwc_pool.c) hand to their per-ISA range functions (bodies nchwc_dw_body.h and nchwc_pool_body.h, compiled
 * in nchwc_dw.c / nchwc_pool.c (portable, B = 8), *_avx2.c (B = 8) and *_avx512.c (B = 16)). */
#ifndef OXRT_KERNELS_NCHWC_DW_IMPL_H
#define OXRT_KERNELS_NCHWC_DW_IMPL_H
#include "nchwc.h"

/* Output columns [owa, owb) of a window operator whose every column tap lies inside the input row. */
void oxrt_nchwc_interior(const oxrt_nchwc_geom *g, int64_t *owa, int64_t *owb);

/* The kernel level for block size B at `isa` (never above the machine's); *vector false: no vector kernel has
 * that block size (the callers then run scalar loops). */
oxrt_isa oxrt_nchwc_level(oxrt_isa isa, int B, bool *vector);

/* Depthwise: one item = one output row of one (image, channel block), or with Hp > 0 one whole (image, channel
 * block) that is first copied into a zero-padded Hp x Wp plane (small planes, where border columns are many). */
typedef struct nchwc_dw_job {
  const oxrt_nchwc_geom *g;
  const float *x, *w, *bias, *z;
  float *y;
  int64_t owa, owb;
  int64_t Hp, Wp;
  float lo, hi;        /* clamp applied in registers (-inf, inf for none) */
  oxrt_activation act; /* any other activation, over each finished row (NONE when the clamp covers it) */
} nchwc_dw_job;

/* Window pooling: one item = one output row of one (image, channel block). */
typedef struct nchwc_pool_job {
  const oxrt_nchwc_geom *g;
  oxrt_nchwc_pool_kind kind;
  const float *x;
  float *y;
  int64_t owa, owb;
} nchwc_pool_job;

/* Global pooling: one item = one (image, channel block). */
typedef struct nchwc_gpool_job {
  size_t HW;
  bool max;
  const float *x;
  float *y;
} nchwc_gpool_job;

/* Channel broadcast: one item = a run of `chunk` pixels of one (image, channel block). */
typedef struct nchwc_chan_job {
  size_t Cb, HW, chunk, nchunks, C;
  char op;
  const float *x, *s;
  float *y;
} nchwc_chan_job;

#define NCHWC_DECLARE(sfx)                                                                                           \
  void oxrt_nchwc_dw_rows_##sfx(void *job, size_t begin, size_t end);                                               \
  void oxrt_nchwc_chan_range_##sfx(void *job, size_t begin, size_t end);                                            \
  void oxrt_nchwc_pool_rows_##sfx(void *job, size_t begin, size_t end);                                             \
  void oxrt_nchwc_gpool_range_##sfx(void *job, size_t begin, size_t end);
NCHWC_DECLARE(portable)
NCHWC_DECLARE(avx2)
NCHWC_DECLARE(avx512)
#undef NCHWC_DECLARE

#endif
