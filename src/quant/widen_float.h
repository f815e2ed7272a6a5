/* widen_float.h - a float16 / bfloat16 model's 16-bit regions computed in float32 (widen_float.c). */
#ifndef OXRT_QUANT_WIDEN_FLOAT_H
#define OXRT_QUANT_WIDEN_FLOAT_H
#include "../ir/ir.h"

/* Rewrites m's main graph so that every node that reads or writes float16 / bfloat16 tensors and has a float32
 * kernel of the same meaning computes in float32: initializers widened once, one Cast where a region starts
 * and one where a 16-bit value must leave it. *n_wide counts the nodes moved to float32. OXRT_WIDEN_FLOAT16=0
 * turns it off (for comparisons). */
oxrt_status *oxrt_widen_float_model(oxrt_model *m, int *n_wide);

#endif
