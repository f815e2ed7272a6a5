/* pass_fuse_consecutive_log_softmax.c - Log(Softmax(x, axis)) -> LogSoftmax(x, axis) (onnxoptimizer's
 * fuse_consecutive_log_softmax): one stable pass instead of exp, divide and log (which underflows to -inf).
 * Both operators coerce axes the same way in every opset, so the attributes carry over. The Softmax must have
 * no other reader.
 */
#include "opt.h"
#include <string.h>

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  (void)ctx;
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *log = &g->nodes[i];
    if (!log->op_type || *log->domain || strcmp(log->op_type, "Log") || log->n_inputs != 1 || log->n_outputs != 1 ||
        log->outputs[0] < 0)
      continue;
    int mid = log->inputs[0];
    oxrt_node *sm = opt_sole_producer(g, &u, mid);
    if (!sm || *sm->domain || strcmp(sm->op_type, "Softmax")) continue;
    sm->op_type = "LogSoftmax";
    opt_absorb_consumer(g, &u, sm, log, mid);
    *changed = true;
  }
  opt_uses_free(&u);
  return NULL;
}

const oxrt_opt_pass oxrt_pass_fuse_consecutive_log_softmax = {
    "fuse_consecutive_log_softmax", OXRT_OPT_ALL, true, run, "Log of a Softmax into LogSoftmax"};
