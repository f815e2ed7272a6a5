/* qgemm_avx512.c - AVX-512BW int16 micro-kernel of the 8-bit GEMM: 12 rows x 32 columns, k in pairs. Operands
 * were widened to int16 with their zero points subtracted while packing, so VPMADDWD's pair sums are exact. */
#include "qgemm.h"
#define QK_BITS 512
#include "qgemm_x86_vec.h"

#define QK_NAME oxrt_qukernel_avx512
#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define QK_MR 12
#define QK_ET int16_t
#define QK_G 2
#define QK_MAC(c, a, b) _mm512_add_epi32((c), _mm512_madd_epi16((a), (b)))
#include "qgemm_body.h"
/* the first 4 / 8 rows of a 12-row A panel (the last, short panel) */
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#define QK_NAME oxrt_qukernel_avx512_r4
#define QK_ROWS(X) X(0) X(1) X(2) X(3)
#define QK_MR 4
#define QK_ASTRIDE 12
#include "qgemm_body.h"
#undef QK_NAME
#undef QK_ROWS
#undef QK_MR
#define QK_NAME oxrt_qukernel_avx512_r8
#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define QK_MR 8
#define QK_ASTRIDE 12
#include "qgemm_body.h"

/* the output stage at this width */
#define QS_NAME(x) oxrt_q##x##_avx512
#define QS_EXPORT
#include "qgemm_store_body.h"
