/* pass_fuse_matmul_bias_act.c - y = MatMul(A, W) with W a constant float matrix, read only by a com.microsoft GELU
 * (what fuse_gelu leaves after a transformer's first FFN MatMul) or by a Relu:
 *   BiasGelu(y, bias)          -> oxrt.session MatMulBiasAct(A, W, bias; activation "Gelu")
 *   FastGelu(y[, bias])        -> MatMulBiasAct(A, W[, bias]; activation "FastGelu")   (the tanh form)
 *   Gelu(y)                    -> MatMulBiasAct(A, W; activation "Gelu")
 *   Relu(Add(y, bias)), Relu(y) -> MatMulBiasAct(A, W[, bias]; activation "Relu")   (rank-2 A with a bias
 *                                 became Gemm already: fuse_matmul_add)
 * with bias a constant 1-D float of W's N columns and y (and the Add's result) read once and no graph output. The
 * GEMM then adds the bias and applies the activation while each output tile is in cache, instead of passes of
 * their own over the [rows, N] product.
 * Run by the session only (opt_session.c), after any save: ONNX Runtime has no such operator. */
#include "opt.h"
#include <string.h>

static bool is_ms(const oxrt_node *n, const char *op) {
  return n->op_type && !strcmp(n->domain, "com.microsoft") && !strcmp(n->op_type, op);
}

/* The MatMul(A, W) writing y, W a constant float matrix, y read once and no graph output; else NULL. */
static oxrt_node *matmul_of(oxrt_graph *g, const opt_uses *u, int y) {
  oxrt_node *mm = y >= 0 ? opt_producer(g, y) : NULL;
  if (!mm || *mm->domain || strcmp(mm->op_type, "MatMul") || mm->n_inputs != 2 || mm->n_outputs != 1 ||
      mm->inputs[0] < 0 || u->count[y] != 1 || u->pinned[y])
    return NULL;
  const oxrt_value *w = opt_const(g, mm->inputs[1]);
  return w && w->dtype == OXRT_FLOAT && w->rank == 2 ? mm : NULL;
}

/* bias is a constant 1-D float as long as the columns of mm's W. */
static bool col_bias(oxrt_graph *g, const oxrt_node *mm, int bias) {
  const oxrt_value *b = opt_const(g, bias), *w = opt_const(g, mm->inputs[1]);
  return b && b->dtype == OXRT_FLOAT && b->rank == 1 && b->dims[0] == w->dims[1];
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  if (ctx->portable) return NULL; /* never in a saved model */
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *act = &g->nodes[i], *add = NULL, *mm = NULL;
    const char *name = NULL;
    int y = -1, bias = -1;
    if (is_ms(act, "BiasGelu") || is_ms(act, "FastGelu") || is_ms(act, "Gelu")) {
      bool biased = !strcmp(act->op_type, "BiasGelu"), fast = !strcmp(act->op_type, "FastGelu");
      if (act->n_inputs != (biased ? 2 : 1) && !(fast && act->n_inputs == 2)) continue;
      name = fast ? "FastGelu" : "Gelu";
      y = act->inputs[0], bias = act->n_inputs == 2 ? act->inputs[1] : -1;
    } else if (opt_is_op(act, "Relu", 1)) { /* Relu(MatMul), Relu(Add(MatMul, bias)) */
      name = "Relu", y = act->inputs[0];
      oxrt_node *p = y >= 0 ? opt_producer(g, y) : NULL;
      if (p && opt_is_op(p, "Add", 2) && opt_node_opset(ctx->model, p) >= 7 && u.count[y] == 1 && !u.pinned[y])
        for (int side = 0; side < 2 && !add; side++)
          if ((mm = matmul_of(g, &u, p->inputs[side])) && col_bias(g, mm, p->inputs[1 - side]))
            add = p, y = p->inputs[side], bias = p->inputs[1 - side];
    } else {
      continue;
    }
    if (act->n_outputs != 1 || act->outputs[0] < 0 || !(mm = matmul_of(g, &u, y))) continue;
    if (bias >= 0 && !col_bias(g, mm, bias)) continue;
    if ((st = opt_import_domain(ctx->model, "oxrt.session", 1))) break;
    int ins[3] = {mm->inputs[0], mm->inputs[1], bias};
    if ((st = opt_set_inputs(g, mm, ins, bias >= 0 ? 3 : 2))) break;
    mm->op_type = "MatMulBiasAct";
    mm->domain = "oxrt.session";
    mm->n_attrs = 0;
    oxrt_attr at = {.name = "activation", .type = OXRT_ATTR_STRING, .s = name, .s_len = strlen(name)};
    if ((st = opt_set_attr(g, mm, &at))) break;
    if (add) { /* its output dies with it */
      u.count[add->outputs[0]] = 0;
      g->values[add->outputs[0]].producer = -1;
      add->op_type = NULL;
    }
    opt_absorb_consumer(g, &u, mm, act, y);
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_matmul_bias_act = {
    "fuse_matmul_bias_act", OXRT_OPT_EXTENDED, true, run,
    "MatMul (constant W) + com.microsoft BiasGelu / FastGelu / Gelu, or + bias Add + Relu, into one GEMM with the "
    "bias and activation in its output pass; session only, never in a saved model"};
