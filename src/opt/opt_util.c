/* opt_util.c - helpers shared by the optimisation passes: uses, constants, rewiring, kernel evaluation. */
#include "../exec/registry.h"
#include "opt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Marks values of `target` that `sub` (or its own subgraphs) reads from outside by name. */
static void mark_captures(const oxrt_graph *sub, const oxrt_graph *target, bool *pinned) {
  for (int i = 0; i < sub->n_values; i++) {
    if (!sub->values[i].is_outer) continue;
    int id = oxrt_graph_find((oxrt_graph *)target, sub->values[i].name);
    if (id >= 0) pinned[id] = true; /* conservative: an intermediate scope may shadow it */
  }
  for (int n = 0; n < sub->n_nodes; n++)
    for (int a = 0; a < sub->nodes[n].n_attrs; a++) {
      const oxrt_attr *at = &sub->nodes[n].attrs[a];
      if (at->g) mark_captures(at->g, target, pinned);
      for (size_t k = 0; at->graphs && k < at->n; k++) mark_captures(at->graphs[k], target, pinned);
    }
}

oxrt_status *opt_uses_build(const oxrt_graph *g, opt_uses *u) {
  u->count = calloc((size_t)g->n_values + 1, sizeof(int));
  u->pinned = calloc((size_t)g->n_values + 1, sizeof(bool));
  if (!u->count || !u->pinned) {
    opt_uses_free(u);
    return OXRT_OOM();
  }
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i].is_input || g->values[i].is_output || g->values[i].is_outer) u->pinned[i] = true;
  for (int i = 0; i < g->n_inputs; i++) u->pinned[g->inputs[i]] = true;
  for (int i = 0; i < g->n_outputs; i++) u->pinned[g->outputs[i]] = true;
  for (int n = 0; n < g->n_nodes; n++) {
    const oxrt_node *nd = &g->nodes[n];
    if (!nd->op_type) continue;
    for (int k = 0; k < nd->n_inputs; k++)
      if (nd->inputs[k] >= 0) u->count[nd->inputs[k]]++;
    for (int a = 0; a < nd->n_attrs; a++) {
      const oxrt_attr *at = &nd->attrs[a];
      if (at->g) mark_captures(at->g, g, u->pinned);
      for (size_t k = 0; at->graphs && k < at->n; k++) mark_captures(at->graphs[k], g, u->pinned);
    }
  }
  return NULL;
}

void opt_uses_free(opt_uses *u) {
  free(u->count);
  free(u->pinned);
  u->count = NULL;
  u->pinned = NULL;
}

const oxrt_value *opt_const(const oxrt_graph *g, int id) {
  if (id < 0 || id >= g->n_values) return NULL;
  const oxrt_value_def *d = &g->values[id];
  if (!d->init || d->is_input || d->is_outer || d->init->kind != OXRT_KIND_TENSOR) return NULL;
  return d->init;
}

oxrt_elem_type opt_elem_type(const oxrt_graph *g, int id) {
  if (id < 0 || id >= g->n_values) return OXRT_UNDEFINED;
  const oxrt_value_def *d = &g->values[id];
  if (d->init) return d->init->kind == OXRT_KIND_TENSOR ? d->init->dtype : OXRT_UNDEFINED;
  if (d->type && d->type->kind == OXRT_KIND_TENSOR) return d->type->elem_type;
  return OXRT_UNDEFINED;
}

int opt_shape(const oxrt_graph *g, int id, int64_t *dims) {
  if (id < 0 || id >= g->n_values) return -1;
  const oxrt_value_def *d = &g->values[id];
  if (d->init) {
    if (d->init->kind != OXRT_KIND_TENSOR) return -1;
    memcpy(dims, d->init->dims, sizeof(int64_t) * (size_t)d->init->rank);
    return d->init->rank;
  }
  const oxrt_type *t = d->type;
  if (!t || t->kind != OXRT_KIND_TENSOR || t->rank < 0 || t->rank > OXRT_MAX_RANK) return -1;
  for (int i = 0; i < t->rank; i++) dims[i] = t->dims ? t->dims[i] : -1;
  return t->rank;
}

int opt_shape_range(const oxrt_model *m, const oxrt_node *shape, int rank, int64_t *start, int64_t *end) {
  *start = 0, *end = rank;
  if (opt_node_opset(m, shape) >= 15) {
    int64_t s = oxrt_attr_int(shape, "start", 0), e = oxrt_attr_int(shape, "end", rank);
    s = s < 0 ? s + rank : s;
    e = e < 0 ? e + rank : e;
    *start = s < 0 ? 0 : s > rank ? rank : s;
    *end = e < 0 ? 0 : e > rank ? rank : e;
  }
  return *end > *start ? (int)(*end - *start) : 0;
}

int opt_shape_node_dims(const oxrt_model *m, const oxrt_graph *g, const oxrt_node *shape, int64_t *dims) {
  int64_t d[OXRT_MAX_RANK], start, end;
  int r = opt_shape(g, shape->inputs[0], d);
  if (r < 0) return -1;
  int n = opt_shape_range(m, shape, r, &start, &end);
  memcpy(dims, d + start, sizeof(int64_t) * (size_t)n);
  return n;
}

oxrt_node *opt_producer(oxrt_graph *g, int id) {
  if (id < 0 || id >= g->n_values) return NULL;
  int p = g->values[id].producer;
  if (p < 0 || p >= g->n_nodes || !g->nodes[p].op_type) return NULL;
  oxrt_node *n = &g->nodes[p];
  for (int k = 0; k < n->n_outputs; k++)
    if (n->outputs[k] == id) return n;
  return NULL; /* stale producer */
}

void opt_replace_uses(oxrt_graph *g, int from, int to) {
  for (int n = 0; n < g->n_nodes; n++) {
    oxrt_node *nd = &g->nodes[n];
    if (!nd->op_type) continue;
    for (int k = 0; k < nd->n_inputs; k++)
      if (nd->inputs[k] == from) nd->inputs[k] = to;
  }
}

static bool name_taken(oxrt_graph *g, const char *name) {
  for (oxrt_graph *p = g; p; p = p->parent)
    if (oxrt_graph_find(p, name) >= 0) return true;
  return false;
}

int opt_add_initializer(oxrt_opt_ctx *ctx, oxrt_graph *g, const char *base, oxrt_value *t) {
  char name[512];
  snprintf(name, sizeof name, "%s", base && *base ? base : "const");
  while (name_taken(g, name)) snprintf(name, sizeof name, "%s__%d", base && *base ? base : "const", ++ctx->counter);
  int id = oxrt_graph_intern(g, name);
  if (id < 0) {
    oxrt_value_free(t);
    return -1;
  }
  g->values[id].init = t;
  g->values[id].producer = -1;
  return id;
}

oxrt_status *opt_set_attr(oxrt_graph *g, oxrt_node *n, const oxrt_attr *at) {
  oxrt_attr *na = oxrt_arena_alloc(g->arena, sizeof(oxrt_attr) * (size_t)(n->n_attrs + 1));
  if (!na) return OXRT_OOM();
  int k = 0;
  for (int i = 0; i < n->n_attrs; i++)
    if (strcmp(n->attrs[i].name, at->name) != 0) na[k++] = n->attrs[i];
  na[k++] = *at;
  n->attrs = na;
  n->n_attrs = k;
  return NULL;
}

oxrt_status *opt_set_inputs(oxrt_graph *g, oxrt_node *nd, const int *ids, int n) {
  int *ni = oxrt_arena_alloc(g->arena, sizeof(int) * (size_t)(n + 1));
  if (!ni) return OXRT_OOM();
  memcpy(ni, ids, sizeof(int) * (size_t)n);
  nd->inputs = ni;
  nd->n_inputs = n;
  return NULL;
}

bool opt_has_subgraph(const oxrt_node *n) {
  for (int a = 0; a < n->n_attrs; a++)
    if (n->attrs[a].g || (n->attrs[a].graphs && n->attrs[a].n)) return true;
  return false;
}

bool opt_bypass(oxrt_graph *g, oxrt_node *n, int x, int y, opt_uses *u) {
  if (x < 0 || y < 0 || x == y) return false;
  if (!u->pinned[y]) {
    opt_replace_uses(g, y, x);
    u->count[x] += u->count[y] - 1;
    u->count[y] = 0;
    n->op_type = NULL;
    return true;
  }
  /* y's name must stay: let x's producer write y instead, if nothing else reads x */
  oxrt_node *p = opt_producer(g, x);
  if (!p || u->pinned[x] || u->count[x] != 1) return false;
  for (int k = 0; k < p->n_outputs; k++)
    if (p->outputs[k] == x) p->outputs[k] = y;
  g->values[y].producer = g->values[x].producer;
  g->values[x].producer = -1;
  u->count[x] = 0;
  n->op_type = NULL;
  return true;
}

int64_t opt_node_opset(const oxrt_model *m, const oxrt_node *n) { return oxrt_model_opset(m, n->domain); }

oxrt_status *opt_eval_node(const oxrt_model *m, const oxrt_node *n, const oxrt_value *const *ins, oxrt_value **outs) {
  int64_t opset = opt_node_opset(m, n);
  const oxrt_op_schema *sc = opset >= 0 ? oxrt_registry_find(n->domain, n->op_type) : NULL;
  const oxrt_op_impl *impl = sc ? oxrt_registry_resolve(sc, opset) : NULL;
  if (!impl) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "no kernel for %s", n->op_type);
  if (impl->type_mask && impl->type_input < n->n_inputs) {
    const oxrt_value *t = ins[impl->type_input];
    if (t && t->kind == OXRT_KIND_TENSOR && !(impl->type_mask & OXRT_TBIT(t->dtype)))
      return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "type not supported");
  }
  void *state = NULL;
  oxrt_prepare_ctx pc = oxrt_prepare_ctx_bare(n, (int)opset);
  if (impl->prepare) {
    oxrt_status *ps = impl->prepare(&pc, &state);
    if (ps) { /* a prepare that failed part-way may have set its state (the executor's plan frees it the same way) */
      if (state) {
        if (impl->release) impl->release(state);
        else free(state);
      }
      return ps;
    }
  }
  for (int k = 0; k < n->n_outputs; k++) outs[k] = NULL;
  oxrt_kernel_ctx kc = {n, (int)opset, state, n->n_inputs, n->n_outputs, ins, outs, NULL, NULL};
  oxrt_status *st = impl->run(&kc);
  if (state) {
    if (impl->release) impl->release(state);
    else free(state);
  }
  if (st)
    for (int k = 0; k < n->n_outputs; k++) {
      oxrt_value_free(outs[k]);
      outs[k] = NULL;
    }
  return st;
}

void opt_absorb_consumer(oxrt_graph *g, opt_uses *u, oxrt_node *p, oxrt_node *consumer, int mid) {
  int y = consumer->outputs[0];
  p->outputs[0] = y;
  g->values[y].producer = g->values[mid].producer;
  g->values[mid].producer = -1;
  if (u) u->count[mid] = 0;
  consumer->op_type = NULL;
}
