/* pass_eliminate_shape_op.c - Shape of a value whose shape is fully static becomes an initializer of the same
 * name (onnxoptimizer's eliminate_shape_op), honouring opset 15's start and end. A Shape whose output is a graph
 * output stays a node. Main graph only: a loop body may see other shapes per iteration than inference assumed.
 */
#include "opt.h"
#include <string.h>

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || strcmp(n->op_type, "Shape") || n->n_inputs != 1 || n->n_outputs != 1 ||
        n->outputs[0] < 0 || n->inputs[0] < 0)
      continue;
    oxrt_value_def *d = &g->values[n->outputs[0]];
    int64_t dims[OXRT_MAX_RANK];
    int r = opt_shape(g, n->inputs[0], dims);
    if (r < 0 || d->is_output || d->init) continue;
    bool known = true;
    for (int k = 0; k < r; k++) known &= dims[k] >= 0;
    if (!known) continue;
    int64_t start, end, len = opt_shape_range(ctx->model, n, r, &start, &end);
    oxrt_value *t;
    OXRT_TRY(oxrt_tensor_new(OXRT_INT64, 1, &len, &t));
    if (len) memcpy(t->data, dims + start, sizeof(int64_t) * (size_t)len);
    d->init = t;
    d->producer = -1;
    n->op_type = NULL;
    *changed = true;
  }
  return NULL;
}

const oxrt_opt_pass oxrt_pass_eliminate_shape_op = {"eliminate_shape_op", OXRT_OPT_ALL, false, run,
                                                    "Shape of a statically shaped value into a constant"};
