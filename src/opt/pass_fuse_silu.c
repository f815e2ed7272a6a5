/* pass_fuse_silu.c - x times a gate of x, written out as two nodes, becomes one:
 *
 *   Mul(x, Sigmoid(x))                                  -> com.microsoft QuickGelu(x; alpha=1)  (SiLU/Swish)
 *   Mul(x, HardSigmoid(x; alpha=1/6, beta=0.5))         -> HardSwish(x)  (ai.onnx opset >= 14 only)
 *
 * The gate's tensor is never written to memory and read back. Either operand order; the gate must be
 * read by the Mul alone and be no graph output; x float or float16 (double too for HardSwish).
 */
#include "opt.h"
#include <math.h>
#include <string.h>

/* HardSigmoid with the alpha/beta that make x * HardSigmoid(x) HardSwish, and no other attribute. */
static bool is_hardswish_gate(const oxrt_node *n) {
  if (!n->op_type || *n->domain || strcmp(n->op_type, "HardSigmoid") || n->n_inputs != 1 || n->n_outputs != 1)
    return false;
  for (int a = 0; a < n->n_attrs; a++)
    if (strcmp(n->attrs[a].name, "alpha") && strcmp(n->attrs[a].name, "beta")) return false;
  float alpha = oxrt_attr_float(n, "alpha", 0.2f), beta = oxrt_attr_float(n, "beta", 0.5f);
  return fabs(alpha - 1.0 / 6.0) <= 1e-6 && beta == 0.5f;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  int64_t opset = oxrt_model_opset(ctx->model, "");
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *gate = &g->nodes[i];
    bool silu = opt_is_op(gate, "Sigmoid", 1);
    if (!silu && !(opset >= 14 && is_hardswish_gate(gate))) continue;
    int x = gate->inputs[0], s = gate->outputs[0];
    oxrt_node *mul = opt_sole_reader(g, &u, s);
    if (x < 0 || !opt_is_op(mul, "Mul", 2) || opt_other_input(mul, s) != x || x == s) continue;
    oxrt_elem_type t = opt_value_type(g, x);
    if (t != OXRT_FLOAT && t != OXRT_FLOAT16 && (silu || t != OXRT_DOUBLE)) continue;
    int ins[1] = {x};
    if (silu) {
      if ((st = opt_import_domain(ctx->model, "com.microsoft", 1))) break;
      oxrt_attr alpha = {.name = "alpha", .type = OXRT_ATTR_FLOAT, .f = 1.0f};
      if ((st = opt_set_attr(g, mul, &alpha))) break;
    }
    if ((st = opt_set_inputs(g, mul, ins, 1))) break;
    /* the Mul keeps its output and its place (after both x and the gate) */
    mul->op_type = silu ? "QuickGelu" : "HardSwish";
    mul->domain = silu ? "com.microsoft" : "";
    if (!silu) mul->n_attrs = 0;
    gate->op_type = NULL;
    u.count[x]--;
    u.count[s] = 0;
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_silu = {
    "fuse_silu", OXRT_OPT_EXTENDED, true, run,
    "Mul(x, Sigmoid(x)) into com.microsoft QuickGelu (alpha 1), Mul(x, HardSigmoid(x)) into HardSwish"};
