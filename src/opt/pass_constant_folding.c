/* pass_constant_folding.c - evaluates nodes whose inputs are all constants, once, with their own kernels.
 *
 * The results become initializers. Never folded: random operators (each run must draw anew),
 * Dropout (left to eliminate_noops), quantize/dequantize pairs (kept for quantized kernels), nodes
 * with subgraphs, and results larger than the size limit or much larger than their inputs (Expand,
 * Tile, ConstantOfShape would only make the model bigger). A kernel that fails here is left in the
 * graph, so its error surfaces at run time exactly as without optimisation.
 */
#include "opt.h"
#include "../exec/registry.h"
#include <string.h>

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

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
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
    if (strcmp(n->op_type, "ConstantOfShape") == 0 && ins[0]) {
      /* do not even allocate an oversized result */
      double elems = 1;
      const oxrt_value *s = ins[0];
      for (size_t k = 0; k < s->count && s->dtype == OXRT_INT64; k++) elems *= (double)((const int64_t *)s->data)[k];
      if (elems * 8 > (double)ctx->fold_max_bytes) continue;
    }
    oxrt_status *st = opt_eval_node(ctx->model, n, ins, outs);
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
    if (ok && !is_constant_node &&
        (out_bytes > ctx->fold_max_bytes || out_bytes > 4 * in_bytes + ((size_t)1 << 20)))
      ok = false;
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
