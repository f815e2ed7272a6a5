/* pass_fuse_affine_into_conv.c - a constant affine map of a Conv's input goes into the Conv's weights and bias,
 * when the Conv reads no padding:
 *
 *   Conv(Add(Mul(y, a), b), W, B)  -> Conv(y, W', B')   W'[m, c, k] = W[m, c, k] * a[c]
 *   Conv(Mul(y, a), W, B), Conv(Add(y, b), W, B)         B'[m] = B[m] + sum over c, k of W[m, c, k] * b[c]
 *
 * a and b are per input channel ([C,1,..], [1,C,1,..]) or one element; c runs over the channels of m's group.
 * Every output of a Conv without padding sums whole windows of its input, so b's share is the same at every
 * position; with padding the window edges would read zeros where the affine map gives b, so padded (or auto-padded)
 * convs are left alone. PaddlePaddle's learnable affine blocks put such a map after every activation of
 * PP-LCNetV3 (PP-OCRv4's recognizer and detector): the ones that feed a pointwise conv go.
 * Only when the Mul / Add results have no other reader and are no graph outputs.
 */
#include "../core/dtype.h"
#include "opt.h"
#include <stdio.h>
#include <string.h>

static bool float_type(oxrt_elem_type t) {
  return t == OXRT_FLOAT || t == OXRT_DOUBLE || t == OXRT_FLOAT16 || t == OXRT_BFLOAT16;
}

static bool reads_no_padding(const oxrt_node *cv) {
  const char *ap = oxrt_attr_string(cv, "auto_pad", "NOTSET");
  if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return false;
  size_t np;
  const int64_t *pads = oxrt_attr_ints(cv, "pads", &np);
  for (size_t i = 0; pads && i < np; i++)
    if (pads[i]) return false;
  return true;
}

/* `n` is op(v, constant) in either order, read by the next step alone: the constant (per channel of C, or one
 * element, of type t), and v in *v; NULL otherwise. */
static const oxrt_value *affine_step(oxrt_graph *g, const opt_uses *u, const oxrt_node *n, const char *op, int rank,
                                     int64_t C, oxrt_elem_type t, int *v) {
  if (!n || !n->op_type || *n->domain || strcmp(n->op_type, op) || n->n_inputs != 2 || n->n_outputs != 1 ||
      n->outputs[0] < 0 || u->pinned[n->outputs[0]] || u->count[n->outputs[0]] != 1)
    return NULL;
  for (int side = 0; side < 2; side++) {
    const oxrt_value *c = opt_const(g, n->inputs[side]);
    if (!c || c->dtype != t || n->inputs[1 - side] < 0) continue;
    int64_t len = opt_channel_len(c, rank);
    if (len != 1 && len != C) continue;
    *v = n->inputs[1 - side];
    return c;
  }
  return NULL;
}

static double chan(const oxrt_value *c, int64_t i) {
  return c ? oxrt_load_f64(c->dtype, c->data, c->count == 1 ? 0 : (size_t)i) : 0.0;
}

/* The new weights and bias for scale a (or none) and shift b (or none) of the input channels. */
static oxrt_status *folded(const oxrt_value *w, const oxrt_value *bias, int64_t group, const oxrt_value *a,
                           const oxrt_value *b, oxrt_value **nw, oxrt_value **nb) {
  oxrt_elem_type t = w->dtype;
  int64_t M = w->dims[0], Cg = w->dims[1], per_out = (int64_t)(w->count / (size_t)M), k = per_out / Cg;
  OXRT_TRY(oxrt_tensor_new(t, w->rank, w->dims, nw));
  oxrt_status *st = oxrt_tensor_new(t, 1, &M, nb);
  if (st) {
    oxrt_value_free(*nw);
    return st;
  }
  for (int64_t m = 0; m < M; m++) {
    int64_t c0 = m / (M / group) * Cg; /* first input channel of m's group */
    double sum = bias ? oxrt_load_f64(t, bias->data, (size_t)m) : 0.0;
    for (int64_t ci = 0; ci < Cg; ci++) {
      double sc = a ? chan(a, c0 + ci) : 1.0, sh = chan(b, c0 + ci);
      size_t i0 = (size_t)(m * per_out + ci * k);
      if (t == OXRT_FLOAT) { /* the same arithmetic as below, without a type switch per element */
        const float *src = (const float *)w->data + i0;
        float *dst = (float *)(*nw)->data + i0;
        for (int64_t j = 0; j < k; j++) {
          double wv = src[j];
          dst[j] = (float)(wv * sc);
          sum += wv * sh;
        }
        continue;
      }
      for (int64_t j = 0; j < k; j++) {
        size_t i = i0 + (size_t)j;
        double wv = oxrt_load_f64(t, w->data, i);
        oxrt_store_f64(t, (*nw)->data, i, wv * sc);
        sum += wv * sh;
      }
    }
    oxrt_store_f64(t, (*nb)->data, (size_t)m, sum);
  }
  return NULL;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *cv = &g->nodes[i];
    if (!cv->op_type || *cv->domain || strcmp(cv->op_type, "Conv") || cv->n_inputs < 2 || cv->inputs[0] < 0 ||
        !reads_no_padding(cv))
      continue;
    const oxrt_value *w = opt_const(g, cv->inputs[1]), *bias = NULL;
    if (!w || w->rank < 3 || !float_type(w->dtype) || w->dims[0] <= 0 || w->dims[1] <= 0) continue;
    int64_t group = oxrt_attr_int(cv, "group", 1);
    if (group < 1 || w->dims[0] % group) continue;
    if (cv->n_inputs > 2 && cv->inputs[2] >= 0) {
      bias = opt_const(g, cv->inputs[2]);
      if (!bias || bias->dtype != w->dtype || bias->count != (size_t)w->dims[0]) continue;
    }
    int64_t C = w->dims[1] * group;
    /* x = Add(Mul(y, a), b), Mul(y, a) or Add(y, b) */
    int x = cv->inputs[0], v = -1, y = -1;
    oxrt_node *add = opt_producer(g, x), *mul = NULL;
    const oxrt_value *b = affine_step(g, &u, add, "Add", w->rank, C, w->dtype, &v), *a = NULL;
    if (b) mul = opt_producer(g, v);
    else add = NULL, mul = opt_producer(g, x);
    a = affine_step(g, &u, mul, "Mul", w->rank, C, w->dtype, &y);
    if (!a) mul = NULL, y = b ? v : -1;
    if (!a && !b) continue;
    oxrt_value *nw, *nb;
    if ((st = folded(w, bias, group, a, b, &nw, &nb))) break;
    char base[400];
    snprintf(base, sizeof base, "%s_affine_in", cv->name && *cv->name ? cv->name : "conv");
    int wid = opt_add_initializer(ctx, g, base, nw);
    if (wid < 0) {
      oxrt_value_free(nb);
      st = OXRT_OOM();
      break;
    }
    int bid = opt_add_initializer(ctx, g, base, nb);
    if (bid < 0) {
      st = OXRT_OOM();
      break;
    }
    int ins[3] = {y, wid, bid};
    if ((st = opt_set_inputs(g, cv, ins, 3))) break;
    if (add) add->op_type = NULL;
    if (mul) mul->op_type = NULL;
    *changed = true;
    opt_uses_free(&u); /* readers changed: count them again */
    if ((st = opt_uses_build(g, &u))) return st;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_affine_into_conv = {
    "fuse_affine_into_conv", OXRT_OPT_BASIC, true, run,
    "Conv without padding reading Mul/Add by per-channel or scalar constants: folded into its weights and bias"};
