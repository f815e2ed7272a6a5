/* pass_fuse_consecutive_slices.c - Slice(Slice(x, s2, e2, a2, p2), s1, e1, a1, p1) on disjoint axes becomes one
 * Slice(x, s2|s1, e2|e1, a2|a1, p2|p1) (onnxoptimizer's fuse_consecutive_slices; slices of different axes
 * commute). Opset 10 and later (inputs, not attributes), every starts/ends/axes/steps a constant (absent axes
 * mean 0..n-1, absent steps 1), axes compared after normalising negative ones by the rank. Where onnxoptimizer
 * wires four Concat nodes, the merged lists are written as int64 initializers. The inner Slice must have no other
 * reader.
 */
#include "opt.h"
#include <stdio.h>
#include <string.h>

typedef struct slice_args {
  int n;
  int64_t v[4][OXRT_MAX_RANK]; /* starts, ends, axes, steps */
} slice_args;

static bool const_list(oxrt_graph *g, int id, int64_t *out, int *n) {
  const oxrt_value *t = opt_const(g, id);
  if (!t || t->rank != 1 || t->count > OXRT_MAX_RANK) return false;
  for (size_t k = 0; k < t->count; k++) {
    if (t->dtype == OXRT_INT64) out[k] = ((const int64_t *)t->data)[k];
    else if (t->dtype == OXRT_INT32) out[k] = ((const int32_t *)t->data)[k];
    else return false;
  }
  *n = (int)t->count;
  return true;
}

/* The Slice's four lists, axes normalised by `rank` (-1: unknown, then negative axes refuse). */
static bool read_args(oxrt_graph *g, const oxrt_node *s, int rank, slice_args *a) {
  if (s->n_inputs < 3 || s->n_inputs > 5 || s->n_outputs != 1 || s->outputs[0] < 0) return false;
  int n[4];
  if (!const_list(g, s->inputs[1], a->v[0], &n[0]) || !const_list(g, s->inputs[2], a->v[1], &n[1]) || n[0] != n[1])
    return false;
  a->n = n[0];
  for (int j = 2; j < 4; j++) {
    bool given = s->n_inputs > j + 1 && s->inputs[j + 1] >= 0;
    if (given && (!const_list(g, s->inputs[j + 1], a->v[j], &n[j]) || n[j] != a->n)) return false;
    for (int k = 0; !given && k < a->n; k++) a->v[j][k] = j == 2 ? k : 1;
  }
  for (int k = 0; k < a->n; k++) {
    int64_t ax = a->v[2][k];
    if (ax < 0 && rank < 0) return false;
    if (ax < 0) a->v[2][k] = ax + rank;
  }
  return true;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *outer = &g->nodes[i];
    if (!outer->op_type || *outer->domain || strcmp(outer->op_type, "Slice") || outer->n_inputs < 3 ||
        opt_node_opset(ctx->model, outer) < 10)
      continue;
    oxrt_node *inner = opt_sole_producer(g, &u, outer->inputs[0]);
    if (!inner || *inner->domain || strcmp(inner->op_type, "Slice") || inner->inputs[0] < 0) continue;
    int64_t d[OXRT_MAX_RANK];
    int rank = opt_shape(g, inner->inputs[0], d);
    slice_args a, b;
    if (!read_args(g, inner, rank, &a) || !read_args(g, outer, rank, &b) || a.n + b.n > OXRT_MAX_RANK) continue;
    bool disjoint = true;
    for (int x = 0; x < a.n; x++)
      for (int y = 0; y < b.n; y++) disjoint &= a.v[2][x] != b.v[2][y];
    if (!disjoint) continue;
    static const char *const what[4] = {"starts", "ends", "axes", "steps"};
    int ids[5] = {inner->inputs[0]};
    int64_t len = a.n + b.n;
    for (int j = 0; j < 4 && !st; j++) {
      oxrt_value *t;
      if ((st = oxrt_tensor_new(OXRT_INT64, 1, &len, &t))) break;
      memcpy(t->data, a.v[j], sizeof(int64_t) * (size_t)a.n);
      memcpy((int64_t *)t->data + a.n, b.v[j], sizeof(int64_t) * (size_t)b.n);
      char base[256];
      snprintf(base, sizeof base, "%s_%s", g->values[outer->outputs[0]].name, what[j]);
      if ((ids[j + 1] = opt_add_initializer(ctx, g, base, t)) < 0) st = OXRT_OOM();
    }
    if (st) break;
    for (int k = 0; k < outer->n_inputs; k++)
      if (outer->inputs[k] >= 0) u.count[outer->inputs[k]]--;
    for (int k = 1; k < inner->n_inputs; k++)
      if (inner->inputs[k] >= 0) u.count[inner->inputs[k]]--;
    if ((st = opt_set_inputs(g, outer, ids, 5))) break;
    inner->op_type = NULL;
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_consecutive_slices = {"fuse_consecutive_slices", OXRT_OPT_ALL, true, run,
                                                         "two Slices on disjoint axes into one"};
