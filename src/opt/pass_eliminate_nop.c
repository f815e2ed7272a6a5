/* pass_eliminate_nop.c - onnxoptimizer's "eliminate_nop_*" family: nodes whose output 0 equals one of their
 * inputs, each kind its own named pass. One driver removes the node once a kind's test says which input passes
 * through: Identity, Cast to the input's own type, inference Dropout, Flatten of a rank-2 input at axis 1,
 * identity Transpose, all-zero Pad, one-input Concat, one-output Split, Expand / Reshape to the input's own static
 * shape, x+0 / x-0 / x*1 / x/1 / x^1 / x&true / x|false that broadcast to x's shape, and an idempotent op
 * (Relu, Ceil, Floor, Round) applied to its own result.
 * Other outputs of the node (Dropout's mask) must be unread. opt_bypass keeps graph-output and captured names.
 */
#include "../core/dtype.h"
#include "opt.h"
#include <string.h>

/* Returns the input index that output 0 equals, or -1. */
typedef int (*nop_test)(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n);

static bool is(const oxrt_node *n, const char *op) { return !*n->domain && !strcmp(n->op_type, op); }

/* Fully static shape of `id` into dims; rank or -1 when any dim is unknown. */
static int static_shape(const oxrt_graph *g, int id, int64_t *dims) {
  int r = opt_shape(g, id, dims);
  for (int i = 0; i < r; i++)
    if (dims[i] < 0) return -1;
  return r;
}

/* The int64 constant at input k (an ints list), or NULL. */
static const oxrt_value *const_ints(const oxrt_graph *g, const oxrt_node *n, int k) {
  if (k >= n->n_inputs || n->inputs[k] < 0) return NULL;
  const oxrt_value *v = opt_const(g, n->inputs[k]);
  return v && v->dtype == OXRT_INT64 && v->rank <= 1 ? v : NULL;
}

static int t_identity(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  (void)ctx, (void)g;
  return is(n, "Identity") && n->n_outputs == 1 ? 0 : -1;
}

static int t_cast(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  (void)ctx;
  if (!is(n, "Cast")) return -1;
  const oxrt_attr *to = oxrt_node_attr(n, "to");
  oxrt_elem_type from = opt_value_type(g, n->inputs[0]);
  return to && to->type == OXRT_ATTR_INT && from != OXRT_UNDEFINED && to->i == (int64_t)from ? 0 : -1;
}

static int t_dropout(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  if (!is(n, "Dropout")) return -1;
  int64_t opset = opt_node_opset(ctx->model, n);
  if (opset < 7) return oxrt_attr_int(n, "is_test", 0) ? 0 : -1;
  if (opset < 12 || n->n_inputs < 3 || n->inputs[2] < 0) return 0;
  const oxrt_value *t = opt_const(g, n->inputs[2]); /* training_mode */
  return t && t->dtype == OXRT_BOOL && t->count == 1 && ((const uint8_t *)t->data)[0] == 0 ? 0 : -1;
}

static int t_flatten(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  (void)ctx;
  int64_t d[OXRT_MAX_RANK];
  if (!is(n, "Flatten") || opt_shape(g, n->inputs[0], d) != 2) return -1;
  int64_t axis = oxrt_attr_int(n, "axis", 1);
  return axis == 1 || axis == -1 ? 0 : -1;
}

static int t_transpose(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  (void)ctx;
  if (!is(n, "Transpose")) return -1;
  size_t c;
  const int64_t *p = oxrt_attr_ints(n, "perm", &c);
  if (!p) { /* default perm reverses: the identity only up to rank 1 */
    int64_t d[OXRT_MAX_RANK];
    int r = opt_shape(g, n->inputs[0], d);
    return r >= 0 && r <= 1 ? 0 : -1;
  }
  for (size_t i = 0; i < c; i++)
    if (p[i] != (int64_t)i) return -1;
  return 0;
}

static int t_pad(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  if (!is(n, "Pad")) return -1;
  size_t c = 0;
  const int64_t *p;
  if (opt_node_opset(ctx->model, n) < 11) {
    p = oxrt_attr_ints(n, "pads", &c);
    if (!p) p = oxrt_attr_ints(n, "paddings", &c); /* opset 1 */
  } else {
    const oxrt_value *v = const_ints(g, n, 1);
    p = v ? v->data : NULL;
    c = v ? v->count : 0;
  }
  if (!p) return -1;
  for (size_t i = 0; i < c; i++)
    if (p[i]) return -1;
  return 0;
}

static int t_concat(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  (void)ctx, (void)g;
  return is(n, "Concat") && n->n_inputs == 1 ? 0 : -1;
}

static int t_split(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  (void)ctx, (void)g;
  return is(n, "Split") && n->n_outputs == 1 ? 0 : -1; /* a valid one-way split is the whole input */
}

/* Expand(x, s) / Reshape(x, s) whose result has x's static shape. */
static int t_expand(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  (void)ctx;
  int64_t d[OXRT_MAX_RANK];
  const oxrt_value *s = is(n, "Expand") ? const_ints(g, n, 1) : NULL;
  int r = s ? static_shape(g, n->inputs[0], d) : -1;
  if (r < 0 || (int)s->count > r) return -1;
  const int64_t *sv = s->data;
  for (size_t i = 0; i < s->count; i++) {
    int64_t want = sv[s->count - 1 - i];
    if (want != 1 && want != d[r - 1 - (int)i]) return -1;
  }
  return 0;
}

static int t_reshape(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  int64_t d[OXRT_MAX_RANK];
  const oxrt_value *s = is(n, "Reshape") && opt_node_opset(ctx->model, n) >= 5 ? const_ints(g, n, 1) : NULL;
  int r = s ? static_shape(g, n->inputs[0], d) : -1;
  if (r < 0 || (int)s->count != r) return -1;
  bool allowzero = oxrt_attr_int(n, "allowzero", 0) != 0;
  const int64_t *sv = s->data;
  for (int i = 0; i < r; i++) {
    if (d[i] == 0) return -1; /* a -1 next to a zero dim is ambiguous: leave it to the kernel */
    if (sv[i] != d[i] && !(sv[i] == 0 && !allowzero) && sv[i] != -1) return -1;
  }
  return 0; /* every other dim equals the input's, so a single -1 resolves to the input's dim too */
}

/* The constant at input k holds only `unit` and broadcasting it against input `other` keeps that input's shape
 * and type. */
static bool unit_const(oxrt_graph *g, const oxrt_node *n, int k, double unit) {
  const oxrt_value *c = opt_const(g, n->inputs[k]);
  int other = n->inputs[1 - k];
  int64_t d[OXRT_MAX_RANK];
  int r = opt_shape(g, other, d);
  if (!c || opt_value_type(g, other) != c->dtype || c->dtype == OXRT_STRING) return false;
  /* a scalar keeps any shape; a one-element constant any shape of at least its rank; else dims must match */
  if (c->rank > 0 && (r < 0 || c->rank > r)) return false;
  for (int i = 0; i < c->rank; i++)
    if (c->dims[c->rank - 1 - i] != 1 && c->dims[c->rank - 1 - i] != d[r - 1 - i]) return false;
  for (size_t i = 0; i < c->count; i++)
    if (oxrt_load_f64(c->dtype, c->data, i) != unit) return false;
  return true;
}

static int t_unit(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  (void)ctx;
  if (*n->domain || n->n_inputs != 2 || n->inputs[0] < 0 || n->inputs[1] < 0) return -1;
  const char *op = n->op_type;
  bool commutes = !strcmp(op, "Add") || !strcmp(op, "Mul") || !strcmp(op, "And") || !strcmp(op, "Or");
  double unit;
  if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Or")) unit = 0;
  else if (!strcmp(op, "Mul") || !strcmp(op, "Div") || !strcmp(op, "Pow") || !strcmp(op, "And")) unit = 1;
  else return -1;
  if (oxrt_attr_int(n, "broadcast", 0)) return -1; /* legacy broadcast with axis: keep it simple */
  if (!strcmp(op, "Pow") && opt_value_type(g, n->inputs[0]) != opt_elem_type(g, n->inputs[1])) return -1;
  if (unit_const(g, n, 1, unit)) return 0;
  if (commutes && unit_const(g, n, 0, unit)) return 1;
  return -1;
}

static int t_idempotent(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n) {
  (void)ctx;
  static const char *const ops[] = {"Relu", "Ceil", "Floor", "Round", NULL};
  if (*n->domain || n->n_inputs != 1 || n->n_outputs != 1) return -1;
  for (const char *const *p = ops; *p; p++)
    if (!strcmp(n->op_type, *p)) {
      const oxrt_node *q = opt_producer(g, n->inputs[0]);
      return q && is(q, *p) && q->n_inputs == 1 ? 0 : -1;
    }
  return -1;
}

static oxrt_status *eliminate(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed, nop_test test) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || n->n_inputs < 1 || n->n_outputs < 1 || n->inputs[0] < 0 || n->outputs[0] < 0) continue;
    bool extra_read = false;
    for (int k = 1; k < n->n_outputs; k++)
      if (n->outputs[k] >= 0 && (u.count[n->outputs[k]] || u.pinned[n->outputs[k]])) extra_read = true;
    int k = extra_read ? -1 : test(ctx, g, n);
    if (k < 0) continue;
    int x = n->inputs[k];
    if (!opt_bypass(g, n, x, n->outputs[0], &u)) continue;
    for (int j = 1; j < n->n_outputs; j++) /* unread extra outputs lose their producer */
      if (n->outputs[j] >= 0) g->values[n->outputs[j]].producer = -1;
    for (int j = 0; j < n->n_inputs; j++) /* opt_bypass accounted for one read of x */
      if (j != k && n->inputs[j] >= 0) u.count[n->inputs[j]]--;
    *changed = true;
  }
  opt_uses_free(&u);
  return NULL;
}

#define NOP_PASS(id, test, summary)                                                                                   \
  static oxrt_status *run_##id(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {                                   \
    return eliminate(ctx, g, changed, test);                                                                         \
  }                                                                                                                  \
  const oxrt_opt_pass oxrt_pass_##id = {#id, OXRT_OPT_ALL, true, run_##id, summary};

NOP_PASS(eliminate_identity, t_identity, "Identity nodes")
NOP_PASS(eliminate_nop_cast, t_cast, "Cast to the type its input already has")
NOP_PASS(eliminate_nop_dropout, t_dropout, "Dropout in inference mode whose mask is unread")
NOP_PASS(eliminate_nop_flatten, t_flatten, "Flatten of a rank-2 input at axis 1")
NOP_PASS(eliminate_nop_transpose, t_transpose, "Transpose with the identity permutation")
NOP_PASS(eliminate_nop_pad, t_pad, "Pad with all pads zero")
NOP_PASS(eliminate_nop_concat, t_concat, "Concat of a single input")
NOP_PASS(eliminate_nop_split, t_split, "Split into a single output")
NOP_PASS(eliminate_nop_expand, t_expand, "Expand to a shape the input already has (static shapes)")
NOP_PASS(eliminate_nop_reshape, t_reshape, "Reshape to the shape the input already has (static shapes)")
NOP_PASS(eliminate_nop_with_unit, t_unit, "x+0, x-0, x*1, x/1, x^1, x&true, x|false keeping x's shape")
NOP_PASS(eliminate_consecutive_idempotent_ops, t_idempotent, "Relu/Ceil/Floor/Round applied to its own result")
