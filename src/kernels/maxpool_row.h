/* maxpool_row.h - the two inner loops of float MaxPool's rows-first path (src/ops/onnx/Pool.c): the window's
 * input rows reduced into one row, then each output's columns along it. The ISA follows oxrt_cpu_isa(). */
#ifndef OXRT_KERNELS_MAXPOOL_ROW_H
#define OXRT_KERNELS_MAXPOOL_ROW_H
#include <stddef.h>

/* v[j] = max over r < nrows of x[r * stride + j], for j < n (nrows >= 1). A NaN never wins a comparison, as in
 * the operator's other loops: the first row's NaN stays unless a later value compares greater. */
void oxrt_maxpool_rows(const float *x, size_t stride, int nrows, float *v, size_t n);
/* y[o] = max(v[2o], v[2o + 1], v[2o + 2]) for o < n (a 3-wide window at stride 2; reads v[0 .. 2n]). */
void oxrt_maxpool_cols_k3s2(const float *v, float *y, size_t n);

/* per ISA (maxpool_row_avx512.c) */
void oxrt_maxpool_rows_avx512(const float *x, size_t stride, int nrows, float *v, size_t n);
void oxrt_maxpool_cols_k3s2_avx512(const float *v, float *y, size_t n);
#endif
