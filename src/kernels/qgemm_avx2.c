/* qgemm_avx2.c - AVX2 int16 micro-kernel of the 8-bit GEMM: 5 rows x 16 columns, k in pairs (6 rows: 12
 * accumulators plus operands and madd temporaries fill all 16 ymm registers and GCC spills). Operands were widened
 * to int16 with their zero points subtracted while packing, so VPMADDWD's pair sums are exact. */
#include "qgemm.h"
#define QK_BITS 256
#include "qgemm_x86_vec.h"

#define QK_NAME oxrt_qukernel_avx2
#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4)
#define QK_MR 5
#define QK_ET int16_t
#define QK_G 2
#define QK_MAC(c, a, b) _mm256_add_epi32((c), _mm256_madd_epi16((a), (b)))
#include "qgemm_body.h"

/* the output stage at this width */
#define QS_NAME(x) oxrt_q##x##_avx2
#define QS_EXPORT
#include "qgemm_store_body.h"
