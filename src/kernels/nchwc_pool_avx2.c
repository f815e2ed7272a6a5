/* nchwc_pool_avx2.c - NCHWc window and global pooling (nchwc_pool_body.h) on 8-float AVX2 vectors (B = 8). */
#define NCHWC_AVX2
#include "nchwc_dw_isa.h"
#include "nchwc_pool_body.h"
