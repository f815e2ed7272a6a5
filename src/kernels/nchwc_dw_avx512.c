/* nchwc_dw_avx512.c - NCHWc depthwise and channel broadcast (nchwc_dw_body.h) on 16-float vectors (B = 16). */
#define NCHWC_AVX512
#include "nchwc_dw_isa.h"
#include "nchwc_dw_body.h"
