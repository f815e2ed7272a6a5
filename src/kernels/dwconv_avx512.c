/* dwconv_avx512.c - depthwise plane kernel compiled for AVX-512 (body in dwconv_body.h). */
#define DW_NAME oxrt_dw_plane_avx512
#include "dwconv_body.h"
