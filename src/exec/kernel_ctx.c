/* kernel_ctx.c - what a kernel may ask the engine about its node beyond its inputs (declared in kernel.h), so
 * that operators never read the executor's frames or plans themselves. */
#include "engine.h"

bool oxrt_input_is_constant(const oxrt_kernel_ctx *ctx, int i, const oxrt_value *v) {
  if (!v || !ctx->frame || !ctx->frame->plan || i < 0 || i >= ctx->node->n_inputs) return false;
  int id = ctx->node->inputs[i];
  const oxrt_graph *g = ctx->frame->plan->graph;
  return id >= 0 && id < g->n_values && g->values[id].init == v;
}
