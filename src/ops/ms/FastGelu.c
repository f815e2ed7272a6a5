/* FastGelu.c - com.microsoft FastGelu (ONNX Runtime contrib op): the tanh approximation of GELU,
 * Y = 0.5 * Z * (1 + tanh(sqrt(2/pi) * (Z + 0.044715 Z^3))) with Z = X + bias; bias (input 1) is optional,
 * 1-D, as long as X's last axis. */
#include "ms_activation.h"
#include "../infer_rules.h"

static oxrt_status *fast_gelu_run(oxrt_kernel_ctx *ctx) {
  return ms_act_run(ctx, MS_ACT_GELU_TANH, 0.f, oxrt_input(ctx, 1));
}

static const oxrt_op_impl fast_gelu_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = fast_gelu_run}};
OXRT_REGISTER_OP(ms_FastGelu) = {"com.microsoft", "FastGelu", OXRT_IMPLS(fast_gelu_impls),
                                 .infer = oxrt_infer_broadcast,
                                 .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};
