/* pass_eliminate_if_with_const_cond.c - an If whose condition is a constant (an initializer or a Constant node's
 * value) is replaced by the nodes of the branch it always takes (onnxoptimizer's eliminate_if_with_const_cond).
 * The branch's nodes move into the enclosing graph in place of the If, keeping their names; values the branch
 * read from outside resolve to the same names there. A branch output produced by a branch node is written under
 * the If's output name directly; one that is not (an outer value, a branch initializer, an output listed twice)
 * or any output of a branch holding subgraphs (they may read branch values by name) goes through an Identity.
 * Left alone: branches whose names collide with the enclosing scopes, branches with inputs, Ifs whose output count
 * differs from the branch's, and branches shared with a model-local function's body (the function owns them).
 */
#include "opt.h"
#include <string.h>

static bool cond_value(oxrt_graph *g, int id, bool *cond) {
  const oxrt_value *t = opt_const(g, id);
  const oxrt_node *p = t ? NULL : opt_producer(g, id);
  if (p && !*p->domain && !strcmp(p->op_type, "Constant")) {
    const oxrt_attr *a = oxrt_node_attr(p, "value");
    t = a ? a->t : NULL;
  }
  if (!t || t->kind != OXRT_KIND_TENSOR || t->count != 1 || t->dtype != OXRT_BOOL || !t->data) return false;
  *cond = ((const uint8_t *)t->data)[0] != 0;
  return true;
}

static bool name_visible(oxrt_graph *g, const char *name) {
  for (oxrt_graph *p = g; p; p = p->parent)
    if (oxrt_graph_find(p, name) >= 0) return true;
  return false;
}

static bool shared_with_function(const oxrt_model *m, const oxrt_graph *b) {
  for (int f = 0; f < m->n_functions; f++) {
    const oxrt_graph *body = m->functions[f].body;
    for (int i = 0; body && i < body->n_nodes; i++)
      for (int a = 0; a < body->nodes[i].n_attrs; a++) {
        const oxrt_attr *at = &body->nodes[i].attrs[a];
        if (at->g == b) return true;
        for (size_t k = 0; at->graphs && k < at->n; k++)
          if (at->graphs[k] == b) return true;
      }
  }
  return false;
}

/* The branch can be inlined: no inputs, as many outputs as the If, no name of its own visible outside. */
static bool inlinable(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n, const oxrt_graph *b) {
  if (!b || b->n_inputs || b->n_outputs != n->n_outputs || shared_with_function(ctx->model, b)) return false;
  for (int v = 0; v < b->n_values; v++)
    if (!b->values[v].is_outer && name_visible(g, b->values[v].name)) return false;
  return true;
}

/* Node slots: moves the tail of g->nodes so that `extra` free slots follow `pos`; -1 on OOM. */
static int open_slots(oxrt_graph *g, int pos, int extra) {
  int old = g->n_nodes;
  for (int k = 0; k < extra; k++)
    if (oxrt_graph_add_node(g) < 0) return -1;
  memmove(&g->nodes[pos + 1 + extra], &g->nodes[pos + 1], sizeof(oxrt_node) * (size_t)(old - pos - 1));
  for (int k = 0; k < extra; k++) {
    memset(&g->nodes[pos + 1 + k], 0, sizeof(oxrt_node));
    g->nodes[pos + 1 + k].name = g->nodes[pos + 1 + k].op_type = g->nodes[pos + 1 + k].domain = "";
  }
  return 0;
}

static oxrt_status *inline_branch(oxrt_graph *g, int pos, oxrt_graph *b) {
  int n_out = g->nodes[pos].n_outputs, *if_outs = g->nodes[pos].outputs; /* arena arrays: stay valid */
  /* map[v]: the enclosing graph's value for branch value v */
  int *map = oxrt_arena_alloc(g->arena, sizeof(int) * (size_t)(b->n_values + 1));
  if (!map) return OXRT_OOM();
  bool nested = false;
  for (int i = 0; i < b->n_nodes; i++) nested |= b->nodes[i].op_type && opt_has_subgraph(&b->nodes[i]);
  for (int v = 0; v < b->n_values; v++) map[v] = -1;
  /* outputs written straight under the If's names: produced by a branch node, listed once */
  for (int k = 0; k < n_out && !nested; k++) {
    int o = b->outputs[k];
    if (if_outs[k] < 0 || b->values[o].producer < 0 || map[o] >= 0) continue;
    map[o] = if_outs[k];
  }
  for (int v = 0; v < b->n_values; v++) {
    if (map[v] >= 0) continue;
    const oxrt_value_def *d = &b->values[v];
    int id = oxrt_graph_find(g, d->name);
    if (id < 0) {
      if ((id = oxrt_graph_intern(g, d->name)) < 0) return OXRT_OOM();
      g->values[id].is_outer = d->is_outer;
      if (!d->is_outer) g->values[id].type = d->type;
    }
    if (!d->is_outer && d->init) { /* moved: the branch is not shared (inlinable) */
      g->values[id].init = d->init;
      g->values[id].producer = -1;
      b->values[v].init = NULL;
    }
    map[v] = id;
  }
  int live = 0;
  for (int i = 0; i < b->n_nodes; i++) live += b->nodes[i].op_type != NULL;
  int idents = 0;
  for (int k = 0; k < n_out; k++) idents += if_outs[k] >= 0 && map[b->outputs[k]] != if_outs[k];
  /* the nodes follow the If, which is deleted (the manager then frees its attributes: the other branch) */
  int need = live + idents;
  if (need > 0 && open_slots(g, pos, need) < 0) return OXRT_OOM();
  g->nodes[pos].op_type = NULL;
  int at = pos + 1;
  for (int i = 0; i < b->n_nodes; i++) {
    const oxrt_node *s = &b->nodes[i];
    if (!s->op_type) continue;
    oxrt_node *d = &g->nodes[at++];
    *d = *s;
    d->inputs = oxrt_arena_alloc(g->arena, sizeof(int) * (size_t)(s->n_inputs + 1));
    d->outputs = oxrt_arena_alloc(g->arena, sizeof(int) * (size_t)(s->n_outputs + 1));
    if (!d->inputs || !d->outputs) return OXRT_OOM();
    for (int k = 0; k < s->n_inputs; k++) d->inputs[k] = s->inputs[k] >= 0 ? map[s->inputs[k]] : -1;
    for (int k = 0; k < s->n_outputs; k++) d->outputs[k] = s->outputs[k] >= 0 ? map[s->outputs[k]] : -1;
    for (int a = 0; a < d->n_attrs; a++) { /* nested subgraphs now hang below g */
      if (d->attrs[a].g) d->attrs[a].g->parent = g;
      for (size_t k = 0; d->attrs[a].graphs && k < d->attrs[a].n; k++) d->attrs[a].graphs[k]->parent = g;
    }
  }
  for (int k = 0; k < n_out; k++) {
    int src = map[b->outputs[k]];
    if (if_outs[k] < 0 || src == if_outs[k]) continue;
    oxrt_node *d = &g->nodes[at++];
    d->op_type = "Identity";
    d->domain = "";
    d->name = g->values[if_outs[k]].name;
    OXRT_TRY(opt_set_inputs(g, d, &src, 1));
    d->outputs = oxrt_arena_alloc(g->arena, sizeof(int));
    if (!d->outputs) return OXRT_OOM();
    d->outputs[0] = if_outs[k];
    d->n_outputs = 1;
  }
  /* the moved nodes (and their attributes) belong to g now: the branch, freed with the If, keeps none */
  b->n_nodes = 0;
  return NULL;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    bool cond;
    if (!n->op_type || *n->domain || strcmp(n->op_type, "If") || n->n_inputs != 1 || n->inputs[0] < 0 ||
        !cond_value(g, n->inputs[0], &cond))
      continue;
    const oxrt_attr *a = oxrt_node_attr(n, cond ? "then_branch" : "else_branch");
    oxrt_graph *b = a ? a->g : NULL;
    if (!inlinable(ctx, g, n, b)) continue;
    int added = g->n_nodes;
    OXRT_TRY(inline_branch(g, i, b));
    *changed = true;
    i += g->n_nodes - added; /* past the inlined nodes (their own Ifs wait for the next round) */
  }
  return NULL;
}

const oxrt_opt_pass oxrt_pass_eliminate_if_with_const_cond = {
    "eliminate_if_with_const_cond", OXRT_OPT_ALL, true, run,
    "If with a constant condition replaced by the nodes of the branch it takes"};
