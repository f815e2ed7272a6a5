/* Loop.c - Loop (opsets 1..25).
 * Inputs: M (trip count, optional), cond (optional), N loop-carried values. The body takes
 * (iteration_num, cond, carried...) and returns (cond, carried..., K scan outputs). The node returns the
 * final carried values and, per scan output, the per-iteration tensors stacked along a new first axis.
 * Opset 13 allows sequences and opset 16 optionals as carried values: they pass through untouched.
 *   M absent, cond absent  : runs until stopped (the spec's infinite loop)
 *   M given,  cond absent  : M iterations, the body's cond is ignored
 *   M absent, cond given   : while cond
 *   both                   : at most M iterations while cond */
#include "../op_util.h"
#include "../infer_rules.h"
#include <stdlib.h>
#include <string.h>

static oxrt_status *loop_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  (void)state;
  const oxrt_attr *a = oxrt_node_attr(node, "body");
  if (!a || !a->g) return oxrt_error(OXRT_ERR_INVALID_MODEL, "graph attribute 'body' is required");
  if (node->n_inputs < 2) return oxrt_error(OXRT_ERR_INVALID_MODEL, "needs inputs M and cond (possibly empty)");
  int n = node->n_inputs - 2;
  const oxrt_graph *g = a->g;
  if (g->n_inputs != n + 2)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "body takes %d inputs, expected %d (iteration, cond, %d carried)",
                      g->n_inputs, n + 2, n);
  if (g->n_outputs < n + 1)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "body returns %d values, expected at least %d (cond, %d carried)",
                      g->n_outputs, n + 1, n);
  if (node->n_outputs > g->n_outputs - 1)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "node has %d outputs but the body yields only %d", node->n_outputs,
                      g->n_outputs - 1);
  return NULL;
}

/* Per scan output: the tensors of every iteration. */
typedef struct scan_acc {
  oxrt_value **items;
  size_t n, cap;
} scan_acc;

static oxrt_status *acc_push(scan_acc *a, oxrt_value *v) {
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 16;
    oxrt_value **ni = realloc(a->items, nc * sizeof *ni);
    if (!ni) {
      oxrt_value_free(v);
      return OXRT_OOM();
    }
    a->items = ni;
    a->cap = nc;
  }
  a->items[a->n++] = v;
  return NULL;
}

/* Stacks the tensors of a scan output along a new axis 0 into output `o`. */
static oxrt_status *stack_output(oxrt_kernel_ctx *ctx, int o, const scan_acc *a, const oxrt_value_def *decl) {
  int64_t dims[OXRT_MAX_RANK];
  oxrt_value *out;
  if (a->n == 0) {
    /* No iteration ran: an empty tensor shaped from the body's declared output where it is known. */
    const oxrt_type *t = decl->type;
    oxrt_elem_type et = t && t->kind == OXRT_KIND_TENSOR && t->elem_type ? t->elem_type : OXRT_FLOAT;
    int rank = 1;
    dims[0] = 0;
    if (t && t->kind == OXRT_KIND_TENSOR && t->rank >= 0 && t->rank < OXRT_MAX_RANK) {
      bool known = true;
      for (int d = 0; d < t->rank; d++) known = known && t->dims[d] >= 0;
      if (known) {
        for (int d = 0; d < t->rank; d++) dims[d + 1] = t->dims[d];
        rank = t->rank + 1;
      }
    }
    return oxrt_output_tensor(ctx, o, et, rank, dims, &out);
  }
  const oxrt_value *f = a->items[0];
  for (size_t i = 0; i < a->n; i++) {
    const oxrt_value *v = a->items[i];
    if (v->kind != OXRT_KIND_TENSOR)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scan output '%s' must be a tensor", decl->name);
    if (v->dtype != f->dtype || v->rank != f->rank || memcmp(v->dims, f->dims, sizeof(int64_t) * (size_t)v->rank)) {
      char b1[128], b2[128];
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                        "scan output '%s' changes shape between iterations: %s at iteration 0, %s at iteration %zu",
                        decl->name, oxrt_value_describe(f, b1, sizeof b1), oxrt_value_describe(v, b2, sizeof b2), i);
    }
  }
  if (f->rank + 1 > OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scan output rank too large");
  dims[0] = (int64_t)a->n;
  for (int d = 0; d < f->rank; d++) dims[d + 1] = f->dims[d];
  OXRT_TRY(oxrt_output_tensor(ctx, o, f->dtype, f->rank + 1, dims, &out));
  size_t es = oxrt_elem_type_size(f->dtype);
  for (size_t i = 0; i < a->n; i++)
    if (f->count && !oxrt_convert(f->dtype, (char *)out->data + i * f->count * es, f->dtype, a->items[i]->data,
                                  f->count, false))
      return OXRT_OOM();
  return NULL;
}

static oxrt_status *read_cond(const oxrt_value *c, const char *what, bool *out) {
  if (!c || c->kind != OXRT_KIND_TENSOR || c->count != 1 || c->dtype == OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%s must be a bool tensor with one value", what);
  *out = oxrt_load_f64(c->dtype, c->data, 0) != 0;
  return NULL;
}

static oxrt_status *loop_run(oxrt_kernel_ctx *ctx) {
  const oxrt_graph *g = oxrt_node_attr(ctx->node, "body")->g;
  const int n = ctx->n_inputs - 2, k = g->n_outputs - 1 - n;
  const oxrt_value *mv = oxrt_input(ctx, 0), *cv = oxrt_input(ctx, 1);
  int64_t max_trip = INT64_MAX;
  bool cond = true;
  if (mv) {
    OXRT_TRY(oxrt_check_tensor(mv, 0, "M"));
    if (mv->dtype != OXRT_INT64 || mv->count != 1)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (M) must be an int64 scalar");
    max_trip = *(const int64_t *)mv->data;
  }
  if (cv) OXRT_TRY(read_cond(cv, "input 1 (cond)", &cond));

  oxrt_status *st = NULL;
  const oxrt_value **in = calloc((size_t)n + 3, sizeof *in);
  bool *own = calloc((size_t)n + 3, sizeof *own); /* in[i] owned by this loop (an earlier body output) */
  oxrt_value **out = calloc((size_t)g->n_outputs + 1, sizeof *out);
  scan_acc *acc = calloc((size_t)k + 1, sizeof *acc);
  oxrt_value *iter = NULL, *cin = NULL;
  if (!in || !own || !out || !acc) {
    st = OXRT_OOM();
    goto done;
  }
  if ((st = oxrt_tensor_new(OXRT_INT64, 0, NULL, &iter)) || (st = oxrt_tensor_new(OXRT_BOOL, 0, NULL, &cin)))
    goto done;
  in[0] = iter;
  in[1] = cin;
  for (int i = 0; i < n && !st; i++) {
    in[2 + i] = ctx->inputs[2 + i];
    if (!in[2 + i]) { /* an omitted carried value (optional type) starts as an empty optional */
      oxrt_value *e = NULL;
      st = oxrt_value_new_container(OXRT_KIND_OPTIONAL, OXRT_UNDEFINED, 1, &e);
      in[2 + i] = e;
      own[2 + i] = e != NULL;
    }
  }
  if (st) goto done;

  for (int64_t it = 0; it < max_trip && cond; it++) {
    *(int64_t *)iter->data = it;
    *(uint8_t *)cin->data = cond;
    memset(out, 0, sizeof *out * (size_t)g->n_outputs);
    st = oxrt_subgraph_run(ctx, g, in, n + 2, out);
    if (st) break;
    /* cond matters only when the node was given one */
    if (cv) st = read_cond(out[0], "body output 0 (cond)", &cond);
    oxrt_value_free(out[0]);
    out[0] = NULL;
    for (int i = 0; i < n; i++) {
      if (own[2 + i]) oxrt_value_free((oxrt_value *)in[2 + i]);
      in[2 + i] = out[1 + i];
      own[2 + i] = true;
      out[1 + i] = NULL;
    }
    for (int j = 0; j < k && !st; j++) {
      st = acc_push(&acc[j], out[1 + n + j]);
      out[1 + n + j] = NULL;
    }
    if (st) break;
  }
  for (int o = 0; !st && o < ctx->n_outputs; o++) {
    if (!oxrt_output_wanted(ctx, o)) continue;
    if (o < n) {
      oxrt_value *v = NULL;
      if (own[2 + o]) {
        v = (oxrt_value *)in[2 + o];
        own[2 + o] = false;
      } else {
        st = oxrt_value_clone(in[2 + o], &v);
      }
      if (!st) st = oxrt_set_output(ctx, o, v);
    } else {
      st = stack_output(ctx, o, &acc[o - n], &g->values[g->outputs[o + 1]]);
    }
  }
done:
  if (own)
    for (int i = 0; i < n; i++)
      if (own[2 + i]) oxrt_value_free((oxrt_value *)in[2 + i]);
  if (out)
    for (int i = 0; i < g->n_outputs; i++) oxrt_value_free(out[i]);
  if (acc)
    for (int j = 0; j < k; j++) {
      for (size_t i = 0; i < acc[j].n; i++) oxrt_value_free(acc[j].items[i]);
      free(acc[j].items);
    }
  oxrt_value_free(iter);
  oxrt_value_free(cin);
  free(in), free(own), free(out), free(acc);
  return st;
}

static const oxrt_op_impl loop_impls[] = {{.since_version = 1, .prepare = loop_prepare, .run = loop_run}};

/* The body sees the iteration number, the condition and the loop-carried values' element types (their shapes
 * may change across iterations); loop-carried outputs keep what the initial value and the body output share,
 * scan outputs get a leading dimension of unknown size. */
static oxrt_status *infer_loop(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  const oxrt_attr *ba = oxrt_node_attr(n, "body");
  int n_state = n->n_inputs - 2;
  if (!ba || !ba->g || n_state < 0 || ba->g->n_inputs != n_state + 2 || ba->g->n_outputs != n->n_outputs + 1)
    return NULL;
  oxrt_graph *body = ba->g;
  oxrt_tshape *formal = calloc((size_t)body->n_inputs + (size_t)body->n_outputs + 1, sizeof *formal);
  if (!formal) return OXRT_OOM();
  oxrt_tshape *outs = formal + body->n_inputs, init, o;
  for (int i = 0; i < body->n_inputs; i++) oxrt_tshape_clear(&formal[i]);
  formal[0].elem = OXRT_INT64;
  oxrt_infer_input(ctx, 1, &formal[1]);
  for (int i = 0; i < n_state; i++)
    if (oxrt_infer_input(ctx, 2 + i, &formal[2 + i])) formal[2 + i].rank = -1;
  oxrt_status *st = oxrt_infer_subgraph(ctx, body, formal, body->n_inputs, outs);
  for (int k = 0; k < n->n_outputs && !st; k++) {
    const oxrt_tshape *b = &outs[1 + k];
    if (k < n_state) {
      if (oxrt_infer_input(ctx, 2 + k, &init) && oxrt_tshape_union(&init, b, &o)) st = oxrt_infer_output(ctx, k, &o);
    } else if (b->elem != OXRT_UNDEFINED && b->rank < OXRT_MAX_RANK) {
      o = *b;
      if (b->rank >= 0) {
        for (int d = b->rank; d > 0; d--) o.dims[d] = b->dims[d - 1], o.names[d] = b->names[d - 1];
        o.dims[0] = -1, o.names[0] = NULL, o.rank = b->rank + 1;
      }
      st = oxrt_infer_output(ctx, k, &o);
    }
  }
  free(formal);
  return st;
}

OXRT_REGISTER_OP(Loop) = {"", "Loop", OXRT_IMPLS(loop_impls), .infer = infer_loop};
