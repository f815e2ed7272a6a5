/* pass_fuse_silu.c - x times a gate of x, written out as two nodes, becomes one:
 *
 *   Mul(x, Sigmoid(x))                                  -> com.microsoft QuickGelu(x; alpha=1)  (SiLU/Swish)
 *   Mul(x, HardSigmoid(x; alpha=1/6, beta=0.5))         -> HardSwish(x)  (ai.onnx opset >= 14 only)
 *   x * Clip(x + 3, 0, 6) / 6                           -> HardSwish(x), or before opset 14
 *                                                          Mul(x, HardSigmoid(x; 1/6, 0.5))
 *      (the hard-swish that PaddlePaddle and older PyTorch exports write out: the division may be a Mul by 1/6,
 *       applied to the product or to the Clip)
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

/* Clip(Add(x, 3), 0, 6) ending at `clip`: x, with the Add in *add; -1 when it is not that. Bounds are inputs from
 * opset 11 and attributes before; every constant a scalar of x's type. */
static int relu6_of_x_plus_3(oxrt_graph *g, const opt_uses *u, const oxrt_model *m, oxrt_node *clip,
                             oxrt_node **add) {
  if (!clip->op_type || *clip->domain || strcmp(clip->op_type, "Clip") || clip->n_outputs != 1 || clip->n_inputs < 1)
    return -1;
  oxrt_node *a = opt_sole_producer(g, u, clip->inputs[0]);
  if (!a || !opt_is_op(a, "Add", 2)) return -1;
  int x = -1;
  oxrt_elem_type t = OXRT_UNDEFINED;
  for (int side = 0; side < 2 && x < 0; side++) {
    oxrt_elem_type ct = opt_elem_type(g, a->inputs[side]);
    if (opt_scalar_near(g, a->inputs[side], ct, 1, 3.0)) x = a->inputs[1 - side], t = ct;
  }
  if (x < 0 || x == a->outputs[0]) return -1;
  if (opt_node_opset(m, clip) >= 11) {
    if (clip->n_inputs != 3 || clip->n_attrs != 0 || !opt_scalar_near(g, clip->inputs[2], t, 1, 6.0)) return -1;
    const oxrt_value *lo = opt_const(g, clip->inputs[1]);
    if (!lo || lo->dtype != t || lo->count != 1 || lo->rank > 1 || oxrt_load_f64(t, lo->data, 0) != 0.0) return -1;
  } else {
    if (clip->n_inputs != 1 || clip->n_attrs != 2 || !oxrt_node_attr(clip, "min") || !oxrt_node_attr(clip, "max") ||
        oxrt_attr_float(clip, "min", 1) != 0.0f || oxrt_attr_float(clip, "max", 0) != 6.0f)
      return -1;
  }
  *add = a;
  return x;
}

/* y / 6 or y * (1/6) reading `y`: the node, or NULL. */
static oxrt_node *sixth_of(oxrt_graph *g, const opt_uses *u, int y, oxrt_elem_type t) {
  oxrt_node *n = opt_sole_reader(g, u, y);
  if (opt_is_op(n, "Div", 2) && n->inputs[0] == y && opt_scalar_near(g, n->inputs[1], t, 1, 6.0)) return n;
  if (opt_is_op(n, "Mul", 2) && opt_scalar_near(g, opt_other_input(n, y), t, 1, 1.0 / 6.0)) return n;
  return NULL;
}

/* x * Clip(x + 3, 0, 6) / 6 in its two orders, starting from the Clip: rewrites it in place. */
static oxrt_status *fuse_hardswish_chain(oxrt_opt_ctx *ctx, oxrt_graph *g, opt_uses *u, oxrt_node *clip, bool *hit) {
  oxrt_node *add;
  int x = relu6_of_x_plus_3(g, u, ctx->model, clip, &add);
  if (x < 0) return NULL;
  oxrt_elem_type t = opt_value_type(g, x);
  if (t != OXRT_FLOAT && t != OXRT_FLOAT16 && t != OXRT_DOUBLE) return NULL;
  int c = clip->outputs[0];
  oxrt_node *mid, *last; /* (x * clip) / 6, or x * (clip / 6) */
  oxrt_node *r = opt_sole_reader(g, u, c);
  if (opt_is_op(r, "Mul", 2) && opt_other_input(r, c) == x) {
    mid = r;
    last = sixth_of(g, u, r->outputs[0], t);
  } else {
    mid = sixth_of(g, u, c, t);
    last = mid ? opt_sole_reader(g, u, mid->outputs[0]) : NULL;
    if (!opt_is_op(last, "Mul", 2) || opt_other_input(last, mid->outputs[0]) != x) last = NULL;
  }
  if (!last || mid == last) return NULL;
  int64_t opset = oxrt_model_opset(ctx->model, "");
  int ins[1] = {x};
  if (opset >= 14) { /* the last node becomes HardSwish(x); Add, Clip and the middle node go */
    OXRT_TRY(opt_set_inputs(g, last, ins, 1));
    last->op_type = "HardSwish";
    last->n_attrs = 0;
    add->op_type = NULL;
  } else { /* the Add becomes the gate HardSigmoid(x), the last node Mul(x, gate) */
    oxrt_attr alpha = {.name = "alpha", .type = OXRT_ATTR_FLOAT, .f = 1.0f / 6.0f};
    oxrt_attr beta = {.name = "beta", .type = OXRT_ATTR_FLOAT, .f = 0.5f};
    OXRT_TRY(opt_set_inputs(g, add, ins, 1));
    OXRT_TRY(opt_set_attr(g, add, &alpha));
    OXRT_TRY(opt_set_attr(g, add, &beta));
    add->op_type = "HardSigmoid";
    int gate_ins[2] = {x, add->outputs[0]};
    OXRT_TRY(opt_set_inputs(g, last, gate_ins, 2));
    last->op_type = "Mul";
    last->n_attrs = 0;
  }
  clip->op_type = NULL;
  mid->op_type = NULL;
  *hit = true;
  return NULL;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  int64_t opset = oxrt_model_opset(ctx->model, "");
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *gate = &g->nodes[i];
    bool hit = false;
    if ((st = fuse_hardswish_chain(ctx, g, &u, gate, &hit))) break;
    if (hit) { /* uses changed: count them again */
      *changed = true;
      opt_uses_free(&u);
      OXRT_TRY(opt_uses_build(g, &u));
      continue;
    }
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
    "Mul(x, Sigmoid(x)) into com.microsoft QuickGelu (alpha 1); Mul(x, HardSigmoid(x)) and x*Clip(x+3,0,6)/6 "
    "into HardSwish"};
