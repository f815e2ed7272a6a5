/* qgemm_avx512vnni.c - AVX-512 VNNI byte micro-kernels of the 8-bit GEMM: 12 rows x 32 columns, k in fours.
 * VPDPBUSD adds four u8*s8 products to int32 without saturating. Two variants: A packed as uint8 and B as int8
 * (activations times weights: MatMul), and B uint8 with A int8 (weights times activations: convolution, whose
 * uint8 input and int8 weights then need no re-centring and no column sums). */
#include "qgemm.h"
#define QK_BITS 512
#include "qgemm_x86_vec.h"

#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define QK_MR 12
#define QK_ET uint8_t
#define QK_G 4

#define QK_NAME oxrt_qukernel_avx512vnni
#define QK_MAC(c, a, b) _mm512_dpbusd_epi32((c), (a), (b))
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_MAC

#define QK_NAME oxrt_qukernel_avx512vnni_b
#define QK_MAC(c, a, b) _mm512_dpbusd_epi32((c), (b), (a))
#include "qgemm_body.h"
