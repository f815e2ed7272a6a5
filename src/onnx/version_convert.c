/* version_convert.c - upgrading a model to a newer ai.onnx opset, as onnx.version_converter does.
 *
 * Each adapter is the rewrite one operator needs when its signature changed at opset `at`: attributes that
 * became inputs (Reshape-5 shape, Slice-10, TopK-10, Clip-11, Pad-11, Split/Squeeze/Unsqueeze/ReduceSum-13,
 * the other reductions at 18), attributes that went away (consumed_inputs at 6, is_test at 7, BatchNormalization's
 * spatial at 9), broadcasting by `broadcast`/`axis` replaced by numpy rules at 7 (B is unsqueezed to line up),
 * Upsample replaced by Resize at 10 and Resize's roi input at 11, Scatter renamed at 11, Split's num_outputs at
 * 18, and Softmax/LogSoftmax/Hardmax's 2-D coercion becoming a single axis at 13 (kept by Flatten + Reshape).
 * A node gets every adapter whose `at` lies in (source opset, target]. Nodes of subgraphs are converted too.
 */
#include "../core/dtype.h"
#include "../core/status.h"
#include "onnx_reader.h"
#include "onnx_writer.h"
#include "version_convert.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD(...) oxrt_error(OXRT_ERR_INVALID_MODEL, __VA_ARGS__)

typedef struct conv {
  oxrt_model *m;
  int64_t from, to;
  int counter;
} conv;

/* ------------------------------------------------------------- helpers */
static bool is_op(const oxrt_node *n, const char *op) { return !*n->domain && !strcmp(n->op_type, op); }

static void drop_attr(oxrt_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (!strcmp(n->attrs[i].name, name)) {
      memmove(&n->attrs[i], &n->attrs[i + 1], sizeof(oxrt_attr) * (size_t)(n->n_attrs - i - 1));
      n->n_attrs--;
      return;
    }
}

static oxrt_attr *find_attr(oxrt_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
  return NULL;
}

/* Adds or replaces an attribute (the attrs array is re-allocated in the arena). */
static oxrt_status *set_attr(oxrt_graph *g, oxrt_node *n, const oxrt_attr *a) {
  oxrt_attr *old = find_attr(n, a->name);
  if (old) {
    *old = *a;
    return NULL;
  }
  oxrt_attr *na = oxrt_arena_alloc(g->arena, sizeof(oxrt_attr) * (size_t)(n->n_attrs + 1));
  if (!na) return OXRT_OOM();
  if (n->n_attrs) memcpy(na, n->attrs, sizeof(oxrt_attr) * (size_t)n->n_attrs);
  na[n->n_attrs++] = *a;
  n->attrs = na;
  return NULL;
}

static oxrt_status *set_string_attr(oxrt_graph *g, oxrt_node *n, const char *name, const char *v) {
  oxrt_attr a;
  memset(&a, 0, sizeof a);
  a.name = name, a.type = OXRT_ATTR_STRING, a.s = v, a.s_len = strlen(v);
  return set_attr(g, n, &a);
}

static oxrt_status *set_int_attr(oxrt_graph *g, oxrt_node *n, const char *name, int64_t v) {
  oxrt_attr a;
  memset(&a, 0, sizeof a);
  a.name = name, a.type = OXRT_ATTR_INT, a.i = v;
  return set_attr(g, n, &a);
}

/* Sets input `k` of node `n` (growing the input list with "" as needed). */
static oxrt_status *set_input(oxrt_graph *g, oxrt_node *n, int k, int id) {
  if (k >= n->n_inputs) {
    int *ni = oxrt_arena_alloc(g->arena, sizeof(int) * (size_t)(k + 1));
    if (!ni) return OXRT_OOM();
    if (n->n_inputs) memcpy(ni, n->inputs, sizeof(int) * (size_t)n->n_inputs);
    for (int i = n->n_inputs; i < k; i++) ni[i] = -1;
    n->inputs = ni;
    n->n_inputs = k + 1;
  }
  n->inputs[k] = id;
  return NULL;
}

/* A new initializer holding `t` (adopted), named after the node. */
static oxrt_status *add_const(conv *c, oxrt_graph *g, const oxrt_node *n, const char *what, oxrt_value *t, int *id) {
  char name[512];
  for (;;) {
    snprintf(name, sizeof name, "%s_%s_%d", n->n_outputs && n->outputs[0] >= 0 ? g->values[n->outputs[0]].name : "node",
             what, c->counter++);
    if (oxrt_graph_find(g, name) < 0) break;
  }
  char *nm = oxrt_arena_strndup(g->arena, name, strlen(name));
  if (!nm) {
    oxrt_value_free(t);
    return OXRT_OOM();
  }
  *id = oxrt_graph_intern(g, nm);
  if (*id < 0) {
    oxrt_value_free(t);
    return OXRT_OOM();
  }
  g->values[*id].init = t;
  return NULL;
}

static oxrt_status *int64_tensor(const int64_t *v, size_t n, bool scalar, oxrt_value **out) {
  int64_t d = (int64_t)n;
  OXRT_TRY(oxrt_value_create_tensor(OXRT_INT64, &d, scalar ? 0 : 1, out));
  if (n) memcpy((*out)->data, v, sizeof(int64_t) * n);
  return NULL;
}

/* Element type of a value, from its declared type or initializer; UNDEFINED if unknown. */
static oxrt_elem_type elem_of(const oxrt_graph *g, int id) {
  for (; g && id >= 0;) {
    const oxrt_value_def *d = &g->values[id];
    if (d->init) return d->init->dtype;
    if (d->type && d->type->kind == OXRT_KIND_TENSOR && d->type->elem_type) return d->type->elem_type;
    if (!d->is_outer || !g->parent) break;
    const char *nm = d->name;
    g = g->parent;
    id = oxrt_graph_find((oxrt_graph *)g, nm);
  }
  return OXRT_UNDEFINED;
}

static int rank_of(const oxrt_graph *g, int id) {
  if (id < 0) return -1;
  const oxrt_value_def *d = &g->values[id];
  if (d->init) return d->init->rank;
  if (d->type && d->type->kind == OXRT_KIND_TENSOR) return d->type->rank;
  return -1;
}

/* Moves ints attribute `name` of node `n` to input `k` as an int64 tensor (1-D, or a scalar). */
static oxrt_status *ints_to_input(conv *c, oxrt_graph *g, oxrt_node *n, const char *name, int k, bool scalar) {
  const oxrt_attr *a = find_attr(n, name);
  if (!a) return NULL;
  oxrt_value *t;
  if (a->type == OXRT_ATTR_INT) OXRT_TRY(int64_tensor(&a->i, 1, scalar, &t));
  else OXRT_TRY(int64_tensor(a->ints, a->n, false, &t));
  int id;
  OXRT_TRY(add_const(c, g, n, name, t, &id));
  OXRT_TRY(set_input(g, n, k, id));
  drop_attr(n, name);
  return NULL;
}

/* Moves float attribute `name` to input `k` as a scalar (or 1-D for floats) of element type `et`. */
static oxrt_status *float_to_input(conv *c, oxrt_graph *g, oxrt_node *n, const char *name, int k, oxrt_elem_type et) {
  const oxrt_attr *a = find_attr(n, name);
  if (!a) return NULL;
  if (et == OXRT_UNDEFINED) et = OXRT_FLOAT;
  size_t cnt = a->type == OXRT_ATTR_FLOATS ? a->n : 1;
  int64_t d = (int64_t)cnt;
  oxrt_value *t;
  OXRT_TRY(oxrt_value_create_tensor(et, &d, a->type == OXRT_ATTR_FLOATS ? 1 : 0, &t));
  for (size_t i = 0; i < cnt; i++) oxrt_store_f64(et, t->data, i, a->type == OXRT_ATTR_FLOATS ? a->floats[i] : a->f);
  int id;
  OXRT_TRY(add_const(c, g, n, name, t, &id));
  OXRT_TRY(set_input(g, n, k, id));
  drop_attr(n, name);
  return NULL;
}

/* Inserts an empty node before index `at`; returns a pointer to it (node pointers before the call go stale). */
static oxrt_node *insert_node(oxrt_graph *g, int at) {
  int id = oxrt_graph_add_node(g);
  if (id < 0) return NULL;
  oxrt_node tmp = g->nodes[id];
  memmove(&g->nodes[at + 1], &g->nodes[at], sizeof(oxrt_node) * (size_t)(id - at));
  g->nodes[at] = tmp;
  oxrt_node *n = &g->nodes[at];
  memset(n, 0, sizeof *n);
  n->name = "";
  n->domain = "";
  return n;
}

static oxrt_status *node_io(oxrt_graph *g, oxrt_node *n, const char *op, int n_in, const int *ins, int n_out,
                            const int *outs) {
  n->op_type = op;
  n->inputs = oxrt_arena_alloc(g->arena, sizeof(int) * (size_t)(n_in + 1));
  n->outputs = oxrt_arena_alloc(g->arena, sizeof(int) * (size_t)(n_out + 1));
  if (!n->inputs || !n->outputs) return OXRT_OOM();
  memcpy(n->inputs, ins, sizeof(int) * (size_t)n_in);
  memcpy(n->outputs, outs, sizeof(int) * (size_t)n_out);
  n->n_inputs = n_in, n->n_outputs = n_out;
  return NULL;
}

static oxrt_status *new_value(conv *c, oxrt_graph *g, const char *base, const char *what, int *id) {
  char name[512];
  do snprintf(name, sizeof name, "%s_%s_%d", base, what, c->counter++);
  while (oxrt_graph_find(g, name) >= 0);
  char *nm = oxrt_arena_strndup(g->arena, name, strlen(name));
  if (!nm) return OXRT_OOM();
  *id = oxrt_graph_intern(g, nm);
  return *id < 0 ? OXRT_OOM() : NULL;
}

/* ------------------------------------------------------------ adapters */
static const char *const broadcast_ops[] = {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Less",
                                            "Greater", "Gemm", NULL};
static const char *const reduce18[] = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                                       "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", NULL};

static bool in(const char *op, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(op, *list)) return true;
  return false;
}

/* Feeds input `k` of node `*idx` through a new Unsqueeze adding `axes` (inserted before the node). */
static oxrt_status *unsqueeze_input(conv *c, oxrt_graph *g, int *idx, int k, const int64_t *axes, size_t n_axes) {
  oxrt_node *n = &g->nodes[*idx];
  int b = n->inputs[k], out_id, axes_id = -1;
  oxrt_value *t;
  OXRT_TRY(int64_tensor(axes, n_axes, false, &t));
  OXRT_TRY(new_value(c, g, g->values[b].name, "unsqueezed", &out_id));
  oxrt_node *u = insert_node(g, *idx);
  if (!u) {
    oxrt_value_free(t);
    return OXRT_OOM();
  }
  /* the Unsqueeze is made for the target opset: axes as an input from 13, else an attribute */
  if (c->to >= 13) {
    OXRT_TRY(add_const(c, g, u, "axes", t, &axes_id));
    OXRT_TRY(node_io(g, u, "Unsqueeze", 2, (int[]){b, axes_id}, 1, &out_id));
  } else {
    OXRT_TRY(node_io(g, u, "Unsqueeze", 1, &b, 1, &out_id));
    oxrt_attr a;
    memset(&a, 0, sizeof a);
    a.name = "axes", a.type = OXRT_ATTR_INTS, a.n = n_axes;
    a.ints = oxrt_arena_alloc(g->arena, sizeof(int64_t) * (n_axes + 1));
    if (!a.ints) return oxrt_value_free(t), OXRT_OOM();
    memcpy(a.ints, axes, sizeof(int64_t) * n_axes);
    oxrt_value_free(t);
    OXRT_TRY(set_attr(g, u, &a));
  }
  (*idx)++;
  g->nodes[*idx].inputs[k] = out_id;
  return NULL;
}

/* Opset <= 6 broadcasting (`broadcast`, `axis`): B lines up with A at `axis`; numpy rules line up at the end, so
 * B gets trailing unit dimensions through Unsqueeze. */
static oxrt_status *adapt_broadcast(conv *c, oxrt_graph *g, int *idx) {
  oxrt_node *n = &g->nodes[*idx];
  const oxrt_attr *bc = find_attr(n, "broadcast");
  const oxrt_attr *ax = find_attr(n, "axis");
  bool on = bc && bc->i;
  int64_t axis = ax ? ax->i : -1;
  drop_attr(n, "broadcast");
  if (!is_op(n, "Gemm")) drop_attr(n, "axis");
  if (!on || is_op(n, "Gemm") || n->n_inputs < 2 || !ax) return NULL;
  int ra = rank_of(g, n->inputs[0]), rb = rank_of(g, n->inputs[1]);
  if (ra < 0 || rb < 0)
    return BAD("broadcast with axis=%lld needs the ranks of both inputs to convert", (long long)axis);
  if (axis < 0) axis += ra;
  int64_t trailing = ra - axis - rb;
  if (trailing <= 0) return NULL;
  int64_t axes[OXRT_MAX_RANK];
  for (int64_t i = 0; i < trailing && i < OXRT_MAX_RANK; i++) axes[i] = rb + i;
  return unsqueeze_input(c, g, idx, 1, axes, (size_t)trailing);
}

/* PRelu before 7 applies a 1-D slope per channel (axis 1); numpy rules need it shaped [C, 1, ...]. */
static oxrt_status *adapt_prelu(conv *c, oxrt_graph *g, int *idx) {
  oxrt_node *n = &g->nodes[*idx];
  if (n->n_inputs < 2) return NULL;
  int rx = rank_of(g, n->inputs[0]), rs = rank_of(g, n->inputs[1]);
  const oxrt_value *sv = g->values[n->inputs[1]].init;
  if (rs != 1 || rx < 3 || (sv && sv->count == 1)) return NULL;
  int64_t axes[OXRT_MAX_RANK];
  for (int i = 0; i < rx - 2 && i < OXRT_MAX_RANK; i++) axes[i] = 1 + i;
  return unsqueeze_input(c, g, idx, 1, axes, (size_t)(rx - 2));
}

/* Softmax-family before 13 flattens to 2-D at `axis`; from 13 it works on one axis. Same result when `axis` is the
 * last one; otherwise Flatten, the op on axis 1, and Reshape back to the input's shape. */
static oxrt_status *adapt_softmax(conv *c, oxrt_graph *g, int *idx) {
  oxrt_node *n = &g->nodes[*idx];
  int64_t axis = 1;
  const oxrt_attr *a = find_attr(n, "axis");
  if (a) axis = a->i;
  int r = rank_of(g, n->inputs[0]);
  if (r >= 0 && (axis == r - 1 || axis == -1)) return set_int_attr(g, n, "axis", -1);
  int x = n->inputs[0], y = n->outputs[0];
  int flat, soft, shape;
  OXRT_TRY(new_value(c, g, g->values[y].name, "flat", &flat));
  OXRT_TRY(new_value(c, g, g->values[y].name, "2d", &soft));
  OXRT_TRY(new_value(c, g, g->values[y].name, "shape", &shape));
  int at = *idx;
  oxrt_node *s = insert_node(g, at);
  if (!s) return OXRT_OOM();
  OXRT_TRY(node_io(g, s, "Shape", 1, &x, 1, &shape));
  oxrt_node *f = insert_node(g, at + 1);
  if (!f) return OXRT_OOM();
  OXRT_TRY(node_io(g, f, "Flatten", 1, &x, 1, &flat));
  OXRT_TRY(set_int_attr(g, f, "axis", axis));
  n = &g->nodes[at + 2];
  n->inputs[0] = flat;
  n->outputs[0] = soft;
  OXRT_TRY(set_int_attr(g, n, "axis", 1));
  oxrt_node *rs = insert_node(g, at + 3);
  if (!rs) return OXRT_OOM();
  OXRT_TRY(node_io(g, rs, "Reshape", 2, (int[]){soft, shape}, 1, &y));
  *idx = at + 3;
  return NULL;
}

/* Every adapter for node `*idx` whose opset lies in (from, to]; may insert nodes (then *idx moves to the last). */
static oxrt_status *adapt_node(conv *c, oxrt_graph *g, int *idx) {
  oxrt_node *n = &g->nodes[*idx];
  if (*n->domain) return NULL;
#define STEP(v) (c->from < (v) && c->to >= (v))
  const char *op = n->op_type;
  if (STEP(2) && is_op(n, "Pad") && find_attr(n, "paddings")) find_attr(n, "paddings")->name = "pads";
  if (STEP(4) && is_op(n, "Concat") && !find_attr(n, "axis")) OXRT_TRY(set_int_attr(g, n, "axis", 1));
  if (STEP(5) && is_op(n, "Reshape")) OXRT_TRY(ints_to_input(c, g, n, "shape", 1, false));
  if (STEP(6)) drop_attr(n, "consumed_inputs");
  if (STEP(7) && (is_op(n, "BatchNormalization") || is_op(n, "Dropout"))) drop_attr(n, "is_test");
  if (STEP(7) && in(op, broadcast_ops)) {
    OXRT_TRY(adapt_broadcast(c, g, idx));
    n = &g->nodes[*idx];
  }
  if (STEP(7) && is_op(n, "PRelu")) {
    OXRT_TRY(adapt_prelu(c, g, idx));
    n = &g->nodes[*idx];
  }
  if (STEP(9) && is_op(n, "Scan"))
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "Scan-8 (with a batch axis) has no adapter to Scan-9");
  if (STEP(9) && is_op(n, "BatchNormalization")) drop_attr(n, "spatial");
  if (STEP(9) && is_op(n, "Upsample")) OXRT_TRY(float_to_input(c, g, n, "scales", 1, OXRT_FLOAT));
  if (STEP(10) && is_op(n, "Upsample")) n->op_type = "Resize";
  if (STEP(10) && is_op(n, "Slice")) {
    /* starts, ends, axes: inputs 1, 2, 3 */
    OXRT_TRY(ints_to_input(c, g, n, "starts", 1, false));
    OXRT_TRY(ints_to_input(c, g, n, "ends", 2, false));
    OXRT_TRY(ints_to_input(c, g, n, "axes", 3, false));
  }
  if (STEP(10) && is_op(n, "TopK")) OXRT_TRY(ints_to_input(c, g, n, "k", 1, false));
  if (STEP(11) && is_op(n, "Resize") && n->n_inputs == 2) {
    /* Resize-10 sampled like Upsample: asymmetric coordinates, nearest rounds down */
    int scales = n->inputs[1];
    OXRT_TRY(set_input(g, n, 2, scales));
    n->inputs[1] = -1;
    if (c->to < 13) { /* roi is required (it may be empty) until 13 */
      int64_t zero = 0;
      oxrt_value *roi;
      int roi_id;
      OXRT_TRY(oxrt_value_create_tensor(OXRT_FLOAT, &zero, 1, &roi));
      OXRT_TRY(add_const(c, g, n, "roi", roi, &roi_id));
      n->inputs[1] = roi_id;
    }
    if (!find_attr(n, "coordinate_transformation_mode"))
      OXRT_TRY(set_string_attr(g, n, "coordinate_transformation_mode", "asymmetric"));
    const char *mode = find_attr(n, "mode") ? find_attr(n, "mode")->s : "nearest";
    if (!strcmp(mode, "nearest")) OXRT_TRY(set_string_attr(g, n, "nearest_mode", "floor"));
  }
  if (STEP(11) && is_op(n, "Clip")) {
    oxrt_elem_type et = elem_of(g, n->inputs[0]);
    OXRT_TRY(float_to_input(c, g, n, "min", 1, et));
    OXRT_TRY(float_to_input(c, g, n, "max", 2, et));
  }
  if (STEP(11) && is_op(n, "Pad")) {
    oxrt_elem_type et = elem_of(g, n->inputs[0]);
    OXRT_TRY(ints_to_input(c, g, n, "pads", 1, false));
    if (find_attr(n, "value") && find_attr(n, "value")->f != 0.0f) OXRT_TRY(float_to_input(c, g, n, "value", 2, et));
    drop_attr(n, "value");
  }
  if (STEP(11) && is_op(n, "Scatter")) n->op_type = "ScatterElements";
  if (STEP(12) && is_op(n, "Dropout")) OXRT_TRY(float_to_input(c, g, n, "ratio", 1, elem_of(g, n->inputs[0])));
  if (STEP(13) && (is_op(n, "Squeeze") || is_op(n, "Unsqueeze") || is_op(n, "ReduceSum")))
    OXRT_TRY(ints_to_input(c, g, n, "axes", 1, false));
  if (STEP(13) && is_op(n, "Split")) OXRT_TRY(ints_to_input(c, g, n, "split", 1, false));
  if (STEP(13) && (is_op(n, "Softmax") || is_op(n, "LogSoftmax") || is_op(n, "Hardmax"))) {
    OXRT_TRY(adapt_softmax(c, g, idx));
    n = &g->nodes[*idx];
  }
  if (STEP(18) && in(n->op_type, reduce18) && !*n->domain) OXRT_TRY(ints_to_input(c, g, n, "axes", 1, false));
  if (STEP(18) && is_op(n, "Split") && (n->n_inputs < 2 || n->inputs[1] < 0) && !find_attr(n, "num_outputs"))
    OXRT_TRY(set_int_attr(g, n, "num_outputs", n->n_outputs));
#undef STEP
  return NULL;
}

static oxrt_status *convert_graph(conv *c, oxrt_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    for (int a = 0; a < n->n_attrs; a++) {
      if (n->attrs[a].g) OXRT_TRY(convert_graph(c, n->attrs[a].g));
      for (size_t k = 0; n->attrs[a].graphs && k < n->attrs[a].n; k++) OXRT_TRY(convert_graph(c, n->attrs[a].graphs[k]));
    }
    oxrt_status *st = adapt_node(c, g, &i);
    if (st) return oxrt_error_prefix(st, "node '%s' (%s): ", g->nodes[i].name, g->nodes[i].op_type);
  }
  /* producers moved with the inserted nodes */
  for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_outputs; k++)
      if (g->nodes[i].outputs[k] >= 0) g->values[g->nodes[i].outputs[k]].producer = i;
  return NULL;
}

/* Lowest IR version that goes with an ai.onnx opset (the onnx package's release table). */
static int64_t min_ir_for_opset(int64_t opset) {
  static const int64_t ir[] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 7, 7, 8, 8, 8, 8, 9, 9, 10, 10, 11, 11, 12};
  if (opset < 0) return 3;
  return opset < (int64_t)(sizeof ir / sizeof ir[0]) ? ir[opset] : 12;
}

oxrt_status *oxrt_convert_opset(oxrt_model *m, int64_t target) {
  int64_t from = oxrt_model_opset(m, "");
  if (from < 0) from = 1;
  if (target < from)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "the model uses ai.onnx opset %lld; converting down to %lld is not "
                      "supported (only upgrades)", (long long)from, (long long)target);
  if (target > 24 || target < 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "target opset %lld is outside 1..24", (long long)target);
  conv c = {m, from, target, 0};
  OXRT_TRY(convert_graph(&c, m->graph));
  bool found = false;
  for (int i = 0; i < m->n_opsets; i++)
    if (!*m->opsets[i].domain) m->opsets[i].version = target, found = true;
  if (!found) {
    oxrt_opset *no = oxrt_arena_alloc(m->arena, sizeof *no * (size_t)(m->n_opsets + 1));
    if (!no) return OXRT_OOM();
    if (m->n_opsets) memcpy(no, m->opsets, sizeof *no * (size_t)m->n_opsets);
    no[m->n_opsets++] = (oxrt_opset){"", target};
    m->opsets = no;
  }
  if (m->ir_version < min_ir_for_opset(target)) m->ir_version = min_ir_for_opset(target);
  return NULL;
}

oxrt_status *oxrt_rewrite_model_bytes(const void *data, size_t size, oxrt_status *(*fn)(oxrt_model *, void *),
                                      void *arg, void **out, size_t *out_size) {
  if (!data || !out || !out_size) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "data and out must not be NULL");
  oxrt_tensor_src src = {.borrow = true, .base_dir = "."};
  oxrt_model *m;
  OXRT_TRY(oxrt_read_model(data, size, &src, &m));
  oxrt_status *st = fn(m, arg);
  uint8_t *buf = NULL;
  size_t n = 0;
  if (!st) st = oxrt_serialize_model(m, &buf, &n);
  oxrt_model_free(m);
  if (st) return st;
  *out = buf;
  *out_size = n;
  return NULL;
}

oxrt_status *oxrt_rewrite_model_file(const char *path, const char *out_path, size_t external_threshold,
                                     oxrt_status *(*fn)(oxrt_model *, void *), void *arg) {
  if (!path || !out_path) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "paths must not be NULL");
  oxrt_model *m;
  OXRT_TRY(oxrt_load_model_file(path, &m));
  oxrt_status *st = fn(m, arg);
  oxrt_write_options wo = {.external_threshold = external_threshold};
  if (!st) st = oxrt_write_model(m, out_path, &wo);
  oxrt_model_free(m);
  return st ? oxrt_error_prefix(st, "%s: ", path) : NULL;
}

static oxrt_status *convert_fn(oxrt_model *m, void *target) { return oxrt_convert_opset(m, *(int64_t *)target); }

oxrt_status *oxrt_convert_opset_file(const char *model_path, const char *out_path, int64_t target,
                                     size_t external_data_threshold) {
  return oxrt_rewrite_model_file(model_path, out_path, external_data_threshold, convert_fn, &target);
}

oxrt_status *oxrt_convert_opset_bytes(const void *data, size_t size, int64_t target, void **out, size_t *out_size) {
  return oxrt_rewrite_model_bytes(data, size, convert_fn, &target, out, out_size);
}
