/* pass_eliminate_noops.c - removes nodes that pass their input through unchanged:
 * Identity, Dropout in inference (mask unused), Cast/CastLike to the type the input already has,
 * and Reshape to the shape the input already has (both shapes known statically).
 */
#include "opt.h"
#include <string.h>

static bool output_unused(const oxrt_node *n, int k, const opt_uses *u) {
  if (k >= n->n_outputs || n->outputs[k] < 0) return true;
  return u->count[n->outputs[k]] == 0 && !u->pinned[n->outputs[k]];
}

static bool dropout_is_noop(const oxrt_graph *g, const oxrt_node *n, int64_t opset, const opt_uses *u) {
  if (!output_unused(n, 1, u)) return false;
  if (opset < 7) return oxrt_attr_int(n, "is_test", 0) != 0 || output_unused(n, 1, u);
  if (opset < 12) return true;
  if (n->n_inputs < 3 || n->inputs[2] < 0) return true;
  const oxrt_value *t = opt_const(g, n->inputs[2]);
  if (!t || t->count != 1 || t->dtype != OXRT_BOOL) return false;
  return ((const uint8_t *)t->data)[0] == 0;
}

static bool cast_is_noop(const oxrt_graph *g, const oxrt_node *n) {
  oxrt_elem_type from = opt_elem_type(g, n->inputs[0]);
  if (from == OXRT_UNDEFINED) return false;
  if (!strcmp(n->op_type, "Cast")) {
    const oxrt_attr *to = oxrt_node_attr(n, "to");
    return to && to->type == OXRT_ATTR_INT && to->i == (int64_t)from;
  }
  return n->n_inputs >= 2 && opt_elem_type(g, n->inputs[1]) == from; /* CastLike */
}

static bool reshape_is_noop(const oxrt_graph *g, const oxrt_node *n, int64_t opset) {
  if (opset < 5 || n->n_inputs < 2) return false;
  const oxrt_value *s = opt_const(g, n->inputs[1]);
  int64_t dims[OXRT_MAX_RANK];
  int rank = opt_shape(g, n->inputs[0], dims);
  if (!s || s->dtype != OXRT_INT64 || rank < 0 || (int)s->count != rank) return false;
  bool allowzero = oxrt_attr_int(n, "allowzero", 0) != 0;
  const int64_t *sv = s->data;
  int unknown = 0;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0) unknown++;
    if (sv[i] == dims[i] && dims[i] >= 0) continue;
    if (sv[i] == 0 && !allowzero) continue; /* copies the input dimension */
    if (sv[i] == -1 && dims[i] >= 0) continue; /* inferred: the only free dim, equal by element count */
    return false;
  }
  /* -1 resolves to the input's dim only when every other dim matches, which the loop checked;
   * more than one -1 is invalid and left to the kernel. Unknown input dims are fine where copied by 0. */
  int minus = 0;
  for (int i = 0; i < rank; i++) minus += sv[i] == -1;
  (void)unknown;
  return minus <= 1;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || n->n_inputs < 1 || n->n_outputs < 1) continue;
    int64_t opset = opt_node_opset(ctx->model, n);
    bool noop = false;
    if (!strcmp(n->op_type, "Identity")) noop = n->n_outputs == 1;
    else if (!strcmp(n->op_type, "Dropout")) noop = dropout_is_noop(g, n, opset, &u);
    else if (!strcmp(n->op_type, "Cast") || !strcmp(n->op_type, "CastLike")) noop = cast_is_noop(g, n);
    else if (!strcmp(n->op_type, "Reshape")) noop = reshape_is_noop(g, n, opset);
    if (!noop) continue;
    int x = n->inputs[0], y = n->outputs[0];
    if (x < 0 || y < 0) continue;
    /* a kept mask output of Dropout would lose its producer */
    for (int k = 1; k < n->n_outputs; k++)
      if (n->outputs[k] >= 0) g->values[n->outputs[k]].producer = -1;
    if (opt_bypass(g, n, x, y, &u)) {
      for (int k = 0; k < n->n_inputs; k++)
        if (k > 0 && n->inputs[k] >= 0) u.count[n->inputs[k]]--;
      *changed = true;
    }
  }
  opt_uses_free(&u);
  return NULL;
}

const oxrt_opt_pass oxrt_pass_eliminate_noops = {"eliminate_noops", OXRT_OPT_BASIC, true, run,
                                                 "Identity, inference Dropout, no-op Cast and Reshape"};
