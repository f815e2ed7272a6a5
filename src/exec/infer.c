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
#include "../onnx/version_convert.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  oxrt_elem_type elem;
  int rank; /* -1 unknown */
  int64_t dims[OXRT_MAX_RANK];
  const char *names[OXRT_MAX_RANK];
} shape_t;

/* Content of a small int64 tensor found by data propagation (EXTENDED); names for symbolic sizes. */
typedef struct kval {
  bool valid, scalar;
  int n;
  int64_t v[OXRT_MAX_RANK];
  const char *names[OXRT_MAX_RANK];
} kval;

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
  struct kval *known; /* per value id: the content of small int64 tensors, when data propagation found it */
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
  /* hostile attributes (stride 0, huge values) leave the size unknown; the kernel reports them */
  if (in < 0 || k < 0 || stride < 1 || dil < 1) return -1;
  if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0)
    return in > INT64_MAX - stride ? -1 : (in + stride - 1) / stride;
  int64_t ek, span;
  if (__builtin_mul_overflow(k - 1, dil, &ek) || __builtin_add_overflow(ek, 1, &ek)) return -1;
  if (strcmp(auto_pad, "VALID") == 0) pb = pe = 0;
  if (__builtin_add_overflow(in, pb, &span) || __builtin_add_overflow(span, pe, &span) ||
      __builtin_sub_overflow(span, ek, &span) || span > INT64_MAX - stride)
    return -1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  /* with ceil_mode, a last window that would start inside the end padding is dropped */
  if (ceil_mode && out > 1 && (out - 1) * stride >= in + pb) out--;
  return out;
}

static oxrt_status *infer_extended(oxrt_infer *c, const oxrt_node *n, bool *handled);
static void propagate(oxrt_infer *c, const oxrt_node *n);

oxrt_status *oxrt_infer_node(oxrt_infer *c, const oxrt_node *n) {
  oxrt_graph *g = c->g;
  if (*n->domain || n->n_outputs < 1) return NULL;
  if (c->flags & OXRT_INFER_EXTENDED) {
    bool handled = false;
    propagate(c, n);
    oxrt_status *st = infer_extended(c, n, &handled);
    if (st || handled) return st;
  }
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
    for (int i = 0; i < in[0].rank; i++) /* a hostile shape may overflow: then nothing is inferred */
      if (__builtin_mul_overflow(total, in[0].dims[i] >= 0 ? in[0].dims[i] : 1, &total)) return NULL;
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
      if (out.dims[i] < 0) all_known = false;
      else if (__builtin_mul_overflow(known, out.dims[i], &known)) return NULL;
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
  } else {
    return NULL; /* shaped at run time */
  }
  return set_shape(c, n->outputs[0], &out);
}

oxrt_status *oxrt_infer_begin(const oxrt_model *m, oxrt_graph *g, unsigned flags, oxrt_infer **out) {
  oxrt_infer *c = calloc(1, sizeof *c);
  if (!c) return OXRT_OOM();
  c->m = m, c->g = g, c->flags = flags;
  if ((flags & OXRT_INFER_EXTENDED) && !(c->known = calloc((size_t)g->n_values + 1, sizeof *c->known))) {
    free(c);
    return OXRT_OOM();
  }
  *out = c;
  return NULL;
}

void oxrt_infer_end(oxrt_infer *c) {
  if (!c) return;
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

/* Data propagation: the content of small int64 tensors (shapes and what is computed from them), with
 * symbolic sizes kept by name, so that Shape -> Gather -> Concat -> Reshape chains give exact shapes. */
static kval *known(oxrt_infer *c, int id) {
  if (id < 0 || !c->known) return NULL;
  kval *k = &c->known[id];
  if (k->valid) return k;
  const oxrt_value *t = c->g->values[id].init;
  if (t && (t->dtype == OXRT_INT64 || t->dtype == OXRT_INT32) && t->rank <= 1 && t->count <= OXRT_MAX_RANK) {
    k->valid = true, k->scalar = t->rank == 0, k->n = (int)t->count;
    for (int i = 0; i < k->n; i++) k->v[i] = oxrt_load_i64(t->dtype, t->data, (size_t)i), k->names[i] = NULL;
    return k;
  }
  return NULL;
}

static void set_known(oxrt_infer *c, int id, const kval *k) {
  if (id >= 0 && c->known && k->n <= OXRT_MAX_RANK) c->known[id] = *k, c->known[id].valid = true;
}

static void propagate(oxrt_infer *c, const oxrt_node *n) {
  const char *op = n->op_type;
  kval r;
  memset(&r, 0, sizeof r);
  kval *a = n->n_inputs > 0 ? known(c, n->inputs[0]) : NULL;
  kval *b = n->n_inputs > 1 ? known(c, n->inputs[1]) : NULL;
  if (!strcmp(op, "Shape")) {
    shape_t s;
    if (!get_shape(c->g, n->inputs[0], &s) || s.rank < 0) return;
    int64_t st = oxrt_attr_int(n, "start", 0), en = oxrt_attr_int(n, "end", s.rank);
    if (st < 0) st += s.rank;
    if (en < 0) en += s.rank;
    st = st < 0 ? 0 : st > s.rank ? s.rank : st;
    en = en < 0 ? 0 : en > s.rank ? s.rank : en;
    for (int64_t i = st; i < en; i++) r.v[r.n] = s.dims[i], r.names[r.n++] = s.names[i];
  } else if (!strcmp(op, "Constant")) {
    const oxrt_attr *v = oxrt_node_attr(n, "value");
    const oxrt_attr *vi = oxrt_node_attr(n, "value_ints"), *v1 = oxrt_node_attr(n, "value_int");
    if (v && v->t && (v->t->dtype == OXRT_INT64 || v->t->dtype == OXRT_INT32) && v->t->rank <= 1 &&
        v->t->count <= OXRT_MAX_RANK) {
      r.scalar = v->t->rank == 0;
      for (size_t i = 0; i < v->t->count; i++) r.v[r.n++] = oxrt_load_i64(v->t->dtype, v->t->data, i);
    } else if (vi && vi->n <= OXRT_MAX_RANK) {
      for (size_t i = 0; i < vi->n; i++) r.v[r.n++] = vi->ints[i];
    } else if (v1) {
      r.scalar = true, r.v[r.n++] = v1->i;
    } else {
      return;
    }
  } else if (!strcmp(op, "Identity") || (!strcmp(op, "Cast") && a &&
                                         (oxrt_attr_int(n, "to", 0) == OXRT_INT64 || oxrt_attr_int(n, "to", 0) == OXRT_INT32))) {
    if (!a) return;
    r = *a;
  } else if (!strcmp(op, "Gather")) {
    if (!a || !b || a->scalar || oxrt_attr_int(n, "axis", 0) != 0) return;
    r.scalar = b->scalar;
    for (int i = 0; i < b->n; i++) {
      int64_t ix = b->v[i] < 0 ? b->v[i] + a->n : b->v[i];
      if (b->v[i] == -1 && b->names[i]) return;
      if (ix < 0 || ix >= a->n) return;
      r.v[r.n] = a->v[ix], r.names[r.n++] = a->names[ix];
    }
  } else if (!strcmp(op, "Concat")) {
    for (int i = 0; i < n->n_inputs; i++) {
      kval *k = known(c, n->inputs[i]);
      if (!k || k->scalar || r.n + k->n > OXRT_MAX_RANK) return;
      for (int j = 0; j < k->n; j++) r.v[r.n] = k->v[j], r.names[r.n++] = k->names[j];
    }
  } else if (!strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze")) {
    if (!a) return;
    r = *a;
    r.scalar = op[0] == 'S' && a->n == 1;
    if (op[0] == 'U' && !a->scalar) return;
  } else if (!strcmp(op, "Slice")) {
    kval *e = n->n_inputs > 2 ? known(c, n->inputs[2]) : NULL;
    kval *ax = n->n_inputs > 3 ? known(c, n->inputs[3]) : NULL, *sp = n->n_inputs > 4 ? known(c, n->inputs[4]) : NULL;
    if (!a || a->scalar || !b || !e || b->n != 1 || e->n != 1 || (ax && (ax->n != 1 || (ax->v[0] != 0 && ax->v[0] != -1))))
      return;
    int64_t step = sp ? sp->v[0] : 1, st = b->v[0], en = e->v[0], len = a->n;
    if (step != 1) return;
    if (st < 0) st += len;
    if (en < 0) en += len;
    st = st < 0 ? 0 : st > len ? len : st;
    en = en < 0 ? 0 : en > len ? len : en;
    for (int64_t i = st; i < en; i++) r.v[r.n] = a->v[i], r.names[r.n++] = a->names[i];
  } else if (!strcmp(op, "Size")) {
    shape_t s;
    if (!get_shape(c->g, n->inputs[0], &s) || s.rank < 0) return;
    int64_t total = 1;
    for (int i = 0; i < s.rank; i++) {
      if (s.dims[i] < 0 || __builtin_mul_overflow(total, s.dims[i], &total)) return;
    }
    r.scalar = true, r.n = 1, r.v[0] = total;
  } else if (!strcmp(op, "Neg")) {
    if (!a) return;
    for (int i = 0; i < a->n; i++)
      if (a->v[i] < 0 || a->names[i]) return; /* -1 stands for "unknown": only fixed sizes are negated */
    r = *a;
    for (int i = 0; i < r.n; i++) r.v[i] = -a->v[i];
  } else if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")) {
    if (!a || !b || (a->n != b->n && a->n != 1 && b->n != 1)) return;
    r.n = a->n > b->n ? a->n : b->n;
    r.scalar = a->scalar && b->scalar;
    for (int i = 0; i < r.n; i++) {
      int64_t x = a->v[a->n == 1 ? 0 : i], y = b->v[b->n == 1 ? 0 : i];
      bool ovf = false; /* an overflowing size is unknown */
      if (x < 0 || y < 0) r.v[i] = -1; /* a symbolic size: its result has no name */
      else if (op[0] == 'A') ovf = __builtin_add_overflow(x, y, &r.v[i]);
      else if (op[0] == 'S') r.v[i] = x - y;
      else if (op[0] == 'M') ovf = __builtin_mul_overflow(x, y, &r.v[i]);
      else r.v[i] = y ? x / y : -1;
      if (ovf) r.v[i] = -1;
      r.names[i] = NULL;
    }
  } else {
    return;
  }
  set_known(c, n->outputs[0], &r);
}

/* Axes from the `axes` attribute or (newer opsets) input 1; false when they are not known. */
static bool get_axes(oxrt_infer *c, const oxrt_node *n, int input, int64_t *axes, int *n_axes) {
  size_t na;
  const int64_t *at = oxrt_attr_ints(n, "axes", &na);
  if (at) {
    if (na > OXRT_MAX_RANK) return false;
    for (size_t i = 0; i < na; i++) axes[i] = at[i];
    *n_axes = (int)na;
    return true;
  }
  if (input < n->n_inputs && n->inputs[input] >= 0) {
    kval *k = known(c, n->inputs[input]);
    if (!k) return false;
    for (int i = 0; i < k->n; i++) axes[i] = k->v[i];
    *n_axes = k->n;
    return true;
  }
  *n_axes = 0;
  return true;
}

static bool has_axis(const int64_t *axes, int n, int64_t d, int rank) {
  for (int i = 0; i < n; i++)
    if (axes[i] == d || axes[i] + rank == d) return true;
  return false;
}

static const char *const reduce_ops[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                         "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
                                         "ArgMax", "ArgMin", NULL};

/* Shape rules of the toolkit (checker, infer-shapes); `*handled` when the op is one of them. */
static oxrt_status *infer_extended(oxrt_infer *c, const oxrt_node *n, bool *handled) {
  oxrt_graph *g = c->g;
  const char *op = n->op_type;
  shape_t x, out;
  get_shape(g, n->n_inputs > 0 ? n->inputs[0] : -1, &x);
  memset(&out, 0, sizeof out);
  out.rank = -1;
  *handled = true;
  if (!strcmp(op, "Constant")) {
    const oxrt_attr *v = oxrt_node_attr(n, "value");
    if (v && v->t) {
      out.elem = v->t->dtype, out.rank = v->t->rank;
      memcpy(out.dims, v->t->dims, sizeof(int64_t) * (size_t)out.rank);
    } else if (oxrt_node_attr(n, "value_float") || oxrt_node_attr(n, "value_int")) {
      out.elem = oxrt_node_attr(n, "value_float") ? OXRT_FLOAT : OXRT_INT64, out.rank = 0;
    } else if (oxrt_node_attr(n, "value_floats") || oxrt_node_attr(n, "value_ints")) {
      const oxrt_attr *l = oxrt_node_attr(n, "value_floats");
      out.elem = l ? OXRT_FLOAT : OXRT_INT64, out.rank = 1;
      out.dims[0] = (int64_t)(l ? l : oxrt_node_attr(n, "value_ints"))->n;
    } else {
      return NULL;
    }
  } else if (!strcmp(op, "Reshape") || !strcmp(op, "ConstantOfShape") || !strcmp(op, "Expand")) {
    kval *k = known(c, n->n_inputs > (op[0] == 'C' ? 0 : 1) ? n->inputs[op[0] == 'C' ? 0 : 1] : -1);
    if (!k && op[0] == 'C' && x.rank == 1 && x.dims[0] >= 0 && x.dims[0] <= OXRT_MAX_RANK) {
      /* the values are unknown but their count gives the rank */
      const oxrt_attr *v = oxrt_node_attr(n, "value");
      out.elem = v && v->t ? v->t->dtype : OXRT_FLOAT;
      out.rank = (int)x.dims[0];
      for (int i = 0; i < out.rank; i++) out.dims[i] = -1;
      return set_shape(c, n->outputs[0], &out);
    }
    if (!k || (op[0] != 'C' && x.elem == OXRT_UNDEFINED)) {
      *handled = false; /* the base rule may still shape Reshape from an initializer */
      return NULL;
    }
    if (op[0] == 'C') {
      const oxrt_attr *v = oxrt_node_attr(n, "value");
      out.elem = v && v->t ? v->t->dtype : OXRT_FLOAT;
      out.rank = k->n;
      for (int i = 0; i < k->n; i++) out.dims[i] = k->v[i], out.names[i] = k->names[i];
    } else if (op[0] == 'E') {
      shape_t t;
      memset(&t, 0, sizeof t);
      t.rank = k->n;
      for (int i = 0; i < k->n; i++) t.dims[i] = k->v[i], t.names[i] = k->names[i];
      if (!broadcast(&out, (shape_t[]){x, t}, 2))
        return oxrt_error(OXRT_ERR_INVALID_MODEL, "input shape and the target shape cannot be broadcast");
      out.elem = x.elem;
    } else {
      bool allowzero = oxrt_attr_int(n, "allowzero", 0) != 0;
      out.elem = x.elem, out.rank = k->n;
      int infer_at = -1;
      int64_t known_prod = 1, total = 1;
      bool total_known = x.rank >= 0;
      for (int i = 0; i < x.rank; i++) /* overflow-checked: hostile dims make the total unknown */
        total_known &= x.dims[i] >= 0 && !__builtin_mul_overflow(total, x.dims[i] >= 0 ? x.dims[i] : 1, &total);
      bool rest_known = true;
      for (int i = 0; i < k->n; i++) {
        int64_t d = k->v[i];
        out.names[i] = NULL;
        if (d == 0 && !allowzero && !k->names[i]) {
          if (i >= x.rank) return NULL;
          out.dims[i] = x.dims[i], out.names[i] = x.names[i];
        } else if (d == -1 && !k->names[i]) {
          infer_at = i, out.dims[i] = -1;
          continue;
        } else {
          out.dims[i] = d, out.names[i] = k->names[i];
        }
        if (out.dims[i] < 0 || __builtin_mul_overflow(known_prod, out.dims[i], &known_prod)) rest_known = false;
      }
      if (infer_at >= 0 && total_known && rest_known && known_prod > 0) out.dims[infer_at] = total / known_prod;
    }
  } else if (in_list(op, reduce_ops)) {
    if (x.rank < 0) return NULL;
    bool arg = op[0] == 'A';
    int64_t axes[OXRT_MAX_RANK];
    int na = 0;
    if (arg) axes[0] = oxrt_attr_int(n, "axis", 0), na = 1;
    else if (!get_axes(c, n, 1, axes, &na)) return NULL;
    bool keep = oxrt_attr_int(n, "keepdims", 1) != 0;
    if (na == 0 && oxrt_attr_int(n, "noop_with_empty_axes", 0)) {
      out = x;
    } else {
      out.elem = arg ? OXRT_INT64 : x.elem, out.rank = 0;
      for (int d = 0; d < x.rank; d++) {
        bool red = na == 0 || has_axis(axes, na, d, x.rank);
        if (!red) out.dims[out.rank] = x.dims[d], out.names[out.rank++] = x.names[d];
        else if (keep) out.dims[out.rank] = 1, out.names[out.rank++] = NULL;
      }
    }
  } else if (!strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) {
    if (x.rank < 0) return NULL;
    int64_t axes[OXRT_MAX_RANK];
    int na;
    if (!get_axes(c, n, 1, axes, &na)) return NULL;
    out.elem = x.elem, out.rank = 0;
    if (op[0] == 'S') {
      for (int d = 0; d < x.rank; d++) {
        if (na ? has_axis(axes, na, d, x.rank) : x.dims[d] == 1) continue;
        if (!na && x.dims[d] < 0) return NULL; /* unknown whether it is 1 */
        out.dims[out.rank] = x.dims[d], out.names[out.rank++] = x.names[d];
      }
    } else {
      int r = x.rank + na, j = 0;
      if (r > OXRT_MAX_RANK) return NULL;
      for (int d = 0; d < r; d++) {
        if (has_axis(axes, na, d, r)) out.dims[d] = 1, out.names[d] = NULL;
        else out.dims[d] = x.dims[j], out.names[d] = x.names[j], j++;
      }
      out.rank = r;
    }
  } else if (!strcmp(op, "Slice")) {
    if (x.rank < 0) return NULL;
    kval *st = n->n_inputs > 1 ? known(c, n->inputs[1]) : NULL, *en = n->n_inputs > 2 ? known(c, n->inputs[2]) : NULL;
    kval *ax = n->n_inputs > 3 ? known(c, n->inputs[3]) : NULL, *sp = n->n_inputs > 4 ? known(c, n->inputs[4]) : NULL;
    if (!st || !en || st->n != en->n || (n->n_inputs > 3 && n->inputs[3] >= 0 && !ax) ||
        (n->n_inputs > 4 && n->inputs[4] >= 0 && !sp))
      return NULL;
    out = x;
    for (int i = 0; i < st->n; i++) {
      int64_t a = ax ? ax->v[i] : i, step = sp ? sp->v[i] : 1;
      if (a < 0) a += x.rank;
      if (a < 0 || a >= x.rank || step == 0 || st->names[i] || en->names[i]) return NULL;
      int64_t len = x.dims[a];
      out.names[a] = NULL;
      if (len < 0) {
        out.dims[a] = -1;
        continue;
      }
      int64_t s0 = st->v[i], e0 = en->v[i];
      if (s0 < 0) s0 += len;
      if (e0 < 0) e0 += len;
      if (step > 0) {
        s0 = s0 < 0 ? 0 : s0 > len ? len : s0;
        e0 = e0 < 0 ? 0 : e0 > len ? len : e0;
        out.dims[a] = e0 > s0 ? (e0 - s0 + step - 1) / step : 0;
      } else {
        s0 = s0 < 0 ? -1 : s0 > len - 1 ? len - 1 : s0;
        e0 = e0 < -1 ? -1 : e0 > len - 1 ? len - 1 : e0;
        out.dims[a] = s0 > e0 ? (s0 - e0 - step - 1) / -step : 0;
      }
    }
  } else if (!strcmp(op, "Split")) {
    if (x.rank < 0) return NULL;
    int64_t axis = oxrt_attr_int(n, "axis", 0), sizes[OXRT_MAX_RANK];
    if (axis < 0) axis += x.rank;
    if (axis < 0 || axis >= x.rank || n->n_outputs > OXRT_MAX_RANK) return NULL;
    int ns = 0;
    if (!get_axes(c, n, 1, sizes, &ns)) return NULL; /* `split` attribute or input, read like axes */
    size_t na;
    const int64_t *sa = oxrt_attr_ints(n, "split", &na);
    if (sa && na <= OXRT_MAX_RANK) {
      for (size_t i = 0; i < na; i++) sizes[i] = sa[i];
      ns = (int)na;
    }
    for (int i = 0; i < n->n_outputs; i++) {
      out = x;
      out.names[axis] = NULL;
      if (ns) out.dims[axis] = i < ns ? sizes[i] : -1;
      else if (x.dims[axis] >= 0) {
        int64_t k = n->n_outputs, each = (x.dims[axis] + k - 1) / k; /* the last part may be smaller */
        out.dims[axis] = i < k - 1 ? each : x.dims[axis] - each * (k - 1);
        if (x.dims[axis] % k == 0) out.dims[axis] = x.dims[axis] / k;
      } else out.dims[axis] = -1;
      OXRT_TRY(set_shape(c, n->outputs[i], &out));
    }
    return NULL;
  } else if (!strcmp(op, "Size")) {
    out.elem = OXRT_INT64, out.rank = 0;
  } else if (!strcmp(op, "Gather") || !strcmp(op, "GatherElements")) {
    shape_t ix;
    if (x.rank < 0 || !get_shape(g, n->inputs[1], &ix) || ix.rank < 0) return NULL;
    if (op[6] == 'E') {
      out = ix, out.elem = x.elem;
    } else {
      int64_t axis = oxrt_attr_int(n, "axis", 0);
      if (axis < 0) axis += x.rank;
      if (axis < 0 || axis >= x.rank || x.rank - 1 + ix.rank > OXRT_MAX_RANK) return NULL;
      out.elem = x.elem, out.rank = 0;
      for (int d = 0; d < x.rank; d++) {
        if (d == axis)
          for (int j = 0; j < ix.rank; j++) out.dims[out.rank] = ix.dims[j], out.names[out.rank++] = ix.names[j];
        else out.dims[out.rank] = x.dims[d], out.names[out.rank++] = x.names[d];
      }
    }
  } else if (!strcmp(op, "Range")) {
    if (x.elem == OXRT_UNDEFINED) return NULL;
    out.elem = x.elem, out.rank = 1, out.dims[0] = -1;
  } else if (!strcmp(op, "CastLike")) {
    shape_t like;
    if (x.elem == OXRT_UNDEFINED || !get_shape(g, n->inputs[1], &like)) return NULL;
    out = x, out.elem = like.elem;
  } else if (!strcmp(op, "NonZero")) {
    if (x.rank < 0) return NULL;
    out.elem = OXRT_INT64, out.rank = 2, out.dims[0] = x.rank, out.dims[1] = -1;
  } else if (!strcmp(op, "Tile")) {
    kval *k = n->n_inputs > 1 ? known(c, n->inputs[1]) : NULL;
    if (x.rank < 0 || !k || k->n != x.rank) return NULL;
    out = x;
    for (int d = 0; d < x.rank; d++) {
      if (x.dims[d] < 0 || k->v[d] < 0 || k->names[d] || __builtin_mul_overflow(x.dims[d], k->v[d], &out.dims[d]))
        out.dims[d] = -1;
      out.names[d] = k->v[d] == 1 ? x.names[d] : NULL;
    }
  } else if (!strcmp(op, "RandomUniformLike") || !strcmp(op, "RandomNormalLike") || !strcmp(op, "Bernoulli")) {
    if (x.elem == OXRT_UNDEFINED) return NULL;
    out = x;
    if (oxrt_node_attr(n, "dtype")) out.elem = (oxrt_elem_type)oxrt_attr_int(n, "dtype", 0);
  } else {
    *handled = false;
    return NULL;
  }
  return set_shape(c, n->outputs[0], &out);
}

/* ------------------------------------------------------------------------------------------------------------------
 * `oxrt infer-shapes`: a model with its inferred types written as value_info. */
static oxrt_status *infer_fn(oxrt_model *m, void *unused) {
  (void)unused;
  return oxrt_infer_graph(m, m->graph, OXRT_INFER_EXTENDED);
}

oxrt_status *oxrt_infer_shapes_bytes(const void *data, size_t size, void **out, size_t *out_size) {
  return oxrt_rewrite_model_bytes(data, size, infer_fn, NULL, out, out_size);
}

oxrt_status *oxrt_infer_shapes_file(const char *model_path, const char *out_path, size_t external_data_threshold) {
  return oxrt_rewrite_model_file(model_path, out_path, external_data_threshold, infer_fn, NULL);
}
