/* pass_eliminate_shape_gather.c - Gather(Shape(x), i) with constant indices becomes a constant when the dims it
 * picks are static (onnxoptimizer's eliminate_shape_gather): exporters write batch/sequence arithmetic this way.
 * The result is an initializer under the Gather's output name (never a graph output); the Shape goes with the
 * last reader. Main graph only, as eliminate_shape_op.
 */
#include "../core/dtype.h"
#include "opt.h"
#include <string.h>

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || strcmp(n->op_type, "Gather") || n->n_inputs != 2 || n->n_outputs != 1 ||
        n->outputs[0] < 0 || oxrt_attr_int(n, "axis", 0) != 0)
      continue;
    oxrt_value_def *out = &g->values[n->outputs[0]];
    oxrt_node *sh = opt_producer(g, n->inputs[0]);
    const oxrt_value *idx = opt_const(g, n->inputs[1]);
    if (out->is_output || out->init || !sh || *sh->domain || strcmp(sh->op_type, "Shape") || sh->n_inputs != 1 ||
        !idx || (idx->dtype != OXRT_INT64 && idx->dtype != OXRT_INT32))
      continue;
    int64_t v[OXRT_MAX_RANK], picked[64];
    int len = opt_shape_node_dims(ctx->model, g, sh, v);
    if (len < 0 || idx->count > 64) continue;
    bool ok = true;
    for (size_t k = 0; k < idx->count && ok; k++) {
      int64_t j = oxrt_load_i64(idx->dtype, idx->data, k);
      j = j < 0 ? j + len : j;
      ok = j >= 0 && j < len && v[j] >= 0;
      if (ok) picked[k] = v[j];
    }
    if (!ok) continue;
    oxrt_value *t;
    if ((st = oxrt_tensor_new(OXRT_INT64, idx->rank, idx->dims, &t))) break;
    memcpy(t->data, picked, sizeof(int64_t) * idx->count);
    out->init = t;
    out->producer = -1;
    n->op_type = NULL;
    u.count[n->inputs[1]]--;
    if (--u.count[n->inputs[0]] == 0 && !u.pinned[n->inputs[0]]) {
      u.count[sh->inputs[0]]--;
      sh->op_type = NULL;
    }
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_eliminate_shape_gather = {"eliminate_shape_gather", OXRT_OPT_ALL, false, run,
                                                        "Gather of static dims from a Shape into a constant"};
