/* nchwc_util.h - private to the com.microsoft.nchwc operators (src/ops/nchwc): the block size of this process and
 * the checks every blocked tensor goes through. A blocked tensor has the logical shape [N, Cb*B, H, W] and the
 * memory layout [N, Cb, H, W, B] (kernels/nchwc.h); the session's layout pass (opt/pass_nchwc_layout.c) is the
 * only producer of these operators. */
#ifndef OXRT_OPS_NCHWC_UTIL_H
#define OXRT_OPS_NCHWC_UTIL_H
#include "../../kernels/nchwc.h"
#include "../infer_rules.h"
#include "../op_util.h"

/* The ISA the kernels run with and its block: fixed for the process once the first session picked it. */
static inline oxrt_isa nchwc_isa(void) { return oxrt_cpu_isa(); }
static inline int nchwc_block(void) { return oxrt_nchwc_block(nchwc_isa()); }

/* Input i is a float rank-4 tensor whose channel count is a multiple of the block. */
static inline oxrt_status *nchwc_check_blocked(const oxrt_value *v, int i, const char *what, int B) {
  OXRT_TRY(oxrt_check_tensor(v, i, what));
  if (v->dtype != OXRT_FLOAT || v->rank != 4 || v->dims[1] % B)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                      "input %d (%s): expected a blocked float [N, C, H, W] with C a multiple of %d", i, what, B);
  return NULL;
}

#endif
