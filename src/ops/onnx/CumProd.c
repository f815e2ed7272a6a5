/* CumProd.c - cumulative product along an axis (exclusive, reverse); see cumulative.h. */
#include "cumulative.h"
#include "../infer_rules.h"

static oxrt_status *cumprod_run(oxrt_kernel_ctx *ctx) { return cum_run(ctx, true); }

static const oxrt_op_impl cumprod_impls[] = {
    {.since_version = 26, .type_mask = CUM_TYPES, .run = cumprod_run},
};
OXRT_REGISTER_OP(CumProd) = {"", "CumProd", OXRT_IMPLS(cumprod_impls), .infer = oxrt_infer_same};
