/* Scatter.c - Scatter (deprecated in opset 11): the same operation as ScatterElements without reduction. */
#include "index_util.h"

static oxrt_status *scatter_run(oxrt_kernel_ctx *ctx) {
  /* The shared run reads `reduction` only from opset 16, so Scatter (opsets 9, 11) never reduces. */
  return oxrt_ix_scatter_elements_run(ctx);
}

static const oxrt_op_impl scatter_impls[] = {
    {.since_version = 9, .run = scatter_run},
    {.since_version = 11, .run = scatter_run},
};
OXRT_REGISTER_OP(Scatter) = {"", "Scatter", OXRT_IMPLS(scatter_impls)};
