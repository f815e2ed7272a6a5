/* ir.c - arena, graph building blocks, attribute lookup, type strings. */
#include "ir.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- arena */
typedef struct arena_block {
  struct arena_block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} arena_block;

struct oxrt_arena {
  arena_block *head;
};

oxrt_arena *oxrt_arena_create(void) { return calloc(1, sizeof(oxrt_arena)); }

void oxrt_arena_free(oxrt_arena *a) {
  if (!a) return;
  for (arena_block *b = a->head, *n; b; b = n) {
    n = b->next;
    free(b);
  }
  free(a);
}

void *oxrt_arena_alloc(oxrt_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  arena_block *b = a->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    b = malloc(sizeof(arena_block) + cap);
    if (!b) return NULL;
    b->used = 0;
    b->cap = cap;
    b->next = a->head;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *oxrt_arena_strndup(oxrt_arena *a, const char *s, size_t n) {
  char *c = oxrt_arena_alloc(a, n + 1);
  if (!c) return NULL;
  if (n) memcpy(c, s, n);
  c[n] = 0;
  return c;
}

/* ------------------------------------------------------------ name index */
typedef struct {
  size_t cap; /* power of two */
  int *slots; /* value id + 1, 0 = empty */
} name_index;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static bool index_insert(name_index *ix, oxrt_value_def *values, int id) {
  size_t mask = ix->cap - 1, i = hash_str(values[id].name) & mask;
  while (ix->slots[i]) i = (i + 1) & mask;
  ix->slots[i] = id + 1;
  return true;
}

static bool index_rebuild(oxrt_graph *g, size_t want) {
  name_index *ix = g->name_index;
  if (!ix) {
    ix = calloc(1, sizeof *ix);
    if (!ix) return false;
    g->name_index = ix;
  }
  size_t cap = 64;
  while (cap < want * 2) cap *= 2;
  int *slots = calloc(cap, sizeof(int));
  if (!slots) return false;
  free(ix->slots);
  ix->slots = slots;
  ix->cap = cap;
  for (int i = 0; i < g->n_values; i++) index_insert(ix, g->values, i);
  return true;
}

void oxrt_graph_free_index(oxrt_graph *g) {
  if (!g) return;
  name_index *ix = g->name_index;
  if (ix) {
    free(ix->slots);
    free(ix);
    g->name_index = NULL;
  }
  for (int n = 0; n < g->n_nodes; n++)
    for (int a = 0; a < g->nodes[n].n_attrs; a++) {
      oxrt_attr *at = &g->nodes[n].attrs[a];
      if (at->g) oxrt_graph_free_index(at->g);
      for (size_t k = 0; at->graphs && k < at->n; k++) oxrt_graph_free_index(at->graphs[k]);
    }
}

oxrt_graph *oxrt_graph_new(oxrt_arena *a, oxrt_graph *parent) {
  oxrt_graph *g = oxrt_arena_alloc(a, sizeof *g);
  if (!g) return NULL;
  g->arena = a;
  g->parent = parent;
  g->name = "";
  g->doc = "";
  return g;
}

int oxrt_graph_find(oxrt_graph *g, const char *name) {
  name_index *ix = g->name_index;
  if (!ix || ix->cap < (size_t)g->n_values * 2) {
    if (!index_rebuild(g, (size_t)g->n_values + 16)) {
      for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0) return i;
      return -1;
    }
    ix = g->name_index;
  }
  size_t mask = ix->cap - 1, i = hash_str(name) & mask;
  while (ix->slots[i]) {
    int id = ix->slots[i] - 1;
    if (strcmp(g->values[id].name, name) == 0) return id;
    i = (i + 1) & mask;
  }
  return -1;
}

int oxrt_graph_intern(oxrt_graph *g, const char *name) {
  int id = oxrt_graph_find(g, name);
  if (id >= 0) return id;
  if (g->n_values == g->cap_values) {
    int cap = g->cap_values ? g->cap_values * 2 : 32;
    oxrt_value_def *nv = oxrt_arena_alloc(g->arena, sizeof(oxrt_value_def) * (size_t)cap);
    if (!nv) return -1;
    if (g->n_values) memcpy(nv, g->values, sizeof(oxrt_value_def) * (size_t)g->n_values);
    g->values = nv;
    g->cap_values = cap;
  }
  id = g->n_values++;
  oxrt_value_def *v = &g->values[id];
  memset(v, 0, sizeof *v);
  v->name = oxrt_arena_strndup(g->arena, name, strlen(name));
  if (!v->name) {
    g->n_values--;
    return -1;
  }
  v->producer = -1;
  name_index *ix = g->name_index;
  if (ix && ix->cap >= (size_t)g->n_values * 2) index_insert(ix, g->values, id);
  return id;
}

int oxrt_graph_add_node(oxrt_graph *g) {
  if (g->n_nodes == g->cap_nodes) {
    int cap = g->cap_nodes ? g->cap_nodes * 2 : 16;
    oxrt_node *nn = oxrt_arena_alloc(g->arena, sizeof(oxrt_node) * (size_t)cap);
    if (!nn) return -1;
    if (g->n_nodes) memcpy(nn, g->nodes, sizeof(oxrt_node) * (size_t)g->n_nodes);
    g->nodes = nn;
    g->cap_nodes = cap;
  }
  oxrt_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->name = n->op_type = n->domain = "";
  return g->n_nodes++;
}

void oxrt_graph_release_values(oxrt_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_values; i++) {
    oxrt_value_free(g->values[i].init);
    g->values[i].init = NULL;
  }
  for (int n = 0; n < g->n_nodes; n++)
    for (int a = 0; a < g->nodes[n].n_attrs; a++) {
      oxrt_attr *at = &g->nodes[n].attrs[a];
      oxrt_value_free(at->t);
      at->t = NULL;
      for (size_t k = 0; at->tensors && k < at->n; k++) {
        oxrt_value_free(at->tensors[k]);
        at->tensors[k] = NULL;
      }
      if (at->g) oxrt_graph_release_values(at->g);
      for (size_t k = 0; at->graphs && k < at->n; k++) oxrt_graph_release_values(at->graphs[k]);
    }
  oxrt_graph_free_index(g);
}

void oxrt_model_free(oxrt_model *m);

int64_t oxrt_model_opset(const oxrt_model *m, const char *domain) {
  for (int i = 0; i < m->n_opsets; i++)
    if (strcmp(m->opsets[i].domain, domain) == 0) return m->opsets[i].version;
  return -1;
}

/* ------------------------------------------------------------- attributes */
const oxrt_attr *oxrt_node_attr(const oxrt_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

int64_t oxrt_attr_int(const oxrt_node *n, const char *name, int64_t dflt) {
  const oxrt_attr *a = oxrt_node_attr(n, name);
  if (!a) return dflt;
  if (a->type == OXRT_ATTR_FLOAT) { /* a float given for an int: in range, or it has no int value (no UB) */
    float f = a->f;
    return f == f && f > -9.2233720e18f && f < 9.2233720e18f ? (int64_t)f : dflt;
  }
  return a->i;
}

float oxrt_attr_float(const oxrt_node *n, const char *name, float dflt) {
  const oxrt_attr *a = oxrt_node_attr(n, name);
  if (!a) return dflt;
  if (a->type == OXRT_ATTR_INT) return (float)a->i;
  return a->f;
}

const char *oxrt_attr_string(const oxrt_node *n, const char *name, const char *dflt) {
  const oxrt_attr *a = oxrt_node_attr(n, name);
  return a && a->s ? a->s : dflt;
}

const int64_t *oxrt_attr_ints(const oxrt_node *n, const char *name, size_t *count) {
  const oxrt_attr *a = oxrt_node_attr(n, name);
  if (!a || a->type != OXRT_ATTR_INTS) {
    *count = 0;
    return NULL;
  }
  *count = a->n;
  return a->ints ? a->ints : (const int64_t *)"";
}

const float *oxrt_attr_floats(const oxrt_node *n, const char *name, size_t *count) {
  const oxrt_attr *a = oxrt_node_attr(n, name);
  if (!a || a->type != OXRT_ATTR_FLOATS) {
    *count = 0;
    return NULL;
  }
  *count = a->n;
  return a->floats ? a->floats : (const float *)"";
}

/* ------------------------------------------------------------ type string */
const char *oxrt_type_string(const oxrt_type *t, char *buf, size_t cap) {
  char inner[256];
  if (!t) {
    snprintf(buf, cap, "unknown");
    return buf;
  }
  switch (t->kind) {
  case OXRT_KIND_TENSOR: snprintf(buf, cap, "tensor(%s)", oxrt_elem_type_name(t->elem_type)); break;
  case OXRT_KIND_SPARSE_TENSOR: snprintf(buf, cap, "sparse_tensor(%s)", oxrt_elem_type_name(t->elem_type)); break;
  case OXRT_KIND_SEQUENCE: snprintf(buf, cap, "seq(%s)", oxrt_type_string(t->elem, inner, sizeof inner)); break;
  case OXRT_KIND_OPTIONAL: snprintf(buf, cap, "optional(%s)", oxrt_type_string(t->elem, inner, sizeof inner)); break;
  case OXRT_KIND_MAP:
    snprintf(buf, cap, "map(%s,%s)", oxrt_elem_type_name(t->elem_type), oxrt_type_string(t->elem, inner, sizeof inner));
    break;
  default: snprintf(buf, cap, "unknown"); break;
  }
  return buf;
}
