/* softmax_row.h - one contiguous Softmax / LogSoftmax row (src/ops/onnx/Softmax.c's last-axis case), per ISA. */
#ifndef OXRT_KERNELS_SOFTMAX_ROW_H
#define OXRT_KERNELS_SOFTMAX_ROW_H
#include "vmath.h"
#include <stdbool.h>
#include <stddef.h>

/* y = softmax(x) (or log-softmax with `log`) over D floats, the exps from vm (the ISA's vmath set). */
typedef void (*oxrt_softmax_row_fn)(const float *x, float *y, size_t D, bool log, const oxrt_vmath_table *vm);
/* The row kernel for ISA level `isa` (oxrt_cpu_isa()'s values): chosen once per node. */
oxrt_softmax_row_fn oxrt_softmax_row_for(int isa);

/* per ISA (softmax_row_avx512.c, softmax_row_avx2.c) */
void oxrt_softmax_row_avx512(const float *x, float *y, size_t D, bool log, const oxrt_vmath_table *vm);
void oxrt_softmax_row_avx2(const float *x, float *y, size_t D, bool log, const oxrt_vmath_table *vm);
#endif
