/* bf16_compute.h - the session's bfloat16 compute mode as a graph rewrite (bf16_compute.c). */
#ifndef OXRT_QUANT_BF16_COMPUTE_H
#define OXRT_QUANT_BF16_COMPUTE_H
#include "../ir/ir.h"

/* Mode 2 (emulated): routes each float input of the heavy ops of m's main graph through Cast(bfloat16) ->
 * Cast(float); *n_rounded counts them. Modes 0 and 1 change nothing. */
oxrt_status *oxrt_bf16_prepare_model(oxrt_model *m, int mode, int *n_rounded);

#endif
