/* plan.c - per-graph execution plan: kernel resolution, topological order, value lifetimes. */
#include "engine.h"
#include "registry.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

typedef struct missing_list {
  char text[4096];
  size_t len;
  int count;
} missing_list;

static void note_missing(missing_list *ml, const char *domain, const char *op, int64_t opset, const char *why) {
  char line[300];
  snprintf(line, sizeof line, "%s  %s%s%s (opset %lld): %s", ml->count ? "\n" : "", *domain ? domain : "ai.onnx",
           ":", op, (long long)opset, why);
  /* avoid listing the same op twice */
  if (strstr(ml->text, line + (ml->count ? 1 : 0))) return;
  size_t l = strlen(line);
  if (ml->len + l + 1 < sizeof ml->text) {
    memcpy(ml->text + ml->len, line, l + 1);
    ml->len += l;
  }
  ml->count++;
}

/* Calls fn(id_in_target) for each value of `target` captured by subgraph `g` (any depth). */
static void collect_captures(const oxrt_graph *g, const oxrt_graph *target, void (*fn)(void *, int), void *arg) {
  for (int i = 0; i < g->n_values; i++) {
    if (!g->values[i].is_outer) continue;
    const char *name = g->values[i].name;
    for (const oxrt_graph *p = g->parent; p; p = p->parent) {
      int id = oxrt_graph_find((oxrt_graph *)p, name);
      if (id < 0) continue;
      const oxrt_value_def *d = &p->values[id];
      /* a name only declared there (value_info) is defined further out: keep looking */
      if (!d->is_outer && d->producer < 0 && !d->is_input && !d->init) continue;
      if (p == target && !d->is_outer) fn(arg, id);
      break;
    }
  }
  for (int n = 0; n < g->n_nodes; n++)
    for (int a = 0; a < g->nodes[n].n_attrs; a++) {
      const oxrt_attr *at = &g->nodes[n].attrs[a];
      if (at->g) collect_captures(at->g, target, fn, arg);
      for (size_t k = 0; at->graphs && k < at->n; k++) collect_captures(at->graphs[k], target, fn, arg);
    }
}

typedef struct {
  const oxrt_graph *g;
  int *deps; /* per node: count of unmet deps */
  int node;
  int *last_use;
  int step;
  /* edges: for dependency building */
  int *edge_from, *edge_to;
  int n_edges, cap_edges;
  bool oom;
} build_ctx;

static void add_edge(build_ctx *b, int from, int to) {
  if (b->n_edges == b->cap_edges) {
    int nc = b->cap_edges ? b->cap_edges * 2 : 64;
    int *nf = realloc(b->edge_from, sizeof(int) * (size_t)nc), *nt = NULL;
    if (nf) b->edge_from = nf;
    if (nf) nt = realloc(b->edge_to, sizeof(int) * (size_t)nc);
    if (!nt) {
      b->oom = true;
      return;
    }
    b->edge_to = nt;
    b->cap_edges = nc;
  }
  b->edge_from[b->n_edges] = from;
  b->edge_to[b->n_edges++] = to;
}

static void capture_dep(void *arg, int id) {
  build_ctx *b = arg;
  int p = b->g->values[id].producer;
  if (p >= 0 && p != b->node) add_edge(b, p, b->node);
}

static void capture_use(void *arg, int id) {
  build_ctx *b = arg;
  if (b->last_use[id] < b->step) b->last_use[id] = b->step;
}

static oxrt_status *topo_order(const oxrt_graph *g, int *order) {
  build_ctx b = {0};
  b.g = g;
  for (int n = 0; n < g->n_nodes; n++) {
    const oxrt_node *nd = &g->nodes[n];
    for (int k = 0; k < nd->n_inputs; k++) {
      int v = nd->inputs[k];
      if (v >= 0 && g->values[v].producer >= 0 && !g->values[v].is_input && !g->values[v].init)
        add_edge(&b, g->values[v].producer, n);
    }
    b.node = n;
    for (int a = 0; a < nd->n_attrs; a++) {
      if (nd->attrs[a].g) collect_captures(nd->attrs[a].g, g, capture_dep, &b);
      for (size_t k = 0; nd->attrs[a].graphs && k < nd->attrs[a].n; k++)
        collect_captures(nd->attrs[a].graphs[k], g, capture_dep, &b);
    }
  }
  if (b.oom) {
    free(b.edge_from);
    free(b.edge_to);
    return OXRT_OOM();
  }
  int *indeg = calloc((size_t)g->n_nodes + 1, sizeof(int));
  int *head = malloc(sizeof(int) * ((size_t)g->n_nodes + 1)), *next = malloc(sizeof(int) * ((size_t)b.n_edges + 1));
  int *queue = malloc(sizeof(int) * ((size_t)g->n_nodes + 1));
  if (!indeg || !head || !next || !queue) {
    free(indeg), free(head), free(next), free(queue), free(b.edge_from), free(b.edge_to);
    return OXRT_OOM();
  }
  for (int n = 0; n < g->n_nodes; n++) head[n] = -1;
  for (int e = b.n_edges - 1; e >= 0; e--) {
    indeg[b.edge_to[e]]++;
    next[e] = head[b.edge_from[e]];
    head[b.edge_from[e]] = e;
  }
  /* Kahn's algorithm, taking ready nodes in file order (a min-scan keeps it stable). */
  int done = 0, qn = 0;
  for (int n = 0; n < g->n_nodes; n++)
    if (!indeg[n]) queue[qn++] = n;
  int qh = 0;
  while (qh < qn) {
    int n = queue[qh++];
    order[done++] = n;
    for (int e = head[n]; e >= 0; e = next[e])
      if (--indeg[b.edge_to[e]] == 0) queue[qn++] = b.edge_to[e];
  }
  oxrt_status *st = NULL;
  if (done != g->n_nodes) {
    int stuck = -1;
    for (int n = 0; n < g->n_nodes && stuck < 0; n++)
      if (indeg[n]) stuck = n;
    st = oxrt_error(OXRT_ERR_INVALID_MODEL, "graph '%s' has a cycle through node '%s' (%s)", g->name,
                    g->nodes[stuck].name, g->nodes[stuck].op_type);
  }
  free(indeg), free(head), free(next), free(queue), free(b.edge_from), free(b.edge_to);
  return st;
}

static oxrt_status *plan_one(oxrt_session *s, const oxrt_graph *g, missing_list *ml, oxrt_graph_plan **out);

static oxrt_status *plan_subgraphs(oxrt_session *s, const oxrt_node *nd, missing_list *ml) {
  for (int a = 0; a < nd->n_attrs; a++) {
    const oxrt_attr *at = &nd->attrs[a];
    oxrt_graph_plan *sub;
    if (at->g) OXRT_TRY(plan_one(s, at->g, ml, &sub));
    for (size_t k = 0; at->graphs && k < at->n; k++) OXRT_TRY(plan_one(s, at->graphs[k], ml, &sub));
  }
  return NULL;
}

static oxrt_status *plan_one(oxrt_session *s, const oxrt_graph *g, missing_list *ml, oxrt_graph_plan **out) {
  oxrt_graph_plan *p = calloc(1, sizeof *p);
  if (!p) return OXRT_OOM();
  p->graph = g;
  p->next_alloc = s->all_plans;
  s->all_plans = p;
  ((oxrt_graph *)g)->name_index = ((oxrt_graph *)g)->name_index; /* index already built by the loader */
  p->steps = calloc((size_t)g->n_nodes + 1, sizeof *p->steps);
  p->n_steps = p->steps ? g->n_nodes : 0; /* oxrt_plan_free_all walks the steps even when this fails */
  p->outer_src = malloc(sizeof(int) * ((size_t)g->n_values + 1));
  int *order = malloc(sizeof(int) * ((size_t)g->n_nodes + 1));
  int *last_use = malloc(sizeof(int) * ((size_t)g->n_values + 1));
  if (!p->steps || !p->outer_src || !order || !last_use) {
    free(order), free(last_use);
    return OXRT_OOM();
  }
  oxrt_status *st = topo_order(g, order);
  if (st) {
    free(order), free(last_use);
    return st;
  }
  for (int i = 0; i < g->n_values; i++) {
    p->outer_src[i] = -1;
    last_use[i] = -1;
    if (g->values[i].is_outer && g->parent) p->outer_src[i] = oxrt_graph_find((oxrt_graph *)g->parent, g->values[i].name);
  }
  build_ctx b = {0};
  b.g = g;
  b.last_use = last_use;
  for (int k = 0; k < g->n_nodes; k++) {
    const oxrt_node *nd = &g->nodes[order[k]];
    oxrt_node_plan *np = &p->steps[k];
    np->node = nd;
    if (nd->n_inputs > p->max_inputs) p->max_inputs = nd->n_inputs;
    if (nd->n_outputs > p->max_outputs) p->max_outputs = nd->n_outputs;
    int64_t opset = oxrt_model_opset(s->model, nd->domain);
    const oxrt_op_schema *sc = oxrt_registry_find(nd->domain, nd->op_type);
    if (opset < 0) {
      note_missing(ml, nd->domain, nd->op_type, opset, "the model imports no opset for this domain");
    } else if (!sc) {
      note_missing(ml, nd->domain, nd->op_type, opset,
                   oxrt_registry_find("", nd->op_type) || *nd->domain ? "unknown operator for this domain"
                                                                       : "operator not implemented");
    } else {
      np->schema = sc;
      np->impl = oxrt_registry_resolve(sc, opset);
      np->opset = (int)opset;
      if (!np->impl) note_missing(ml, nd->domain, nd->op_type, opset, "no implementation for this opset version");
    }
    for (int i = 0; i < nd->n_inputs; i++)
      if (nd->inputs[i] >= 0 && last_use[nd->inputs[i]] < k) last_use[nd->inputs[i]] = k;
    b.step = k;
    for (int a = 0; a < nd->n_attrs; a++) {
      if (nd->attrs[a].g) collect_captures(nd->attrs[a].g, g, capture_use, &b);
      for (size_t q = 0; nd->attrs[a].graphs && q < nd->attrs[a].n; q++)
        collect_captures(nd->attrs[a].graphs[q], g, capture_use, &b);
    }
    for (int o = 0; o < nd->n_outputs; o++)
      if (nd->outputs[o] >= 0 && last_use[nd->outputs[o]] < k) last_use[nd->outputs[o]] = k; /* unused outputs die here */
    st = plan_subgraphs(s, nd, ml);
    if (st) break;
  }
  /* graph outputs live to the end */
  for (int i = 0; i < g->n_outputs; i++) last_use[g->outputs[i]] = g->n_nodes;
  if (!st) {
    int *cnt = calloc((size_t)g->n_nodes + 1, sizeof(int));
    if (!cnt) st = OXRT_OOM();
    for (int v = 0; !st && v < g->n_values; v++)
      if (g->values[v].producer >= 0 && last_use[v] >= 0 && last_use[v] < g->n_nodes) cnt[last_use[v]]++;
    for (int k = 0; !st && k < g->n_nodes; k++) {
      p->steps[k].free_ids = malloc(sizeof(int) * ((size_t)cnt[k] + 1));
      if (!p->steps[k].free_ids) st = OXRT_OOM();
    }
    for (int v = 0; !st && v < g->n_values; v++)
      if (g->values[v].producer >= 0 && last_use[v] >= 0 && last_use[v] < g->n_nodes) {
        oxrt_node_plan *np = &p->steps[last_use[v]];
        np->free_ids[np->n_free++] = v;
      }
    free(cnt);
  }
  free(order);
  free(last_use);
  if (st) return st;
  *out = p;
  return NULL;
}

/* ---------------------------------------------------------------------------------------------- prepare
 * Every kernel's prepare hook sees its constant inputs and the statically inferred types; a kernel that packs a
 * constant declares it consumed, and an initializer whose every reader consumed it gives its memory back. */

static void mark_captured(void *arg, int id) { ((unsigned char *)arg)[id] = 1; }

/* The initializer behind input `id` of graph g when no feed can override it (not a graph input). */
static const oxrt_value *constant_of(const oxrt_graph *g, int id) {
  if (id < 0 || id >= g->n_values) return NULL;
  const oxrt_value_def *d = &g->values[id];
  return d->init && !d->is_input && !d->is_outer ? d->init : NULL;
}

static const oxrt_type *static_type(const oxrt_graph *g, int id) {
  return id >= 0 && id < g->n_values ? g->values[id].type : NULL;
}

static oxrt_status *prepare_step(const oxrt_session *s, const oxrt_graph *g, oxrt_node_plan *np,
                                 const oxrt_value **consts, const oxrt_type **in_types, const oxrt_type **out_types) {
  const oxrt_node *nd = np->node;
  for (int i = 0; i < nd->n_inputs; i++) {
    consts[i] = constant_of(g, nd->inputs[i]);
    in_types[i] = static_type(g, nd->inputs[i]);
  }
  for (int o = 0; o < nd->n_outputs; o++) out_types[o] = static_type(g, nd->outputs[o]);
  np->consumed = calloc((size_t)nd->n_inputs + 1, 1);
  if (!np->consumed) return OXRT_OOM();
  oxrt_prepare_ctx pc = {nd,       np->opset, nd->n_inputs, nd->n_outputs, consts, in_types, out_types, np->consumed,
                         s->bf16_packs};
  return np->impl->prepare(&pc, &np->state);
}

/* Gives the whole pages inside [p, p + n) back to the system; returns their bytes. */
static size_t drop_pages(const void *p, size_t n) {
#if defined(__unix__) || defined(__APPLE__)
  long pg = sysconf(_SC_PAGESIZE);
  if (pg <= 0) return 0;
  uintptr_t mask = ~((uintptr_t)pg - 1);
  uintptr_t b = ((uintptr_t)p + (uintptr_t)pg - 1) & mask, e = ((uintptr_t)p + n) & mask;
  if (e <= b || madvise((void *)b, e - b, MADV_DONTNEED) != 0) return 0;
  return e - b;
#else
  (void)p, (void)n;
  return 0;
#endif
}

/* Whole pages of [p, p + n) inside a mapping the model owns are dropped (a file mapping reads them again from
 * the file if touched; anonymous memory would read zeros, so the value's data is cleared then). */
static size_t drop_mapped(const oxrt_model *m, oxrt_value *v) {
  uintptr_t b = (uintptr_t)v->data, e = b + v->nbytes;
  for (int k = -1; k < m->n_ext; k++) {
    uintptr_t mb = (uintptr_t)(k < 0 ? m->map_base : m->ext_base[k]);
    size_t ms = k < 0 ? m->map_size : m->ext_size[k];
    int kind = k < 0 ? m->map_kind : m->ext_kind[k];
    if (!mb || b < mb || e > mb + ms || (kind != 1 && kind != 2)) continue;
    size_t dropped = drop_pages(v->data, v->nbytes);
    if (kind == 2 && dropped) v->data = NULL; /* zeros now where pages were dropped */
    return dropped;
  }
  return 0;
}

static void release_initializer(oxrt_session *s, oxrt_value *v) {
  if (v->kind != OXRT_KIND_TENSOR || !v->data || v->dtype == OXRT_STRING) return;
  size_t freed = 0;
  if (v->owns_data) {
    oxrt_aligned_free(v->data);
    v->data = NULL;
    v->owns_data = false;
    freed = v->nbytes;
  } else {
    freed = drop_mapped(s->model, v);
  }
  s->weights.released++;
  s->weights.released_bytes += freed;
}

/* Per value of a plan's graph: node inputs still to consume it before it may be released; -1 when it never may
 * (not a constant, a graph output, captured by a subgraph, not read at all, or a node of the graph reads values
 * beyond its inputs: impl->reads_graph). */
static oxrt_status *count_readers(const oxrt_graph_plan *p, int **out) {
  const oxrt_graph *g = p->graph;
  int *left = calloc((size_t)g->n_values + 1, sizeof(int));
  unsigned char *captured = calloc((size_t)g->n_values + 1, 1);
  if (!left || !captured) {
    free(left), free(captured);
    return OXRT_OOM();
  }
  bool keep_all = false;
  for (int k = 0; k < p->n_steps; k++) {
    const oxrt_node *nd = p->steps[k].node;
    if (p->steps[k].impl && p->steps[k].impl->reads_graph) keep_all = true;
    for (int i = 0; i < nd->n_inputs; i++)
      if (nd->inputs[i] >= 0) left[nd->inputs[i]]++;
    for (int a = 0; a < nd->n_attrs; a++) {
      if (nd->attrs[a].g) collect_captures(nd->attrs[a].g, g, mark_captured, captured);
      for (size_t q = 0; nd->attrs[a].graphs && q < nd->attrs[a].n; q++)
        collect_captures(nd->attrs[a].graphs[q], g, mark_captured, captured);
    }
  }
  for (int i = 0; i < g->n_outputs; i++) captured[g->outputs[i]] = 1;
  for (int id = 0; id < g->n_values; id++)
    if (keep_all || !constant_of(g, id) || g->values[id].is_output || captured[id] || !left[id]) left[id] = -1;
  free(captured);
  *out = left;
  return NULL;
}

/* After node np's prepare: the constants it consumed lose a reader; the last one releases the initializer at
 * once, so that peak memory holds the packed copies and the weights not packed yet, never both in full. */
static void consume_inputs(oxrt_session *s, const oxrt_graph *g, const oxrt_node_plan *np, int *left) {
  const oxrt_node *nd = np->node;
  for (int i = 0; i < nd->n_inputs; i++) {
    int id = nd->inputs[i];
    if (id < 0 || !np->consumed || !np->consumed[i]) continue;
    s->weights.consumed++;
    if (left && left[id] > 0 && --left[id] == 0) release_initializer(s, g->values[id].init);
  }
}

/* One plan's prepare, shared by the threads that run it: each takes the next step of `order`, the steps with
 * the most constant input bytes first. Resident memory peaks while a weight is packed: its source and its pack,
 * beside every pack made before; largest first makes that peak the largest weight twice plus little (vgg16: the
 * 411 MB classifier weight had waited for the convolutions' Winograd packs; peak RSS 1013 -> 905 MB), and puts
 * equal shapes side by side for the allocator's bin (value.c). The consumed-input bookkeeping (and the release
 * it triggers) is serialised by `lock`. A failed step stops the handing out; of the failed steps, the one first
 * in plan order is reported. */
typedef struct {
  oxrt_session *s;
  oxrt_graph_plan *p;
  int *order;
  int *left;
  size_t n_io; /* entries of each thread's consts / type arrays */
  _Atomic int next;
  _Atomic bool failed;
  oxrt_status **errors; /* per step */
  pthread_mutex_t lock;
} prepare_job;

static void prepare_worker(void *arg, size_t begin, size_t end) {
  prepare_job *j = arg;
  const oxrt_value **consts = calloc(j->n_io, sizeof *consts);
  const oxrt_type **in_types = calloc(j->n_io, sizeof *in_types), **out_types = calloc(j->n_io, sizeof *out_types);
  bool was = oxrt_alloc_prepare_mode(true); /* packs are written whole; released copies serve the next ones */
  for (size_t w = begin; w < end; w++) {
    for (int i; !atomic_load(&j->failed) && (i = atomic_fetch_add(&j->next, 1)) < j->p->n_steps;) {
      int k = j->order[i];
      oxrt_node_plan *np = &j->p->steps[k];
      /* a node without prepare (or with a bare one) reads its inputs at run time: it never consumes */
      if (!np->impl || !np->impl->prepare) continue;
      const oxrt_node *nd = np->node;
      oxrt_status *st = !consts || !in_types || !out_types
                            ? OXRT_OOM()
                            : prepare_step(j->s, j->p->graph, np, consts, in_types, out_types);
      if (st) {
        j->errors[k] = oxrt_error_prefix(st, "node '%s' (%s, opset %d): ", nd->name, nd->op_type, np->opset);
        atomic_store(&j->failed, true);
        break;
      }
      pthread_mutex_lock(&j->lock);
      consume_inputs(j->s, j->p->graph, np, j->left);
      pthread_mutex_unlock(&j->lock);
    }
  }
  oxrt_alloc_prepare_mode(was);
  free(consts), free(in_types), free(out_types);
}

typedef struct {
  size_t bytes;
  int step;
} step_weight;

static int by_weight(const void *a, const void *b) {
  const step_weight *x = a, *y = b;
  if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
  return (x->step > y->step) - (x->step < y->step);
}

/* The steps in the order prepare takes them: most constant input bytes first, else plan order. */
static int *prepare_order(const oxrt_graph_plan *p) {
  int *order = malloc(sizeof(int) * ((size_t)p->n_steps + 1));
  step_weight *w = malloc(sizeof *w * ((size_t)p->n_steps + 1));
  if (!order || !w) {
    free(order), free(w);
    return NULL;
  }
  for (int k = 0; k < p->n_steps; k++) {
    const oxrt_node *nd = p->steps[k].node;
    w[k].step = k;
    w[k].bytes = 0;
    for (int i = 0; p->steps[k].impl && p->steps[k].impl->prepare && i < nd->n_inputs; i++) {
      const oxrt_value *c = constant_of(p->graph, nd->inputs[i]);
      if (c && c->kind == OXRT_KIND_TENSOR) w[k].bytes += c->nbytes;
    }
  }
  qsort(w, (size_t)p->n_steps, sizeof *w, by_weight);
  for (int k = 0; k < p->n_steps; k++) order[k] = w[k].step;
  free(w);
  return order;
}

oxrt_status *oxrt_plan_prepare(oxrt_session *s) {
  for (oxrt_graph_plan *p = s->all_plans; p; p = p->next_alloc) {
    prepare_job j = {.s = s, .p = p};
    j.n_io = (size_t)(p->max_inputs > p->max_outputs ? p->max_inputs : p->max_outputs) + 1;
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, false);
    j.errors = calloc((size_t)p->n_steps + 1, sizeof *j.errors);
    j.order = prepare_order(p);
    oxrt_status *st = j.errors && j.order ? NULL : OXRT_OOM();
    if (!st && !s->opts.keep_weights) st = count_readers(p, &j.left);
    if (!st && pthread_mutex_init(&j.lock, NULL) != 0) st = OXRT_OOM();
    if (!st) {
      /* one item per pool thread, each taking steps until none is left: the hooks' costs differ by orders of
       * magnitude (a 400 MB weight beside a Relu), so steps are handed out one at a time */
      int nt = oxrt_threadpool_size(s->pool);
      oxrt_parallel_for(nt > 1 && p->n_steps > 1 ? s->pool : NULL, (size_t)(nt > 1 ? nt : 1), 1, prepare_worker, &j);
      pthread_mutex_destroy(&j.lock);
      for (int k = 0; k < p->n_steps; k++) {
        if (j.errors[k] && !st) st = j.errors[k];
        else if (j.errors[k]) oxrt_status_free(j.errors[k]);
      }
    }
    free(j.errors), free(j.left), free(j.order);
    if (st) {
      oxrt_alloc_prepare_end();
      return st;
    }
  }
  oxrt_alloc_prepare_end();
  return NULL;
}

oxrt_status *oxrt_plan_graph(oxrt_session *s, const oxrt_graph *g, oxrt_graph_plan **out) {
  missing_list ml = {0};
  OXRT_TRY(plan_one(s, g, &ml, out));
  if (ml.count)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "model needs %d operator%s that oxrt does not support:\n%s", ml.count,
                      ml.count == 1 ? "" : "s", ml.text);
  return NULL;
}

void oxrt_plan_free_all(oxrt_session *s) {
  for (oxrt_graph_plan *p = s->all_plans, *n; p; p = n) {
    n = p->next_alloc;
    for (int k = 0; k < p->n_steps; k++) {
      oxrt_node_plan *np = &p->steps[k];
      if (np->state) {
        if (np->impl && np->impl->release) np->impl->release(np->state);
        else free(np->state);
      }
      free(np->free_ids);
      free(np->consumed);
    }
    free(p->steps);
    free(p->outer_src);
    free(p);
  }
  s->all_plans = NULL;
}

const oxrt_graph_plan *oxrt_plan_of(const oxrt_session *s, const oxrt_graph *g) {
  for (const oxrt_graph_plan *p = s->all_plans; p; p = p->next_alloc)
    if (p->graph == g) return p;
  return NULL;
}
