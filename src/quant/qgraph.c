/* qgraph.c - building blocks of the precision rewrites: fresh values, nodes, attributes and constants,
 * loading a model file, and the topological sort that runs before a rewritten model is saved. */
#include "../onnx/onnx_reader.h"
#include "../onnx/onnx_writer.h"
#include "quant.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_used(oxrt_graph *g, const char *name) {
  for (oxrt_graph *p = g; p; p = p->parent)
    if (oxrt_graph_find(p, name) >= 0) return true;
  return false;
}

int qg_new_value(qg_ctx *c, const char *base, const char *suffix) {
  char name[512];
  snprintf(name, sizeof name, "%s%s", base, suffix);
  while (name_used(c->g, name)) snprintf(name, sizeof name, "%s%s_%d", base, suffix, ++c->opt.counter);
  int id = oxrt_graph_intern(c->g, name);
  if (id >= 0) c->g->values[id].producer = -1;
  return id;
}

static int *arena_ids(oxrt_arena *a, const int *ids, int n) {
  int *p = oxrt_arena_alloc(a, sizeof(int) * (size_t)(n + 1));
  if (p && n) memcpy(p, ids, sizeof(int) * (size_t)n);
  return p;
}

int qg_add_node(qg_ctx *c, const char *op, const char *domain, const char *name, const int *ins, int n_in,
                const int *outs, int n_out) {
  oxrt_graph *g = c->g;
  int *pi = arena_ids(g->arena, ins, n_in), *po = arena_ids(g->arena, outs, n_out);
  char nm[512];
  snprintf(nm, sizeof nm, "%s_%d", name && *name ? name : op, ++c->opt.counter);
  char *nn = oxrt_arena_strndup(g->arena, nm, strlen(nm));
  if (!pi || !po || !nn) return -1;
  int idx = oxrt_graph_add_node(g);
  if (idx < 0) return -1;
  oxrt_node *n = &g->nodes[idx];
  n->op_type = op;
  n->domain = domain;
  n->name = nn;
  n->inputs = pi;
  n->n_inputs = n_in;
  n->outputs = po;
  n->n_outputs = n_out;
  for (int k = 0; k < n_out; k++)
    if (outs[k] >= 0) g->values[outs[k]].producer = idx;
  return idx;
}

oxrt_status *qg_attr_int(qg_ctx *c, int idx, const char *name, int64_t v) {
  oxrt_attr at = {0};
  at.name = name;
  at.type = OXRT_ATTR_INT;
  at.i = v;
  return opt_set_attr(c->g, &c->g->nodes[idx], &at);
}

oxrt_status *qg_attr_float(qg_ctx *c, int idx, const char *name, float v) {
  oxrt_attr at = {0};
  at.name = name;
  at.type = OXRT_ATTR_FLOAT;
  at.f = v;
  return opt_set_attr(c->g, &c->g->nodes[idx], &at);
}

oxrt_status *qg_attr_ints(qg_ctx *c, int idx, const char *name, const int64_t *v, size_t n) {
  oxrt_attr at = {0};
  at.name = name;
  at.type = OXRT_ATTR_INTS;
  at.n = n;
  at.ints = oxrt_arena_alloc(c->g->arena, sizeof(int64_t) * (n + 1));
  if (!at.ints) return OXRT_OOM();
  if (n) memcpy(at.ints, v, sizeof(int64_t) * n);
  return opt_set_attr(c->g, &c->g->nodes[idx], &at);
}

int qg_const_tensor(qg_ctx *c, const char *base, oxrt_value *t) { return opt_add_initializer(&c->opt, c->g, base, t); }

static int const_from(qg_ctx *c, const char *base, oxrt_elem_type t, const double *v, size_t n, int rank) {
  int64_t d = (int64_t)n;
  oxrt_value *x;
  oxrt_status *st = oxrt_tensor_new(t, rank, &d, &x);
  if (st) {
    oxrt_status_free(st);
    return -1;
  }
  for (size_t i = 0; i < n; i++) oxrt_store_f64(t, x->data, i, v[i]);
  return qg_const_tensor(c, base, x);
}

int qg_const_scalar(qg_ctx *c, const char *base, oxrt_elem_type t, double v) { return const_from(c, base, t, &v, 1, 0); }
int qg_const_vec(qg_ctx *c, const char *base, oxrt_elem_type t, const double *v, size_t n) {
  return const_from(c, base, t, v, n, 1);
}

bool qg_list_has(const char *list, const char *name) {
  if (!list || !name) return false;
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    while (len && *p == ' ') p++, len--;
    while (len && p[len - 1] == ' ') len--;
    if (len == n && !strncmp(p, name, n)) return true;
    if (!e) break;
    p = e + 1;
  }
  return false;
}

/* Depth-first: a node is placed after the producers of its inputs, nodes otherwise keep their order. */
typedef struct {
  oxrt_graph *g;
  char *state; /* 0 new, 1 on the stack, 2 placed */
  int *order, n;
} topo;

static bool visit(topo *t, int i) {
  if (t->state[i] == 2) return true;
  if (t->state[i] == 1) return false;
  t->state[i] = 1;
  const oxrt_node *nd = &t->g->nodes[i];
  for (int k = 0; k < nd->n_inputs; k++) {
    int v = nd->inputs[k];
    int p = v >= 0 ? t->g->values[v].producer : -1;
    if (p >= 0 && p < t->g->n_nodes && p != i && !visit(t, p)) return false;
  }
  t->state[i] = 2;
  t->order[t->n++] = i;
  return true;
}

oxrt_status *qg_topo_sort(oxrt_graph *g) {
  int n = 0; /* drop deleted nodes first */
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op_type) g->nodes[n++] = g->nodes[i];
  g->n_nodes = n;
  for (int i = 0; i < g->n_values; i++) g->values[i].producer = -1;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i].n_outputs; k++)
      if (g->nodes[i].outputs[k] >= 0) g->values[g->nodes[i].outputs[k]].producer = i;
  topo t = {g, calloc((size_t)n + 1, 1), malloc(sizeof(int) * ((size_t)n + 1)), 0};
  oxrt_node *copy = malloc(sizeof(oxrt_node) * ((size_t)n + 1));
  oxrt_status *st = NULL;
  if (!t.state || !t.order || !copy) st = OXRT_OOM();
  for (int i = 0; !st && i < n; i++)
    if (!visit(&t, i)) st = oxrt_error(OXRT_ERR_INVALID_MODEL, "graph has a cycle through node '%s'", g->nodes[i].name);
  if (!st) {
    memcpy(copy, g->nodes, sizeof(oxrt_node) * (size_t)n);
    for (int i = 0; i < n; i++) g->nodes[i] = copy[t.order[i]];
    for (int i = 0; i < n; i++)
      for (int k = 0; k < g->nodes[i].n_outputs; k++)
        if (g->nodes[i].outputs[k] >= 0) g->values[g->nodes[i].outputs[k]].producer = i;
  }
  free(t.state);
  free(t.order);
  free(copy);
  return st;
}


oxrt_status *qg_save(oxrt_model *m, const char *path) {
  uint64_t bytes = 0;
  for (int i = 0; i < m->graph->n_values; i++)
    if (m->graph->values[i].init) bytes += m->graph->values[i].init->nbytes;
  oxrt_write_options wo = {0};
  if (bytes > ((uint64_t)3 << 29)) wo.external_threshold = 1024; /* protobuf's 2 GiB limit */
  return oxrt_write_model(m, path, &wo);
}
