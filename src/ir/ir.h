/* ir.h - the in-memory model: graphs, nodes, named values, attributes, types. */
#ifndef OXRT_IR_H
#define OXRT_IR_H
#include "../core/value.h"
#include <stdbool.h>
#include <stdint.h>

/* Bump allocator owning the IR's strings and arrays; freed at once. */
typedef struct oxrt_arena oxrt_arena;
oxrt_arena *oxrt_arena_create(void);
void oxrt_arena_free(oxrt_arena *a);
void *oxrt_arena_alloc(oxrt_arena *a, size_t n); /* zeroed, 16-aligned; NULL on OOM */
char *oxrt_arena_strndup(oxrt_arena *a, const char *s, size_t n);

/* ONNX AttributeProto.AttributeType */
typedef enum oxrt_attr_type {
  OXRT_ATTR_UNDEFINED = 0,
  OXRT_ATTR_FLOAT = 1,
  OXRT_ATTR_INT = 2,
  OXRT_ATTR_STRING = 3,
  OXRT_ATTR_TENSOR = 4,
  OXRT_ATTR_GRAPH = 5,
  OXRT_ATTR_FLOATS = 6,
  OXRT_ATTR_INTS = 7,
  OXRT_ATTR_STRINGS = 8,
  OXRT_ATTR_TENSORS = 9,
  OXRT_ATTR_GRAPHS = 10,
  OXRT_ATTR_SPARSE_TENSOR = 11,
  OXRT_ATTR_SPARSE_TENSORS = 12,
  OXRT_ATTR_TYPE_PROTO = 13,
  OXRT_ATTR_TYPE_PROTOS = 14
} oxrt_attr_type;

/* TypeProto */
typedef struct oxrt_type {
  oxrt_value_kind kind; /* TENSOR, SPARSE_TENSOR, SEQUENCE, MAP, OPTIONAL; UNKNOWN if unset */
  oxrt_elem_type elem_type; /* tensor element type; map key type for maps */
  int rank;                 /* -1: shape unknown */
  int64_t *dims;            /* -1 where not a number */
  char **dim_params;        /* symbolic names or NULL */
  struct oxrt_type *elem;   /* sequence/optional element, map value */
} oxrt_type;

struct oxrt_graph;

typedef struct oxrt_attr {
  const char *name;
  oxrt_attr_type type;
  const char *ref_attr_name; /* inside functions: refers to the caller's attribute */
  float f;
  int64_t i;
  const char *s; /* NUL-terminated copy */
  size_t s_len;
  oxrt_value *t;
  struct oxrt_graph *g;
  oxrt_type *tp;
  size_t n; /* count of the repeated field below that matches `type` */
  float *floats;
  int64_t *ints;
  const char **strings;
  size_t *string_lens;
  oxrt_value **tensors;
  struct oxrt_graph **graphs;
  oxrt_type **tps;
} oxrt_attr;

typedef struct oxrt_node {
  const char *name;
  const char *op_type;
  const char *domain; /* "" for ai.onnx ("ai.onnx" is normalised to "") */
  int n_inputs, n_outputs;
  int *inputs;  /* value ids in the graph; -1 for an omitted optional input */
  int *outputs; /* -1 for an omitted optional output */
  int n_attrs;
  oxrt_attr *attrs;
} oxrt_node;

/* A named value of a graph: graph input, initializer, node output, or a value
 * captured from an enclosing graph (outer). */
typedef struct oxrt_value_def {
  const char *name;
  oxrt_type *type;   /* declared (input/output/value_info) or inferred; may be NULL */
  oxrt_value *init;  /* constant initializer, or NULL */
  int producer;      /* node index, or -1 */
  bool is_input, is_output, is_outer;
} oxrt_value_def;

typedef struct oxrt_graph {
  const char *name;
  const char *doc;
  int n_values, cap_values;
  oxrt_value_def *values;
  int n_nodes, cap_nodes;
  oxrt_node *nodes;
  int n_inputs, n_outputs;
  int *inputs, *outputs; /* value ids; inputs include those with initializers (old IR) */
  struct oxrt_graph *parent;
  oxrt_arena *arena; /* shared with the model */
  void *name_index;  /* hash from name to id, built lazily */
} oxrt_graph;

typedef struct oxrt_opset {
  const char *domain;
  int64_t version;
} oxrt_opset;

typedef struct oxrt_function {
  const char *name, *domain, *overload;
  int n_inputs, n_outputs, n_attr_names;
  const char **inputs, **outputs, **attr_names;
  oxrt_attr *attr_defaults; /* attribute_proto: defaults */
  int n_attr_defaults;
  /* nodes kept in a graph whose values are named as in the function */
  oxrt_graph *body;
  int n_opsets;
  oxrt_opset *opsets;
} oxrt_function;

typedef struct oxrt_model {
  oxrt_arena *arena;
  int64_t ir_version;
  int n_opsets;
  oxrt_opset *opsets;
  const char *producer_name, *producer_version, *domain, *doc;
  int64_t model_version;
  int n_meta;
  const char **meta_keys, **meta_values;
  oxrt_graph *graph;
  int n_functions;
  oxrt_function *functions;
  /* backing memory the initializers may point into */
  void *map_base;
  size_t map_size;
  int map_kind; /* 0 none, 1 mmap, 2 malloc */
  /* every graph the loader made (subgraphs and function bodies too), so that freeing the
   * model releases them even when an error left one unreachable */
  int n_all_graphs, cap_all_graphs;
  oxrt_graph **all_graphs;
  /* external data files mapped for initializers */
  int n_ext;
  void **ext_base;
  size_t *ext_size;
  int *ext_kind;
} oxrt_model;

void oxrt_model_free(oxrt_model *m);
int64_t oxrt_model_opset(const oxrt_model *m, const char *domain); /* -1 if not imported */

oxrt_graph *oxrt_graph_new(oxrt_arena *a, oxrt_graph *parent);
/* Id of the value called `name`, or -1. */
int oxrt_graph_find(oxrt_graph *g, const char *name);
/* Id of `name`, creating a fresh value if missing; -1 on OOM. */
int oxrt_graph_intern(oxrt_graph *g, const char *name);
/* Appends a node; returns its index or -1 on OOM. */
int oxrt_graph_add_node(oxrt_graph *g);
void oxrt_graph_free_index(oxrt_graph *g); /* recursive over subgraphs */

const oxrt_attr *oxrt_node_attr(const oxrt_node *n, const char *name);
int64_t oxrt_attr_int(const oxrt_node *n, const char *name, int64_t dflt);
float oxrt_attr_float(const oxrt_node *n, const char *name, float dflt);
const char *oxrt_attr_string(const oxrt_node *n, const char *name, const char *dflt);
/* Ints attribute: count in *count; NULL if absent. */
const int64_t *oxrt_attr_ints(const oxrt_node *n, const char *name, size_t *count);
const float *oxrt_attr_floats(const oxrt_node *n, const char *name, size_t *count);

/* Releases everything held by values (initializers) and recursively by subgraphs. */
void oxrt_graph_release_values(oxrt_graph *g);

/* "tensor(float)", "seq(tensor(int64))", ... into buf. */
const char *oxrt_type_string(const oxrt_type *t, char *buf, size_t cap);

#endif
