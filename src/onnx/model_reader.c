/* model_reader.c - ModelProto / GraphProto / NodeProto / AttributeProto / FunctionProto decoding. */
#include "../core/dtype.h"
#include "onnx_reader.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD(...) oxrt_error(OXRT_ERR_INVALID_MODEL, __VA_ARGS__)

typedef struct loader {
  oxrt_model *m;
  oxrt_arena *a;
  const oxrt_tensor_src *src;
  int depth;
  int max_depth, type_depth; /* OXRT_LIMIT_SUBGRAPH_DEPTH, OXRT_LIMIT_PROTO_DEPTH */
} loader;

static oxrt_status *read_graph(loader *L, pb_reader *r, oxrt_graph *parent, oxrt_graph **out);

static const char *dup_bytes(loader *L, pb_bytes b) { return oxrt_arena_strndup(L->a, (const char *)b.data, b.len); }

static oxrt_status *read_string(loader *L, pb_reader *r, const char **out) {
  pb_bytes b;
  if (!pb_bytes_read(r, &b)) return BAD("truncated string field");
  *out = dup_bytes(L, b);
  return *out ? NULL : OXRT_OOM();
}

/* Room in arena array `arr` (n used, cap allocated) for `more` elements at once. */
#define RESERVE(L, arr, n, cap, more)                                                                                  \
  do {                                                                                                                 \
    if ((more) > (cap) - (n)) {                                                                                        \
      size_t nc_ = (n) + (more);                                                                                       \
      if (nc_ < (n) || nc_ > SIZE_MAX / sizeof(*(arr))) return OXRT_OOM();                                             \
      void *na_ = oxrt_arena_alloc((L)->a, nc_ * sizeof(*(arr)));                                                      \
      if (!na_) return OXRT_OOM();                                                                                     \
      if (n) memcpy(na_, (arr), (size_t)(n) * sizeof(*(arr)));                                                         \
      (arr) = na_;                                                                                                     \
      (cap) = nc_;                                                                                                     \
    }                                                                                                                  \
  } while (0)

/* Growable arrays inside the arena: a full array doubles (first size 4). */
#define GROW(L, arr, n, cap)                                                                                           \
  do {                                                                                                                 \
    if ((size_t)(n) == (size_t)(cap)) RESERVE(L, arr, n, cap, (cap) ? (size_t)(cap) : (size_t)4);                    \
  } while (0)

/* Varints in [p, end): each ends with a byte below 0x80 (a truncated last one fails while decoding). */
static size_t count_varints(const uint8_t *p, const uint8_t *end) {
  size_t n = 0;
  for (; p < end; p++) n += *p < 0x80;
  return n;
}

/* ------------------------------------------------------------- attribute */
/* `*n_tensors` counts the tensors read into at->tensors, which the caller frees if this fails. */
static oxrt_status *read_attr_fields(loader *L, pb_reader *r, oxrt_graph *g, oxrt_attr *at, size_t *n_tensors) {
  pb_reader sub;
  if (!pb_sub(r, &sub)) return BAD("truncated AttributeProto");
  at->name = "";
  size_t cap_f = 0, cap_i = 0, cap_s = 0, cap_t = 0, cap_g = 0, cap_tp = 0;
  size_t nf = 0, ni = 0, ns = 0, ng = 0, ntp = 0;
  uint32_t field, wire;
  bool has_type = false;
  /* A tree ensemble's lists hold 100k entries, usually one field each (proto2 repeated fields are not packed):
   * counted first, they take one exact array instead of ~17 doublings, each zeroed and copied. */
  size_t want_f = 0, want_i = 0;
  for (pb_reader c = sub; pb_next(&c, &field, &wire);) {
    pb_reader pk;
    if ((field == 7 || field == 8) && wire == PB_BYTES) {
      if (!pb_sub(&c, &pk)) break;
      if (field == 7) want_f += (size_t)(pk.end - pk.p) / 4;
      else want_i += count_varints(pk.p, pk.end);
      continue;
    }
    want_f += field == 7, want_i += field == 8;
    if (!pb_skip(&c, wire)) break; /* the decoding below reports it */
  }
  RESERVE(L, at->floats, nf, cap_f, want_f);
  RESERVE(L, at->ints, ni, cap_i, want_i);
  while (pb_next(&sub, &field, &wire)) {
    uint64_t v;
    uint32_t v32;
    pb_bytes b;
    switch (field) {
    case 1: OXRT_TRY(read_string(L, &sub, &at->name)); break;
    case 21: OXRT_TRY(read_string(L, &sub, &at->ref_attr_name)); break;
    case 20:
      if (!pb_varint(&sub, &v)) goto bad;
      at->type = (oxrt_attr_type)v;
      has_type = true;
      break;
    case 2:
      if (!pb_fixed32(&sub, &v32)) goto bad;
      memcpy(&at->f, &v32, 4);
      break;
    case 3:
      if (!pb_varint(&sub, &v)) goto bad;
      at->i = (int64_t)v;
      break;
    case 4:
      if (!pb_bytes_read(&sub, &b)) goto bad;
      at->s = dup_bytes(L, b);
      if (!at->s) return OXRT_OOM();
      at->s_len = b.len;
      break;
    case 5: {
      const char *nm;
      oxrt_value_free(at->t); /* a repeated field: the last one wins */
      at->t = NULL;
      OXRT_TRY(oxrt_read_tensor(&sub, L->src, L->a, &at->t, &nm));
      break;
    }
    case 6: {
      pb_reader gr;
      if (!pb_sub(&sub, &gr)) goto bad;
      OXRT_TRY(read_graph(L, &gr, g, &at->g));
      break;
    }
    case 7: /* floats */
      if (wire == PB_BYTES) {
        pb_reader pk;
        if (!pb_sub(&sub, &pk)) goto bad;
        while (pk.p < pk.end) {
          if (!pb_fixed32(&pk, &v32)) goto bad;
          GROW(L, at->floats, nf, cap_f);
          memcpy(&at->floats[nf++], &v32, 4);
        }
      } else {
        if (!pb_fixed32(&sub, &v32)) goto bad;
        GROW(L, at->floats, nf, cap_f);
        memcpy(&at->floats[nf++], &v32, 4);
      }
      break;
    case 8: /* ints */
      if (wire == PB_BYTES) {
        pb_reader pk;
        if (!pb_sub(&sub, &pk)) goto bad;
        while (pk.p < pk.end) {
          if (!pb_varint(&pk, &v)) goto bad;
          GROW(L, at->ints, ni, cap_i);
          at->ints[ni++] = (int64_t)v;
        }
      } else {
        if (!pb_varint(&sub, &v)) goto bad;
        GROW(L, at->ints, ni, cap_i);
        at->ints[ni++] = (int64_t)v;
      }
      break;
    case 9:
      if (!pb_bytes_read(&sub, &b)) goto bad;
      GROW(L, at->strings, ns, cap_s);
      {
        size_t c2 = cap_s; /* string_lens grows in step with strings */
        (void)c2;
      }
      at->strings[ns] = dup_bytes(L, b);
      if (!at->strings[ns++]) return OXRT_OOM();
      break;
    case 10: {
      GROW(L, at->tensors, *n_tensors, cap_t);
      const char *nm;
      OXRT_TRY(oxrt_read_tensor(&sub, L->src, L->a, &at->tensors[*n_tensors], &nm));
      (*n_tensors)++;
      break;
    }
    case 11: {
      pb_reader gr;
      if (!pb_sub(&sub, &gr)) goto bad;
      GROW(L, at->graphs, ng, cap_g);
      OXRT_TRY(read_graph(L, &gr, g, &at->graphs[ng]));
      ng++;
      break;
    }
    case 14: OXRT_TRY(oxrt_read_type(&sub, L->a, L->type_depth, &at->tp)); break;
    case 15:
      GROW(L, at->tps, ntp, cap_tp);
      OXRT_TRY(oxrt_read_type(&sub, L->a, L->type_depth, &at->tps[ntp]));
      ntp++;
      break;
    case 22: /* sparse_tensor: densify */
    {
      pb_reader sp;
      if (!pb_sub(&sub, &sp)) goto bad;
      oxrt_value_free(at->t);
      at->t = NULL;
      OXRT_TRY(oxrt_read_sparse_dense(&sp, L->src, &at->t, NULL, L->a));
      if (!has_type) at->type = OXRT_ATTR_SPARSE_TENSOR;
      break;
    }
    default:
      if (!pb_skip(&sub, wire)) goto bad;
    }
  }
  if (sub.error) goto bad;
  if (!has_type) { /* IR < 3: infer from the field present */
    if (at->g) at->type = OXRT_ATTR_GRAPH;
    else if (at->t) at->type = OXRT_ATTR_TENSOR;
    else if (at->s) at->type = OXRT_ATTR_STRING;
    else if (nf) at->type = OXRT_ATTR_FLOATS;
    else if (ni) at->type = OXRT_ATTR_INTS;
    else if (ns) at->type = OXRT_ATTR_STRINGS;
    else if (*n_tensors) at->type = OXRT_ATTR_TENSORS;
    else if (ng) at->type = OXRT_ATTR_GRAPHS;
    else if (at->f != 0) at->type = OXRT_ATTR_FLOAT;
    else at->type = OXRT_ATTR_INT;
  }
  switch (at->type) {
  case OXRT_ATTR_FLOATS: at->n = nf; break;
  case OXRT_ATTR_INTS: at->n = ni; break;
  case OXRT_ATTR_STRINGS: at->n = ns; break;
  case OXRT_ATTR_TENSORS: at->n = *n_tensors; break;
  case OXRT_ATTR_GRAPHS: at->n = ng; break;
  case OXRT_ATTR_TYPE_PROTOS: at->n = ntp; break;
  default: at->n = 0;
  }
  if (at->type == OXRT_ATTR_STRING && !at->s) at->s = "";
  if (ns) {
    at->string_lens = oxrt_arena_alloc(L->a, sizeof(size_t) * ns);
    if (!at->string_lens) return OXRT_OOM();
    for (size_t k = 0; k < ns; k++) at->string_lens[k] = strlen(at->strings[k]);
  }
  return NULL;
bad:
  return BAD("truncated or corrupt AttributeProto '%s'", at->name ? at->name : "");
}

/* A failed attribute is never counted by its node, so it frees the tensors it read here; arrays of another
 * type than the attribute's are dropped (their graphs are released with the model's list of graphs). */
static oxrt_status *read_attr(loader *L, pb_reader *r, oxrt_graph *g, oxrt_attr *at) {
  size_t nt = 0;
  oxrt_status *st = read_attr_fields(L, r, g, at, &nt);
  bool keep_tensors = !st && at->type == OXRT_ATTR_TENSORS;
  for (size_t k = 0; !keep_tensors && k < nt; k++) oxrt_value_free(at->tensors[k]);
  if (!keep_tensors) at->tensors = NULL;
  if (st || at->type != OXRT_ATTR_GRAPHS) at->graphs = NULL;
  if (st) {
    oxrt_value_free(at->t);
    at->t = NULL;
  }
  return st;
}

/* ------------------------------------------------------------------ node */
static oxrt_status *read_node(loader *L, pb_reader *r, oxrt_graph *g, int index) {
  pb_reader sub;
  if (!pb_sub(r, &sub)) return BAD("truncated NodeProto #%d", index);
  int id = oxrt_graph_add_node(g);
  if (id < 0) return OXRT_OOM();
  oxrt_node *n = &g->nodes[id];
  /* count repeated fields */
  int ni = 0, no = 0, na = 0;
  pb_reader c = sub;
  uint32_t field, wire;
  while (pb_next(&c, &field, &wire)) {
    if (field == 1) ni++;
    else if (field == 2) no++;
    else if (field == 5) na++;
    if (!pb_skip(&c, wire)) break;
  }
  if (c.error) return BAD("truncated or corrupt NodeProto #%d in graph '%s'", index, g->name);
  n->inputs = oxrt_arena_alloc(L->a, sizeof(int) * (size_t)(ni + 1));
  n->outputs = oxrt_arena_alloc(L->a, sizeof(int) * (size_t)(no + 1));
  n->attrs = oxrt_arena_alloc(L->a, sizeof(oxrt_attr) * (size_t)(na + 1));
  if (!n->inputs || !n->outputs || !n->attrs) return OXRT_OOM();
  while (pb_next(&sub, &field, &wire)) {
    pb_bytes b;
    n = &g->nodes[id]; /* subgraph parsing never reallocates this graph's nodes, but stay safe */
    if ((field == 1 || field == 2) && wire == PB_BYTES) {
      if (!pb_bytes_read(&sub, &b)) break;
      int vid = -1;
      if (b.len) {
        char *nm = oxrt_arena_strndup(L->a, (const char *)b.data, b.len);
        if (!nm) return OXRT_OOM();
        vid = oxrt_graph_intern(g, nm);
        if (vid < 0) return OXRT_OOM();
      }
      n = &g->nodes[id];
      if (field == 1) n->inputs[n->n_inputs++] = vid;
      else n->outputs[n->n_outputs++] = vid;
    } else if (field == 3 && wire == PB_BYTES) {
      OXRT_TRY(read_string(L, &sub, &n->name));
    } else if (field == 4 && wire == PB_BYTES) {
      OXRT_TRY(read_string(L, &sub, &n->op_type));
    } else if (field == 7 && wire == PB_BYTES) {
      OXRT_TRY(read_string(L, &sub, &n->domain));
      if (strcmp(n->domain, "ai.onnx") == 0) n->domain = "";
    } else if (field == 5 && wire == PB_BYTES) {
      oxrt_attr *at = &n->attrs[n->n_attrs];
      memset(at, 0, sizeof *at);
      oxrt_status *st = read_attr(L, &sub, g, at);
      n = &g->nodes[id];
      if (st) return oxrt_error_prefix(st, "node '%s' (%s): ", n->name, n->op_type);
      n->n_attrs++;
    } else if (!pb_skip(&sub, wire)) {
      break;
    }
  }
  if (sub.error) return BAD("truncated or corrupt NodeProto '%s' in graph '%s'", g->nodes[id].name, g->name);
  n = &g->nodes[id];
  if (!*n->op_type) return BAD("node #%d ('%s') in graph '%s' has no op_type", index, n->name, g->name);
  return NULL;
}

/* ------------------------------------------------------------ value info */
static oxrt_status *read_value_info(loader *L, pb_reader *r, oxrt_graph *g, int *id_out) {
  pb_reader sub;
  if (!pb_sub(r, &sub)) return BAD("truncated ValueInfoProto");
  const char *name = NULL;
  oxrt_type *type = NULL;
  uint32_t field, wire;
  while (pb_next(&sub, &field, &wire)) {
    if (field == 1 && wire == PB_BYTES) OXRT_TRY(read_string(L, &sub, &name));
    else if (field == 2 && wire == PB_BYTES) OXRT_TRY(oxrt_read_type(&sub, L->a, L->type_depth, &type));
    else if (!pb_skip(&sub, wire)) break;
  }
  if (sub.error) return BAD("truncated or corrupt ValueInfoProto");
  if (!name || !*name) return BAD("graph '%s' has a value_info without a name", g->name);
  int id = oxrt_graph_intern(g, name);
  if (id < 0) return OXRT_OOM();
  if (type) g->values[id].type = type;
  *id_out = id;
  return NULL;
}

/* ----------------------------------------------------------------- graph */
static oxrt_status *add_io(loader *L, int **arr, int *n, size_t *cap, int id) {
  GROW(L, *arr, (size_t)*n, *cap);
  (*arr)[(*n)++] = id;
  return NULL;
}

/* A new graph, recorded in the model so that it is released with it. */
static oxrt_graph *new_graph(loader *L, oxrt_graph *parent) {
  oxrt_model *m = L->m;
  if (m->n_all_graphs == m->cap_all_graphs) {
    int nc = m->cap_all_graphs ? m->cap_all_graphs * 2 : 8;
    oxrt_graph **na = realloc(m->all_graphs, sizeof *na * (size_t)nc);
    if (!na) return NULL;
    m->all_graphs = na;
    m->cap_all_graphs = nc;
  }
  oxrt_graph *g = oxrt_graph_new(L->a, parent);
  if (g) m->all_graphs[m->n_all_graphs++] = g;
  return g;
}

static oxrt_status *read_graph(loader *L, pb_reader *r, oxrt_graph *parent, oxrt_graph **out) {
  if (++L->depth > L->max_depth)
    return BAD("subgraphs nested deeper than %d levels (session limit subgraph_depth)", L->max_depth);
  oxrt_graph *g = new_graph(L, parent);
  if (!g) return OXRT_OOM();
  pb_reader all = *r;
  uint32_t field, wire;
  size_t cap_in = 0, cap_out = 0;
  /* Pass 1: name, inputs, initializers, outputs, value_info (any order in the file). */
  pb_reader p1 = all;
  while (pb_next(&p1, &field, &wire)) {
    int id;
    if (field == 2 && wire == PB_BYTES) {
      OXRT_TRY(read_string(L, &p1, &g->name));
    } else if (field == 10 && wire == PB_BYTES) {
      OXRT_TRY(read_string(L, &p1, &g->doc));
    } else if (field == 11 && wire == PB_BYTES) {
      OXRT_TRY(read_value_info(L, &p1, g, &id));
      g->values[id].is_input = true;
      OXRT_TRY(add_io(L, &g->inputs, &g->n_inputs, &cap_in, id));
    } else if (field == 12 && wire == PB_BYTES) {
      OXRT_TRY(read_value_info(L, &p1, g, &id));
      g->values[id].is_output = true;
      OXRT_TRY(add_io(L, &g->outputs, &g->n_outputs, &cap_out, id));
    } else if (field == 13 && wire == PB_BYTES) {
      OXRT_TRY(read_value_info(L, &p1, g, &id));
    } else if ((field == 5 || field == 15) && wire == PB_BYTES) {
      oxrt_value *t = NULL;
      const char *nm = NULL;
      oxrt_status *st;
      if (field == 5) {
        st = oxrt_read_tensor(&p1, L->src, L->a, &t, &nm);
      } else {
        pb_reader sp;
        if (!pb_sub(&p1, &sp)) break;
        st = oxrt_read_sparse_dense(&sp, L->src, &t, &nm, L->a);
      }
      if (st) return oxrt_error_prefix(st, "graph '%s' initializer: ", g->name);
      if (!nm || !*nm) {
        oxrt_value_free(t);
        return BAD("graph '%s' has an initializer without a name", g->name);
      }
      id = oxrt_graph_intern(g, nm);
      if (id < 0) {
        oxrt_value_free(t);
        return OXRT_OOM();
      }
      if (g->values[id].init) {
        oxrt_value_free(t);
        return BAD("graph '%s' has two initializers named '%s'", g->name, nm);
      }
      g->values[id].init = t;
    } else if (!pb_skip(&p1, wire)) {
      break;
    }
  }
  if (p1.error) return BAD("truncated or corrupt GraphProto '%s'", g->name);
  /* Pass 2: nodes. */
  pb_reader p2 = all;
  int idx = 0;
  while (pb_next(&p2, &field, &wire)) {
    if (field == 1 && wire == PB_BYTES) OXRT_TRY(read_node(L, &p2, g, idx++));
    else if (!pb_skip(&p2, wire)) break;
  }
  if (p2.error) return BAD("truncated or corrupt GraphProto '%s'", g->name);
  L->depth--;
  *out = g;
  return NULL;
}

/* Marks producers and outer-scope captures; checks that every name resolves. */
static oxrt_status *finalize_graph(oxrt_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++) {
      int v = n->outputs[k];
      if (v < 0) continue;
      if (g->values[v].producer >= 0)
        return BAD("graph '%s': value '%s' is produced by both node '%s' and node '%s'", g->name, g->values[v].name,
                   g->nodes[g->values[v].producer].name, n->name);
      if (g->values[v].init)
        return BAD("graph '%s': node '%s' (%s) writes '%s', which is an initializer", g->name, n->name, n->op_type,
                   g->values[v].name);
      g->values[v].producer = i;
    }
  }
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++) {
      int v = n->inputs[k];
      if (v < 0) continue;
      oxrt_value_def *d = &g->values[v];
      if (d->producer >= 0 || d->init || d->is_input) continue;
      bool found = false;
      for (oxrt_graph *p = g->parent; p && !found; p = p->parent) found = oxrt_graph_find(p, d->name) >= 0;
      if (!found)
        return BAD("graph '%s': node '%s' (%s) input %d '%s' is not a graph input, initializer or node output", g->name,
                   n->name, n->op_type, k, d->name);
      d->is_outer = true;
    }
    for (int a = 0; a < n->n_attrs; a++) {
      if (n->attrs[a].g) OXRT_TRY(finalize_graph(n->attrs[a].g));
      for (size_t k = 0; n->attrs[a].graphs && k < n->attrs[a].n; k++) OXRT_TRY(finalize_graph(n->attrs[a].graphs[k]));
    }
  }
  for (int k = 0; k < g->n_outputs; k++) {
    oxrt_value_def *d = &g->values[g->outputs[k]];
    if (d->producer >= 0 || d->init || d->is_input) continue;
    bool found = false;
    for (oxrt_graph *p = g->parent; p && !found; p = p->parent) found = oxrt_graph_find(p, d->name) >= 0;
    if (!found) return BAD("graph '%s': output '%s' is never produced", g->name, d->name);
    d->is_outer = true;
  }
  return NULL;
}

/* -------------------------------------------------------------- function */
static oxrt_status *read_function(loader *L, pb_reader *r, oxrt_function *fn) {
  pb_reader sub;
  if (!pb_sub(r, &sub)) return BAD("truncated FunctionProto");
  fn->name = fn->domain = fn->overload = "";
  fn->body = new_graph(L, NULL);
  if (!fn->body) return OXRT_OOM();
  size_t ci = 0, co = 0, ca = 0, cad = 0, cop = 0;
  uint32_t field, wire;
  int idx = 0;
  /* Pass 1: everything but nodes, so the body's value ids start with the formal inputs. */
  pb_reader p1 = sub;
  while (pb_next(&p1, &field, &wire)) {
    const char *s;
    switch (field) {
    case 1: OXRT_TRY(read_string(L, &p1, &fn->name)); break;
    case 10: OXRT_TRY(read_string(L, &p1, &fn->domain)); break;
    case 13: OXRT_TRY(read_string(L, &p1, &fn->overload)); break;
    case 4:
      OXRT_TRY(read_string(L, &p1, &s));
      GROW(L, fn->inputs, (size_t)fn->n_inputs, ci);
      fn->inputs[fn->n_inputs++] = s;
      break;
    case 5:
      OXRT_TRY(read_string(L, &p1, &s));
      GROW(L, fn->outputs, (size_t)fn->n_outputs, co);
      fn->outputs[fn->n_outputs++] = s;
      break;
    case 6:
      OXRT_TRY(read_string(L, &p1, &s));
      GROW(L, fn->attr_names, (size_t)fn->n_attr_names, ca);
      fn->attr_names[fn->n_attr_names++] = s;
      break;
    case 11:
      GROW(L, fn->attr_defaults, (size_t)fn->n_attr_defaults, cad);
      memset(&fn->attr_defaults[fn->n_attr_defaults], 0, sizeof(oxrt_attr));
      OXRT_TRY(read_attr(L, &p1, fn->body, &fn->attr_defaults[fn->n_attr_defaults]));
      fn->n_attr_defaults++;
      break;
    case 9: {
      pb_reader os;
      if (!pb_sub(&p1, &os)) return BAD("truncated FunctionProto opset_import");
      GROW(L, fn->opsets, (size_t)fn->n_opsets, cop);
      oxrt_opset *o = &fn->opsets[fn->n_opsets++];
      o->domain = "";
      uint32_t f2, w2;
      while (pb_next(&os, &f2, &w2)) {
        uint64_t v;
        if (f2 == 1 && w2 == PB_BYTES) OXRT_TRY(read_string(L, &os, &o->domain));
        else if (f2 == 2 && w2 == PB_VARINT && pb_varint(&os, &v)) o->version = (int64_t)v;
        else pb_skip(&os, w2);
      }
      if (strcmp(o->domain, "ai.onnx") == 0) o->domain = "";
      break;
    }
    default:
      if (!pb_skip(&p1, wire)) return BAD("truncated FunctionProto");
    }
  }
  if (p1.error) return BAD("truncated or corrupt FunctionProto");
  for (int i = 0; i < fn->n_inputs; i++)
    if (oxrt_graph_intern(fn->body, fn->inputs[i]) < 0) return OXRT_OOM();
  pb_reader p2 = sub;
  while (pb_next(&p2, &field, &wire)) {
    if (field == 7 && wire == PB_BYTES) OXRT_TRY(read_node(L, &p2, fn->body, idx++));
    else if (!pb_skip(&p2, wire)) break;
  }
  if (p2.error) return BAD("truncated or corrupt FunctionProto '%s'", fn->name);
  return NULL;
}

static void release_function(oxrt_function *fn) {
  oxrt_graph_release_values(fn->body);
  for (int i = 0; i < fn->n_attr_defaults; i++) {
    oxrt_value_free(fn->attr_defaults[i].t);
    for (size_t k = 0; fn->attr_defaults[i].tensors && k < fn->attr_defaults[i].n; k++)
      oxrt_value_free(fn->attr_defaults[i].tensors[k]);
  }
}

/* ----------------------------------------------------------------- model */
oxrt_status *oxrt_read_model(const void *data, size_t size, const oxrt_tensor_src *src_in, oxrt_model **out) {
  oxrt_model *m = calloc(1, sizeof *m);
  if (!m) return OXRT_OOM();
  m->arena = oxrt_arena_create();
  if (!m->arena) {
    free(m);
    return OXRT_OOM();
  }
  oxrt_tensor_src src = *src_in;
  src.model = m;
  loader L = {m, m->arena, &src, 0, (int)oxrt_limit_get(src.limits, OXRT_LIMIT_SUBGRAPH_DEPTH),
              (int)oxrt_limit_get(src.limits, OXRT_LIMIT_PROTO_DEPTH)};
  m->producer_name = m->producer_version = m->domain = m->doc = "";
  pb_reader r = pb_init(data, size);
  uint32_t field, wire;
  size_t cap_ops = 0, cap_meta = 0, cap_fn = 0;
  size_t cap_meta_v = 0;
  oxrt_status *st = NULL;
  bool has_graph = false;
  pb_reader graph_r = {0};
  while (!st && pb_next(&r, &field, &wire)) {
    uint64_t v;
    switch (field) {
    case 1:
      if (wire != PB_VARINT || !pb_varint(&r, &v)) goto corrupt;
      m->ir_version = (int64_t)v;
      break;
    case 2: st = wire == PB_BYTES ? read_string(&L, &r, &m->producer_name) : BAD("bad producer_name"); break;
    case 3: st = wire == PB_BYTES ? read_string(&L, &r, &m->producer_version) : BAD("bad producer_version"); break;
    case 4: st = wire == PB_BYTES ? read_string(&L, &r, &m->domain) : BAD("bad domain"); break;
    case 5:
      if (wire != PB_VARINT || !pb_varint(&r, &v)) goto corrupt;
      m->model_version = (int64_t)v;
      break;
    case 6: st = wire == PB_BYTES ? read_string(&L, &r, &m->doc) : BAD("bad doc_string"); break;
    case 7:
      if (wire != PB_BYTES || !pb_sub(&r, &graph_r)) goto corrupt;
      has_graph = true;
      break;
    case 8: {
      pb_reader os;
      if (wire != PB_BYTES || !pb_sub(&r, &os)) goto corrupt;
      if ((size_t)m->n_opsets == cap_ops) {
        size_t nc = cap_ops ? cap_ops * 2 : 4;
        oxrt_opset *na = oxrt_arena_alloc(L.a, nc * sizeof *na);
        if (!na) {
          st = OXRT_OOM();
          break;
        }
        if (m->n_opsets) memcpy(na, m->opsets, sizeof *na * (size_t)m->n_opsets);
        m->opsets = na;
        cap_ops = nc;
      }
      oxrt_opset *o = &m->opsets[m->n_opsets++];
      o->domain = "";
      uint32_t f2, w2;
      while (pb_next(&os, &f2, &w2)) {
        if (f2 == 1 && w2 == PB_BYTES) {
          if ((st = read_string(&L, &os, &o->domain))) break;
        } else if (f2 == 2 && w2 == PB_VARINT && pb_varint(&os, &v)) {
          o->version = (int64_t)v;
        } else {
          pb_skip(&os, w2);
        }
      }
      if (os.error) goto corrupt;
      if (strcmp(o->domain, "ai.onnx") == 0) o->domain = "";
      break;
    }
    case 14: {
      pb_reader kv;
      if (wire != PB_BYTES || !pb_sub(&r, &kv)) goto corrupt;
      if ((size_t)m->n_meta == cap_meta) {
        size_t nc = cap_meta ? cap_meta * 2 : 4;
        const char **nk = oxrt_arena_alloc(L.a, nc * sizeof *nk), **nv = oxrt_arena_alloc(L.a, nc * sizeof *nv);
        if (!nk || !nv) {
          st = OXRT_OOM();
          break;
        }
        if (m->n_meta) {
          memcpy(nk, m->meta_keys, sizeof *nk * (size_t)m->n_meta);
          memcpy(nv, m->meta_values, sizeof *nv * (size_t)m->n_meta);
        }
        m->meta_keys = nk;
        m->meta_values = nv;
        cap_meta = cap_meta_v = nc;
      }
      const char *k = "", *val = "";
      uint32_t f2, w2;
      while (pb_next(&kv, &f2, &w2)) {
        if (f2 == 1 && w2 == PB_BYTES) st = read_string(&L, &kv, &k);
        else if (f2 == 2 && w2 == PB_BYTES) st = read_string(&L, &kv, &val);
        else pb_skip(&kv, w2);
        if (st) break;
      }
      if (kv.error) goto corrupt;
      m->meta_keys[m->n_meta] = k;
      m->meta_values[m->n_meta++] = val;
      break;
    }
    case 25:
      if (wire != PB_BYTES) goto corrupt;
      if ((size_t)m->n_functions == cap_fn) {
        size_t nc = cap_fn ? cap_fn * 2 : 4;
        oxrt_function *nf = oxrt_arena_alloc(L.a, nc * sizeof *nf);
        if (!nf) {
          st = OXRT_OOM();
          break;
        }
        if (m->n_functions) memcpy(nf, m->functions, sizeof *nf * (size_t)m->n_functions);
        m->functions = nf;
        cap_fn = nc;
      }
      memset(&m->functions[m->n_functions], 0, sizeof(oxrt_function));
      st = read_function(&L, &r, &m->functions[m->n_functions]);
      /* a failed function is not counted, so what it read (its attribute defaults' tensors) is released here */
      if (st) release_function(&m->functions[m->n_functions]);
      else m->n_functions++;
      break;
    default:
      if (!pb_skip(&r, wire)) goto corrupt;
    }
  }
  (void)cap_meta_v;
  if (!st && r.error) goto corrupt;
  if (!st && !has_graph) st = BAD("model has no graph (is this an ONNX model file?)");
  if (!st) st = read_graph(&L, &graph_r, NULL, &m->graph);
  if (!st) st = finalize_graph(m->graph);
  for (int i = 0; !st && i < m->n_functions; i++) {
    /* function bodies reference their formal inputs; mark them as inputs */
    oxrt_function *fn = &m->functions[i];
    for (int k = 0; k < fn->n_inputs; k++) fn->body->values[oxrt_graph_find(fn->body, fn->inputs[k])].is_input = true;
  }
  if (st) {
    oxrt_model_free(m);
    return oxrt_error_prefix(st, "invalid model: ");
  }
  *out = m;
  return NULL;
corrupt:
  oxrt_status_free(st);
  oxrt_model_free(m);
  return BAD("invalid model: truncated or corrupt protobuf at byte %zu of %zu", (size_t)(r.p - r.start), size);
}

void oxrt_model_free(oxrt_model *m) {
  if (!m) return;
  if (m->graph) oxrt_graph_release_values(m->graph);
  for (int i = 0; i < m->n_functions; i++) release_function(&m->functions[i]);
  for (int i = 0; i < m->n_all_graphs; i++) oxrt_graph_release_values(m->all_graphs[i]); /* idempotent */
  free(m->all_graphs);
  for (int i = 0; i < m->n_ext; i++) oxrt_unmap_file(m->ext_base[i], m->ext_size[i], m->ext_kind[i]);
  free(m->ext_base);
  free(m->ext_size);
  free(m->ext_kind);
  oxrt_unmap_file(m->map_base, m->map_size, m->map_kind);
  oxrt_arena_free(m->arena);
  free(m);
}
