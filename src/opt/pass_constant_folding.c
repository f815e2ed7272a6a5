/* pass_constant_folding.c - evaluates nodes whose inputs are all constants, once, with their own kernels.
 *
 * The results become initializers. Never folded: random operators (each run must draw anew),
 * Dropout (left to eliminate_noops), quantize/dequantize pairs (kept for quantized kernels), nodes
 * with subgraphs, and results larger than the size limit or much larger than their inputs (Expand,
 * Tile, ConstantOfShape would only make the model bigger). A kernel that fails here is left in the
 * graph, so its error surfaces at run time exactly as without optimisation.
 *
 * Bounded work (a hostile model must not stall session creation): a result's size is estimated before the
 * kernel runs (from ConstantOfShape's shape, else the inferred output shape) and a node that could not be kept
 * is not evaluated at all (the toolkit's shape inference, with constant propagation, runs first so that
 * Tile/Expand/Range/... results have known shapes); MatMul/Gemm/Conv of more than FOLD_MAX_MACS multiply-adds
 * are left to run time; all folding in one optimize call stops after FOLD_SECONDS and once the results total
 * fold_total_max bytes (the session passes its tensor_bytes and run_bytes limits as fold_max_bytes and
 * fold_total_max). A skip that a limit causes is logged.
 */
#include "../core/dtype.h"
#include "../exec/infer.h"
#include "opt.h"
#include "../exec/registry.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

#define FOLD_SECONDS 10.0
#define FOLD_MAX_MACS 268435456.0 /* 2^28: ~0.1 s of one core */

/* Operator properties from the schema (kernel.h): random ops and Dropout are nondeterministic, quantize/dequantize
 * are kept for quantized kernels. */
static bool foldable_op(const oxrt_node *n) {
  if (*n->domain && strcmp(n->domain, "ai.onnx.ml") != 0) return false; /* custom domains may be stateful */
  const oxrt_op_schema *sc = oxrt_registry_find(n->domain, n->op_type);
  if (sc && (sc->flags & (OXRT_OP_NONDETERMINISTIC | OXRT_OP_NO_FOLD))) return false;
  return !opt_has_subgraph(n);
}

/* A constant input: an initializer of g, or (inside a subgraph) one of the enclosing graph that defines the name,
 * as ONNX Runtime folds subgraph nodes fed by the outer graph's weights (silero_vad slices and concatenates its
 * LSTM weights inside an If branch on every run otherwise). */
static const oxrt_value *scoped_const(const oxrt_graph *g, int id) {
  if (id < 0 || id >= g->n_values) return NULL;
  if (!g->values[id].is_outer) return opt_const(g, id);
  const char *name = g->values[id].name;
  for (oxrt_graph *p = g->parent; p; p = p->parent) {
    int o = oxrt_graph_find(p, name);
    if (o < 0) continue;
    if (!p->values[o].is_outer) return opt_const(p, o);
  }
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fold_log(oxrt_opt_ctx *ctx, const oxrt_node *n, const char *fmt, double a, double b) {
  if (!ctx->log) return;
  char msg[512], what[160];
  snprintf(what, sizeof what, fmt, a, b);
  snprintf(msg, sizeof msg, "constant folding: node '%s' (%s) left to run time: %s", n->name, n->op_type, what);
  ctx->log(ctx->log_user, msg);
}

/* Bytes of the node's results when known before running it (ConstantOfShape's shape, inferred output
 * shapes); -1 when unknown. */
static double estimated_out_bytes(oxrt_graph *g, const oxrt_node *n, const oxrt_value *const *ins) {
  if (!strcmp(n->op_type, "ConstantOfShape") && !*n->domain && n->n_inputs > 0 && ins[0]) {
    const oxrt_value *s = ins[0];
    if (s->dtype != OXRT_INT64) return -1;
    const oxrt_attr *v = oxrt_node_attr(n, "value");
    double bytes = v && v->t ? (double)oxrt_elem_type_size(v->t->dtype) : 4;
    for (size_t k = 0; k < s->count; k++) bytes *= (double)((const int64_t *)s->data)[k];
    return bytes < 0 ? -1 : bytes;
  }
  double total = 0;
  for (int k = 0; k < n->n_outputs; k++) {
    if (n->outputs[k] < 0) continue;
    int64_t d[OXRT_MAX_RANK];
    int r = opt_shape(g, n->outputs[k], d);
    oxrt_elem_type t = opt_elem_type(g, n->outputs[k]);
    if (r < 0 || t == OXRT_UNDEFINED || t == OXRT_STRING) return -1;
    double bytes = (double)oxrt_elem_type_size(t);
    for (int i = 0; i < r; i++) {
      if (d[i] < 0) return -1;
      bytes *= (double)d[i];
    }
    total += bytes;
  }
  return total;
}

/* Multiply-adds of the ops whose work grows faster than their inputs and outputs; 0 for the others. */
static double macs(const oxrt_node *n, const oxrt_value *const *ins) {
  if (*n->domain || n->n_inputs < 2 || !ins[0] || !ins[1] || ins[0]->kind != OXRT_KIND_TENSOR ||
      ins[1]->kind != OXRT_KIND_TENSOR)
    return 0;
  const oxrt_value *a = ins[0], *b = ins[1];
  if (!strcmp(n->op_type, "MatMul") || !strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "MatMulInteger")) {
    /* each element of A meets a row of B (N), each of B a column of A (M): an upper bound with broadcasting */
    double rows = a->rank > 1 ? (double)a->dims[a->rank - 2] : 1, cols = b->rank > 0 ? (double)b->dims[b->rank - 1] : 1;
    return (double)a->count * cols + (double)b->count * rows;
  }
  if (!strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "ConvTranspose") || !strcmp(n->op_type, "ConvInteger"))
    return (double)a->count * (double)b->count; /* an upper bound: every input element meets every weight */
  return 0;
}

/* Whether the node may be evaluated: its estimated result fits the limits and the budgets are not spent. */
static bool within_budget(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *n, const oxrt_value *const *ins,
                          size_t in_bytes) {
  if (ctx->fold_stopped) return false;
  if (ctx->fold_seconds > FOLD_SECONDS) {
    fold_log(ctx, n, "all constant folding stopped after %.0f s (the limit is %.0f s)", ctx->fold_seconds,
             FOLD_SECONDS);
    ctx->fold_stopped = true;
    return false;
  }
  if (n->n_inputs == 0) return true; /* a Constant node: its value is in the model already */
  double est = estimated_out_bytes(g, n, ins);
  if (est > (double)ctx->fold_max_bytes) {
    fold_log(ctx, n, "its result would take %.0f bytes, over the %.0f-byte limit on one folded tensor", est,
             (double)ctx->fold_max_bytes);
    return false;
  }
  if (est > 4.0 * (double)in_bytes + (double)(1 << 20)) return false; /* the size rule below drops it anyway */
  if (est > 0 && (double)ctx->fold_total + est > (double)ctx->fold_total_max) {
    fold_log(ctx, n, "folded results would total %.0f bytes, over the %.0f-byte budget (run_bytes)",
             (double)ctx->fold_total + est, (double)ctx->fold_total_max);
    ctx->fold_stopped = true;
    return false;
  }
  double w = macs(n, ins);
  if (w > FOLD_MAX_MACS) {
    fold_log(ctx, n, "%.3g multiply-adds, over the %.3g that folding spends on one node", w, FOLD_MAX_MACS);
    return false;
  }
  return true;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  if (ctx->fold_stopped) return NULL;
  /* shapes for the size estimates; a model inference cannot follow keeps what it had (errors surface later) */
  oxrt_status_free(oxrt_infer_graph(ctx->model, g, OXRT_INFER_EXTENDED));
  const oxrt_value *ins[64];
  oxrt_value *outs[64];
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || n->n_inputs > 64 || n->n_outputs > 64 || n->n_outputs == 0 || !foldable_op(n)) continue;
    bool ok = true;
    size_t in_bytes = 0;
    for (int k = 0; k < n->n_inputs && ok; k++) {
      int v = n->inputs[k];
      ins[k] = v >= 0 ? scoped_const(g, v) : NULL;
      if (v >= 0 && !ins[k]) ok = false;
      else if (ins[k]) in_bytes += ins[k]->nbytes;
    }
    if (!ok) continue;
    if (!within_budget(ctx, g, n, ins, in_bytes)) continue; /* not even allocated */
    double t0 = now_s();
    oxrt_status *st = opt_eval_node(ctx->model, n, ins, outs);
    ctx->fold_seconds += now_s() - t0;
    if (st) {
      oxrt_status_free(st);
      continue;
    }
    size_t out_bytes = 0;
    for (int k = 0; k < n->n_outputs; k++) {
      if (n->outputs[k] < 0) continue;
      if (!outs[k] || outs[k]->kind != OXRT_KIND_TENSOR) ok = false;
      else out_bytes += outs[k]->nbytes;
    }
    bool is_constant_node = n->n_inputs == 0;
    if (ok && !is_constant_node && out_bytes > ctx->fold_max_bytes) /* only when the estimate was unknown */
      fold_log(ctx, n, "its result took %.0f bytes, over the %.0f-byte limit on one folded tensor", (double)out_bytes,
               (double)ctx->fold_max_bytes);
    if (ok && !is_constant_node &&
        (out_bytes > ctx->fold_max_bytes || out_bytes > ctx->fold_total_max - ctx->fold_total ||
         out_bytes > 4 * in_bytes + ((size_t)1 << 20)))
      ok = false;
    if (ok) ctx->fold_total += out_bytes;
    for (int k = 0; k < n->n_outputs; k++) {
      int v = n->outputs[k];
      if (ok && v >= 0) {
        g->values[v].init = outs[k];
        g->values[v].producer = -1;
      } else {
        oxrt_value_free(outs[k]);
      }
    }
    if (ok) {
      n->op_type = NULL;
      *changed = true;
    }
  }
  return NULL;
}

const oxrt_opt_pass oxrt_pass_constant_folding = {"constant_folding", OXRT_OPT_BASIC, true, run,
                                                  "nodes with only constant inputs become initializers"};
