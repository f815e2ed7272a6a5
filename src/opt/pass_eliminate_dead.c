/* pass_eliminate_dead.c - removes nodes whose outputs nothing reads, then unused initializers. */
#include "opt.h"

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  (void)ctx;
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  /* Reverse file order: a node's consumers come after it, so one sweep reaches a fixed point
   * on topologically sorted graphs (the loader keeps file order, which ONNX requires to be sorted). */
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type) continue;
    bool live = false;
    for (int k = 0; k < n->n_outputs && !live; k++) {
      int v = n->outputs[k];
      live = v >= 0 && (u.count[v] > 0 || u.pinned[v]);
    }
    if (live) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] >= 0) u.count[n->inputs[k]]--;
    n->op_type = NULL;
    *changed = true;
  }
  for (int v = 0; v < g->n_values; v++) {
    oxrt_value_def *d = &g->values[v];
    if (!d->init || d->is_outer || u.pinned[v] || u.count[v] > 0) continue;
    oxrt_value_free(d->init);
    d->init = NULL;
    *changed = true;
  }
  opt_uses_free(&u);
  return NULL;
}

const oxrt_opt_pass oxrt_pass_eliminate_dead = {"eliminate_dead_nodes", OXRT_OPT_BASIC, true, run,
                                                "nodes whose outputs are never read; unused initializers"};
