/* quantize.c - oxrt_quantize_model_file: rewrites Conv, MatMul and Gemm nodes with constant float weights
 * to 8-bit (and, in static QDQ, the activations around the other operators ORT's QDQ quantizer covers: see
 * act_ops), in the forms ONNX Runtime's quantizer writes (so that both runtimes load the result):
 *   dynamic QOperator  DynamicQuantizeLinear -> MatMulInteger / ConvInteger -> Cast -> Mul(scale) [-> Add(bias)]
 *   dynamic QDQ        weight-only: int8 weight -> DequantizeLinear -> the float op
 *   static QDQ         QuantizeLinear -> DequantizeLinear pairs on the op's activations (input and output),
 *                      DequantizeLinear on the weight and on an int32 bias (scale x_scale * w_scale)
 *   static QOperator   QLinearConv, QLinearMatMul, com.microsoft QGemm; chains stay quantized, and a
 *                      DequantizeLinear gives float consumers and graph outputs their float value back
 * Parameters follow ONNX Runtime's defaults: int8 weights symmetric (zero point 0, scale max|w| / 127),
 * uint8 weights and all activations asymmetric over [min(lo, 0), max(hi, 0)]. */
#include "quant.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { K_CONV, K_MATMUL, K_GEMM };
#define WEIGHT_OPS "Conv,MatMul,Gemm"

typedef struct {
  int node, kind;
  int x, w, b, y; /* value ids; b = -1 without bias; y: after a folded activation, the activation's output */
  int fold, mid;  /* static QDQ: the Relu / Clip node folded into the output's quantization (-1: none), and the
                   * op's own output it read */
  int axis;       /* output-channel axis of W */
  bool trans_b;
  float beta;     /* Gemm: factor of C */
} cand;

typedef struct {
  int q, s, z; /* quantized value, scale and zero-point initializers */
  float scale;
} qval;

typedef struct {
  qg_ctx c;
  const oxrt_quantize_options *o;
  oxrt_elem_type wt, at; /* weight and activation types */
  qval *qmap;            /* per value id: its quantized form (QOperator), q = -1 if none yet */
  int *act_fold;         /* static QDQ, per node: the Relu / Clip folded into this Add / Mul (-1: none) */
  int cap_qmap;
} qz;

static int qmin_of(oxrt_elem_type t) { return t == OXRT_UINT8 ? 0 : -128; }
static int qmax_of(oxrt_elem_type t) { return t == OXRT_UINT8 ? 255 : 127; }

/* Asymmetric parameters over a range widened to hold 0 (zero must be exact: padding, ReLU). */
static void range_params(float lo, float hi, oxrt_elem_type t, float *scale, int *zp) {
  lo = fminf(lo, 0), hi = fmaxf(hi, 0);
  int qmin = qmin_of(t), qmax = qmax_of(t);
  float s = (hi - lo) / (float)(qmax - qmin);
  if (!(s > 0) || !isfinite(s)) s = 1.0f;
  long z = lrintf((float)qmin - lo / s);
  *scale = s;
  *zp = (int)(z < qmin ? qmin : z > qmax ? qmax : z);
}

/* ---------------------------------------------------------------- candidates */

static const oxrt_value *const_float(const oxrt_graph *g, int id) {
  const oxrt_value *v = opt_const(g, id);
  return v && v->dtype == OXRT_FLOAT ? v : NULL;
}

static bool find_cand(qz *z, int i, cand *out) {
  oxrt_graph *g = z->c.g;
  const oxrt_node *n = &g->nodes[i];
  const char *types = z->o->op_types ? z->o->op_types : WEIGHT_OPS;
  if (!n->op_type || *n->domain || !qg_list_has(types, n->op_type) || qg_list_has(z->o->exclude_nodes, n->name))
    return false;
  if (n->n_inputs < 2 || n->n_outputs != 1 || n->inputs[0] < 0 || n->outputs[0] < 0) return false;
  cand c = {i, -1, n->inputs[0], n->inputs[1], n->n_inputs > 2 ? n->inputs[2] : -1, n->outputs[0], -1, -1, 0, false, 1};
  if (opt_const(g, c.x)) return false;
  const oxrt_value *w = const_float(g, c.w), *b = c.b >= 0 ? const_float(g, c.b) : NULL;
  if (!w || (c.b >= 0 && !b)) return false;
  if (!strcmp(n->op_type, "Conv")) {
    if (w->rank < 3 || (b && (b->rank != 1 || b->dims[0] != w->dims[0]))) return false;
    c.kind = K_CONV;
  } else if (!strcmp(n->op_type, "MatMul")) {
    if (w->rank != 2 || n->n_inputs != 2) return false;
    c.kind = K_MATMUL, c.axis = 1;
  } else if (!strcmp(n->op_type, "Gemm")) {
    if (w->rank != 2 || oxrt_attr_int(n, "transA", 0) != 0 || oxrt_attr_float(n, "alpha", 1) != 1.0f) return false;
    c.kind = K_GEMM;
    c.trans_b = oxrt_attr_int(n, "transB", 0) != 0;
    c.axis = c.trans_b ? 0 : 1;
    c.beta = oxrt_attr_float(n, "beta", 1);
    int64_t N = w->dims[c.axis];
    if (b && !((b->rank == 1 && b->dims[0] == N) || (b->rank == 2 && b->dims[0] == 1 && b->dims[1] == N))) return false;
  } else {
    return false;
  }
  *out = c;
  return true;
}

/* Static QDQ also quantizes the activations around the operators ONNX Runtime's QDQ quantizer covers beyond the
 * weighted ones (every float input marked below and every float output get a QuantizeLinear -> DequantizeLinear
 * pair, so a runtime can run the op on 8-bit values: oxrt's fuse_qdq pass and ORT's QDQ transformers do). */
typedef struct {
  const char *op;
  bool all_inputs;  /* else input 0 only (the rest are shapes, indices, scales or bounds) */
  bool same_params; /* outputs take input 0's range (the op moves or selects values): scale and zero point
                     * equal on both sides, so a runtime runs it on the 8-bit values as they are */
} act_op;

static const act_op act_ops[] = {
    {"Add", true, false},        {"Mul", true, false},      {"Concat", true, false},  {"MaxPool", false, true},
    {"AveragePool", false, false}, {"GlobalAveragePool", false, false}, {"Sigmoid", false, false},
    {"LeakyRelu", false, false}, {"Softmax", false, false}, {"Resize", false, true},  {"Transpose", false, true},
    {"Reshape", false, true},    {"Gather", false, true},   {"Split", false, true},   {"Squeeze", false, true},
    {"Unsqueeze", false, true},  {"Flatten", false, true},  {"Relu", false, false},   {"Clip", false, false},
};
#define ALL_STATIC_OPS                                                                                                 \
  WEIGHT_OPS ",Add,Mul,Concat,MaxPool,AveragePool,GlobalAveragePool,Sigmoid,LeakyRelu,Softmax,Resize,Transpose,"      \
             "Reshape,Gather,Split,Squeeze,Unsqueeze,Flatten,Relu,Clip"

static const act_op *act_op_of(const qz *z, const oxrt_node *n) {
  const char *types = z->o->op_types ? z->o->op_types : ALL_STATIC_OPS;
  if (!n->op_type || *n->domain || !qg_list_has(types, n->op_type) || qg_list_has(z->o->exclude_nodes, n->name))
    return NULL;
  for (size_t i = 0; i < sizeof act_ops / sizeof *act_ops; i++)
    if (!strcmp(n->op_type, act_ops[i].op)) return &act_ops[i];
  return NULL;
}

/* Value `id` is float32: declared or inferred by the optimizer's helper, or written by one of the ops above from a
 * float32 input 0 (they keep the type; Resize, Split and Gather are not in that helper's list). */
static bool float_value(qz *z, int id, int depth) {
  oxrt_graph *g = z->c.g;
  oxrt_elem_type t = opt_value_type(g, id);
  if (t != OXRT_UNDEFINED || depth > 64) return t == OXRT_FLOAT;
  const oxrt_node *p = opt_producer(g, id);
  if (!p || !p->op_type || *p->domain || p->n_inputs < 1 || p->inputs[0] < 0) return false;
  for (size_t i = 0; i < sizeof act_ops / sizeof *act_ops; i++)
    if (!strcmp(p->op_type, act_ops[i].op)) return float_value(z, p->inputs[0], depth + 1);
  return false;
}

/* A Relu, or a Clip with a constant lower bound of 0, alone reading the weighted op's output (neither a graph output):
 * its output's quantization (range from 0, calibrated with the activation in place) clamps as it does, so it is
 * removed, as ONNX Runtime's quantizer does. Returns the node index or -1. */
static int foldable(qz *z, const opt_uses *u, int y) {
  oxrt_graph *g = z->c.g;
  if (u->pinned[y] || u->count[y] != 1) return -1;
  for (int i = 0; i < g->n_nodes; i++) {
    const oxrt_node *n = &g->nodes[i];
    if (!n->op_type || n->n_inputs < 1 || n->inputs[0] != y) continue;
    /* a graph output keeps the float value the op writes: the activation must stay to produce it */
    if (!act_op_of(z, n) || n->n_outputs != 1 || n->outputs[0] < 0 || u->pinned[n->outputs[0]]) return -1;
    if (!strcmp(n->op_type, "Relu")) return i;
    if (strcmp(n->op_type, "Clip") || n->n_inputs < 2 || n->inputs[1] < 0) return -1; /* Clip-6 attrs: left */
    const oxrt_value *lo = const_float(g, n->inputs[1]);
    if (!lo) { /* exporters write the bounds as Constant nodes */
      const oxrt_node *p = opt_producer(g, n->inputs[1]);
      const oxrt_attr *v = p && p->op_type && !*p->domain && !strcmp(p->op_type, "Constant")
                               ? oxrt_node_attr(p, "value") : NULL;
      lo = v && v->type == OXRT_ATTR_TENSOR && v->t && v->t->dtype == OXRT_FLOAT ? v->t : NULL;
    }
    return lo && lo->count == 1 && ((const float *)lo->data)[0] == 0.0f ? i : -1;
  }
  return -1;
}

/* ---------------------------------------------------------------- weights */

typedef struct {
  oxrt_value *q;   /* quantized weight, same shape (or transposed for dynamic Gemm) */
  float *scale;    /* per channel or one */
  int *zp;
  size_t n;        /* 1 or the channel count */
} qweight;

static void qweight_free(qweight *w) {
  oxrt_value_free(w->q);
  free(w->scale);
  free(w->zp);
}

/* Quantizes W per tensor (axis < 0) or per slice along `axis`; `transpose` swaps a 2-D W first. */
static oxrt_status *quant_weight(const oxrt_value *w, int axis, oxrt_elem_type t, bool transpose, bool reduce,
                                 qweight *out) {
  int64_t dims[OXRT_MAX_RANK];
  memcpy(dims, w->dims, sizeof(int64_t) * (size_t)w->rank);
  if (transpose) dims[0] = w->dims[1], dims[1] = w->dims[0], axis = axis < 0 ? -1 : 1 - axis;
  size_t C = axis >= 0 ? (size_t)dims[axis] : 1, inner = 1;
  for (int d = axis + 1; axis >= 0 && d < w->rank; d++) inner *= (size_t)dims[d];
  memset(out, 0, sizeof *out);
  OXRT_TRY(oxrt_tensor_new(t, w->rank, dims, &out->q));
  out->n = C;
  out->scale = malloc(sizeof(float) * (C + 1));
  out->zp = malloc(sizeof(int) * (C + 1));
  float *lo = malloc(sizeof(float) * (C + 1)), *hi = malloc(sizeof(float) * (C + 1));
  float *src = malloc(sizeof(float) * (w->count + 1));
  if (!out->scale || !out->zp || !lo || !hi || !src) {
    free(lo), free(hi), free(src);
    qweight_free(out);
    return OXRT_OOM();
  }
  const float *wf = w->data;
  if (transpose) {
    size_t R = (size_t)w->dims[0], K = (size_t)w->dims[1];
    for (size_t r = 0; r < R; r++)
      for (size_t k = 0; k < K; k++) src[k * R + r] = wf[r * K + k];
  } else {
    memcpy(src, wf, sizeof(float) * w->count);
  }
  for (size_t c = 0; c < C; c++) lo[c] = 0, hi[c] = 0;
  for (size_t i = 0; i < w->count; i++) {
    size_t c = axis >= 0 ? (i / inner) % C : 0;
    if (src[i] < lo[c]) lo[c] = src[i];
    if (src[i] > hi[c]) hi[c] = src[i];
  }
  for (size_t c = 0; c < C; c++) {
    if (t == OXRT_INT8) { /* symmetric */
      float amax = fmaxf(-lo[c], hi[c]);
      out->scale[c] = amax > 0 && isfinite(amax) ? amax / (reduce ? 63.0f : 127.0f) : 1.0f;
      out->zp[c] = 0;
    } else {
      range_params(lo[c], hi[c], t, &out->scale[c], &out->zp[c]);
      if (reduce) { /* 7 bits: [0, 127] */
        out->scale[c] = (fmaxf(hi[c], 0) - fminf(lo[c], 0)) / 127.0f;
        if (!(out->scale[c] > 0) || !isfinite(out->scale[c])) out->scale[c] = 1.0f;
        long zq = lrintf(-fminf(lo[c], 0) / out->scale[c]);
        out->zp[c] = (int)(zq > 127 ? 127 : zq);
      }
    }
  }
  int qmin = t == OXRT_INT8 ? (reduce ? -63 : -127) : 0, qmax = reduce ? (t == OXRT_INT8 ? 63 : 127) : qmax_of(t);
  for (size_t i = 0; i < w->count; i++) {
    size_t c = axis >= 0 ? (i / inner) % C : 0;
    long q = lrintf(src[i] / out->scale[c]) + out->zp[c];
    q = q < qmin ? qmin : q > qmax ? qmax : q;
    if (t == OXRT_INT8) ((int8_t *)out->q->data)[i] = (int8_t)q;
    else ((uint8_t *)out->q->data)[i] = (uint8_t)q;
  }
  free(lo), free(hi), free(src);
  return NULL;
}

/* Initializers of a quantized weight: the tensor, its scale(s) and zero point(s). */
static oxrt_status *weight_inits(qz *z, const char *base, qweight *qw, bool vec, int *q, int *s, int *zp) {
  double sv[1], zv[1];
  double *sd = vec ? malloc(sizeof(double) * qw->n) : sv, *zd = vec ? malloc(sizeof(double) * qw->n) : zv;
  if (!sd || !zd) {
    if (vec) free(sd), free(zd);
    return OXRT_OOM();
  }
  for (size_t i = 0; i < (vec ? qw->n : 1); i++) sd[i] = qw->scale[i], zd[i] = qw->zp[i];
  *q = qg_const_tensor(&z->c, base, qw->q);
  qw->q = NULL;
  *s = vec ? qg_const_vec(&z->c, base, OXRT_FLOAT, sd, qw->n) : qg_const_scalar(&z->c, base, OXRT_FLOAT, sd[0]);
  *zp = vec ? qg_const_vec(&z->c, base, z->wt, zd, qw->n) : qg_const_scalar(&z->c, base, z->wt, zd[0]);
  if (vec) free(sd), free(zd);
  return *q < 0 || *s < 0 || *zp < 0 ? OXRT_OOM() : NULL;
}

/* int32 bias for scale x_scale * w_scale[c] (times beta for Gemm's C); ids of the tensor and its scale. */
static oxrt_status *bias_inits(qz *z, const cand *c, float xs, const qweight *qw, int *bq, int *bs) {
  const oxrt_value *b = opt_const(z->c.g, c->b);
  int64_t n = (int64_t)b->count;
  oxrt_value *t;
  OXRT_TRY(oxrt_tensor_new(OXRT_INT32, 1, &n, &t));
  double *sd = malloc(sizeof(double) * ((size_t)n + 1));
  if (!sd) {
    oxrt_value_free(t);
    return OXRT_OOM();
  }
  for (int64_t i = 0; i < n; i++) {
    double s = (double)xs * qw->scale[qw->n > 1 ? i : 0];
    double v = rint((double)c->beta * ((const float *)b->data)[i] / s);
    ((int32_t *)t->data)[i] = (int32_t)(v > 2147483647.0 ? 2147483647.0 : v < -2147483648.0 ? -2147483648.0 : v);
    sd[i] = (float)s;
  }
  const char *base = z->c.g->values[c->b].name;
  *bq = qg_const_tensor(&z->c, base, t);
  *bs = qw->n > 1 ? qg_const_vec(&z->c, base, OXRT_FLOAT, sd, (size_t)n) : qg_const_scalar(&z->c, base, OXRT_FLOAT, sd[0]);
  free(sd);
  return *bq < 0 || *bs < 0 ? OXRT_OOM() : NULL;
}

/* ------------------------------------------------------------- activations */

/* Quantize + dequantize helpers; DequantizeLinear with `axis` when the scale is a vector. */
static int add_qlinear(qz *z, const char *op, int x, int s, int zp, int out, int axis) {
  int ins[3] = {x, s, zp};
  int idx = qg_add_node(&z->c, op, "", z->c.g->values[out].name, ins, zp >= 0 ? 3 : 2, &out, 1);
  if (idx >= 0 && axis >= 0) oxrt_status_free(qg_attr_int(&z->c, idx, "axis", axis));
  return idx;
}

/* The quantized form of activation `x` with the parameters of range r: one QuantizeLinear per value. */
static oxrt_status *quantized(qz *z, int x, qg_range r, qval *out) {
  if (x >= z->cap_qmap) return oxrt_error(OXRT_ERR_RUNTIME, "quantize: value id %d out of range", x);
  if (z->qmap[x].q >= 0) {
    *out = z->qmap[x];
    return NULL;
  }
  const char *name = z->c.g->values[x].name;
  float s;
  int zp;
  range_params(r.lo, r.hi, z->at, &s, &zp);
  qval v = {qg_new_value(&z->c, name, "_quantized"), qg_const_scalar(&z->c, name, OXRT_FLOAT, s),
            qg_const_scalar(&z->c, name, z->at, zp), s};
  if (v.q < 0 || v.s < 0 || v.z < 0 || add_qlinear(z, "QuantizeLinear", x, v.s, v.z, v.q, -1) < 0) return OXRT_OOM();
  z->qmap[x] = *out = v;
  return NULL;
}

/* ------------------------------------------------------------------ static */

static int range_index(const int *ids, int n, int id) {
  for (int i = 0; i < n; i++)
    if (ids[i] == id) return i;
  return -1;
}

static oxrt_status *static_qdq(qz *z, cand *cs, int nc, const int *ids, int n_ids, const qg_range *r) {
  oxrt_graph *g = z->c.g;
  for (int k = 0; k < nc; k++) /* folded activations: the op writes the activation's output itself */
    if (cs[k].fold >= 0) opt_absorb_consumer(g, NULL, &g->nodes[cs[k].node], &g->nodes[cs[k].fold], cs[k].mid);
  for (int i = 0; z->act_fold && i < g->n_nodes; i++)
    if (z->act_fold[i] >= 0)
      opt_absorb_consumer(g, NULL, &g->nodes[i], &g->nodes[z->act_fold[i]], g->nodes[i].outputs[0]);
  /* activations: x -> Q -> DQ, every reader of x reads the DQ output */
  for (int i = 0; i < n_ids; i++) {
    const char *name = g->values[ids[i]].name;
    int dq = qg_new_value(&z->c, name, "_dequantized");
    if (dq < 0) return OXRT_OOM();
    opt_replace_uses(g, ids[i], dq);
    qval v;
    OXRT_TRY(quantized(z, ids[i], r[i], &v));
    if (add_qlinear(z, "DequantizeLinear", v.q, v.s, v.z, dq, -1) < 0) return OXRT_OOM();
  }
  for (int k = 0; k < nc; k++) {
    cand *c = &cs[k];
    const char *wname = g->values[c->w].name;
    qweight qw;
    bool pc = z->o->per_channel;
    OXRT_TRY(quant_weight(opt_const(g, c->w), pc ? c->axis : -1, z->wt, false, z->o->reduce_range, &qw));
    int q, s, zp, wd = qg_new_value(&z->c, wname, "_dequantized");
    oxrt_status *st = weight_inits(z, wname, &qw, pc, &q, &s, &zp);
    if (!st && (wd < 0 || add_qlinear(z, "DequantizeLinear", q, s, zp, wd, pc ? c->axis : -1) < 0)) st = OXRT_OOM();
    if (!st && c->b >= 0) {
      int bq, bs, bd = qg_new_value(&z->c, g->values[c->b].name, "_dequantized");
      st = bias_inits(z, c, z->qmap[c->x].scale, &qw, &bq, &bs);
      if (!st && (bd < 0 || add_qlinear(z, "DequantizeLinear", bq, bs, -1, bd, pc ? 0 : -1) < 0)) st = OXRT_OOM();
      if (!st) {
        g->nodes[c->node].inputs[2] = bd;
        if (c->kind == K_GEMM) st = qg_attr_float(&z->c, c->node, "beta", 1); /* beta is in the int32 bias */
      }
    }
    qweight_free(&qw);
    OXRT_TRY(st);
    g->nodes[c->node].inputs[1] = wd;
  }
  return NULL;
}

/* Gemm's beta is folded into the int32 bias, and QGemm takes no beta: its attributes are rebuilt. */
static oxrt_status *qgemm_attrs(qz *z, int node, bool trans_b) {
  oxrt_node *n = &z->c.g->nodes[node];
  n->n_attrs = 0;
  OXRT_TRY(qg_attr_int(&z->c, node, "transA", 0));
  return qg_attr_int(&z->c, node, "transB", trans_b);
}

static oxrt_status *static_qop(qz *z, cand *cs, int nc, const int *ids, int n_ids, const qg_range *r) {
  oxrt_graph *g = z->c.g;
  bool gemm = false;
  for (int k = 0; k < nc; k++) {
    cand *c = &cs[k];
    qval xv, yv;
    int ri = range_index(ids, n_ids, c->x), ro = range_index(ids, n_ids, c->y);
    OXRT_TRY(quantized(z, c->x, r[ri], &xv));
    /* y: a new quantized value produced by this node; the original name comes back through DequantizeLinear */
    const char *yname = g->values[c->y].name;
    float ys;
    int yz;
    range_params(r[ro].lo, r[ro].hi, z->at, &ys, &yz);
    yv = (qval){qg_new_value(&z->c, yname, "_quantized"), qg_const_scalar(&z->c, yname, OXRT_FLOAT, ys),
                qg_const_scalar(&z->c, yname, z->at, yz), ys};
    if (yv.q < 0 || yv.s < 0 || yv.z < 0) return OXRT_OOM();
    bool pc = z->o->per_channel;
    qweight qw;
    OXRT_TRY(quant_weight(opt_const(g, c->w), pc ? c->axis : -1, z->wt, false, z->o->reduce_range, &qw));
    int wq, ws, wz, bq = -1, bs = -1;
    oxrt_status *st = weight_inits(z, g->values[c->w].name, &qw, pc, &wq, &ws, &wz);
    if (!st && c->b >= 0) st = bias_inits(z, c, xv.scale, &qw, &bq, &bs);
    qweight_free(&qw);
    OXRT_TRY(st);
    int ins[9] = {xv.q, xv.s, xv.z, wq, ws, wz, yv.s, yv.z, bq};
    oxrt_node *n = &g->nodes[c->node];
    if (c->kind == K_CONV) {
      OXRT_TRY(opt_set_inputs(g, n, ins, bq >= 0 ? 9 : 8));
      n->op_type = "QLinearConv";
    } else if (c->kind == K_MATMUL) {
      OXRT_TRY(opt_set_inputs(g, n, ins, 8));
      n->op_type = "QLinearMatMul";
    } else {
      int gi[9] = {xv.q, xv.s, xv.z, wq, ws, wz, bq, yv.s, yv.z};
      OXRT_TRY(opt_set_inputs(g, n, gi, 9));
      n->op_type = "QGemm";
      n->domain = "com.microsoft";
      OXRT_TRY(qgemm_attrs(z, c->node, c->trans_b));
      gemm = true;
    }
    g->nodes[c->node].outputs[0] = yv.q;
    g->values[yv.q].producer = c->node;
    g->values[c->y].producer = -1;
    z->qmap[c->y] = yv;
    if (add_qlinear(z, "DequantizeLinear", yv.q, yv.s, yv.z, c->y, -1) < 0) return OXRT_OOM();
  }
  return gemm ? opt_import_domain(z->c.opt.model, "com.microsoft", 1) : NULL;
}

/* ----------------------------------------------------------------- dynamic */

/* Weight-only: W -> int8 initializer -> DequantizeLinear -> the float op. */
static oxrt_status *dynamic_qdq(qz *z, cand *cs, int nc) {
  oxrt_graph *g = z->c.g;
  for (int k = 0; k < nc; k++) {
    cand *c = &cs[k];
    bool pc = z->o->per_channel;
    qweight qw;
    OXRT_TRY(quant_weight(opt_const(g, c->w), pc ? c->axis : -1, z->wt, false, z->o->reduce_range, &qw));
    int q, s, zp, wd = qg_new_value(&z->c, g->values[c->w].name, "_dequantized");
    oxrt_status *st = weight_inits(z, g->values[c->w].name, &qw, pc, &q, &s, &zp);
    qweight_free(&qw);
    OXRT_TRY(st);
    if (wd < 0 || add_qlinear(z, "DequantizeLinear", q, s, zp, wd, pc ? c->axis : -1) < 0) return OXRT_OOM();
    g->nodes[c->node].inputs[1] = wd;
  }
  return NULL;
}

/* x -> DynamicQuantizeLinear -> (xq, x_scale, x_zero_point), once per value. */
static oxrt_status *dynamic_input(qz *z, int x, qval *out) {
  if (z->qmap[x].q >= 0) {
    *out = z->qmap[x];
    return NULL;
  }
  const char *name = z->c.g->values[x].name;
  qval v = {qg_new_value(&z->c, name, "_quantized"), qg_new_value(&z->c, name, "_scale"),
            qg_new_value(&z->c, name, "_zero_point"), 0};
  int outs[3] = {v.q, v.s, v.z};
  if (v.q < 0 || v.s < 0 || v.z < 0 || qg_add_node(&z->c, "DynamicQuantizeLinear", "", name, &x, 1, outs, 3) < 0)
    return OXRT_OOM();
  z->qmap[x] = *out = v;
  return NULL;
}

/* A float initializer of `n` values: [n] (rank 1), or [1, n, 1, ...] to broadcast over axis 1 of rank `rank`. */
static int float_const(qz *z, const char *base, const float *v, size_t n, int rank) {
  int64_t dims[OXRT_MAX_RANK];
  for (int d = 0; d < rank; d++) dims[d] = 1;
  dims[rank == 1 ? 0 : 1] = (int64_t)n;
  oxrt_value *t;
  oxrt_status *st = oxrt_tensor_new(OXRT_FLOAT, rank, dims, &t);
  if (st) {
    oxrt_status_free(st);
    return -1;
  }
  memcpy(t->data, v, sizeof(float) * n);
  return qg_const_tensor(&z->c, base, t);
}

static oxrt_status *dynamic_qop(qz *z, cand *cs, int nc) {
  oxrt_graph *g = z->c.g;
  for (int k = 0; k < nc; k++) {
    cand *c = &cs[k];
    const oxrt_value *w = opt_const(g, c->w);
    const char *yname = g->values[c->y].name;
    /* ConvInteger takes one weight zero point: per-channel only where every zero point is 0 (int8) */
    bool pc = z->o->per_channel && (c->kind != K_CONV || z->wt == OXRT_INT8);
    qweight qw;
    OXRT_TRY(quant_weight(w, pc ? (c->kind == K_GEMM ? (c->trans_b ? 0 : 1) : c->axis) : -1, z->wt,
                          c->kind == K_GEMM && c->trans_b, z->o->reduce_range, &qw));
    if (c->kind == K_GEMM) c->axis = 1; /* W is now [K, N] */
    qval xv;
    int wq = -1, ws = -1, wz = -1; /* set by weight_inits; read only when it succeeded */
    oxrt_status *st = dynamic_input(z, c->x, &xv);
    if (!st) st = weight_inits(z, g->values[c->w].name, &qw, pc && c->kind != K_CONV, &wq, &ws, &wz);
    int scale_w = ws;
    if (!st && pc && c->kind == K_CONV && (scale_w = float_const(z, g->values[c->w].name, qw.scale, qw.n, w->rank)) < 0)
      st = OXRT_OOM();
    qweight_free(&qw);
    OXRT_TRY(st);
    int yi = qg_new_value(&z->c, yname, "_int32"), yf = qg_new_value(&z->c, yname, "_float");
    int sc = qg_new_value(&z->c, yname, "_scale"), ym = c->b >= 0 ? qg_new_value(&z->c, yname, "_unbiased") : c->y;
    if (yi < 0 || yf < 0 || sc < 0 || ym < 0) return OXRT_OOM();
    int ins[4] = {xv.q, wq, xv.z, wz};
    bool conv = c->kind == K_CONV;
    oxrt_node *orig = &g->nodes[c->node];
    oxrt_attr *attrs = orig->attrs;
    int n_attrs = orig->n_attrs;
    orig->op_type = NULL; /* replaced by the chain below; dropped by the sort */
    int mi = qg_add_node(&z->c, conv ? "ConvInteger" : "MatMulInteger", "", yname, ins, 4, &yi, 1);
    if (mi < 0) return OXRT_OOM();
    if (conv) g->nodes[mi].attrs = attrs, g->nodes[mi].n_attrs = n_attrs;
    int ci = qg_add_node(&z->c, "Cast", "", yname, &yi, 1, &yf, 1);
    int s_in[2] = {xv.s, scale_w}, y_in[2] = {yf, sc};
    if (ci < 0 || qg_attr_int(&z->c, ci, "to", OXRT_FLOAT) || qg_add_node(&z->c, "Mul", "", yname, s_in, 2, &sc, 1) < 0 ||
        qg_add_node(&z->c, "Mul", "", yname, y_in, 2, &ym, 1) < 0)
      return OXRT_OOM();
    if (c->b >= 0) {
      /* float bias: [1, M, 1, ...] for Conv, beta * C for Gemm */
      const oxrt_value *b = opt_const(g, c->b);
      float *bv = malloc(sizeof(float) * (b->count + 1));
      if (!bv) return OXRT_OOM();
      for (size_t i = 0; i < b->count; i++) bv[i] = c->beta * ((const float *)b->data)[i];
      int bid = float_const(z, g->values[c->b].name, bv, b->count, conv ? w->rank : 1);
      free(bv);
      int a_in[2] = {ym, bid};
      if (bid < 0 || qg_add_node(&z->c, "Add", "", yname, a_in, 2, &c->y, 1) < 0) return OXRT_OOM();
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------ driver */

/* Drops DequantizeLinear nodes nobody reads and initializers no node reads any more. */
static oxrt_status *prune(oxrt_graph *g) {
  for (bool again = true; again;) {
    again = false;
    opt_uses u;
    OXRT_TRY(opt_uses_build(g, &u));
    for (int i = 0; i < g->n_nodes; i++) {
      oxrt_node *n = &g->nodes[i];
      /* DequantizeLinear nodes the rewrite left unread, and Constant nodes of folded Clip bounds */
      if (n->op_type && !*n->domain && (!strcmp(n->op_type, "DequantizeLinear") || !strcmp(n->op_type, "Constant")) &&
          n->n_outputs == 1 && n->outputs[0] >= 0 && !u.count[n->outputs[0]] && !u.pinned[n->outputs[0]]) {
        n->op_type = NULL;
        again = true;
      }
    }
    if (!again)
      for (int v = 0; v < g->n_values; v++)
        if (g->values[v].init && !u.count[v] && !u.pinned[v]) {
          oxrt_value_free(g->values[v].init);
          g->values[v].init = NULL;
        }
    opt_uses_free(&u);
  }
  return NULL;
}

static oxrt_status *quantize(oxrt_model *m, const oxrt_quantize_options *o) {
  qz z = {0};
  z.c.opt.model = m;
  z.c.g = m->graph;
  z.o = o;
  z.wt = o->weight_type ? o->weight_type : OXRT_INT8;
  z.at = o->mode == OXRT_QUANT_DYNAMIC ? OXRT_UINT8 : o->activation_type ? o->activation_type : OXRT_UINT8;
  if ((z.wt != OXRT_INT8 && z.wt != OXRT_UINT8) || (z.at != OXRT_INT8 && z.at != OXRT_UINT8))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "weight and activation types must be int8 or uint8");
  int64_t opset = oxrt_model_opset(m, "");
  int64_t need = o->mode == OXRT_QUANT_DYNAMIC && o->format == OXRT_QUANT_QOPERATOR ? 11
                 : o->per_channel && o->format == OXRT_QUANT_QDQ                      ? 13
                                                                                      : 10;
  if (opset < need)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "this quantization needs ai.onnx opset >= %lld; the model imports %lld",
                      (long long)need, (long long)opset);
  oxrt_graph *g = m->graph;
  int n0 = g->n_nodes;
  cand *cs = malloc(sizeof(cand) * ((size_t)n0 + 1));
  int *ids = malloc(sizeof(int) * (size_t)(g->n_values + 1)), nc = 0, n_ids = 0;
  oxrt_status *st0 = NULL;
  if (!cs || !ids) {
    free(cs), free(ids);
    return OXRT_OOM();
  }
  for (int i = 0; i < n0; i++)
    if (find_cand(&z, i, &cs[nc])) nc++;
  bool acts = o->mode == OXRT_QUANT_STATIC && o->format == OXRT_QUANT_QDQ;
  opt_uses u = {0};
  if (acts && (st0 = opt_uses_build(g, &u))) {
    free(cs), free(ids);
    return st0;
  }
  for (int k = 0; acts && k < nc; k++) {
    int f = foldable(&z, &u, cs[k].y);
    if (f >= 0) cs[k].fold = f, cs[k].mid = cs[k].y, cs[k].y = g->nodes[f].outputs[0];
  }
  /* the same after Add / Mul (a residual's Relu), as ORT's QDQ quantizer removes such activations */
  z.act_fold = acts ? malloc(sizeof(int) * ((size_t)n0 + 1)) : NULL;
  if (acts && !z.act_fold) {
    opt_uses_free(&u);
    free(cs), free(ids);
    return OXRT_OOM();
  }
  for (int i = 0; acts && i < n0; i++) {
    const oxrt_node *n = &g->nodes[i];
    const act_op *a = act_op_of(&z, n);
    z.act_fold[i] = a && (!strcmp(a->op, "Add") || !strcmp(a->op, "Mul")) && n->n_outputs == 1 && n->outputs[0] >= 0
                        ? foldable(&z, &u, n->outputs[0])
                        : -1;
  }
  for (int k = 0; k < nc; k++) {
    if (range_index(ids, n_ids, cs[k].x) < 0) ids[n_ids++] = cs[k].x;
    if (range_index(ids, n_ids, cs[k].y) < 0) ids[n_ids++] = cs[k].y;
  }
  for (int i = 0; acts && i < n0; i++) { /* the activation-only operators' float inputs and outputs */
    const oxrt_node *n = &g->nodes[i];
    const act_op *a = act_op_of(&z, n);
    bool folded = false;
    for (int k = 0; k < nc && !folded; k++) folded = cs[k].fold == i;
    for (int k = 0; k < n0 && !folded; k++) folded = z.act_fold[k] == i;
    if (!a || folded) continue;
    for (int j = 0; j < n->n_inputs + n->n_outputs; j++) {
      bool in = j < n->n_inputs;
      int id = in ? n->inputs[j] : n->outputs[j - n->n_inputs];
      if (!in && z.act_fold[i] >= 0) id = g->nodes[z.act_fold[i]].outputs[0]; /* the folded activation's output */
      if (id < 0 || (in && j > 0 && !a->all_inputs) || opt_const(g, id) || !float_value(&z, id, 0))
        continue;
      if (range_index(ids, n_ids, id) < 0) ids[n_ids++] = id;
    }
  }
  opt_uses_free(&u);
  qg_range *r = calloc((size_t)n_ids + 1, sizeof(qg_range));
  /* room for every value the rewrite may add: ~12 per candidate */
  z.cap_qmap = g->n_values + 16 * nc + 16;
  z.qmap = malloc(sizeof(qval) * (size_t)z.cap_qmap);
  oxrt_status *st = !r || !z.qmap ? OXRT_OOM() : NULL;
  for (int i = 0; !st && i < z.cap_qmap; i++) z.qmap[i].q = -1;
  if (!st && o->mode == OXRT_QUANT_STATIC) {
    st = qg_calibrate(m, ids, n_ids, o, r);
    for (int i = 0; !st && acts && i < n0; i++) { /* value-moving ops: output quantized as its input */
      const oxrt_node *n = &g->nodes[i];
      const act_op *a = act_op_of(&z, n);
      int in = a && a->same_params && n->n_inputs > 0 ? range_index(ids, n_ids, n->inputs[0]) : -1;
      for (int j = 0; in >= 0 && j < n->n_outputs; j++) {
        int out = n->outputs[j] >= 0 ? range_index(ids, n_ids, n->outputs[j]) : -1;
        if (out >= 0) r[out] = r[in];
      }
    }
    if (!st) st = o->format == OXRT_QUANT_QDQ ? static_qdq(&z, cs, nc, ids, n_ids, r) : static_qop(&z, cs, nc, ids, n_ids, r);
  } else if (!st) {
    st = o->format == OXRT_QUANT_QDQ ? dynamic_qdq(&z, cs, nc) : dynamic_qop(&z, cs, nc);
  }
  if (!st) st = prune(g);
  if (!st) st = qg_topo_sort(g);
  free(cs), free(ids), free(r), free(z.qmap), free(z.act_fold);
  return st;
}

/* The caller's calibration batches in this release's layout: the array's stride is batch 0's `size`, so that a
 * program built with a later, larger oxrt_calib_batch still works. *out is NULL when there are none. */
static oxrt_status *read_batches(const oxrt_quantize_options *o, oxrt_calib_batch **out) {
  *out = NULL;
  if (!o->batches || !o->n_batches) return NULL;
  size_t stride = o->batches[0].size;
  if (stride < sizeof(oxrt_calib_batch))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                      "calibration batch 0: size is %zu, expected %zu: initialise it with OXRT_INIT(oxrt_calib_batch)",
                      stride, sizeof(oxrt_calib_batch));
  oxrt_calib_batch *b = calloc(o->n_batches, sizeof *b);
  if (!b) return OXRT_OOM();
  for (size_t i = 0; i < o->n_batches; i++) {
    const oxrt_calib_batch *src = (const oxrt_calib_batch *)((const char *)o->batches + i * stride);
    if (src->size != stride) {
      free(b);
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "calibration batch %zu: size is %zu, batch 0's is %zu", i,
                        src->size, stride);
    }
    memcpy(&b[i], src, sizeof *b);
  }
  *out = b;
  return NULL;
}

oxrt_status *oxrt_quantize_model_file(const char *model_path, const char *out_path, const oxrt_quantize_options *opts) {
  if (!model_path || !out_path || !*out_path || !opts)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "model_path, out_path and options must be given");
  if (opts->size < sizeof *opts) /* fields are only appended: a smaller size was never initialised */
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                      "oxrt_quantize_options.size is %zu, expected %zu: initialise it with OXRT_INIT(oxrt_quantize_options)",
                      opts->size, sizeof *opts);
  oxrt_quantize_options o = *opts;
  oxrt_calib_batch *batches;
  OXRT_TRY(read_batches(opts, &batches));
  if (batches) o.batches = batches;
  oxrt_model *m;
  oxrt_status *st = oxrt_load_model_file(model_path, &m);
  if (!st) {
    st = quantize(m, &o);
    if (!st) st = qg_save(m, out_path);
    oxrt_model_free(m);
  }
  free(batches);
  return st;
}
