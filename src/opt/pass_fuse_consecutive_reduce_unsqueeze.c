/* pass_fuse_consecutive_reduce_unsqueeze.c - Unsqueeze(ReduceX(x, axes A, keepdims=0), axes A) ->
 * ReduceX(x, axes A, keepdims=1) (onnxoptimizer's fuse_consecutive_reduce_unsqueeze). Both axis lists must be
 * constant and the same set once normalised by x's rank (the Unsqueeze's output has x's rank). The Reduce must have
 * no other reader; a Reduce without axes (over everything) is left alone.
 */
#include "opt.h"
#include <stdlib.h>
#include <string.h>

static const char *const reduce_ops[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                         "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
                                         NULL};

/* Sorted normalised axes of node n (attribute below `input_from`, else constant input 1) into a; count or -1. */
static int axes_of(const oxrt_graph *g, const oxrt_node *n, int64_t opset, int64_t input_from, int rank, int64_t *a) {
  const int64_t *v;
  size_t c;
  if (opset < input_from) {
    v = oxrt_attr_ints(n, "axes", &c);
  } else {
    const oxrt_value *t = n->n_inputs > 1 && n->inputs[1] >= 0 ? opt_const(g, n->inputs[1]) : NULL;
    if (!t || t->dtype != OXRT_INT64 || t->rank != 1) return -1;
    v = t->data;
    c = t->count;
  }
  if (!v || !c || c > OXRT_MAX_RANK) return -1;
  for (size_t i = 0; i < c; i++) {
    if (v[i] < 0 && rank < 0) return -1;
    a[i] = v[i] < 0 ? v[i] + rank : v[i];
    if (a[i] < 0 || (rank >= 0 && a[i] >= rank)) return -1;
    for (size_t j = i; j > 0 && a[j - 1] > a[j]; j--) { /* insertion sort: a handful of axes */
      int64_t t = a[j];
      a[j] = a[j - 1];
      a[j - 1] = t;
    }
  }
  return (int)c;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *un = &g->nodes[i];
    if (!un->op_type || *un->domain || strcmp(un->op_type, "Unsqueeze") || un->inputs[0] < 0 || un->outputs[0] < 0)
      continue;
    int mid = un->inputs[0];
    oxrt_node *red = opt_sole_producer(g, &u, mid);
    bool is_reduce = false;
    for (const char *const *p = reduce_ops; red && *p && !is_reduce; p++) is_reduce = !*red->domain && !strcmp(red->op_type, *p);
    if (!is_reduce || red->inputs[0] < 0 || oxrt_attr_int(red, "keepdims", 1) != 0) continue;
    int64_t d[OXRT_MAX_RANK], a[OXRT_MAX_RANK], b[OXRT_MAX_RANK];
    int r = opt_shape(g, red->inputs[0], d);
    int64_t ropset = opt_node_opset(ctx->model, red);
    int na = axes_of(g, red, ropset, strcmp(red->op_type, "ReduceSum") ? 18 : 13, r, a);
    int nb = axes_of(g, un, opt_node_opset(ctx->model, un), 13, r, b);
    if (na < 0 || na != nb || memcmp(a, b, sizeof(int64_t) * (size_t)na)) continue;
    oxrt_attr keep = {.name = "keepdims", .type = OXRT_ATTR_INT, .i = 1};
    if ((st = opt_set_attr(g, red, &keep))) break;
    if (un->n_inputs > 1 && un->inputs[1] >= 0) u.count[un->inputs[1]]--;
    opt_absorb_consumer(g, &u, red, un, mid);
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_consecutive_reduce_unsqueeze = {
    "fuse_consecutive_reduce_unsqueeze", OXRT_OPT_ALL, true, run, "Unsqueeze of a keepdims=0 Reduce into keepdims=1"};
