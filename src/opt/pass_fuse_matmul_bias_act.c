/* pass_fuse_matmul_bias_act.c - MatMul(A, W) with W a constant float matrix, read only by a com.microsoft GELU
 * (what fuse_gelu leaves after a transformer's first FFN MatMul):
 *   BiasGelu(y, bias)          -> oxrt.session MatMulBiasAct(A, W, bias; activation "Gelu")
 *   FastGelu(y[, bias])        -> MatMulBiasAct(A, W[, bias]; activation "FastGelu")   (the tanh form)
 *   Gelu(y)                    -> MatMulBiasAct(A, W; activation "Gelu")
 * with bias a constant 1-D float of W's N columns and y no graph output. The GEMM then adds the bias and applies
 * the GELU while each output tile is in cache, instead of a pass of their own over the [rows, N] product.
 * Run by the session only (opt_session.c), after any save: ONNX Runtime has no such operator. */
#include "opt.h"
#include <string.h>

static bool is_ms(const oxrt_node *n, const char *op) {
  return n->op_type && !strcmp(n->domain, "com.microsoft") && !strcmp(n->op_type, op);
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  if (ctx->portable) return NULL; /* never in a saved model */
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *act = &g->nodes[i];
    const char *name;
    int max_in;
    if (is_ms(act, "BiasGelu")) name = "Gelu", max_in = 2;
    else if (is_ms(act, "FastGelu")) name = "FastGelu", max_in = 2;
    else if (is_ms(act, "Gelu")) name = "Gelu", max_in = 1;
    else continue;
    if (act->n_inputs < 1 || act->n_inputs > max_in || act->n_outputs != 1 || act->outputs[0] < 0) continue;
    if (!strcmp(act->op_type, "BiasGelu") && act->n_inputs != 2) continue;
    int y = act->inputs[0], bias = act->n_inputs == 2 ? act->inputs[1] : -1;
    oxrt_node *mm = y >= 0 ? opt_producer(g, y) : NULL;
    if (!mm || *mm->domain || strcmp(mm->op_type, "MatMul") || mm->n_inputs != 2 || mm->n_outputs != 1 ||
        mm->inputs[0] < 0 || u.count[y] != 1 || u.pinned[y])
      continue;
    const oxrt_value *w = opt_const(g, mm->inputs[1]);
    if (!w || w->dtype != OXRT_FLOAT || w->rank != 2) continue;
    if (bias >= 0) {
      const oxrt_value *b = opt_const(g, bias);
      if (!b || b->dtype != OXRT_FLOAT || b->rank != 1 || b->dims[0] != w->dims[1]) continue;
    }
    if ((st = opt_import_domain(ctx->model, "oxrt.session", 1))) break;
    int ins[3] = {mm->inputs[0], mm->inputs[1], bias};
    if ((st = opt_set_inputs(g, mm, ins, bias >= 0 ? 3 : 2))) break;
    mm->op_type = "MatMulBiasAct";
    mm->domain = "oxrt.session";
    mm->n_attrs = 0;
    oxrt_attr at = {.name = "activation", .type = OXRT_ATTR_STRING, .s = name, .s_len = strlen(name)};
    if ((st = opt_set_attr(g, mm, &at))) break;
    opt_absorb_consumer(g, &u, mm, act, y);
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_matmul_bias_act = {
    "fuse_matmul_bias_act", OXRT_OPT_EXTENDED, true, run,
    "MatMul (constant W) + com.microsoft BiasGelu / FastGelu / Gelu into one GEMM with the bias and GELU in its "
    "output pass; session only, never in a saved model"};
