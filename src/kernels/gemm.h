/* gemm.h - single-precision matrix multiply used by MatMul, Gemm, Conv, RNNs, attention.
 *
 * C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major, with leading
 * dimensions lda/ldb/ldc. op(X) is X or X^T. beta == 0 ignores C's contents
 * (NaN in C does not leak). `pool` may be NULL (single thread); a busy pool
 * (called from inside a parallel_for) also runs on the calling thread.
 *
 * The float path packs A and B into panels and runs a register-blocked
 * micro-kernel picked once at run time from the CPU: AVX-512, AVX2+FMA or
 * portable C. The environment variable OXRT_ISA=portable|avx2|avx512 caps the
 * level (tests use it to exercise every path the machine supports).
 */
#ifndef OXRT_KERNELS_GEMM_H
#define OXRT_KERNELS_GEMM_H
#include "../core/threadpool.h"
#include <stdbool.h>
#include <stddef.h>

void oxrt_sgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                const float *B, size_t ldb, float beta, float *C, size_t ldc, oxrt_threadpool *pool);

/* Double precision variant (portable). */
void oxrt_dgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, double alpha, const double *A, size_t lda,
                const double *B, size_t ldb, double beta, double *C, size_t ldc, oxrt_threadpool *pool);

/* Instruction-set level used by the float kernels (after the OXRT_ISA cap). */
typedef enum oxrt_isa { OXRT_ISA_PORTABLE = 0, OXRT_ISA_AVX2 = 1, OXRT_ISA_AVX512 = 2 } oxrt_isa;
oxrt_isa oxrt_gemm_isa(void);
const char *oxrt_isa_name(oxrt_isa isa);

/* Micro-kernel contract (internal, shared with gemm_avx2.c / gemm_avx512.c):
 * C[MR,NR] = alpha * sum_k a[k*MR + i] * b[k*NR + j] + beta * C (beta == 0: C not read). */
typedef void (*oxrt_sgemm_ukernel)(size_t kc, const float *a, const float *b, float *c, size_t ldc, float alpha,
                                   float beta);
void oxrt_sgemm_ukernel_avx2(size_t kc, const float *a, const float *b, float *c, size_t ldc, float alpha,
                             float beta); /* MR 6, NR 16 */
void oxrt_sgemm_ukernel_avx512(size_t kc, const float *a, const float *b, float *c, size_t ldc, float alpha,
                               float beta); /* MR 12, NR 32 */

#endif
