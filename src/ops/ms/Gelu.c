/* Gelu.c - com.microsoft Gelu (ONNX Runtime contrib op): Y = 0.5 * X * (1 + erf(X / sqrt(2))), what the
 * optimizer fuses torch's exported erf-form GELU subgraph into (ai.onnx Gelu, opset 20, is separate). */
#include "ms_activation.h"
#include "../infer_rules.h"

static oxrt_status *gelu_run(oxrt_kernel_ctx *ctx) { return ms_act_run(ctx, MS_ACT_GELU, 0.f, NULL); }

static const oxrt_op_impl gelu_impls[] = {{.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = gelu_run}};
OXRT_REGISTER_OP(ms_Gelu) = {"com.microsoft", "Gelu", OXRT_IMPLS(gelu_impls), .infer = oxrt_infer_same,
                             .flags = OXRT_OP_SAME_ELEM_TYPE};
