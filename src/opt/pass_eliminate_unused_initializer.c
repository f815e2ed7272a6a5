/* pass_eliminate_unused_initializer.c - drops initializers that no node reads (onnxoptimizer's
 * eliminate_unused_initializer). Graph inputs, graph outputs and values a subgraph captures by name stay.
 */
#include "opt.h"

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  (void)ctx;
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  for (int v = 0; v < g->n_values; v++) {
    oxrt_value_def *d = &g->values[v];
    if (!d->init || u.pinned[v] || u.count[v] > 0) continue;
    oxrt_value_free(d->init);
    d->init = NULL;
    *changed = true;
  }
  opt_uses_free(&u);
  return NULL;
}

const oxrt_opt_pass oxrt_pass_eliminate_unused_initializer = {"eliminate_unused_initializer", OXRT_OPT_ALL, true, run,
                                                              "initializers no node reads"};
