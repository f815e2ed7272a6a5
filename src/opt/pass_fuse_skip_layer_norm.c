/* pass_fuse_skip_layer_norm.c - a transformer block's residual add and the LayerNormalization after it become one
 * com.microsoft SkipLayerNormalization (ONNX Runtime's contrib op, so the saved model still runs there), taking in
 * the bias Add of the MatMul that feeds the residual too:
 *
 *   y = LayerNormalization(Add(Add(a, bias), skip), gamma {, beta}, axis = -1)
 *   ->  y = SkipLayerNormalization(a, skip, gamma, beta, bias)      (bias, beta optional)
 *
 * Three passes over the activations become one. When the sum is read elsewhere too (pre-LN models such as GPT-2
 * carry it as the residual stream), the fused node writes it as its output 3 under the same name.
 * Proofs: float tensors (a float gamma makes X float, and Add's operands share its type); gamma, beta, bias
 * constant 1-D [H] with H the static last dim; the LayerNormalization
 * normalises the last axis only (axis -1) and has no Mean/InvStdDev readers; both Add operands have the static
 * last dim H (from shapes or the constants of their producers, see last_dim), so only leading dims can broadcast,
 * which the kernel does (ONNX Runtime's kernel wants equal shapes: a transformer's residual stream has them);
 * the bias Add's output has no other reader; every other reader of the sum comes after the LayerNormalization
 * in node order (it now produces the sum).
 */
#include "opt.h"
#include <string.h>

/* Constant float 1-D [H] behind `id`, or NULL. */
static const oxrt_value *row_const(oxrt_graph *g, int id, int64_t H) {
  const oxrt_value *c = id >= 0 ? opt_const(g, id) : NULL;
  return c && c->dtype == OXRT_FLOAT && c->rank == 1 && c->dims[0] == H ? c : NULL;
}

/* Static size of the last axis of `id`, or -1: from its shape, else through the producers whose last axis is
 * fixed by a constant: MatMul(., W), Gather(table, ids) on axis 0, a normalisation with a 1-D scale of length > 1
 * (it must then match the normalised axis), and ops that keep it (Add of a 1-D constant row, GELUs). */
static int64_t last_dim(oxrt_graph *g, int id, int depth) {
  int64_t dims[OXRT_MAX_RANK];
  int r = opt_shape(g, id, dims);
  if (r >= 1 && dims[r - 1] > 0) return dims[r - 1];
  oxrt_node *p = opt_producer(g, id);
  if (!p || !p->op_type || depth > 8) return -1;
  const char *op = p->op_type;
  const oxrt_value *c;
  if (!*p->domain && !strcmp(op, "MatMul") && p->n_inputs == 2)
    return (c = opt_const(g, p->inputs[1])) && c->rank >= 2 ? c->dims[c->rank - 1] : -1;
  if (!*p->domain && !strcmp(op, "Gather") && p->n_inputs == 2 && oxrt_attr_int(p, "axis", 0) == 0)
    return (c = opt_const(g, p->inputs[0])) && c->rank == 2 ? c->dims[1] : -1;
  if ((!*p->domain && !strcmp(op, "LayerNormalization") && oxrt_attr_int(p, "axis", -1) == -1 && p->outputs[0] == id) ||
      (!strcmp(p->domain, "com.microsoft") && !strcmp(op, "SkipLayerNormalization") &&
       (p->outputs[0] == id || (p->n_outputs > 3 && p->outputs[3] == id))))
    return (c = opt_const(g, p->inputs[p->op_type[0] == 'S' ? 2 : 1])) && c->rank == 1 && c->dims[0] > 1 ? c->dims[0]
                                                                                                          : -1;
  if (!strcmp(p->domain, "com.microsoft") && p->n_inputs >= 1 &&
      (!strcmp(op, "BiasGelu") || !strcmp(op, "Gelu") || !strcmp(op, "FastGelu")))
    return last_dim(g, p->inputs[0], depth + 1);
  if (opt_is_op(p, "Add", 2)) {
    for (int s = 0; s < 2; s++)
      if ((c = opt_const(g, p->inputs[s])) && c->rank <= 1) {
        int64_t h = last_dim(g, p->inputs[1 - s], depth + 1);
        return c->rank == 1 && c->dims[0] != h && c->dims[0] != 1 ? -1 : h;
      }
    int64_t h = last_dim(g, p->inputs[0], depth + 1); /* both sides H (1 would broadcast: not proven) */
    return h > 1 && last_dim(g, p->inputs[1], depth + 1) == h ? h : -1;
  }
  return -1;
}

static oxrt_status *try_fuse(oxrt_opt_ctx *ctx, oxrt_graph *g, opt_uses *u, int li, bool *changed) {
  oxrt_node *ln = &g->nodes[li];
  if (ln->n_inputs < 2 || ln->n_inputs > 3 || ln->n_outputs < 1 || opt_has_subgraph(ln)) return NULL;
  for (int k = 1; k < ln->n_outputs; k++)
    if (ln->outputs[k] >= 0 && (u->count[ln->outputs[k]] || u->pinned[ln->outputs[k]])) return NULL;
  int x = ln->inputs[0];
  oxrt_node *add = opt_producer(g, x);
  if (!opt_is_op(add, "Add", 2)) return NULL; /* float: LayerNormalization's X has its float Scale's type */
  const int64_t H = last_dim(g, add->inputs[0], 0);
  if (H <= 1 || last_dim(g, add->inputs[1], 0) != H || oxrt_attr_int(ln, "axis", -1) != -1) return NULL;
  if (oxrt_attr_int(ln, "stash_type", 1) != 1) return NULL;
  const oxrt_value *gamma = row_const(g, ln->inputs[1], H);
  if (!gamma || (ln->n_inputs == 3 && ln->inputs[2] >= 0 && !row_const(g, ln->inputs[2], H))) return NULL;
  /* other readers of the sum must run after the fused node */
  for (int k = 0; k < li; k++) {
    const oxrt_node *n = &g->nodes[k];
    if (!n->op_type || n == add) continue;
    for (int j = 0; j < n->n_inputs; j++)
      if (n->inputs[j] == x) return NULL;
  }
  /* the bias Add of one operand (read only here) */
  int input = add->inputs[0], skip = add->inputs[1], bias = -1;
  oxrt_node *badd = NULL;
  for (int s = 0; s < 2 && !badd; s++) {
    oxrt_node *p = opt_sole_producer(g, u, add->inputs[s]);
    if (!opt_is_op(p, "Add", 2)) continue;
    for (int t = 0; t < 2; t++)
      if (row_const(g, p->inputs[t], H) && last_dim(g, p->inputs[1 - t], 0) == H) {
        badd = p, bias = p->inputs[t], input = p->inputs[1 - t], skip = add->inputs[1 - s];
        break;
      }
  }
  OXRT_TRY(opt_import_domain(ctx->model, "com.microsoft", 1));
  const bool keep_sum = u->count[x] > 1 || u->pinned[x];
  int ins[5] = {input, skip, ln->inputs[1], ln->n_inputs == 3 ? ln->inputs[2] : -1, bias};
  int n_in = bias >= 0 ? 5 : ins[3] >= 0 ? 4 : 3;
  int *outs = oxrt_arena_alloc(g->arena, sizeof(int) * 4);
  if (!outs) return OXRT_OOM();
  outs[0] = ln->outputs[0];
  outs[1] = outs[2] = -1;
  outs[3] = x;
  float eps = oxrt_attr_float(ln, "epsilon", 1e-5f);
  for (int j = 0; j < ln->n_inputs; j++)
    if (ln->inputs[j] >= 0) u->count[ln->inputs[j]]--;
  for (int j = 0; j < 2; j++) u->count[add->inputs[j]]--;
  if (badd)
    for (int j = 0; j < 2; j++) u->count[badd->inputs[j]]--;
  OXRT_TRY(opt_set_inputs(g, ln, ins, n_in));
  for (int j = 0; j < n_in; j++)
    if (ins[j] >= 0) u->count[ins[j]]++;
  ln->outputs = outs;
  ln->n_outputs = keep_sum ? 4 : 1;
  g->values[x].producer = keep_sum ? li : -1;
  add->op_type = NULL;
  if (badd) badd->op_type = NULL;
  ln->op_type = "SkipLayerNormalization";
  ln->domain = "com.microsoft";
  ln->n_attrs = 0;
  oxrt_attr at = {.name = "epsilon", .type = OXRT_ATTR_FLOAT, .f = eps};
  OXRT_TRY(opt_set_attr(g, ln, &at));
  *changed = true;
  return NULL;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *n = &g->nodes[i];
    if (n->op_type && !*n->domain && !strcmp(n->op_type, "LayerNormalization"))
      st = try_fuse(ctx, g, &u, i, changed);
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_skip_layer_norm = {
    "fuse_skip_layer_norm", OXRT_OPT_EXTENDED, true, run,
    "residual Add (+ the bias Add before it) + LayerNormalization into com.microsoft SkipLayerNormalization"};
