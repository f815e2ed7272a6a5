/* pass_eliminate_nop_monotone_argmax.c - ArgMax/ArgMin of a strictly increasing function of x read x itself:
 *   ArgMax(Exp(x)) -> ArgMax(x);  ArgMax(Softmax(x, axis)) / ArgMax(LogSoftmax(x, axis)) -> ArgMax(x) when the
 *   softmax runs along the same axis (then each row is x shifted and scaled monotonically).
 * Log and Sqrt are left alone: they turn negative inputs into NaN, which changes the index. The function's node
 * goes when the arg op was its only reader.
 */
#include "opt.h"
#include <string.h>

static bool same_axis(const oxrt_graph *g, const oxrt_node *arg, const oxrt_node *sm, int64_t sm_opset) {
  int64_t d[OXRT_MAX_RANK];
  int r = opt_shape(g, sm->inputs[0], d);
  if (r <= 0) return false;
  int64_t a = oxrt_attr_int(arg, "axis", 0), s = oxrt_attr_int(sm, "axis", sm_opset < 13 ? 1 : -1);
  if (a < 0) a += r;
  if (s < 0) s += r;
  /* before opset 13 Softmax normalises over all axes from `axis` on: the same only when that is the last */
  return a == s && (sm_opset >= 13 || s == r - 1);
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || (strcmp(n->op_type, "ArgMax") && strcmp(n->op_type, "ArgMin")) ||
        n->n_inputs != 1 || n->inputs[0] < 0)
      continue;
    int mid = n->inputs[0];
    oxrt_node *p = opt_producer(g, mid);
    if (!p || *p->domain || p->n_inputs < 1 || p->inputs[0] < 0 || p->n_outputs != 1) continue;
    bool ok = !strcmp(p->op_type, "Exp");
    if (!strcmp(p->op_type, "Softmax") || !strcmp(p->op_type, "LogSoftmax"))
      ok = same_axis(g, n, p, opt_node_opset(ctx->model, p));
    if (!ok) continue;
    n->inputs[0] = p->inputs[0];
    u.count[p->inputs[0]]++;
    if (--u.count[mid] == 0 && !u.pinned[mid]) {
      u.count[p->inputs[0]]--;
      p->op_type = NULL;
    }
    *changed = true;
  }
  opt_uses_free(&u);
  return NULL;
}

const oxrt_opt_pass oxrt_pass_eliminate_nop_monotone_argmax = {
    "eliminate_nop_monotone_argmax", OXRT_OPT_ALL, true, run, "ArgMax/ArgMin of Exp or a same-axis Softmax reads x"};
