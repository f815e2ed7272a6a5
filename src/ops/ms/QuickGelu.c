/* QuickGelu.c - com.microsoft QuickGelu (ONNX Runtime contrib op): Y = X * sigmoid(alpha * X), alpha
 * defaulting to 1.702 (GELU's sigmoid approximation); with alpha 1 it is SiLU/Swish, which the optimizer
 * fuses Mul(x, Sigmoid(x)) into. */
#include "ms_activation.h"
#include "../infer_rules.h"

static oxrt_status *quick_gelu_run(oxrt_kernel_ctx *ctx) {
  float alpha = oxrt_attr_float(ctx->node, "alpha", 1.702f);
  if (!isfinite(alpha)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute alpha must be finite, got %g", alpha);
  return ms_act_run(ctx, MS_ACT_SILU, alpha, NULL);
}

static const oxrt_op_impl quick_gelu_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = quick_gelu_run}};
OXRT_REGISTER_OP(ms_QuickGelu) = {"com.microsoft", "QuickGelu", OXRT_IMPLS(quick_gelu_impls), .infer = oxrt_infer_same,
                                  .flags = OXRT_OP_SAME_ELEM_TYPE};
