/* widen_float.c - float16 / bfloat16 models computed in float32 inside the session (widen_float.h).
 *
 * Every node of the main graph that reads or writes a float16 / bfloat16 tensor and has a float32 kernel of the
 * same meaning computes in float32 instead: its 16-bit float tensors become float32 values. Initializers are
 * widened once here (exactly: every half and bfloat16 is a float32), a Cast widens a 16-bit value once where a
 * region starts (graph input, a node left in 16 bits) and one narrows it where a 16-bit value must stay (graph
 * output, a value a subgraph captures, a node left in 16 bits). Casts between float32 and the 16-bit types inside
 * a region become float32 -> float32 Casts, which the optimizer removes. The region computes what the float32
 * model computes with the file's weights: never a rounding to 16 bits between two operators, so every result is
 * the 16-bit one or closer to the exact value, and the float32 fusions (Conv + Add, SiLU, GELU, attention...)
 * and kernels apply unchanged. Nodes left alone: other domains than ai.onnx / com.microsoft, nodes holding
 * subgraphs, operators without a float32 kernel at the model's opset, and nodes touching a value whose type
 * shape inference cannot tell (or that is no tensor), so that a kernel never sees a type it was not given. */
#include "widen_float.h"
#include "../core/dtype.h"
#include "../exec/infer.h"
#include "../exec/registry.h"
#include "../onnx/checker.h"
#include "quant.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  qg_ctx c;
  int nv, nn;         /* values and nodes before the rewrite */
  char *low;          /* per value: a float16 / bfloat16 tensor */
  char *known;        /* per value: its type is known (a tensor of known element type, or not a tensor) */
  char *tensor;       /* per value: known to be a tensor */
  char *wide;         /* per node: computes in float32 */
  int *f32;           /* per value: the float32 value wide nodes read instead, -1 none */
  oxrt_elem_type *lt; /* per low value: its 16-bit type */
} wf;

static bool is_low(oxrt_elem_type t) { return t == OXRT_FLOAT16 || t == OXRT_BFLOAT16; }

/* Element types from declarations, initializers and shape inference; the graph's own types are put back. */
static oxrt_status *find_types(oxrt_model *m, wf *w) {
  oxrt_graph *g = m->graph;
  oxrt_type **saved = malloc(sizeof(oxrt_type *) * ((size_t)w->nv + 1));
  if (!saved) return OXRT_OOM();
  for (int i = 0; i < w->nv; i++) saved[i] = g->values[i].type;
  oxrt_status_free(oxrt_infer_graph(m, g, 0)); /* what it cannot type is left alone */
  for (int i = 0; i < w->nv; i++) {
    const oxrt_value_def *d = &g->values[i];
    oxrt_elem_type t = OXRT_UNDEFINED;
    bool tensor = false, known = false;
    if (d->init) {
      tensor = d->init->kind == OXRT_KIND_TENSOR;
      t = tensor ? d->init->dtype : OXRT_UNDEFINED;
      known = true;
    } else if (d->type && d->type->kind == OXRT_KIND_TENSOR) {
      tensor = true;
      t = d->type->elem_type;
      known = t != OXRT_UNDEFINED;
    } else if (d->type && d->type->kind != OXRT_KIND_UNKNOWN) {
      known = true; /* a sequence, map or optional: never widened (its node stays in 16 bits if it touches any) */
    }
    w->tensor[i] = tensor;
    w->known[i] = known;
    w->low[i] = tensor && is_low(t);
    w->lt[i] = t;
  }
  for (int i = 0; i < w->nv; i++) g->values[i].type = saved[i];
  free(saved);
  return NULL;
}

/* Operators whose result is random: computing them in another type gives other numbers, not closer ones. */
static const char random_ops[] = "RandomNormal,RandomUniform,RandomNormalLike,RandomUniformLike,Multinomial,Bernoulli";

/* Tensors in attribute forms the rewrite does not convert (sparse, lists). */
static bool has_other_tensor_attr(const oxrt_node *n) {
  for (int a = 0; a < n->n_attrs; a++) {
    oxrt_attr_type t = n->attrs[a].type;
    if (t == OXRT_ATTR_SPARSE_TENSOR || t == OXRT_ATTR_SPARSE_TENSORS || t == OXRT_ATTR_TENSORS) return true;
  }
  return false;
}

/* Every value of type t is a float32 value (so a 16-bit Cast of it may go through float32 without rounding twice). */
static bool exact_in_f32(oxrt_elem_type t) {
  switch (t) {
  case OXRT_FLOAT: case OXRT_FLOAT16: case OXRT_BFLOAT16: case OXRT_BOOL: case OXRT_INT8: case OXRT_UINT8:
  case OXRT_INT16: case OXRT_UINT16: case OXRT_INT4: case OXRT_UINT4: case OXRT_INT2: case OXRT_UINT2:
  case OXRT_FLOAT8E4M3FN: case OXRT_FLOAT8E4M3FNUZ: case OXRT_FLOAT8E5M2: case OXRT_FLOAT8E5M2FNUZ:
  case OXRT_FLOAT4E2M1: case OXRT_FLOAT8E8M0: return true;
  default: return false;
  }
}

/* A Cast from `from` to the 16-bit type `to` gives the same through float32: `from` fits float32 exactly, or is an
 * integer going to float16 (float32 holds every integer below 2^24 and float16 overflows from 65520 on). */
static bool casts_once(oxrt_elem_type from, oxrt_elem_type to) {
  bool integer = oxrt_dtype_is_signed_int(from) || oxrt_dtype_is_unsigned_int(from);
  return exact_in_f32(from) || (to == OXRT_FLOAT16 && integer);
}

/* The node may compute in float32: see the file comment. A Cast (or CastLike) to a 16-bit type that would round
 * twice through float32 (from double; from a wide integer to bfloat16) stays. */
static bool widenable(const wf *w, const oxrt_node *n) {
  if (*n->domain && strcmp(n->domain, "com.microsoft")) return false;
  if (opt_has_subgraph(n) || qg_list_has(random_ops, n->op_type) || has_other_tensor_attr(n)) return false;
  bool touches = false;
  for (int k = 0; k < n->n_inputs + n->n_outputs; k++) {
    int x = k < n->n_inputs ? n->inputs[k] : n->outputs[k - n->n_inputs];
    if (x < 0) continue;
    if (x >= w->nv || !w->known[x] || !w->tensor[x]) return false;
    touches |= w->low[x];
  }
  for (int a = 0; a < n->n_attrs; a++) /* Constant / ConstantOfShape making a 16-bit tensor */
    if (n->attrs[a].type == OXRT_ATTR_TENSOR && n->attrs[a].t && is_low(n->attrs[a].t->dtype)) touches = true;
  if (!touches) return false;
  if ((!strcmp(n->op_type, "Cast") || !strcmp(n->op_type, "CastLike")) && !*n->domain && n->n_inputs >= 1 &&
      n->n_outputs >= 1 && n->inputs[0] >= 0 && n->outputs[0] >= 0 && w->low[n->outputs[0]] &&
      !casts_once(w->lt[n->inputs[0]], w->lt[n->outputs[0]]))
    return false;
  int64_t opset = oxrt_model_opset(w->c.opt.model, n->domain);
  const oxrt_op_schema *sc = opset >= 0 ? oxrt_registry_find(n->domain, n->op_type) : NULL;
  const oxrt_op_impl *impl = sc ? oxrt_registry_resolve(sc, opset) : NULL;
  return impl && (!impl->type_mask || (impl->type_mask & OXRT_TBIT(OXRT_FLOAT)));
}

/* The constants the float32 fusions look for (GELU's sqrt(2), 1/sqrt(2), sqrt(2/pi), 0.044715; HardSwish's 1/6)
 * are not 16-bit numbers: a one-element 16-bit constant that is one of them rounded becomes the float32 value
 * the float32 model has, so that those fusions apply (and compute what the float32 model computes). */
static void snap_constant(oxrt_elem_type from, oxrt_value *t) {
  static const double wanted[] = {1.41421356237309504880, 0.70710678118654752440, 0.79788456080286535588, 0.044715,
                                  1.0 / 6.0};
  if (t->count != 1) return;
  float *v = t->data;
  for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
    float w = (float)wanted[i];
    float r = from == OXRT_FLOAT16 ? oxrt_f16_to_f32(oxrt_f32_to_f16(w)) : oxrt_bf16_to_f32(oxrt_f32_to_bf16(w));
    if (*v == r) *v = w;
    else if (*v == -r) *v = -w;
  }
}

/* A float32 copy of a 16-bit tensor (bulk conversions). */
static oxrt_status *widen_tensor(const oxrt_value *v, oxrt_value **out) {
  OXRT_TRY(oxrt_tensor_new(OXRT_FLOAT, v->rank, v->dims, out));
  if (v->count && !oxrt_convert(OXRT_FLOAT, (*out)->data, v->dtype, v->data, v->count, true)) {
    oxrt_value_free(*out);
    *out = NULL;
    return oxrt_error(OXRT_ERR_RUNTIME, "widening a %s tensor failed", oxrt_elem_type_name(v->dtype));
  }
  snap_constant(v->dtype, *out);
  return NULL;
}

/* The attributes that make 16-bit values: Cast's `to`, the `dtype` / `output_dtype` of generators and
 * DequantizeLinear, Constant's and ConstantOfShape's tensors. */
static oxrt_status *widen_attrs(oxrt_node *n) {
  for (int a = 0; a < n->n_attrs; a++) {
    oxrt_attr *at = &n->attrs[a];
    if (at->type == OXRT_ATTR_INT && is_low((oxrt_elem_type)at->i) &&
        (!strcmp(at->name, "to") || !strcmp(at->name, "dtype") || !strcmp(at->name, "output_dtype")))
      at->i = OXRT_FLOAT;
    if (at->type == OXRT_ATTR_TENSOR && at->t && at->t->kind == OXRT_KIND_TENSOR && is_low(at->t->dtype)) {
      oxrt_value *t;
      OXRT_TRY(widen_tensor(at->t, &t));
      oxrt_value_free(at->t);
      at->t = t;
    }
  }
  return NULL;
}

static oxrt_status *add_cast(wf *w, int x, int y, oxrt_elem_type to) {
  int idx = qg_add_node(&w->c, "Cast", "", w->c.g->values[x].name, &x, 1, &y, 1);
  if (idx < 0) return OXRT_OOM();
  return qg_attr_int(&w->c, idx, "to", to);
}

/* Where value x lives for the wide nodes (w->f32[x]), with the Casts and copies that takes. */
static oxrt_status *place(wf *w, int x, const opt_uses *u, const int *wide_readers) {
  oxrt_graph *g = w->c.g;
  oxrt_value_def *d = &g->values[x];
  int p = d->producer;
  bool from_wide = p >= 0 && p < w->nn && w->wide[p] && !d->is_input;
  bool narrow_use = u->pinned[x] || u->count[x] > wide_readers[x]; /* a graph output, captured, or a 16-bit node */
  if (!from_wide && !wide_readers[x]) return NULL;
  if (d->init && !d->is_input) {
    oxrt_value *t;
    OXRT_TRY(widen_tensor(d->init, &t));
    if (!narrow_use) { /* widened in place: the 16-bit copy has no reader left */
      oxrt_value_free(d->init);
      d->init = t;
      d->type = NULL;
      w->f32[x] = x;
      return NULL;
    }
    int y = qg_const_tensor(&w->c, d->name, t);
    if (y < 0) return OXRT_OOM();
    w->f32[x] = y;
    return NULL;
  }
  if (from_wide && !narrow_use) { /* inside the region: the value simply becomes float32 */
    d->type = NULL;
    w->f32[x] = x;
    return NULL;
  }
  int y = qg_new_value(&w->c, d->name, "_float32");
  if (y < 0) return OXRT_OOM();
  d = &g->values[x];
  if (from_wide) { /* the wide producer writes y; x (16-bit, its name kept) is narrowed from it once */
    for (int k = 0; k < g->nodes[p].n_outputs; k++)
      if (g->nodes[p].outputs[k] == x) g->nodes[p].outputs[k] = y;
    g->values[y].producer = p;
    d->producer = -1;
    OXRT_TRY(add_cast(w, y, x, w->lt[x]));
  } else { /* a graph input or a 16-bit node's output: widened once where the region starts */
    OXRT_TRY(add_cast(w, x, y, OXRT_FLOAT));
  }
  w->f32[x] = y;
  return NULL;
}

static oxrt_status *rewrite(wf *w) {
  oxrt_graph *g = w->c.g;
  int *wide_readers = calloc((size_t)w->nv + 1, sizeof(int));
  opt_uses u = {0};
  oxrt_status *st = wide_readers ? opt_uses_build(g, &u) : OXRT_OOM();
  for (int i = 0; !st && i < w->nn; i++) {
    const oxrt_node *n = &g->nodes[i];
    w->wide[i] = n->op_type && widenable(w, n);
    for (int k = 0; w->wide[i] && k < n->n_inputs; k++)
      if (n->inputs[k] >= 0) wide_readers[n->inputs[k]]++;
  }
  for (int x = 0; !st && x < w->nv; x++)
    if (w->low[x]) st = place(w, x, &u, wide_readers);
  for (int i = 0; !st && i < w->nn; i++) {
    if (!w->wide[i]) continue;
    oxrt_node *n = &g->nodes[i];
    st = widen_attrs(n);
    for (int k = 0; !st && k < n->n_inputs; k++)
      if (n->inputs[k] >= 0 && n->inputs[k] < w->nv && w->low[n->inputs[k]]) n->inputs[k] = w->f32[n->inputs[k]];
  }
  opt_uses_free(&u);
  free(wide_readers);
  return st;
}

static bool widening_off(void) {
  const char *e = getenv("OXRT_WIDEN_FLOAT16");
  return e && *e == '0';
}

oxrt_status *oxrt_widen_float_model(oxrt_model *m, int *n_wide) {
  *n_wide = 0;
  if (widening_off()) return NULL;
  oxrt_graph *g = m->graph;
  bool any = false;
  for (int i = 0; i < g->n_values && !any; i++) {
    const oxrt_value_def *d = &g->values[i];
    any = (d->init && d->init->kind == OXRT_KIND_TENSOR && is_low(d->init->dtype)) ||
          (d->type && d->type->kind == OXRT_KIND_TENSOR && is_low(d->type->elem_type));
  }
  for (int i = 0; i < g->n_nodes && !any; i++) /* a 16-bit Constant or Cast target with nothing declared */
    for (int a = 0; a < g->nodes[i].n_attrs && !any; a++) {
      const oxrt_attr *at = &g->nodes[i].attrs[a];
      any = (at->type == OXRT_ATTR_TENSOR && at->t && is_low(at->t->dtype)) ||
            (at->type == OXRT_ATTR_INT && !strcmp(at->name, "to") && is_low((oxrt_elem_type)at->i));
    }
  if (!any) return NULL;
  /* Widening makes every 16-bit value float32, which would also make a node whose inputs disagree (a float16 X
   * added to a float32 bias: ONNX Runtime refuses such a file) run: check the declared types first. */
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_status *bad = oxrt_check_node_input_types(m, g, &g->nodes[i]);
    if (bad)
      return oxrt_error_prefix(bad, "node '%s' (%s): ", g->nodes[i].name, g->nodes[i].op_type);
  }
  int nv = g->n_values, nn = g->n_nodes;
  wf w = {{.opt = {.model = m}, .g = g}, nv, nn, calloc((size_t)nv + 1, 1), calloc((size_t)nv + 1, 1),
          calloc((size_t)nv + 1, 1), calloc((size_t)nn + 1, 1), malloc(sizeof(int) * ((size_t)nv + 1)),
          calloc((size_t)nv + 1, sizeof(oxrt_elem_type))};
  oxrt_status *st = !w.low || !w.known || !w.tensor || !w.wide || !w.f32 || !w.lt ? OXRT_OOM() : NULL;
  for (int i = 0; !st && i < nv; i++) w.f32[i] = -1;
  if (!st) st = find_types(m, &w);
  if (!st) st = rewrite(&w);
  if (!st)
    for (int i = 0; i < nn; i++) *n_wide += w.wide[i];
  if (!st && *n_wide) st = qg_topo_sort(g);
  free(w.low), free(w.known), free(w.tensor), free(w.wide), free(w.f32), free(w.lt);
  return st;
}
