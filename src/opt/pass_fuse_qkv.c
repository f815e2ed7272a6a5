/* pass_fuse_qkv.c - three MatMuls of one input by constant weights of one shape (attention's query, key and
 * value projections) become one MatMul by the weights concatenated on their last axis and a Split into the
 * three original outputs (onnxoptimizer's fuse_qkv). The input must have exactly these three readers, each
 * reading it as input 0; the weights must have rank >= 2 (a vector weight drops the last axis) and one element
 * type. Where onnxoptimizer adds a Concat node, the concatenated weight is written as an initializer; the Split
 * is given its sizes as an input from opset 13, as an attribute before.
 */
#include "opt.h"
#include <stdio.h>
#include <string.h>

/* Index of a free node slot right after node `pos`: appends one and shifts the tail (node order stays
 * topological); producers are recomputed. Returns -1 on OOM. Pointers into g->nodes are invalidated. */
static int insert_after(oxrt_graph *g, int pos) {
  int id = oxrt_graph_add_node(g);
  if (id < 0) return -1;
  oxrt_node fresh = g->nodes[id];
  memmove(&g->nodes[pos + 2], &g->nodes[pos + 1], sizeof(oxrt_node) * (size_t)(id - pos - 1));
  g->nodes[pos + 1] = fresh;
  for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int o = 0; g->nodes[i].op_type && o < g->nodes[i].n_outputs; o++)
      if (g->nodes[i].outputs[o] >= 0) g->values[g->nodes[i].outputs[o]].producer = i;
  return pos + 1;
}

/* A new value (no initializer) named after `base`, unique in this graph and the enclosing ones; -1 on OOM. */
static int unique_value(oxrt_opt_ctx *ctx, oxrt_graph *g, const char *base) {
  char name[512];
  snprintf(name, sizeof name, "%s_qkv_out", base);
  for (;;) {
    bool taken = false;
    for (oxrt_graph *p = g; p && !taken; p = p->parent) taken = oxrt_graph_find(p, name) >= 0;
    if (!taken) break;
    snprintf(name, sizeof name, "%s_qkv_out__%d", base, ++ctx->counter);
  }
  int id = oxrt_graph_intern(g, name);
  if (id >= 0) g->values[id].producer = -1;
  return id;
}

/* Concatenates three constants of equal shape on their last axis into a new tensor. */
static oxrt_status *concat_last(const oxrt_value *const w[3], oxrt_value **out) {
  int r = w[0]->rank;
  int64_t dims[OXRT_MAX_RANK];
  memcpy(dims, w[0]->dims, sizeof(int64_t) * (size_t)r);
  dims[r - 1] *= 3;
  OXRT_TRY(oxrt_tensor_new(w[0]->dtype, r, dims, out));
  size_t row = w[0]->count && w[0]->dims[r - 1] ? w[0]->nbytes / w[0]->count * (size_t)w[0]->dims[r - 1] : 0;
  size_t rows = row ? w[0]->nbytes / row : 0;
  char *dst = (*out)->data;
  for (size_t i = 0; i < rows; i++)
    for (int k = 0; k < 3; k++, dst += row) memcpy(dst, (const char *)w[k]->data + i * row, row);
  return NULL;
}

/* The three MatMul readers of value x (positions in g->nodes, ascending) with their weights, or false. */
static bool find_qkv(oxrt_graph *g, const opt_uses *u, int x, int pos[3], const oxrt_value *w[3]) {
  if (u->count[x] != 3) return false;
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const oxrt_node *m = &g->nodes[i];
    if (!m->op_type) continue;
    bool reads = false;
    for (int k = 0; k < m->n_inputs; k++) reads |= m->inputs[k] == x;
    if (!reads) continue;
    if (n == 3 || *m->domain || strcmp(m->op_type, "MatMul") || m->n_inputs != 2 || m->inputs[0] != x ||
        m->inputs[1] == x || m->n_outputs != 1 || m->outputs[0] < 0)
      return false;
    const oxrt_value *c = opt_const(g, m->inputs[1]);
    if (!c || c->rank < 2 || c->dtype == OXRT_STRING) return false;
    pos[n] = i;
    w[n++] = c;
  }
  if (n != 3) return false;
  for (int k = 1; k < 3; k++)
    if (w[k]->dtype != w[0]->dtype || w[k]->rank != w[0]->rank ||
        memcmp(w[k]->dims, w[0]->dims, sizeof(int64_t) * (size_t)w[0]->rank))
      return false;
  return true;
}

static oxrt_status *fuse(oxrt_opt_ctx *ctx, oxrt_graph *g, int pos[3], const oxrt_value *const w[3]) {
  oxrt_value *cat;
  OXRT_TRY(concat_last(w, &cat));
  int outs[3];
  for (int k = 0; k < 3; k++) outs[k] = g->nodes[pos[k]].outputs[0];
  char base[256];
  snprintf(base, sizeof base, "%s_qkv", g->values[outs[0]].name);
  int wid = opt_add_initializer(ctx, g, base, cat);
  int mid = wid < 0 ? -1 : unique_value(ctx, g, g->values[outs[0]].name);
  int64_t three = 3, n = w[0]->dims[w[0]->rank - 1];
  bool split_input = opt_node_opset(ctx->model, &g->nodes[pos[0]]) >= 13;
  int sid = -1;
  if (split_input && mid >= 0) {
    oxrt_value *sizes;
    OXRT_TRY(oxrt_tensor_new(OXRT_INT64, 1, &three, &sizes));
    for (int k = 0; k < 3; k++) ((int64_t *)sizes->data)[k] = n;
    snprintf(base, sizeof base, "%s_qkv_split", g->values[outs[0]].name);
    sid = opt_add_initializer(ctx, g, base, sizes);
  }
  if (wid < 0 || mid < 0 || (split_input && sid < 0)) return OXRT_OOM();
  /* the first MatMul becomes the fused one; the Split goes right after it; the other two are deleted */
  oxrt_node *mm = &g->nodes[pos[0]];
  mm->inputs[1] = wid;
  mm->outputs[0] = mid;
  g->nodes[pos[1]].op_type = NULL;
  g->nodes[pos[2]].op_type = NULL;
  int at = insert_after(g, pos[0]);
  if (at < 0) return OXRT_OOM();
  oxrt_node *sp = &g->nodes[at];
  sp->op_type = "Split";
  sp->domain = "";
  sp->name = oxrt_arena_strndup(g->arena, base, strlen(base));
  sp->outputs = oxrt_arena_alloc(g->arena, sizeof(int) * 3);
  int ins[2] = {mid, sid};
  if (!sp->name || !sp->outputs) return OXRT_OOM();
  memcpy(sp->outputs, outs, sizeof outs);
  sp->n_outputs = 3;
  OXRT_TRY(opt_set_inputs(g, sp, ins, split_input ? 2 : 1));
  oxrt_attr axis = {.name = "axis", .type = OXRT_ATTR_INT, .i = -1};
  OXRT_TRY(opt_set_attr(g, sp, &axis));
  if (!split_input) {
    int64_t *s = oxrt_arena_alloc(g->arena, sizeof(int64_t) * 3);
    if (!s) return OXRT_OOM();
    s[0] = s[1] = s[2] = n;
    oxrt_attr split = {.name = "split", .type = OXRT_ATTR_INTS, .n = 3, .ints = s};
    OXRT_TRY(opt_set_attr(g, sp, &split));
  }
  g->values[mid].producer = pos[0];
  return NULL;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || strcmp(n->op_type, "MatMul") || n->n_inputs != 2 || n->inputs[0] < 0) continue;
    int pos[3];
    const oxrt_value *w[3];
    if (!find_qkv(g, &u, n->inputs[0], pos, w) || pos[0] != i) continue;
    st = fuse(ctx, g, pos, w);
    *changed = true;
    opt_uses_free(&u); /* the graph has new values and nodes */
    if (!st) st = opt_uses_build(g, &u);
    if (st) return st;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_qkv = {"fuse_qkv", OXRT_OPT_ALL, true, run,
                                          "three MatMuls of one input by equal-shaped constants into one and a Split"};
