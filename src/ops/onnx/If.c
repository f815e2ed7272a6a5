/* If.c - If (opsets 1..25; later versions only widen the types the branches may return).
 * Runs then_branch or else_branch with no inputs; their outputs (tensors, sequences, optionals)
 * become the node's outputs. Branch outputs may differ in shape. */
#include "../op_util.h"
#include "../infer_rules.h"
#include <stdlib.h>

static oxrt_status *if_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  (void)state;
  const char *names[2] = {"then_branch", "else_branch"};
  for (int b = 0; b < 2; b++) {
    const oxrt_attr *a = oxrt_node_attr(node, names[b]);
    if (!a || !a->g) return oxrt_error(OXRT_ERR_INVALID_MODEL, "graph attribute '%s' is required", names[b]);
    if (a->g->n_outputs != node->n_outputs)
      return oxrt_error(OXRT_ERR_INVALID_MODEL, "%s returns %d values but the node has %d outputs", names[b],
                        a->g->n_outputs, node->n_outputs);
  }
  return NULL;
}

static oxrt_status *if_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *c = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(c, 0, "cond"));
  if (c->count != 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (cond) must hold one value, has %zu", c->count);
  if (c->dtype == OXRT_STRING) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (cond) must be bool");
  bool cond = oxrt_load_f64(c->dtype, c->data, 0) != 0;
  const oxrt_graph *g = oxrt_node_attr(ctx->node, cond ? "then_branch" : "else_branch")->g;
  int n = g->n_outputs;
  oxrt_value **outs = calloc((size_t)n + 1, sizeof *outs);
  if (!outs) return OXRT_OOM();
  oxrt_status *st = oxrt_subgraph_run(ctx, g, NULL, 0, outs);
  for (int i = 0; i < n; i++) {
    if (!st && i < ctx->n_outputs) {
      st = oxrt_set_output(ctx, i, outs[i]);
      outs[i] = NULL;
    }
    oxrt_value_free(outs[i]);
  }
  free(outs);
  return st;
}

static const oxrt_op_impl if_impls[] = {{.since_version = 1, .prepare = if_prepare, .run = if_run}};

/* Both branches inferred (outer-scope values visible); each output is what the two branches have in common. */
static oxrt_status *infer_if(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  const oxrt_attr *ta = oxrt_node_attr(n, "then_branch"), *ea = oxrt_node_attr(n, "else_branch");
  if (!ta || !ta->g || !ea || !ea->g || ta->g->n_outputs != n->n_outputs || ea->g->n_outputs != n->n_outputs)
    return NULL;
  oxrt_tshape *t = calloc((size_t)n->n_outputs * 2 + 1, sizeof *t), out;
  if (!t) return OXRT_OOM();
  oxrt_tshape *e = t + n->n_outputs;
  oxrt_status *st = oxrt_infer_subgraph(ctx, ta->g, NULL, 0, t);
  if (!st) st = oxrt_infer_subgraph(ctx, ea->g, NULL, 0, e);
  for (int k = 0; k < n->n_outputs && !st; k++)
    if (oxrt_tshape_union(&t[k], &e[k], &out)) st = oxrt_infer_output(ctx, k, &out);
  free(t);
  return st;
}

OXRT_REGISTER_OP(If) = {"", "If", OXRT_IMPLS(if_impls), .infer = infer_if};
