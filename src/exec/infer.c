/* infer.c - static type and shape inference at session creation.
 *
 * Walks the main graph in execution order and derives element types and shapes of
 * intermediate values from the graph inputs, initializers and node attributes, for the
 * operators whose output shape follows from input shapes alone (the large majority of
 * what real models use). Symbolic dimensions keep their names ("batch"). Values the
 * rules cannot describe stay unknown and are shaped at run time by the kernels.
 * Contradictions between fixed dimensions (e.g. a MatMul whose inner sizes differ) are
 * reported here, naming the node, instead of at the first run.
 */
#include "engine.h"
#include "infer.h"
#include "../onnx/onnx_reader.h"
#include "../onnx/onnx_writer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  oxrt_elem_type elem;
  int rank; /* -1 unknown */
  int64_t dims[OXRT_MAX_RANK];
  const char *names[OXRT_MAX_RANK];
} shape_t;

static bool get_shape(const oxrt_graph *g, int id, shape_t *s) {
  memset(s, 0, sizeof *s);
  s->rank = -1;
  if (id < 0) return false;
  const oxrt_value_def *d = &g->values[id];
  if (d->init) {
    s->elem = d->init->dtype;
    s->rank = d->init->rank;
    memcpy(s->dims, d->init->dims, sizeof(int64_t) * (size_t)d->init->rank);
    return true;
  }
  const oxrt_type *t = d->type;
  if (!t || t->kind != OXRT_KIND_TENSOR) return false;
  s->elem = t->elem_type;
  s->rank = t->rank > OXRT_MAX_RANK ? -1 : t->rank;
  for (int i = 0; i < s->rank; i++) {
    s->dims[i] = t->dims[i];
    s->names[i] = t->dim_params ? t->dim_params[i] : NULL;
  }
  return s->elem != OXRT_UNDEFINED;
}

struct oxrt_infer {
  const oxrt_model *m;
  oxrt_graph *g;
  unsigned flags;
  oxrt_value **known; /* per value id: its constant content when data propagation found it (EXTENDED) */
};

static oxrt_status *check_declared(const oxrt_value_def *d, const shape_t *s);

static oxrt_status *set_shape(oxrt_infer *c, int id, const shape_t *s) {
  oxrt_graph *g = c->g;
  if (id < 0 || s->elem == OXRT_UNDEFINED) return NULL;
  if (c->flags & OXRT_INFER_STRICT) OXRT_TRY(check_declared(&g->values[id], s));
  const oxrt_type *old = g->values[id].type;
  /* keep a declaration unless it says less than what was inferred */
  if (old && !(old->kind == OXRT_KIND_TENSOR && (old->elem_type == OXRT_UNDEFINED || (old->rank < 0 && s->rank >= 0))))
    return NULL;
  oxrt_type *t = oxrt_arena_alloc(g->arena, sizeof *t);
  if (!t) return OXRT_OOM();
  t->kind = OXRT_KIND_TENSOR;
  t->elem_type = s->elem;
  t->rank = s->rank;
  if (s->rank > 0) {
    t->dims = oxrt_arena_alloc(g->arena, sizeof(int64_t) * (size_t)s->rank);
    t->dim_params = oxrt_arena_alloc(g->arena, sizeof(char *) * (size_t)s->rank);
    if (!t->dims || !t->dim_params) return OXRT_OOM();
    for (int i = 0; i < s->rank; i++) {
      t->dims[i] = s->dims[i];
      t->dim_params[i] = (char *)s->names[i];
    }
  }
  g->values[id].type = t;
  return NULL;
}

static const char *dims_text(const shape_t *s, char *buf, size_t cap) {
  size_t n = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < s->rank && n < cap; i++) {
    if (s->dims[i] >= 0) n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)s->dims[i]);
    else n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "", s->names[i] ? s->names[i] : "?");
  }
  if (n < cap) snprintf(buf + n, cap - n, "]");
  return buf;
}

/* Merges dimension b into a under broadcasting; false on a contradiction. */
static bool bcast_dim(int64_t *a, const char **an, int64_t b, const char *bn) {
  if (b == 1) return true;
  if (*a == 1) {
    *a = b;
    *an = bn;
    return true;
  }
  if (*a >= 0 && b >= 0) return *a == b;
  if (*a < 0 && b >= 0) { /* unknown vs fixed: the fixed size wins unless the unknown is 1 at run time */
    *a = b;
    *an = NULL;
    return true;
  }
  if (*a < 0 && b < 0 && !(*an && bn && strcmp(*an, bn) == 0)) *an = NULL;
  return true;
}

static bool broadcast(shape_t *out, const shape_t *in, int n) {
  int r = 0;
  for (int i = 0; i < n; i++) {
    if (in[i].rank < 0) return out->rank = -1, true;
    if (in[i].rank > r) r = in[i].rank;
  }
  out->rank = r;
  for (int d = 0; d < r; d++) out->dims[d] = 1, out->names[d] = NULL;
  for (int i = 0; i < n; i++)
    for (int d = 0; d < in[i].rank; d++) {
      int o = r - in[i].rank + d;
      if (!bcast_dim(&out->dims[o], &out->names[o], in[i].dims[d], in[i].names[d])) return false;
    }
  return true;
}

static bool in_list(const char *op, const char *const *list) {
  for (; *list; list++)
    if (strcmp(op, *list) == 0) return true;
  return false;
}

static const char *const same_ops[] = {
    "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Exp", "Floor", "Log",
    "Neg", "Reciprocal", "Round", "Sigmoid", "Sign", "Sin", "Sinh", "Sqrt", "Tan", "Tanh", "Relu", "LeakyRelu", "Elu",
    "Selu", "Celu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "ThresholdedRelu", "Shrink", "Gelu", "Mish",
    "Swish", "Softmax", "LogSoftmax", "Hardmax", "Identity", "Dropout", "BatchNormalization", "InstanceNormalization",
    "LayerNormalization", "GroupNormalization", "RMSNormalization", "LRN", "LpNormalization",
    "MeanVarianceNormalization", "Clip", "CumSum", "CumProd", "BitwiseNot", "Not", "PRelu", NULL};
static const char *const bcast_ops[] = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean",
                                        "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitShift", "And", "Or", "Xor", NULL};
static const char *const compare_ops[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", NULL};

/* Spatial output size of a convolution/pooling window; -1 when unknown. */
static int64_t window_out(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pb, int64_t pe, const char *auto_pad,
                          bool ceil_mode) {
  if (in < 0 || k < 0) return -1;
  if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) return (in + stride - 1) / stride;
  int64_t ek = (k - 1) * dil + 1;
  if (strcmp(auto_pad, "VALID") == 0) pb = pe = 0;
  int64_t span = in + pb + pe - ek;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  /* with ceil_mode, a last window that would start inside the end padding is dropped */
  if (ceil_mode && out > 1 && (out - 1) * stride >= in + pb) out--;
  return out;
}

static oxrt_status *infer_extended(oxrt_infer *c, const oxrt_node *n, const shape_t *in, int k);

oxrt_status *oxrt_infer_node(oxrt_infer *c, const oxrt_node *n) {
  oxrt_graph *g = c->g;
  if (*n->domain || n->n_outputs < 1) return NULL;
  const char *op = n->op_type;
  shape_t in[4], out;
  int k = n->n_inputs < 4 ? n->n_inputs : 4;
  for (int i = 0; i < k; i++) get_shape(g, n->inputs[i], &in[i]);
  for (int i = k; i < 4; i++) memset(&in[i], 0, sizeof in[i]), in[i].rank = -1;
  memset(&out, 0, sizeof out);
  out.rank = -1;
  char a[256], b[256];

  /* opset < 7 broadcasting ("broadcast"/"axis" attributes) keeps the shape of input 0 */
  bool legacy_bcast = oxrt_node_attr(n, "broadcast") != NULL;
  if (in_list(op, same_ops) || (legacy_bcast && in_list(op, bcast_ops))) {
    if (in[0].elem == OXRT_UNDEFINED) return NULL;
    out = in[0];
  } else if (in_list(op, bcast_ops) || in_list(op, compare_ops) || strcmp(op, "Where") == 0) {
    bool where = strcmp(op, "Where") == 0;
    /* Opsets < 7 broadcast B into A by the `broadcast`/`axis` attributes: the kernel shapes those. */
    if (oxrt_node_attr(n, "broadcast")) return NULL;
    for (int i = 0; i < k; i++)
      if (in[i].elem == OXRT_UNDEFINED) return NULL;
    if (!broadcast(&out, in, k))
      return oxrt_error(OXRT_ERR_INVALID_MODEL, "input shapes %s and %s cannot be broadcast together",
                        dims_text(&in[0], a, sizeof a), dims_text(&in[1], b, sizeof b));
    out.elem = in_list(op, compare_ops) ? OXRT_BOOL : where ? in[1].elem : in[0].elem;
  } else if (strcmp(op, "Cast") == 0) {
    if (in[0].elem == OXRT_UNDEFINED) return NULL;
    out = in[0];
    out.elem = (oxrt_elem_type)oxrt_attr_int(n, "to", 0);
  } else if (strcmp(op, "MatMul") == 0) {
    if (in[0].rank < 1 || in[1].rank < 1) return NULL;
    shape_t A = in[0], B = in[1];
    if (A.rank == 1) memmove(A.dims + 1, A.dims, sizeof(int64_t)), A.dims[0] = 1, A.names[1] = A.names[0], A.names[0] = NULL, A.rank = 2;
    bool bvec = B.rank == 1;
    if (bvec) B.dims[1] = 1, B.names[1] = NULL, B.rank = 2;
    int64_t ka = A.dims[A.rank - 1], kb = B.dims[B.rank - 2];
    if (ka >= 0 && kb >= 0 && ka != kb)
      return oxrt_error(OXRT_ERR_INVALID_MODEL, "inner dimensions differ: input 0 %s, input 1 %s (%lld vs %lld)",
                        dims_text(&in[0], a, sizeof a), dims_text(&in[1], b, sizeof b), (long long)ka, (long long)kb);
    shape_t ba = A, bb = B, bo;
    ba.rank -= 2, bb.rank -= 2;
    if (!broadcast(&bo, (shape_t[]){ba, bb}, 2))
      return oxrt_error(OXRT_ERR_INVALID_MODEL, "batch dimensions of %s and %s cannot be broadcast",
                        dims_text(&in[0], a, sizeof a), dims_text(&in[1], b, sizeof b));
    out = bo;
    if (in[0].rank > 1) out.dims[out.rank] = A.dims[A.rank - 2], out.names[out.rank++] = A.names[A.rank - 2];
    if (!bvec) out.dims[out.rank] = B.dims[B.rank - 1], out.names[out.rank++] = B.names[B.rank - 1];
    out.elem = in[0].elem;
  } else if (strcmp(op, "Gemm") == 0) {
    if (in[0].rank != 2 || in[1].rank != 2) return NULL;
    bool ta = oxrt_attr_int(n, "transA", 0) != 0, tb = oxrt_attr_int(n, "transB", 0) != 0;
    int64_t ka = in[0].dims[ta ? 0 : 1], kb = in[1].dims[tb ? 1 : 0];
    if (ka >= 0 && kb >= 0 && ka != kb)
      return oxrt_error(OXRT_ERR_INVALID_MODEL, "inner dimensions differ: A %s%s, B %s%s", dims_text(&in[0], a, sizeof a),
                        ta ? " (transposed)" : "", dims_text(&in[1], b, sizeof b), tb ? " (transposed)" : "");
    out.elem = in[0].elem;
    out.rank = 2;
    out.dims[0] = in[0].dims[ta ? 1 : 0], out.names[0] = in[0].names[ta ? 1 : 0];
    out.dims[1] = in[1].dims[tb ? 0 : 1], out.names[1] = in[1].names[tb ? 0 : 1];
  } else if (strcmp(op, "Conv") == 0 || strcmp(op, "MaxPool") == 0 || strcmp(op, "AveragePool") == 0 ||
             strcmp(op, "LpPool") == 0) {
    bool conv = strcmp(op, "Conv") == 0;
    if (in[0].rank < 3 || (conv && in[1].rank != in[0].rank)) return NULL;
    int sp = in[0].rank - 2;
    size_t nk, ns, nd, np;
    const int64_t *ks = oxrt_attr_ints(n, "kernel_shape", &nk), *st = oxrt_attr_ints(n, "strides", &ns);
    const int64_t *dl = oxrt_attr_ints(n, "dilations", &nd), *pd = oxrt_attr_ints(n, "pads", &np);
    const char *auto_pad = oxrt_attr_string(n, "auto_pad", "NOTSET");
    bool ceil_mode = oxrt_attr_int(n, "ceil_mode", 0) != 0;
    if (conv && in[0].dims[1] >= 0 && in[1].dims[1] >= 0 &&
        in[0].dims[1] != in[1].dims[1] * oxrt_attr_int(n, "group", 1))
      return oxrt_error(OXRT_ERR_INVALID_MODEL, "input channels %lld do not match weight %s with group %lld",
                        (long long)in[0].dims[1], dims_text(&in[1], b, sizeof b), (long long)oxrt_attr_int(n, "group", 1));
    out = in[0];
    if (conv) out.dims[1] = in[1].dims[0], out.names[1] = NULL;
    for (int i = 0; i < sp; i++) {
      int64_t kk = ks && (int)nk == sp ? ks[i] : conv ? in[1].dims[2 + i] : -1;
      out.dims[2 + i] = window_out(in[0].dims[2 + i], kk, st && (int)ns == sp ? st[i] : 1,
                                   dl && (int)nd == sp ? dl[i] : 1, pd && (int)np == 2 * sp ? pd[i] : 0,
                                   pd && (int)np == 2 * sp ? pd[sp + i] : 0, auto_pad, ceil_mode);
      out.names[2 + i] = NULL;
    }
  } else if (strcmp(op, "GlobalAveragePool") == 0 || strcmp(op, "GlobalMaxPool") == 0 ||
             strcmp(op, "GlobalLpPool") == 0) {
    if (in[0].rank < 3) return NULL;
    out = in[0];
    for (int i = 2; i < out.rank; i++) out.dims[i] = 1, out.names[i] = NULL;
  } else if (strcmp(op, "Flatten") == 0) {
    if (in[0].rank < 0) return NULL;
    int64_t axis = oxrt_attr_int(n, "axis", 1);
    if (axis < 0) axis += in[0].rank;
    if (axis < 0 || axis > in[0].rank) return NULL;
    out.elem = in[0].elem;
    out.rank = 2;
    out.dims[0] = out.dims[1] = 1;
    for (int i = 0; i < in[0].rank; i++) {
      int64_t *d = &out.dims[i < axis ? 0 : 1];
      *d = (*d < 0 || in[0].dims[i] < 0) ? -1 : *d * in[0].dims[i];
    }
    if (axis == 1 && in[0].names[0]) out.names[0] = in[0].names[0];
  } else if (strcmp(op, "Transpose") == 0) {
    if (in[0].rank < 0) return NULL;
    size_t np;
    const int64_t *perm = oxrt_attr_ints(n, "perm", &np);
    out = in[0];
    for (int i = 0; i < in[0].rank; i++) {
      int64_t p = perm && (int)np == in[0].rank ? perm[i] : in[0].rank - 1 - i;
      if (p < 0 || p >= in[0].rank) return NULL;
      out.dims[i] = in[0].dims[p];
      out.names[i] = in[0].names[p];
    }
  } else if (strcmp(op, "Shape") == 0) {
    if (in[0].rank < 0) return NULL;
    out.elem = OXRT_INT64;
    out.rank = 1;
    int64_t r = in[0].rank, s0 = oxrt_attr_int(n, "start", 0), e0 = oxrt_attr_int(n, "end", r);
    if (s0 < 0) s0 += r;
    if (e0 < 0) e0 += r;
    s0 = s0 < 0 ? 0 : s0 > r ? r : s0;
    e0 = e0 < 0 ? 0 : e0 > r ? r : e0;
    out.dims[0] = e0 > s0 ? e0 - s0 : 0;
  } else if (strcmp(op, "Reshape") == 0) {
    const oxrt_value *shp = n->n_inputs > 1 && n->inputs[1] >= 0 ? g->values[n->inputs[1]].init : NULL;
    if (!shp || shp->dtype != OXRT_INT64 || shp->rank != 1 || shp->count > OXRT_MAX_RANK || in[0].rank < 0) return NULL;
    const int64_t *sv = shp->data;
    bool allowzero = oxrt_attr_int(n, "allowzero", 0) != 0;
    out.elem = in[0].elem;
    out.rank = (int)shp->count;
    int64_t known = 1;
    int infer_at = -1;
    bool all_known = true;
    for (int i = 0; i < in[0].rank; i++) all_known &= in[0].dims[i] >= 0;
    int64_t total = 1;
    for (int i = 0; i < in[0].rank; i++) total *= in[0].dims[i] >= 0 ? in[0].dims[i] : 1;
    for (int i = 0; i < out.rank; i++) {
      int64_t d = sv[i];
      if (d == 0 && !allowzero) {
        if (i >= in[0].rank) return NULL;
        out.dims[i] = in[0].dims[i], out.names[i] = in[0].names[i];
      } else if (d == -1) {
        infer_at = i, out.dims[i] = -1;
        continue;
      } else {
        out.dims[i] = d;
      }
      if (out.dims[i] >= 0) known *= out.dims[i];
      else all_known = false;
    }
    if (infer_at >= 0 && all_known && known > 0) out.dims[infer_at] = total / known;
  } else if (strcmp(op, "Concat") == 0) {
    for (int i = 0; i < n->n_inputs; i++) {
      shape_t s;
      if (!get_shape(g, n->inputs[i], &s) || s.rank < 1) return NULL;
      int64_t axis = oxrt_attr_int(n, "axis", 0);
      if (axis < 0) axis += s.rank;
      if (axis < 0 || axis >= s.rank) return NULL;
      if (i == 0) {
        out = s;
        continue;
      }
      if (s.rank != out.rank) return NULL;
      out.dims[axis] = out.dims[axis] < 0 || s.dims[axis] < 0 ? -1 : out.dims[axis] + s.dims[axis];
      out.names[axis] = NULL;
    }
  } else if (c->flags & OXRT_INFER_EXTENDED) {
    return infer_extended(c, n, in, k);
  } else {
    return NULL; /* shaped at run time */
  }
  return set_shape(c, n->outputs[0], &out);
}

oxrt_status *oxrt_infer_begin(const oxrt_model *m, oxrt_graph *g, unsigned flags, oxrt_infer **out) {
  oxrt_infer *c = calloc(1, sizeof *c);
  if (!c) return OXRT_OOM();
  c->m = m, c->g = g, c->flags = flags;
  *out = c;
  return NULL;
}

void oxrt_infer_end(oxrt_infer *c) {
  if (!c) return;
  if (c->known)
    for (int i = 0; i < c->g->n_values; i++) oxrt_value_free(c->known[i]);
  free(c->known);
  free(c);
}

oxrt_status *oxrt_infer_graph(const oxrt_model *m, oxrt_graph *g, unsigned flags) {
  oxrt_infer *c = NULL;
  OXRT_TRY(oxrt_infer_begin(m, g, flags, &c));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    st = oxrt_infer_node(c, &g->nodes[i]);
    if (st) st = oxrt_error_prefix(st, "node '%s' (%s): ", g->nodes[i].name, g->nodes[i].op_type);
  }
  oxrt_infer_end(c);
  return st;
}

oxrt_status *oxrt_infer_shapes(oxrt_session *s) {
  oxrt_graph *g = s->model->graph;
  const oxrt_graph_plan *p = s->main_plan;
  int n = p ? p->n_steps : g->n_nodes;
  oxrt_infer *c = NULL;
  OXRT_TRY(oxrt_infer_begin(s->model, g, 0, &c));
  oxrt_status *st = NULL;
  for (int i = 0; i < n && !st; i++) {
    const oxrt_node *nd = p ? p->steps[i].node : &g->nodes[i];
    st = oxrt_infer_node(c, nd);
    if (st) st = oxrt_error_prefix(st, "node '%s' (%s): ", nd->name, nd->op_type);
  }
  oxrt_infer_end(c);
  return st;
}

/* ------------------------------------------------------------------------------------------------------------------
 * Checker (STRICT) and toolkit (EXTENDED) rules. */

/* A declaration contradicting the inferred type: different element type, rank, or fixed size. */
static oxrt_status *check_declared(const oxrt_value_def *d, const shape_t *s) {
  const oxrt_type *t = d->type;
  if (!t || t->kind != OXRT_KIND_TENSOR) return NULL;
  if (t->elem_type != OXRT_UNDEFINED && t->elem_type != s->elem)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "output '%s' is inferred as %s but declared %s", d->name,
                      oxrt_elem_type_name(s->elem), oxrt_elem_type_name(t->elem_type));
  if (t->rank < 0 || s->rank < 0) return NULL;
  if (t->rank != s->rank)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "output '%s' is inferred with rank %d but declared with rank %d", d->name,
                      s->rank, t->rank);
  for (int i = 0; i < s->rank; i++)
    if (s->dims[i] >= 0 && t->dims[i] >= 0 && s->dims[i] != t->dims[i])
      return oxrt_error(OXRT_ERR_INVALID_MODEL, "output '%s' dimension %d is inferred as %lld but declared %lld",
                        d->name, i, (long long)s->dims[i], (long long)t->dims[i]);
  return NULL;
}

static oxrt_status *infer_extended(oxrt_infer *c, const oxrt_node *n, const shape_t *in, int k) {
  (void)in, (void)k;
  const char *op = n->op_type;
  shape_t out;
  memset(&out, 0, sizeof out);
  out.rank = -1;
  if (strcmp(op, "Constant") == 0) {
    const oxrt_attr *v = oxrt_node_attr(n, "value");
    if (!v || !v->t) return NULL;
    out.elem = v->t->dtype;
    out.rank = v->t->rank;
    memcpy(out.dims, v->t->dims, sizeof(int64_t) * (size_t)out.rank);
  } else {
    return NULL;
  }
  return set_shape(c, n->outputs[0], &out);
}

/* ------------------------------------------------------------------------------------------------------------------
 * `oxrt infer-shapes`: a model with its inferred types written as value_info. */
oxrt_status *oxrt_infer_shapes_bytes(const void *data, size_t size, void **out, size_t *out_size) {
  if (!data || !out || !out_size) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "data and out must not be NULL");
  oxrt_tensor_src src = {.borrow = true, .base_dir = "."};
  oxrt_model *m;
  OXRT_TRY(oxrt_read_model(data, size, &src, &m));
  oxrt_status *st = oxrt_infer_graph(m, m->graph, OXRT_INFER_EXTENDED);
  uint8_t *buf = NULL;
  size_t n = 0;
  if (!st) st = oxrt_serialize_model(m, &buf, &n);
  oxrt_model_free(m);
  if (st) return st;
  *out = buf;
  *out_size = n;
  return NULL;
}
