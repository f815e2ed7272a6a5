/* dwconv.h - depthwise 2-D float convolution of one channel plane for square 3x3 / 5x5 kernels without
 * dilation (MobileNet, EfficientNet). Interior outputs accumulate all taps in registers and store once; the
 * body (dwconv_body.h) is compiled once per ISA (dwconv_avx2.c, dwconv_avx512.c, portable in im2col.c). */
#ifndef OXRT_KERNELS_DWCONV_H
#define OXRT_KERNELS_DWCONV_H
#include <stdint.h>

typedef struct oxrt_dw_plane {
  const float *x;    /* input plane [H, W] */
  const float *w;    /* taps [ks, ks] */
  float bias;
  float *y;          /* output plane [OH, OW] */
  int64_t H, W, OH, OW, sh, sw, ph, pw;
  int64_t owa, owb;  /* outputs whose window lies inside the row horizontally */
  const float *zrow; /* W zeros, standing in for rows in the padding */
  int ks;            /* 3 or 5 */
} oxrt_dw_plane;

void oxrt_dw_plane_portable(const oxrt_dw_plane *p);
void oxrt_dw_plane_avx2(const oxrt_dw_plane *p);
void oxrt_dw_plane_avx512(const oxrt_dw_plane *p);

#endif
