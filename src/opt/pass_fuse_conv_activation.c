/* pass_fuse_conv_activation.c - Conv followed by an activation becomes one com.microsoft FusedConv,
 * whose kernel applies the activation while each output tile is still in cache.
 *
 *   Relu(Conv(x, W, B))            -> FusedConv(x, W, B; activation="Relu")
 *   Sigmoid / Tanh                 -> the same
 *   LeakyRelu / HardSigmoid / Clip -> the same, with activation_params from their attributes or constant inputs
 *   com.microsoft QuickGelu(alpha 1) (SiLU, after fuse_silu), Gelu, FastGelu
 *                                  -> activation Silu / Gelu / FastGelu: oxrt's FusedConv only, so not when the
 *                                     optimized model is to be saved (ctx->portable)
 *   HardSwish (ai.onnx), or Mul(y, HardSigmoid(y; 1/6, 1/2)) before opset 14
 *                                  -> activation HardSwish: oxrt's FusedConv only, likewise not when portable.
 *                                     (Its output pass was once 2.2x slower than a separate node: scalar, branchy
 *                                     per tile row. Now vectorised and run once per product: PP-LCNet 1 thread,
 *                                     activation share 12.4% as nodes -> 9.7% fused.)
 * The Conv may already be a FusedConv holding a residual Z and no activation (YOLO's conv + add + SiLU).
 * Only float convolutions (FusedConv's types; float16 for Relu and Clip only, where fusing is exact), and only when
 * the activation is the Conv result's one reader.
 */
#include "opt.h"
#include <math.h>
#include <string.h>

/* Activation name and params for node `a`, or false if it cannot be fused. */
static bool activation_of(const oxrt_graph *g, const oxrt_node *a, int64_t opset, bool portable, const char **name,
                          float *p, size_t *np) {
  *np = 0;
  if (!strcmp(a->domain, "com.microsoft")) {
    /* oxrt's own FusedConv activations, which ONNX Runtime's FusedConv lacks: only in models that are not saved */
    if (portable || a->n_inputs != 1) return false;
    if (!strcmp(a->op_type, "QuickGelu") && oxrt_attr_float(a, "alpha", 1.702f) == 1.0f) *name = "Silu";
    else if (!strcmp(a->op_type, "Gelu")) *name = "Gelu";
    else if (!strcmp(a->op_type, "FastGelu")) *name = "FastGelu";
    else return false;
    return true;
  }
  if (*a->domain) return false;
  if (!strcmp(a->op_type, "HardSwish") && !portable) { /* oxrt's FusedConv only, like Silu */
    *name = "HardSwish";
    return true;
  }
  if (!strcmp(a->op_type, "Relu") || !strcmp(a->op_type, "Sigmoid") || !strcmp(a->op_type, "Tanh")) {
    *name = a->op_type;
    return true;
  }
  if (!strcmp(a->op_type, "LeakyRelu")) {
    *name = "LeakyRelu";
    p[0] = oxrt_attr_float(a, "alpha", 0.01f);
    *np = 1;
    return true;
  }
  if (!strcmp(a->op_type, "HardSigmoid")) {
    *name = "HardSigmoid";
    p[0] = oxrt_attr_float(a, "alpha", 0.2f);
    p[1] = oxrt_attr_float(a, "beta", 0.5f);
    *np = 2;
    return true;
  }
  if (!strcmp(a->op_type, "Clip")) {
    *name = "Clip";
    if (opset < 11) {
      p[0] = oxrt_attr_float(a, "min", -3.402823466e38f);
      p[1] = oxrt_attr_float(a, "max", 3.402823466e38f);
    } else {
      p[0] = -3.402823466e38f;
      p[1] = 3.402823466e38f;
      for (int k = 1; k <= 2; k++) {
        if (a->n_inputs <= k || a->inputs[k] < 0) continue;
        const oxrt_value *c = opt_const(g, a->inputs[k]);
        if (!c || c->count != 1 || (c->dtype != OXRT_FLOAT && c->dtype != OXRT_FLOAT16)) return false;
        p[k - 1] = (float)oxrt_load_f64(c->dtype, c->data, 0); /* float16 bounds are exact in float */
      }
    }
    *np = 2;
    return true;
  }
  return false;
}

/* Mul(y, HardSigmoid(y; alpha 1/6, beta 1/2)): hard-swish as models before opset 14 write it (fuse_silu makes
 * this form of x * Clip(x + 3, 0, 6) / 6 there). y, and the gate node in *gate, or -1. */
static int hardswish_product(oxrt_graph *g, const opt_uses *u, const oxrt_node *mul, oxrt_node **gate) {
  if (!opt_is_op(mul, "Mul", 2)) return -1;
  for (int side = 0; side < 2; side++) {
    oxrt_node *h = opt_sole_producer(g, u, mul->inputs[side]);
    int y = mul->inputs[1 - side];
    if (!h || !h->op_type || *h->domain || strcmp(h->op_type, "HardSigmoid") || h->n_inputs != 1 ||
        h->inputs[0] != y || h->outputs[0] < 0 || u->count[h->outputs[0]] != 1)
      continue;
    for (int a = 0; a < h->n_attrs; a++)
      if (strcmp(h->attrs[a].name, "alpha") && strcmp(h->attrs[a].name, "beta")) return -1;
    if (fabsf(oxrt_attr_float(h, "alpha", 0.2f) - 1.0f / 6.0f) > 1e-6f || oxrt_attr_float(h, "beta", 0.5f) != 0.5f)
      return -1;
    *gate = h;
    return y;
  }
  return -1;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *a = &g->nodes[i];
    if (!a->op_type || a->n_inputs < 1 || a->n_outputs < 1 || a->inputs[0] < 0) continue;
    const char *name;
    float params[2];
    size_t np;
    int y = a->inputs[0], readers = 1;
    oxrt_node *gate = NULL;
    if (!ctx->portable && (y = hardswish_product(g, &u, a, &gate)) >= 0) { /* y feeds the gate and the Mul */
      name = "HardSwish", np = 0, readers = 2;
    } else {
      y = a->inputs[0], gate = NULL;
      if (!activation_of(g, a, opt_node_opset(ctx->model, a), ctx->portable, &name, params, &np)) continue;
    }
    oxrt_node *conv = opt_producer(g, y);
    /* a Conv, or a FusedConv that has only its residual Z so far (the activation then applies to conv + Z) */
    bool plain = conv && conv->op_type && !*conv->domain && !strcmp(conv->op_type, "Conv");
    bool with_z = conv && conv->op_type && !strcmp(conv->domain, "com.microsoft") &&
                  !strcmp(conv->op_type, "FusedConv") && !*oxrt_attr_string(conv, "activation", "");
    if (!plain && !with_z) continue;
    if (u.count[y] != readers || u.pinned[y] || conv->n_outputs != 1) continue;
    /* X and W share a type; W is the one known without shape inference (an initializer). Float16 convs fuse only
     * Relu and Clip: FusedConv rounds once after the activation, and rounding to half commutes with those two
     * (the bounds are half values), so the result is bit-identical to the two nodes. */
    oxrt_elem_type tx = opt_elem_type(g, conv->inputs[0]);
    oxrt_elem_type tw = conv->n_inputs >= 2 ? opt_elem_type(g, conv->inputs[1]) : OXRT_UNDEFINED;
    bool f16_exact = plain && (!strcmp(name, "Relu") || !strcmp(name, "Clip"));
    if (tx != OXRT_FLOAT && tw != OXRT_FLOAT && !(f16_exact && (tx == OXRT_FLOAT16 || tw == OXRT_FLOAT16))) continue;
    if ((st = opt_import_domain(ctx->model, "com.microsoft", 1))) break;
    oxrt_attr act = {.name = "activation", .type = OXRT_ATTR_STRING, .s = name, .s_len = strlen(name)};
    if ((st = opt_set_attr(g, conv, &act))) break;
    if (np) {
      float *pv = oxrt_arena_alloc(g->arena, sizeof(float) * np);
      if (!pv) {
        st = OXRT_OOM();
        break;
      }
      memcpy(pv, params, sizeof(float) * np);
      oxrt_attr ap = {.name = "activation_params", .type = OXRT_ATTR_FLOATS, .n = np, .floats = pv};
      if ((st = opt_set_attr(g, conv, &ap))) break;
    }
    conv->op_type = "FusedConv";
    conv->domain = "com.microsoft";
    if (gate) gate->op_type = NULL, u.count[gate->outputs[0]] = 0;
    opt_absorb_consumer(g, &u, conv, a, y); /* the activation's output name stays */
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_conv_activation = {
    "fuse_conv_activation", OXRT_OPT_EXTENDED, true, run,
    "Conv followed by Relu, LeakyRelu, HardSigmoid or Clip becomes com.microsoft FusedConv"};
