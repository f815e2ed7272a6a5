/* dwconv_avx2.c - depthwise plane kernel compiled for AVX2+FMA (body in dwconv_body.h). */
#define DW_NAME oxrt_dw_plane_avx2
#include "dwconv_body.h"
