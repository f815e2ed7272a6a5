/* inline.c - expands calls to model-local functions (FunctionProto) into their body nodes. */
#include "engine.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const oxrt_function *find_function(const oxrt_model *m, const oxrt_node *n) {
  for (int i = 0; i < m->n_functions; i++)
    if (strcmp(m->functions[i].name, n->op_type) == 0 && strcmp(m->functions[i].domain, n->domain) == 0)
      return &m->functions[i];
  return NULL;
}

/* Gives an attribute copied out of a function its own tensors: the function body (or the
 * calling node) keeps owning the originals, and each is freed exactly once. */
static oxrt_status *own_tensors(oxrt_arena *a, oxrt_attr *d) {
  if (d->t) {
    oxrt_value *c;
    OXRT_TRY(oxrt_value_clone(d->t, &c));
    d->t = c;
  }
  if (d->tensors && d->n) {
    oxrt_value **arr = oxrt_arena_alloc(a, sizeof *arr * d->n);
    if (!arr) return OXRT_OOM();
    for (size_t k = 0; k < d->n; k++) {
      arr[k] = NULL;
      if (d->tensors[k]) OXRT_TRY(oxrt_value_clone(d->tensors[k], &arr[k]));
    }
    d->tensors = arr;
  }
  return NULL;
}

/* Attribute list of a body node with ref_attr_name resolved against the call. */
static oxrt_status *bind_attrs(oxrt_arena *a, const oxrt_function *fn, const oxrt_node *call, const oxrt_node *body,
                               oxrt_node *dst) {
  dst->attrs = oxrt_arena_alloc(a, sizeof(oxrt_attr) * (size_t)(body->n_attrs + 1));
  if (!dst->attrs) return OXRT_OOM();
  dst->n_attrs = 0;
  for (int i = 0; i < body->n_attrs; i++) {
    const oxrt_attr *at = &body->attrs[i];
    if (!at->ref_attr_name) {
      oxrt_attr *d = &dst->attrs[dst->n_attrs++];
      *d = *at;
      OXRT_TRY(own_tensors(a, d));
      continue;
    }
    const oxrt_attr *src = oxrt_node_attr(call, at->ref_attr_name);
    if (!src)
      for (int k = 0; k < fn->n_attr_defaults; k++)
        if (strcmp(fn->attr_defaults[k].name, at->ref_attr_name) == 0) src = &fn->attr_defaults[k];
    if (!src) continue; /* unset optional attribute */
    oxrt_attr b = *src;
    b.name = at->name;
    b.ref_attr_name = NULL;
    OXRT_TRY(own_tensors(a, &b));
    dst->attrs[dst->n_attrs++] = b;
  }
  return NULL;
}

static oxrt_status *inline_graph(oxrt_model *m, oxrt_graph *g, int depth, int *counter);

static oxrt_status *expand_call(oxrt_graph *g, const oxrt_node *call, const oxrt_function *fn,
                                oxrt_node **out_nodes, int *n_out, int *cap_out, int *counter) {
  oxrt_arena *a = g->arena;
  const oxrt_graph *body = fn->body;
  int *map = malloc(sizeof(int) * ((size_t)body->n_values + 1));
  if (!map) return OXRT_OOM();
  int call_id = (*counter)++;
  for (int v = 0; v < body->n_values; v++) {
    map[v] = -2;
    for (int k = 0; k < fn->n_inputs; k++)
      if (strcmp(fn->inputs[k], body->values[v].name) == 0) map[v] = k < call->n_inputs ? call->inputs[k] : -1;
    for (int k = 0; k < fn->n_outputs; k++)
      if (strcmp(fn->outputs[k], body->values[v].name) == 0) map[v] = k < call->n_outputs ? call->outputs[k] : -1;
    if (map[v] == -2) {
      char name[512];
      snprintf(name, sizeof name, "%s__%s_%d__%s", call->name, fn->name, call_id, body->values[v].name);
      map[v] = oxrt_graph_intern(g, name);
      if (map[v] < 0) {
        free(map);
        return OXRT_OOM();
      }
    }
  }
  for (int i = 0; i < body->n_nodes; i++) {
    const oxrt_node *bn = &body->nodes[i];
    if (*n_out == *cap_out) {
      int nc = *cap_out * 2 + 16;
      oxrt_node *nn = oxrt_arena_alloc(a, sizeof(oxrt_node) * (size_t)nc);
      if (!nn) {
        free(map);
        return OXRT_OOM();
      }
      if (*n_out) memcpy(nn, *out_nodes, sizeof(oxrt_node) * (size_t)*n_out);
      *out_nodes = nn;
      *cap_out = nc;
    }
    oxrt_node *dn = &(*out_nodes)[(*n_out)++];
    *dn = *bn;
    char name[512];
    snprintf(name, sizeof name, "%s/%s", call->name, bn->name);
    dn->name = oxrt_arena_strndup(a, name, strlen(name));
    dn->inputs = oxrt_arena_alloc(a, sizeof(int) * (size_t)(bn->n_inputs + 1));
    dn->outputs = oxrt_arena_alloc(a, sizeof(int) * (size_t)(bn->n_outputs + 1));
    if (!dn->name || !dn->inputs || !dn->outputs) {
      free(map);
      return OXRT_OOM();
    }
    for (int k = 0; k < bn->n_inputs; k++) dn->inputs[k] = bn->inputs[k] >= 0 ? map[bn->inputs[k]] : -1;
    for (int k = 0; k < bn->n_outputs; k++) dn->outputs[k] = bn->outputs[k] >= 0 ? map[bn->outputs[k]] : -1;
    oxrt_status *st = bind_attrs(a, fn, call, bn, dn);
    if (st) {
      free(map);
      return st;
    }
  }
  free(map);
  return NULL;
}

static oxrt_status *inline_graph(oxrt_model *m, oxrt_graph *g, int depth, int *counter) {
  if (depth > 32) return oxrt_error(OXRT_ERR_INVALID_MODEL, "functions call each other more than 32 levels deep");
  bool any = false;
  for (int i = 0; i < g->n_nodes && !any; i++) any = find_function(m, &g->nodes[i]) != NULL;
  if (any) {
    oxrt_node *nodes = NULL;
    int n = 0, cap = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      const oxrt_function *fn = find_function(m, &g->nodes[i]);
      if (!fn) {
        if (n == cap) {
          int nc = cap * 2 + 16;
          oxrt_node *nn = oxrt_arena_alloc(g->arena, sizeof(oxrt_node) * (size_t)nc);
          if (!nn) return OXRT_OOM();
          if (n) memcpy(nn, nodes, sizeof(oxrt_node) * (size_t)n);
          nodes = nn;
          cap = nc;
        }
        nodes[n++] = g->nodes[i];
      } else {
        OXRT_TRY(expand_call(g, &g->nodes[i], fn, &nodes, &n, &cap, counter));
      }
    }
    g->nodes = nodes;
    g->n_nodes = g->cap_nodes = n;
    g->cap_nodes = cap;
    for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
      for (int k = 0; k < g->nodes[i].n_outputs; k++)
        if (g->nodes[i].outputs[k] >= 0) g->values[g->nodes[i].outputs[k]].producer = i;
    return inline_graph(m, g, depth + 1, counter); /* bodies may call functions too */
  }
  for (int i = 0; i < g->n_nodes; i++)
    for (int a = 0; a < g->nodes[i].n_attrs; a++) {
      oxrt_attr *at = &g->nodes[i].attrs[a];
      if (at->g) OXRT_TRY(inline_graph(m, at->g, depth, counter));
      for (size_t k = 0; at->graphs && k < at->n; k++) OXRT_TRY(inline_graph(m, at->graphs[k], depth, counter));
    }
  return NULL;
}

oxrt_status *oxrt_inline_functions(oxrt_model *m) {
  if (!m->n_functions) return NULL;
  int counter = 0;
  return inline_graph(m, m->graph, 0, &counter);
}
