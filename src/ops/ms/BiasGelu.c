/* BiasGelu.c - com.microsoft BiasGelu (ONNX Runtime contrib op): Y = Gelu(A + B), erf form, with B 1-D and
 * as long as A's last axis: the bias Add after a MatMul folded into the activation (one pass, not two). */
#include "ms_activation.h"
#include "../infer_rules.h"

static oxrt_status *bias_gelu_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *b = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(b, 1, "B"));
  return ms_act_run(ctx, MS_ACT_GELU, 0.f, b);
}

static const oxrt_op_impl bias_gelu_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = bias_gelu_run}};
OXRT_REGISTER_OP(ms_BiasGelu) = {"com.microsoft", "BiasGelu", OXRT_IMPLS(bias_gelu_impls),
                                 .infer = oxrt_infer_broadcast,
                                 .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};
