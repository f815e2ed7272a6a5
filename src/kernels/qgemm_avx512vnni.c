/* qgemm_avx512vnni.c - AVX-512 VNNI byte micro-kernels of the 8-bit GEMM: 12 rows x 32 columns, k in fours.
 * VPDPBUSD adds four u8*s8 products to int32 without saturating. Two variants: A packed as uint8 and B as int8
 * (activations times weights: MatMul), and B uint8 with A int8 (weights times activations: convolution, whose
 * uint8 input and int8 weights then need no re-centring and no column sums). Each also as _r4 / _r8: the first 4 / 8
 * rows of a 12-row A panel, for the last, short panel (64 rows are 5 panels and 4 rows, not 6 panels). */
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

#define QK_ROWS4(X) X(0) X(1) X(2) X(3)
#define QK_ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
/* the A-uint8 variant's short-panel kernels */
#undef QK_ROWS
#undef QK_MR
#define QK_MAC(c, a, b) _mm512_dpbusd_epi32((c), (a), (b))
#define QK_NAME oxrt_qukernel_avx512vnni_r4
#define QK_ROWS QK_ROWS4
#define QK_MR 4
#define QK_ASTRIDE 12
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#define QK_NAME oxrt_qukernel_avx512vnni_r8
#define QK_ROWS QK_ROWS8
#define QK_MR 8
#define QK_ASTRIDE 12
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#undef QK_MAC

/* B unsigned (convolution) */
#define QK_MAC(c, a, b) _mm512_dpbusd_epi32((c), (b), (a))
#define QK_NAME oxrt_qukernel_avx512vnni_b
#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define QK_MR 12
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#define QK_NAME oxrt_qukernel_avx512vnni_b_r4
#define QK_ROWS QK_ROWS4
#define QK_MR 4
#define QK_ASTRIDE 12
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#define QK_NAME oxrt_qukernel_avx512vnni_b_r8
#define QK_ROWS QK_ROWS8
#define QK_MR 8
#define QK_ASTRIDE 12
#include "qgemm_body.h"
