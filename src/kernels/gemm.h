/* gemm.h - single-precision matrix multiply used by MatMul, Gemm, Conv, RNNs, attention.
 *
 * C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major, with leading
 * dimensions lda/ldb/ldc. op(X) is X or X^T. beta == 0 ignores C's contents
 * (NaN in C does not leak). `pool` may be NULL (single thread).
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

#endif
