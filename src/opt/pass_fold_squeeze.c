/* pass_fold_squeeze.c - Unsqueeze / Squeeze of a constant become a constant of the new shape.
 *
 * Only the shape changes, so no kernel is needed and no size limit applies (unlike general
 * constant folding): large weights exported as Unsqueeze(W) fold too.
 */
#include "opt.h"
#include <stdlib.h>
#include <string.h>

/* Axes from the attribute (opset < 13) or the constant second input; false if not known. */
static bool get_axes(const oxrt_graph *g, const oxrt_node *n, int64_t opset, int64_t *axes, int *n_axes, bool *given) {
  *n_axes = 0;
  *given = false;
  if (opset < 13) {
    size_t c;
    const int64_t *a = oxrt_attr_ints(n, "axes", &c);
    if (!a) return true;
    if (c > OXRT_MAX_RANK) return false;
    memcpy(axes, a, sizeof(int64_t) * c);
    *n_axes = (int)c;
    *given = true;
    return true;
  }
  if (n->n_inputs < 2 || n->inputs[1] < 0) return true;
  const oxrt_value *t = opt_const(g, n->inputs[1]);
  if (!t || t->rank > 1 || t->count > OXRT_MAX_RANK || (t->dtype != OXRT_INT64 && t->dtype != OXRT_INT32)) return false;
  for (size_t k = 0; k < t->count; k++)
    axes[k] = t->dtype == OXRT_INT64 ? ((const int64_t *)t->data)[k] : ((const int32_t *)t->data)[k];
  *n_axes = (int)t->count;
  *given = true;
  return true;
}

/* New dims of the result; false when the node is invalid (left for the kernel to report). */
static bool new_shape(const char *op, const oxrt_value *x, const int64_t *axes, int n_axes, bool given, int64_t *dims,
                      int *rank) {
  bool mark[OXRT_MAX_RANK + 1] = {0};
  if (op[0] == 'U') {
    int r = x->rank + n_axes;
    if (!given || r > OXRT_MAX_RANK) return false;
    for (int k = 0; k < n_axes; k++) {
      int64_t a = axes[k] < 0 ? axes[k] + r : axes[k];
      if (a < 0 || a >= r || mark[a]) return false;
      mark[a] = true;
    }
    for (int i = 0, j = 0; i < r; i++) dims[i] = mark[i] ? 1 : x->dims[j++];
    *rank = r;
    return true;
  }
  for (int k = 0; k < n_axes; k++) {
    int64_t a = axes[k] < 0 ? axes[k] + x->rank : axes[k];
    if (a < 0 || a >= x->rank || mark[a] || x->dims[a] != 1) return false;
    mark[a] = true;
  }
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (given ? !mark[i] : x->dims[i] != 1) dims[r++] = x->dims[i];
  *rank = r;
  return true;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || (strcmp(n->op_type, "Squeeze") && strcmp(n->op_type, "Unsqueeze"))) continue;
    if (n->n_inputs < 1 || n->n_outputs != 1 || n->outputs[0] < 0) continue;
    const oxrt_value *x = opt_const(g, n->inputs[0]);
    if (!x) continue;
    int64_t axes[OXRT_MAX_RANK], dims[OXRT_MAX_RANK];
    int n_axes, rank;
    bool given;
    if (!get_axes(g, n, opt_node_opset(ctx->model, n), axes, &n_axes, &given)) continue;
    if (!new_shape(n->op_type, x, axes, n_axes, given, dims, &rank)) continue;
    oxrt_value *c;
    OXRT_TRY(oxrt_value_clone(x, &c));
    c->rank = rank;
    memcpy(c->dims, dims, sizeof(int64_t) * (size_t)rank);
    int y = n->outputs[0];
    g->values[y].init = c;
    g->values[y].producer = -1;
    n->op_type = NULL;
    *changed = true;
  }
  return NULL;
}

const oxrt_opt_pass oxrt_pass_fold_squeeze = {"fold_unsqueeze_squeeze", OXRT_OPT_BASIC, true, run,
                                              "Unsqueeze/Squeeze of constants become reshaped constants"};
