/* kernel_ctx.c - what a kernel may ask the engine about its node beyond its inputs (declared in kernel.h), so
 * that operators never read the executor's frames or plans themselves. */
#include "engine.h"

bool oxrt_input_is_constant(const oxrt_kernel_ctx *ctx, int i, const oxrt_value *v) {
  if (!v || !ctx->frame || !ctx->frame->plan || i < 0 || i >= ctx->node->n_inputs) return false;
  int id = ctx->node->inputs[i];
  const oxrt_graph *g = ctx->frame->plan->graph;
  return id >= 0 && id < g->n_values && g->values[id].init == v;
}

static const oxrt_graph_plan *running_plan(const oxrt_kernel_ctx *ctx) {
  return ctx->frame ? ctx->frame->plan : NULL;
}

const oxrt_graph *oxrt_ctx_graph(const oxrt_kernel_ctx *ctx) {
  const oxrt_graph_plan *p = running_plan(ctx);
  return p ? p->graph : NULL;
}

const oxrt_value *oxrt_ctx_value(const oxrt_kernel_ctx *ctx, int id) {
  const oxrt_graph *g = oxrt_ctx_graph(ctx);
  if (!g || id < 0 || id >= g->n_values) return NULL;
  return ctx->frame->vals[id] ? ctx->frame->vals[id] : g->values[id].init;
}

int oxrt_ctx_step_count(const oxrt_kernel_ctx *ctx) {
  const oxrt_graph_plan *p = running_plan(ctx);
  return p ? p->n_steps : 0;
}

const oxrt_node *oxrt_ctx_step_node(const oxrt_kernel_ctx *ctx, int k, int *opset) {
  const oxrt_graph_plan *p = running_plan(ctx);
  if (!p || k < 0 || k >= p->n_steps) return NULL;
  if (opset) *opset = p->steps[k].opset;
  return p->steps[k].node;
}

oxrt_status *oxrt_ctx_run_step(oxrt_kernel_ctx *ctx, int k, const oxrt_value *const *inputs, oxrt_value **outputs) {
  const oxrt_graph_plan *p = running_plan(ctx);
  if (!p || k < 0 || k >= p->n_steps) return oxrt_error(OXRT_ERR_RUNTIME, "step %d is not planned", k);
  const oxrt_node_plan *np = &p->steps[k];
  const oxrt_node *nd = np->node;
  const oxrt_op_impl *impl = np->impl;
  for (int o = 0; o < nd->n_outputs; o++) outputs[o] = NULL;
  if (!impl) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "no kernel for %s", nd->op_type);
  if (impl->type_mask && impl->type_input < nd->n_inputs) {
    const oxrt_value *t = inputs[impl->type_input];
    if (t && t->kind == OXRT_KIND_TENSOR && !(impl->type_mask & OXRT_TBIT(t->dtype)))
      return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "element type %s not supported", oxrt_elem_type_name(t->dtype));
  }
  oxrt_kernel_ctx kc = {nd, np->opset, np->state, nd->n_inputs, nd->n_outputs, inputs, outputs, ctx->pool, ctx->frame};
  return impl->run(&kc);
}
