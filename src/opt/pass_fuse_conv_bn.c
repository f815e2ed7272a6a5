/* pass_fuse_conv_bn.c - Conv followed by an inference BatchNormalization becomes one Conv.
 *
 * With s = scale / sqrt(var + eps):  W'[m,...] = W[m,...] * s[m],  B'[m] = (B[m] - mean[m]) * s[m] + bias[m].
 * Computed in double and stored back in the weights' type. New initializers are made (the old ones may
 * be shared or mapped read-only); the unused ones are dropped by eliminate_dead_nodes.
 */
#include "../core/dtype.h"
#include "opt.h"
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static bool float_type(oxrt_elem_type t) {
  return t == OXRT_FLOAT || t == OXRT_DOUBLE || t == OXRT_FLOAT16 || t == OXRT_BFLOAT16;
}

/* A 1-D constant of `m` float elements, or NULL. */
static const oxrt_value *vec(const oxrt_graph *g, const oxrt_node *n, int k, int64_t m) {
  if (k >= n->n_inputs) return NULL;
  const oxrt_value *v = opt_const(g, n->inputs[k]);
  if (!v || !float_type(v->dtype) || (int64_t)v->count != m || v->rank != 1) return NULL;
  return v;
}

static bool bn_inference(const oxrt_node *bn, int64_t opset, const opt_uses *u) {
  for (int k = 1; k < bn->n_outputs; k++) {
    int v = bn->outputs[k];
    if (v >= 0 && (u->count[v] || u->pinned[v])) return false; /* running statistics are read */
  }
  if (opset >= 14 && oxrt_attr_int(bn, "training_mode", 0) != 0) return false;
  if (opset < 9 && oxrt_attr_int(bn, "spatial", 1) == 0) return false;
  return true;
}

static oxrt_status *fuse(oxrt_opt_ctx *ctx, oxrt_graph *g, oxrt_node *conv, oxrt_node *bn, opt_uses *u, bool *changed) {
  const oxrt_value *w = opt_const(g, conv->inputs[1]);
  if (!w || !float_type(w->dtype) || w->rank < 3) return NULL;
  int64_t m = w->dims[0];
  const oxrt_value *b = conv->n_inputs > 2 && conv->inputs[2] >= 0 ? vec(g, conv, 2, m) : NULL;
  if (conv->n_inputs > 2 && conv->inputs[2] >= 0 && !b) return NULL;
  const oxrt_value *scale = vec(g, bn, 1, m), *bias = vec(g, bn, 2, m), *mean = vec(g, bn, 3, m), *var = vec(g, bn, 4, m);
  if (!scale || !bias || !mean || !var) return NULL;
  double eps = oxrt_attr_float(bn, "epsilon", 1e-5f);
  double *s = malloc(sizeof(double) * (size_t)m);
  if (!s) return OXRT_OOM();
  for (int64_t i = 0; i < m; i++)
    s[i] = oxrt_load_f64(scale->dtype, scale->data, (size_t)i) / sqrt(oxrt_load_f64(var->dtype, var->data, (size_t)i) + eps);
  oxrt_value *nw = NULL, *nb = NULL;
  oxrt_status *st = oxrt_tensor_new(w->dtype, w->rank, w->dims, &nw);
  int64_t bd = m;
  if (!st) st = oxrt_tensor_new(w->dtype, 1, &bd, &nb);
  if (st) {
    free(s);
    oxrt_value_free(nw);
    return st;
  }
  opt_scale_rows(w->dtype, w->data, nw->data, (size_t)m, w->count / (size_t)m, s, 1);
  for (int64_t i = 0; i < m; i++) {
    double b0 = b ? oxrt_load_f64(b->dtype, b->data, (size_t)i) : 0.0;
    double v = (b0 - oxrt_load_f64(mean->dtype, mean->data, (size_t)i)) * s[i] + oxrt_load_f64(bias->dtype, bias->data, (size_t)i);
    oxrt_store_f64(w->dtype, nb->data, (size_t)i, v);
  }
  free(s);
  char base[400];
  snprintf(base, sizeof base, "%s_bn_fused", g->values[conv->inputs[1]].name);
  int wid = opt_add_initializer(ctx, g, base, nw);
  snprintf(base, sizeof base, "%s_bn_fused_bias", g->values[conv->inputs[1]].name);
  int bid = wid >= 0 ? opt_add_initializer(ctx, g, base, nb) : (oxrt_value_free(nb), -1);
  if (wid < 0 || bid < 0) return OXRT_OOM();
  int ins[3] = {conv->inputs[0], wid, bid};
  /* old weight/bias lose a reader; BN's parameters too */
  u->count[conv->inputs[1]]--;
  if (conv->n_inputs > 2 && conv->inputs[2] >= 0) u->count[conv->inputs[2]]--;
  for (int k = 1; k < bn->n_inputs; k++)
    if (bn->inputs[k] >= 0) u->count[bn->inputs[k]]--;
  OXRT_TRY(opt_set_inputs(g, conv, ins, 3));
  int mid = conv->outputs[0], y = bn->outputs[0];
  conv->outputs[0] = y;
  g->values[y].producer = g->values[mid].producer;
  g->values[mid].producer = -1;
  u->count[mid] = 0;
  bn->op_type = NULL;
  *changed = true;
  return NULL;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *bn = &g->nodes[i];
    if (!bn->op_type || *bn->domain || strcmp(bn->op_type, "BatchNormalization") || bn->n_inputs < 5 ||
        bn->n_outputs < 1 || bn->outputs[0] < 0 || bn->inputs[0] < 0)
      continue;
    int mid = bn->inputs[0];
    oxrt_node *conv = opt_producer(g, mid);
    if (!conv || *conv->domain || strcmp(conv->op_type, "Conv") || conv->n_inputs < 2 || conv->inputs[1] < 0 ||
        u.pinned[mid] || u.count[mid] != 1)
      continue;
    if (!bn_inference(bn, opt_node_opset(ctx->model, bn), &u)) continue;
    st = fuse(ctx, g, conv, bn, &u, changed);
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_conv_bn = {"fuse_conv_bn", OXRT_OPT_BASIC, true, run,
                                              "BatchNormalization folded into the preceding Conv's weights and bias"};
