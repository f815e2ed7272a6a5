/* pass_fuse_bias_add.c - a constant affine after Conv or Gemm goes into their weights and bias (two passes).
 *
 *   fuse_bias_add:
 *   Add(Conv(x, W, B), c)  with c of shape [M,1,..] / [1,M,1,..] / one element  -> Conv(x, W, B + c)
 *   Add(Gemm(a, b, C), c)  with C and c of shape [N] / [1,N] / one element      -> Gemm(a, b, beta*C + c), beta = 1
 *   fuse_conv_scale:
 *   Mul(Conv(x, W, B), s)  with s per output channel or one element             -> Conv(x, W * s, B * s)
 *      (PaddlePaddle's learnable affine blocks after each conv: PP-LCNetV3 in PP-OCRv4 has 28)
 * The Add / Mul may take the constant on either side. Only when the fused node's result has no other reader.
 */
#include "../core/dtype.h"
#include "opt.h"
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static bool float_type(oxrt_elem_type t) {
  return t == OXRT_FLOAT || t == OXRT_DOUBLE || t == OXRT_FLOAT16 || t == OXRT_BFLOAT16;
}

/* Length of a row-vector constant ([N], [1,N], or one element) for a 2-D output; 0 if not one. */
static int64_t row_len(const oxrt_value *c) {
  if (c->count == 1 && c->rank <= 2) return 1;
  if (c->rank == 1) return c->dims[0];
  if (c->rank == 2 && c->dims[0] == 1) return c->dims[1];
  return 0;
}

/* New bias v[i] = a * old[i or 0] + c[i or 0] of length n, in type t. */
static oxrt_status *combine(oxrt_elem_type t, const oxrt_value *old, double a, const oxrt_value *c, int64_t n,
                            oxrt_value **out) {
  OXRT_TRY(oxrt_tensor_new(t, 1, &n, out));
  for (int64_t i = 0; i < n; i++) {
    double o = old ? oxrt_load_f64(old->dtype, old->data, old->count == 1 ? 0 : (size_t)i) : 0.0;
    double d = oxrt_load_f64(c->dtype, c->data, c->count == 1 ? 0 : (size_t)i);
    oxrt_store_f64(t, (*out)->data, (size_t)i, a * o + d);
  }
  return NULL;
}

static oxrt_status *fuse_conv(oxrt_opt_ctx *ctx, oxrt_graph *g, oxrt_node *conv, const oxrt_value *c, bool *done) {
  int64_t wd[OXRT_MAX_RANK];
  int wr = opt_shape(g, conv->inputs[1], wd);
  oxrt_elem_type t = opt_elem_type(g, conv->inputs[1]);
  if (wr < 3 || wd[0] < 0 || !float_type(t) || c->dtype != t) return NULL;
  int64_t m = wd[0], len = opt_channel_len(c, wr);
  if (len != 1 && len != m) return NULL;
  const oxrt_value *b = NULL;
  if (conv->n_inputs > 2 && conv->inputs[2] >= 0) {
    b = opt_const(g, conv->inputs[2]);
    if (!b || b->count != (size_t)m) return NULL;
  }
  oxrt_value *nb;
  OXRT_TRY(combine(t, b, 1.0, c, m, &nb));
  char base[400];
  snprintf(base, sizeof base, "%s_bias_fused", conv->name && *conv->name ? conv->name : "conv");
  int bid = opt_add_initializer(ctx, g, base, nb);
  if (bid < 0) return OXRT_OOM();
  int ins[3] = {conv->inputs[0], conv->inputs[1], bid};
  OXRT_TRY(opt_set_inputs(g, conv, ins, 3));
  *done = true;
  return NULL;
}

static oxrt_status *fuse_gemm(oxrt_opt_ctx *ctx, oxrt_graph *g, oxrt_node *gemm, const oxrt_value *c, bool *done) {
  oxrt_elem_type t = opt_elem_type(g, gemm->inputs[0]);
  if (!float_type(t) || c->dtype != t || opt_node_opset(ctx->model, gemm) < 7) return NULL;
  int64_t n = row_len(c), bd[OXRT_MAX_RANK];
  int br = opt_shape(g, gemm->inputs[1], bd);
  int64_t cols = br == 2 ? bd[oxrt_attr_int(gemm, "transB", 0) ? 0 : 1] : -1;
  if (!n || cols < 0 || (n != 1 && n != cols)) return NULL; /* c must not widen the output */
  const oxrt_value *old = NULL;
  if (gemm->n_inputs > 2 && gemm->inputs[2] >= 0) {
    old = opt_const(g, gemm->inputs[2]);
    if (!old || old->dtype != t) return NULL;
    int64_t on = row_len(old);
    if (!on) return NULL;
    if (n == 1) n = on;
    else if (on != 1 && on != n) return NULL;
  }
  double beta = oxrt_attr_float(gemm, "beta", 1.0f);
  oxrt_value *nb;
  OXRT_TRY(combine(t, old, beta, c, n, &nb));
  char base[400];
  snprintf(base, sizeof base, "%s_bias_fused", gemm->name && *gemm->name ? gemm->name : "gemm");
  int bid = opt_add_initializer(ctx, g, base, nb);
  if (bid < 0) return OXRT_OOM();
  int ins[3] = {gemm->inputs[0], gemm->inputs[1], bid};
  OXRT_TRY(opt_set_inputs(g, gemm, ins, 3));
  oxrt_attr at = {0};
  at.name = "beta";
  at.type = OXRT_ATTR_FLOAT;
  at.f = 1.0f;
  OXRT_TRY(opt_set_attr(g, gemm, &at));
  *done = true;
  return NULL;
}

/* Mul(Conv(x, W, B), s), s per output channel or one element -> Conv(x, W * s, B * s): each output channel of a
 * convolution is linear in its weights and bias. */
static oxrt_status *scale_conv(oxrt_opt_ctx *ctx, oxrt_graph *g, oxrt_node *conv, const oxrt_value *c, bool *done) {
  const oxrt_value *w = opt_const(g, conv->inputs[1]);
  if (!w || w->rank < 3 || !float_type(w->dtype) || c->dtype != w->dtype || w->dims[0] <= 0) return NULL;
  oxrt_elem_type t = w->dtype;
  int64_t m = w->dims[0], len = opt_channel_len(c, w->rank);
  if (len != 1 && len != m) return NULL;
  const oxrt_value *b = NULL;
  if (conv->n_inputs > 2 && conv->inputs[2] >= 0) {
    b = opt_const(g, conv->inputs[2]);
    if (!b || b->count != (size_t)m || b->dtype != t) return NULL;
  }
  oxrt_value *nw, *nb = NULL;
  double *sc = malloc(sizeof(double) * (size_t)len);
  if (!sc) return OXRT_OOM();
  for (int64_t i = 0; i < len; i++) sc[i] = oxrt_load_f64(t, c->data, (size_t)i);
  oxrt_status *wst = oxrt_tensor_new(t, w->rank, w->dims, &nw);
  if (!wst) opt_scale_rows(t, w->data, nw->data, (size_t)m, w->count / (size_t)m, sc, len == 1 ? 0 : 1);
  free(sc);
  if (wst) return wst;
  if (b) {
    oxrt_status *st = oxrt_tensor_new(t, 1, &m, &nb);
    if (st) {
      oxrt_value_free(nw);
      return st;
    }
    for (int64_t i = 0; i < m; i++)
      oxrt_store_f64(t, nb->data, (size_t)i,
                     oxrt_load_f64(t, b->data, (size_t)i) * oxrt_load_f64(t, c->data, len == 1 ? 0 : (size_t)i));
  }
  char base[400];
  snprintf(base, sizeof base, "%s_scaled", conv->name && *conv->name ? conv->name : "conv");
  int wid = opt_add_initializer(ctx, g, base, nw), bid = -1;
  if (wid < 0) {
    oxrt_value_free(nb);
    return OXRT_OOM();
  }
  if (nb && (bid = opt_add_initializer(ctx, g, base, nb)) < 0) return OXRT_OOM();
  int ins[3] = {conv->inputs[0], wid, bid};
  OXRT_TRY(opt_set_inputs(g, conv, ins, b ? 3 : 2));
  *done = true;
  return NULL;
}

/* op(P(...), c) with a constant c on either side, P a Conv (or Gemm for Add) read by op alone: P absorbs it. */
static oxrt_status *fold_into_producer(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed, bool scale) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  const char *op = scale ? "Mul" : "Add";
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *add = &g->nodes[i];
    if (!add->op_type || *add->domain || strcmp(add->op_type, op) || add->n_inputs != 2 || add->n_outputs != 1 ||
        add->outputs[0] < 0 || add->inputs[0] < 0 || add->inputs[1] < 0 || opt_node_opset(ctx->model, add) < 7)
      continue;
    for (int side = 0; side < 2; side++) {
      int mid = add->inputs[side];
      const oxrt_value *c = opt_const(g, add->inputs[1 - side]);
      oxrt_node *p = opt_producer(g, mid);
      if (!c || !p || *p->domain || p->n_outputs != 1 || p->n_inputs < 2 || u.pinned[mid] || u.count[mid] != 1) continue;
      bool done = false;
      int old_w = p->inputs[1], old_bias = p->n_inputs > 2 ? p->inputs[2] : -1;
      if (!strcmp(p->op_type, "Conv")) st = scale ? scale_conv(ctx, g, p, c, &done) : fuse_conv(ctx, g, p, c, &done);
      else if (!strcmp(p->op_type, "Gemm") && !scale) st = fuse_gemm(ctx, g, p, c, &done);
      if (st || !done) break;
      if (old_bias >= 0) u.count[old_bias]--;
      if (scale) u.count[old_w]--;
      u.count[add->inputs[1 - side]]--;
      opt_absorb_consumer(g, &u, p, add, mid);
      *changed = true;
      break;
    }
  }
  opt_uses_free(&u);
  return st;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  return fold_into_producer(ctx, g, changed, false);
}

static oxrt_status *run_scale(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  return fold_into_producer(ctx, g, changed, true);
}

const oxrt_opt_pass oxrt_pass_fuse_bias_add = {"fuse_bias_add", OXRT_OPT_BASIC, true, run,
                                               "Conv + Add(constant) and Gemm + Add(constant) into the bias"};
const oxrt_opt_pass oxrt_pass_fuse_conv_scale = {
    "fuse_conv_scale", OXRT_OPT_BASIC, true, run_scale,
    "Conv + Mul(constant per output channel or scalar) into the weights and bias"};
