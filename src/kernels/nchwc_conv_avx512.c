/* nchwc_conv_avx512.c - the NCHWc convolution row kernel (nchwc_conv_body.h) with 16-lane AVX-512 vectors: up to
 * 4 output blocks x 6 pixels (24 accumulators), 12 pixels for 1-2 blocks, 8 for 3. */
#include "nchwc_conv.h"
#include <immintrin.h>

#define NC_ROWS oxrt_nchwc_conv_rows_avx512
#include "nchwc_conv_zmm.h"
#include "nchwc_conv_body.h"
