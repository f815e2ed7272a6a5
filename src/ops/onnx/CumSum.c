/* CumSum.c - cumulative sum along an axis (exclusive, reverse); see cumulative.h. */
#include "cumulative.h"
#include "../infer_rules.h"

static oxrt_status *cumsum_run(oxrt_kernel_ctx *ctx) { return cum_run(ctx, false); }

static const oxrt_op_impl cumsum_impls[] = {
    {.since_version = 11, .type_mask = CUM_TYPES, .run = cumsum_run},
    {.since_version = 14, .type_mask = CUM_TYPES, .run = cumsum_run}, /* bfloat16 */
};
OXRT_REGISTER_OP(CumSum) = {"", "CumSum", OXRT_IMPLS(cumsum_impls), .infer = oxrt_infer_same};
