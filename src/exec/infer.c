/* infer.c - the walker of static type and shape inference.
 *
 * Walks a graph in execution order and asks each node's schema for its `infer` hook (kernel.h): the rules live
 * with the operators and in src/ops/infer_rules.c, none is named here. The walker holds what is known of each
 * value: the element type and shape (written into the graph's value types, symbolic dimensions kept by name)
 * and, for small int64 tensors, their content (data propagation through Shape/Gather/Concat/... chains).
 * Values no rule describes stay unknown and are shaped at run time by the kernels. Contradictions between fixed
 * dimensions (e.g. a MatMul whose inner sizes differ) are reported here, naming the node, instead of at the first
 * run. With OXRT_INFER_EXTENDED (the session and the toolkit) the bodies of If/Loop/Scan are walked too, through
 * oxrt_infer_subgraph, so that their outputs are shaped and `oxrt infer-shapes` writes value_info inside them.
 */
#include "engine.h"
#include "infer.h"
#include "registry.h"
#include "../onnx/version_convert.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kval {
  bool valid;
  oxrt_known_ints k;
  const oxrt_value *tensor; /* a constant produced by a node (oxrt_infer_set_constant) */
} kval;

struct oxrt_infer {
  const oxrt_model *m;
  oxrt_graph *g;
  unsigned flags;
  kval *known;              /* per value id: the content of small int64 tensors, when data propagation found it */
  struct oxrt_infer *outer; /* the walker of the enclosing graph, for outer-scope values */
};

static void tshape_clear(oxrt_tshape *s) {
  memset(s, 0, sizeof *s);
  s->rank = -1;
}

/* The walker and id in the graph that defines value `id` of c's graph (outer-scope values resolve upwards). */
static struct oxrt_infer *owner(struct oxrt_infer *c, int *id) {
  while (c->outer && *id >= 0 && c->g->values[*id].is_outer && !c->g->values[*id].type && !c->g->values[*id].init) {
    int up = oxrt_graph_find(c->outer->g, c->g->values[*id].name);
    if (up < 0) return c;
    c = c->outer, *id = up;
  }
  return c;
}

static bool get_shape(struct oxrt_infer *c, int id, oxrt_tshape *s) {
  tshape_clear(s);
  if (id < 0) return false;
  c = owner(c, &id);
  const oxrt_value_def *d = &c->g->values[id];
  if (d->init) {
    if (d->init->kind != OXRT_KIND_TENSOR) return false;
    s->elem = d->init->dtype;
    s->rank = d->init->rank;
    memcpy(s->dims, d->init->dims, sizeof(int64_t) * (size_t)d->init->rank);
    return s->elem != OXRT_UNDEFINED;
  }
  const oxrt_type *t = d->type;
  if (!t || t->kind != OXRT_KIND_TENSOR) return false;
  s->elem = t->elem_type;
  s->rank = t->rank > OXRT_MAX_RANK ? -1 : t->rank;
  for (int i = 0; i < s->rank; i++) {
    s->dims[i] = t->dims[i];
    s->names[i] = t->dim_params ? t->dim_params[i] : NULL;
  }
  if (s->elem == OXRT_UNDEFINED) tshape_clear(s);
  return s->elem != OXRT_UNDEFINED;
}

static const oxrt_known_ints *known(struct oxrt_infer *c, int id) {
  if (id < 0) return NULL;
  c = owner(c, &id);
  if (!c->known) return NULL;
  kval *k = &c->known[id];
  if (k->valid) return &k->k;
  const oxrt_value *t = c->g->values[id].init;
  if (t && t->kind == OXRT_KIND_TENSOR && (t->dtype == OXRT_INT64 || t->dtype == OXRT_INT32) && t->rank <= 1 &&
      t->count <= OXRT_MAX_RANK) {
    memset(k, 0, sizeof *k);
    k->valid = true, k->k.scalar = t->rank == 0, k->k.n = (int)t->count;
    for (int i = 0; i < k->k.n; i++) k->k.v[i] = oxrt_load_i64(t->dtype, t->data, (size_t)i);
    return &k->k;
  }
  return NULL;
}

/* A declaration contradicting the inferred type: different element type, rank, or fixed size. */
static oxrt_status *check_declared(const oxrt_value_def *d, const oxrt_tshape *s) {
  const oxrt_type *t = d->type;
  if (!t || t->kind != OXRT_KIND_TENSOR) return NULL;
  if (t->elem_type != OXRT_UNDEFINED && t->elem_type != s->elem)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "output '%s' is inferred as %s but declared %s", d->name,
                      oxrt_elem_type_name(s->elem), oxrt_elem_type_name(t->elem_type));
  if (t->rank < 0 || s->rank < 0) return NULL;
  if (t->rank != s->rank)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "output '%s' is inferred with rank %d but declared with rank %d", d->name,
                      s->rank, t->rank);
  for (int i = 0; i < s->rank; i++)
    if (s->dims[i] >= 0 && t->dims[i] >= 0 && s->dims[i] != t->dims[i])
      return oxrt_error(OXRT_ERR_INVALID_MODEL, "output '%s' dimension %d is inferred as %lld but declared %lld",
                        d->name, i, (long long)s->dims[i], (long long)t->dims[i]);
  return NULL;
}

static oxrt_status *set_shape(struct oxrt_infer *c, int id, const oxrt_tshape *s) {
  oxrt_graph *g = c->g;
  if (id < 0 || s->elem == OXRT_UNDEFINED || s->rank > OXRT_MAX_RANK) return NULL;
  if (c->flags & OXRT_INFER_STRICT) OXRT_TRY(check_declared(&g->values[id], s));
  const oxrt_type *old = g->values[id].type;
  /* keep a declaration unless it says less than what was inferred; unknown sizes it leaves are filled in, except
   * in the main graph's outputs (the session describes those as the model declares them, like ONNX Runtime) */
  oxrt_tshape merged;
  if (old && old->kind == OXRT_KIND_TENSOR && old->elem_type == s->elem && old->rank >= 0 && old->rank == s->rank &&
      old->rank <= OXRT_MAX_RANK) {
    if (g->values[id].is_output && !c->outer) return NULL;
    bool more = false;
    merged = *s;
    for (int i = 0; i < s->rank; i++) {
      const char *name = old->dim_params ? old->dim_params[i] : NULL;
      if (old->dims[i] >= 0 || name) merged.dims[i] = old->dims[i], merged.names[i] = name;
      else more |= s->dims[i] >= 0 || s->names[i];
    }
    if (!more) return NULL;
    s = &merged;
  } else if (old && !(old->kind == OXRT_KIND_TENSOR &&
                      (old->elem_type == OXRT_UNDEFINED || (old->rank < 0 && s->rank >= 0)))) {
    return NULL;
  }
  oxrt_type *t = oxrt_arena_alloc(g->arena, sizeof *t);
  if (!t) return OXRT_OOM();
  memset(t, 0, sizeof *t);
  t->kind = OXRT_KIND_TENSOR;
  t->elem_type = s->elem;
  t->rank = s->rank;
  if (s->rank > 0) {
    t->dims = oxrt_arena_alloc(g->arena, sizeof(int64_t) * (size_t)s->rank);
    t->dim_params = oxrt_arena_alloc(g->arena, sizeof(char *) * (size_t)s->rank);
    if (!t->dims || !t->dim_params) return OXRT_OOM();
    for (int i = 0; i < s->rank; i++) {
      t->dims[i] = s->dims[i];
      t->dim_params[i] = (char *)s->names[i];
    }
  }
  g->values[id].type = t;
  return NULL;
}

/* ---- the context API of kernel.h ---- */
bool oxrt_infer_input(const oxrt_infer_ctx *ctx, int i, oxrt_tshape *s) {
  const oxrt_node *n = ctx->node;
  if (i < 0 || i >= n->n_inputs) return tshape_clear(s), false;
  return get_shape(ctx->walk, n->inputs[i], s);
}

const oxrt_known_ints *oxrt_infer_known(const oxrt_infer_ctx *ctx, int i) {
  const oxrt_node *n = ctx->node;
  return i >= 0 && i < n->n_inputs ? known(ctx->walk, n->inputs[i]) : NULL;
}

const oxrt_value *oxrt_infer_constant(const oxrt_infer_ctx *ctx, int i) {
  const oxrt_node *n = ctx->node;
  int id = i >= 0 && i < n->n_inputs ? n->inputs[i] : -1;
  if (id < 0) return NULL;
  struct oxrt_infer *c = owner(ctx->walk, &id);
  const oxrt_value *t = c->g->values[id].init;
  if (!t && c->known) t = c->known[id].tensor;
  return t && t->kind == OXRT_KIND_TENSOR ? t : NULL;
}

void oxrt_infer_set_constant(oxrt_infer_ctx *ctx, int i, const oxrt_value *t) {
  const oxrt_node *n = ctx->node;
  if (i >= 0 && i < n->n_outputs && n->outputs[i] >= 0 && ctx->walk->known) ctx->walk->known[n->outputs[i]].tensor = t;
}

oxrt_status *oxrt_infer_output(oxrt_infer_ctx *ctx, int i, const oxrt_tshape *s) {
  const oxrt_node *n = ctx->node;
  return i >= 0 && i < n->n_outputs ? set_shape(ctx->walk, n->outputs[i], s) : NULL;
}

void oxrt_infer_set_known(oxrt_infer_ctx *ctx, int i, const oxrt_known_ints *k) {
  const oxrt_node *n = ctx->node;
  struct oxrt_infer *c = ctx->walk;
  if (i < 0 || i >= n->n_outputs || n->outputs[i] < 0 || !c->known || k->n < 0 || k->n > OXRT_MAX_RANK) return;
  c->known[n->outputs[i]].valid = true;
  c->known[n->outputs[i]].k = *k;
}

static oxrt_status *walk(struct oxrt_infer *c);

oxrt_status *oxrt_infer_subgraph(oxrt_infer_ctx *ctx, oxrt_graph *g, const oxrt_tshape *formal, int n_formal,
                                 oxrt_tshape *outs) {
  struct oxrt_infer *c = ctx->walk;
  for (int k = 0; k < g->n_outputs; k++) tshape_clear(&outs[k]);
  if (!(c->flags & OXRT_INFER_EXTENDED)) return NULL; /* main graph only */
  struct oxrt_infer sub = {c->m, g, c->flags, NULL, c};
  if (!(sub.known = calloc((size_t)g->n_values + 1, sizeof *sub.known))) return OXRT_OOM();
  oxrt_status *st = NULL;
  for (int k = 0; k < n_formal && k < g->n_inputs && !st; k++) st = set_shape(&sub, g->inputs[k], &formal[k]);
  if (!st) st = walk(&sub);
  for (int k = 0; k < g->n_outputs && !st; k++) get_shape(&sub, g->outputs[k], &outs[k]);
  free(sub.known);
  if (st) st = oxrt_error_prefix(st, "subgraph '%s': ", g->name ? g->name : "");
  return st;
}

oxrt_status *oxrt_infer_node(oxrt_infer *c, const oxrt_node *n) {
  if (!n->op_type || n->n_outputs < 1) return NULL;
  const oxrt_op_schema *sc = oxrt_registry_find(n->domain, n->op_type);
  if (!sc || !sc->infer) return NULL; /* shaped at run time */
  int64_t opset = oxrt_model_opset(c->m, n->domain);
  oxrt_infer_ctx ctx = {n, (int)opset, c};
  return sc->infer(&ctx);
}

static oxrt_status *walk(struct oxrt_infer *c) {
  oxrt_graph *g = c->g;
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    st = oxrt_infer_node(c, &g->nodes[i]);
    if (st) st = oxrt_error_prefix(st, "node '%s' (%s): ", g->nodes[i].name, g->nodes[i].op_type);
  }
  return st;
}

oxrt_status *oxrt_infer_begin(const oxrt_model *m, oxrt_graph *g, unsigned flags, oxrt_infer **out) {
  oxrt_infer *c = calloc(1, sizeof *c);
  if (!c) return OXRT_OOM();
  c->m = m, c->g = g, c->flags = flags;
  if (!(c->known = calloc((size_t)g->n_values + 1, sizeof *c->known))) {
    free(c);
    return OXRT_OOM();
  }
  *out = c;
  return NULL;
}

void oxrt_infer_end(oxrt_infer *c) {
  if (!c) return;
  free(c->known);
  free(c);
}

oxrt_status *oxrt_infer_graph(const oxrt_model *m, oxrt_graph *g, unsigned flags) {
  oxrt_infer *c = NULL;
  OXRT_TRY(oxrt_infer_begin(m, g, flags, &c));
  oxrt_status *st = walk(c);
  oxrt_infer_end(c);
  return st;
}

oxrt_status *oxrt_infer_shapes(oxrt_session *s) {
  oxrt_graph *g = s->model->graph;
  const oxrt_graph_plan *p = s->main_plan;
  int n = p ? p->n_steps : g->n_nodes;
  oxrt_infer *c = NULL;
  OXRT_TRY(oxrt_infer_begin(s->model, g, OXRT_INFER_EXTENDED, &c));
  oxrt_status *st = NULL;
  for (int i = 0; i < n && !st; i++) {
    const oxrt_node *nd = p ? p->steps[i].node : &g->nodes[i];
    st = oxrt_infer_node(c, nd);
    if (st) st = oxrt_error_prefix(st, "node '%s' (%s): ", nd->name, nd->op_type);
  }
  oxrt_infer_end(c);
  return st;
}

/* ------------------------------------------------------------------------------------------------------------------
 * `oxrt infer-shapes`: a model with its inferred types written as value_info. */
static oxrt_status *infer_fn(oxrt_model *m, void *unused) {
  (void)unused;
  return oxrt_infer_graph(m, m->graph, OXRT_INFER_EXTENDED);
}

oxrt_status *oxrt_infer_shapes_bytes(const void *data, size_t size, void **out, size_t *out_size) {
  return oxrt_rewrite_model_bytes(data, size, infer_fn, NULL, out, out_size);
}

oxrt_status *oxrt_infer_shapes_file(const char *model_path, const char *out_path, size_t external_data_threshold) {
  return oxrt_rewrite_model_file(model_path, out_path, external_data_threshold, infer_fn, NULL);
}
