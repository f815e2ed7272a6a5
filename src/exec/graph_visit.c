/* graph_visit.c - oxrt_session_visit_graph: the loaded graph, node by node, for tools that draw or list it. */
#include "engine.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  oxrt_graph_visit_fn fn;
  void *user;
} visit;

/* "float32[1,3,H,?]" into buf; "" when nothing is known. */
static const char *type_text(const oxrt_value_def *d, char *buf, size_t cap) {
  buf[0] = 0;
  const oxrt_value *init = d->init;
  if (init && init->kind == OXRT_KIND_TENSOR) {
    size_t n = (size_t)snprintf(buf, cap, "%s[", oxrt_elem_type_name(init->dtype));
    for (int i = 0; i < init->rank && n < cap; i++) n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)init->dims[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
  }
  const oxrt_type *t = d->type;
  if (!t || t->kind == OXRT_KIND_UNKNOWN) return buf;
  if (t->kind != OXRT_KIND_TENSOR) return oxrt_type_string(t, buf, cap);
  size_t n = (size_t)snprintf(buf, cap, "%s", oxrt_elem_type_name(t->elem_type));
  if (t->rank < 0 || n >= cap) return buf;
  n += (size_t)snprintf(buf + n, cap - n, "[");
  for (int i = 0; i < t->rank && n < cap; i++) {
    const char *sep = i ? "," : "";
    if (t->dims && t->dims[i] >= 0) n += (size_t)snprintf(buf + n, cap - n, "%s%lld", sep, (long long)t->dims[i]);
    else if (t->dim_params && t->dim_params[i]) n += (size_t)snprintf(buf + n, cap - n, "%s%s", sep, t->dim_params[i]);
    else n += (size_t)snprintf(buf + n, cap - n, "%s?", sep);
  }
  if (n < cap) snprintf(buf + n, cap - n, "]");
  return buf;
}

/* Value definition of `name` as seen from graph g (its own, or captured from an enclosing graph). */
static const oxrt_value_def *lookup(const oxrt_graph *g, int id) {
  const oxrt_value_def *d = &g->values[id];
  for (const oxrt_graph *p = g->parent; d->is_outer && p; p = p->parent) {
    int o = oxrt_graph_find((oxrt_graph *)p, d->name);
    if (o >= 0) d = &p->values[o];
  }
  return d;
}

static oxrt_status *walk(const oxrt_graph *g, int depth, visit *v, bool *stop);

/* Fills the view's arrays for node n and calls back; then walks its subgraphs. */
static oxrt_status *node(const oxrt_graph *g, const oxrt_node *n, int depth, visit *v, bool *stop) {
  size_t ni = (size_t)n->n_inputs, no = (size_t)n->n_outputs, k = ni + no;
  const char **names = calloc(k + 1, sizeof *names), **types = calloc(k + 1, sizeof *types);
  char *text = calloc(k + 1, 256);
  unsigned char *is_const = calloc(ni + 1, 1);
  oxrt_status *st = NULL;
  if (!names || !types || !text || !is_const) st = OXRT_OOM();
  for (size_t i = 0; !st && i < k; i++) {
    int id = i < ni ? n->inputs[i] : n->outputs[i - ni];
    names[i] = "";
    types[i] = "";
    if (id < 0) continue;
    const oxrt_value_def *d = lookup(g, id);
    names[i] = d->name;
    types[i] = type_text(d, text + 256 * i, 256);
    if (i < ni) is_const[i] = d->init != NULL && !d->is_input;
  }
  if (!st) {
    oxrt_node_view view = {n->name ? n->name : "", n->op_type, n->domain, ni, no, names, names + ni, types,
                           types + ni, is_const, depth};
    if (v->fn(v->user, OXRT_VISIT_NODE, &view, NULL)) *stop = true;
    for (int a = 0; !st && !*stop && a < n->n_attrs; a++) {
      const oxrt_attr *at = &n->attrs[a];
      size_t count = at->g ? 1 : at->graphs ? at->n : 0;
      for (size_t j = 0; !st && !*stop && j < count; j++) {
        if (v->fn(v->user, OXRT_VISIT_SUBGRAPH_BEGIN, &view, at->name)) *stop = true;
        if (!*stop) st = walk(at->g ? at->g : at->graphs[j], depth + 1, v, stop);
        if (!st && !*stop && v->fn(v->user, OXRT_VISIT_SUBGRAPH_END, &view, at->name)) *stop = true;
      }
    }
  }
  free(names);
  free(types);
  free(text);
  free(is_const);
  return st;
}

static oxrt_status *walk(const oxrt_graph *g, int depth, visit *v, bool *stop) {
  for (int i = 0; i < g->n_nodes && !*stop; i++)
    if (g->nodes[i].op_type) OXRT_TRY(node(g, &g->nodes[i], depth, v, stop));
  return NULL;
}

oxrt_status *oxrt_session_visit_graph(const oxrt_session *s, oxrt_graph_visit_fn fn, void *user) {
  if (!s || !fn) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "session and callback must be given");
  if (!s->model || !s->model->graph) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "the session holds no graph");
  visit v = {fn, user};
  bool stop = false;
  return walk(s->model->graph, 0, &v, &stop);
}
