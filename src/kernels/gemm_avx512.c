/* gemm_avx512.c - the float GEMM body (gemm_body.h) on 16-float zmm vectors: a 12 x 32 micro-kernel (24
 * accumulators), mask registers for partial rows, B prefetched 8 KiB (64 k-steps) ahead of its loads, both 64-byte
 * lines of each 128-byte B row: pre-packed weights arrive from memory on the first pass over each B block. 1 KiB
 * ahead left BERT's 128-row products 4-7% slower (cold weights, Xeon SPR class); on Zen 4 with weights cold
 * (GEMM_BENCH_COLD) one line per row 4 KiB ahead ran them 4-6% slower than two lines 8 KiB ahead. */
#include "gemm.h"
#include <immintrin.h>

#include "transpose_avx512.h"

static inline void gb_transpose(__m512 r[16]) { oxrt_transpose16_ps(r); }

#define GB_UKERNEL oxrt_sgemm_ukernel_avx512
#define GB_PACK oxrt_sgemm_pack_avx512
#define GB_GEMV_T oxrt_sgemv_t_avx512
#define GB_GEMV_N oxrt_sgemv_n_avx512
#include "gemm_zmm.h"
#undef GB_PREFETCH_B
#define GB_PREFETCH_B 2048
#define GB_PREFETCH_LINES 2
#include "gemm_body.h"
