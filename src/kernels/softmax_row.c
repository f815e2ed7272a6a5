/* softmax_row.c - the portable row kernel and the ISA choice (softmax_row.h). */
#include "softmax_row.h"
#include "../core/cpu.h"
#include <float.h>
#include <math.h>

/* One contiguous row (inner == 1) in three sweeps over the (L1-resident) row: max, exp(x - max) with the sum,
 * then scale by 1 / sum (Softmax, flushing results below FLT_MIN to 0) or subtract log(sum) + max (LogSoftmax).
 * The vector versions compute the same values as the portable one: max is exact in any order, and the
 * exps and the sum come from the same vmath set. A NaN input leaves the max alone (x > m is false) as here. */
static void softmax_row_portable(const float *x, float *y, size_t D, bool log, const oxrt_vmath_table *vm) {
  float m = -INFINITY;
  for (size_t i = 0; i < D; i++) m = x[i] > m ? x[i] : m;
  if (isinf(m) && m < 0) m = 0; /* all -inf: avoid inf - inf */
  const float s = vm->exp_shift_sum(x, y, D, m); /* exps go to y unconditionally (LogSoftmax overwrites them) */
  if (log) {
    const float ls = logf(s) + m;
    for (size_t i = 0; i < D; i++) y[i] = x[i] - ls;
  } else {
    const float inv = 1.0f / s;
    for (size_t i = 0; i < D; i++) {
      const float v = y[i] * inv;
      y[i] = v < FLT_MIN ? 0.0f : v;
    }
  }
}

oxrt_softmax_row_fn oxrt_softmax_row_for(int isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (isa == OXRT_ISA_AVX512) return oxrt_softmax_row_avx512;
  if (isa == OXRT_ISA_AVX2) return oxrt_softmax_row_avx2;
#else
  (void)isa;
#endif
  return softmax_row_portable;
}
