/* svm_kernels.h - the support-vector sums of SVM.c per ISA: T[r][j] = sum_c (X[r][c] - svt[c][j])^2 when rbf, else
 * sum_c X[r][c] * svt[c][j], for rows r < nr (1..SVM_ROWS, stride C in X, stride nvp in T) and every j < nvp, where
 * svt is [C][nvp] and nvp is a multiple of SVM_NV. Private to src/ops/ml. */
#ifndef OXRT_OPS_ML_SVM_KERNELS_H
#define OXRT_OPS_ML_SVM_KERNELS_H
#include <stddef.h>

#define SVM_NV 32  /* support vectors per register tile (the padding of nvp) */
#define SVM_ROWS 4 /* rows sharing one pass over the support vectors */

void oxrt_svm_sums_avx2(const float *svt, size_t nvp, const float *X, size_t C, size_t nr, int rbf, float *T);
void oxrt_svm_sums_avx512(const float *svt, size_t nvp, const float *X, size_t C, size_t nr, int rbf, float *T);
#endif
