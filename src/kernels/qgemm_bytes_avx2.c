/* qgemm_bytes_avx2.c - AVX2 byte micro-kernels of the 8-bit GEMM: 4 rows x 16 columns, k in fours, with
 * VPMADDUBSW (u8 x s8 pairs to int16) then VPMADDWD by ones (pairs to int32). The int16 step saturates in
 * general; the driver uses these kernels only for weights whose pairs satisfy |w0| + |w1| <= 128, where every
 * pair sum stays within 255 * 128 < 32767, so the result is exact. Two variants: A unsigned (weights are B)
 * and B unsigned (weights are A, as in convolution). */
#include "qgemm.h"
#define QK_BITS 256
#include "qgemm_x86_vec.h"

#define QK_ROWS(X) X(0) X(1) X(2) X(3)
#define QK_MR 4
#define QK_ET uint8_t
#define QK_G 4
#define QK_DOT(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))

#define QK_NAME oxrt_qukernel_avx2_bytes_a
#define QK_MAC(c, a, b) _mm256_add_epi32((c), QK_DOT((a), (b)))
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_MAC

#define QK_NAME oxrt_qukernel_avx2_bytes_b
#define QK_MAC(c, a, b) _mm256_add_epi32((c), QK_DOT((b), (a)))
#include "qgemm_body.h"
