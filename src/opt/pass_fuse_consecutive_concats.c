/* pass_fuse_consecutive_concats.c - Concat(a, Concat(b, c, axis), d, axis) -> Concat(a, b, c, d, axis)
 * (onnxoptimizer's fuse_consecutive_concats). The inner Concat must have no other reader; axes are compared
 * after normalising by the rank when their signs differ (both Concats have the same rank).
 */
#include "opt.h"
#include <string.h>

static bool same_axis(oxrt_graph *g, const oxrt_node *a, const oxrt_node *b) {
  int64_t x = oxrt_attr_int(a, "axis", 0), y = oxrt_attr_int(b, "axis", 0), d[OXRT_MAX_RANK];
  if ((x < 0) == (y < 0)) return x == y;
  int r = opt_shape(g, a->inputs[0], d);
  return r > 0 && (x < 0 ? x + r : x) == (y < 0 ? y + r : y);
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || strcmp(n->op_type, "Concat") || opt_node_opset(ctx->model, n) < 4) continue;
    int total = 0;
    bool any = false;
    for (int k = 0; k < n->n_inputs; k++) {
      oxrt_node *p = opt_sole_producer(g, &u, n->inputs[k]);
      bool fuse = p && !*p->domain && !strcmp(p->op_type, "Concat") && p->n_inputs > 0 && same_axis(g, n, p);
      total += fuse ? p->n_inputs : 1;
      any |= fuse;
    }
    if (!any) continue;
    int *ins = oxrt_arena_alloc(g->arena, sizeof(int) * (size_t)total);
    if (!ins) {
      st = OXRT_OOM();
      break;
    }
    int m = 0;
    for (int k = 0; k < n->n_inputs; k++) {
      oxrt_node *p = opt_sole_producer(g, &u, n->inputs[k]);
      if (p && !*p->domain && !strcmp(p->op_type, "Concat") && p->n_inputs > 0 && same_axis(g, n, p)) {
        memcpy(ins + m, p->inputs, sizeof(int) * (size_t)p->n_inputs);
        m += p->n_inputs;
        u.count[n->inputs[k]] = 0;
        p->op_type = NULL;
      } else {
        ins[m++] = n->inputs[k];
      }
    }
    st = opt_set_inputs(g, n, ins, m);
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_consecutive_concats = {"fuse_consecutive_concats", OXRT_OPT_ALL, true, run,
                                                          "Concat inputs that are Concats on the same axis spliced in"};
