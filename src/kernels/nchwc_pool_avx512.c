/* nchwc_pool_avx512.c - NCHWc window and global pooling (nchwc_pool_body.h) on 16-float vectors (B = 16). */
#define NCHWC_AVX512
#include "nchwc_dw_isa.h"
#include "nchwc_pool_body.h"
