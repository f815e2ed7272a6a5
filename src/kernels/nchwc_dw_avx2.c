/* nchwc_dw_avx2.c - NCHWc depthwise and channel broadcast (nchwc_dw_body.h) on 8-float AVX2+FMA vectors (B = 8). */
#define NCHWC_AVX2
#include "nchwc_dw_isa.h"
#include "nchwc_dw_body.h"
