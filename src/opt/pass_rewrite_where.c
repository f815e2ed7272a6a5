/* pass_rewrite_where.c - Where(Not(c), a, b) -> Where(c, b, a) (onnxoptimizer's rewrite_where); the Not goes
 * when nothing else reads it.
 */
#include "opt.h"
#include <string.h>

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  (void)ctx;
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *w = &g->nodes[i];
    if (!w->op_type || *w->domain || strcmp(w->op_type, "Where") || w->n_inputs != 3 || w->inputs[0] < 0) continue;
    int mid = w->inputs[0];
    oxrt_node *no = opt_producer(g, mid);
    if (!no || *no->domain || strcmp(no->op_type, "Not") || no->n_inputs != 1 || no->inputs[0] < 0) continue;
    int a = w->inputs[1];
    w->inputs[0] = no->inputs[0];
    w->inputs[1] = w->inputs[2];
    w->inputs[2] = a;
    u.count[no->inputs[0]]++;
    if (--u.count[mid] == 0 && !u.pinned[mid]) {
      u.count[no->inputs[0]]--;
      no->op_type = NULL;
    }
    *changed = true;
  }
  opt_uses_free(&u);
  return NULL;
}

const oxrt_opt_pass oxrt_pass_rewrite_where = {"rewrite_where", OXRT_OPT_ALL, true, run,
                                               "Where(Not(c), a, b) into Where(c, b, a)"};
