/* qgemm_avxvnni.c - AVX-VNNI byte micro-kernels of the 8-bit GEMM: 6 rows x 16 columns, k in fours. VPDPBUSD
 * adds four u8*s8 products to int32 without saturating. Two variants as in qgemm_avx512vnni.c: A uint8 / B int8,
 * and B uint8 / A int8 (convolution). */
#include "qgemm.h"
#define QK_BITS 256
#include "qgemm_x86_vec.h"

#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define QK_MR 6
#define QK_ET uint8_t
#define QK_G 4

#define QK_NAME oxrt_qukernel_avxvnni
#define QK_MAC(c, a, b) _mm256_dpbusd_avx_epi32((c), (a), (b))
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_MAC

#define QK_NAME oxrt_qukernel_avxvnni_b
#define QK_MAC(c, a, b) _mm256_dpbusd_avx_epi32((c), (b), (a))
#include "qgemm_body.h"
