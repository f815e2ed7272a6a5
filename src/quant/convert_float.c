/* convert_float.c - oxrt_convert_float_model_file: float32 -> float16 / bfloat16 models.
 *
 * Every float32 value of the main graph becomes the target type, except where a node must stay in float32
 * (its op type is blocked, it is named in block_nodes, or it holds a subgraph): such a node reads float32
 * through Casts and its float32 outputs are cast to the target type for the rest of the graph. With
 * keep_io_types, graph inputs and outputs keep float32 and Casts sit at the borders. Initializers are
 * converted (float16 saturates at +-65504), as are the float32 attributes that make values: Cast's `to`,
 * Constant's and ConstantOfShape's tensors, `dtype` of the random/EyeLike generators. */
#include "../core/dtype.h"
#include "../exec/infer.h"
#include "../exec/registry.h"
#include "quant.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ONNX Runtime's CPU provider has no float16 kernel for these (found by running each op converted), and
 * the ML ops and Resize/Upsample scales are float32 by definition. */
static const char default_block[] =
    "ArrayFeatureExtractor,Binarizer,CastMap,CategoryMapper,DictVectorizer,FeatureVectorizer,Imputer,LabelEncoder,"
    "LinearClassifier,LinearRegressor,Normalizer,OneHotEncoder,RandomUniformLike,SVMClassifier,SVMRegressor,Scaler,"
    "TreeEnsembleClassifier,TreeEnsembleRegressor,TreeEnsemble,ZipMap,NonMaxSuppression,TopK,RoiAlign,Resize,Range,"
    "CumSum,Min,Max,Upsample,RandomNormalLike,RandomNormal,RandomUniform,Multinomial,Einsum,STFT,DFT,"
    "LSTM,GRU,RNN,Det,Trilu";

const char *oxrt_convert_default_block_ops(void) { return default_block; }

typedef struct {
  qg_ctx c;
  oxrt_elem_type to;
  const oxrt_convert_options *o;
  char *is_f32;   /* per value (original ids): float32 tensor */
  char *low;      /* per value: now holds the target type */
  int *cast_low;  /* per value: id of its target-type copy (a Cast), -1 none yet */
  int *cast_f32;  /* per value: id of its float32 copy, -1 none yet */
  int n_vals;
} cv;

static bool blocked(const cv *v, const oxrt_node *n) {
  if (opt_has_subgraph(n)) return true;
  if (qg_list_has(v->o->block_nodes, n->name)) return true;
  const char *list = v->o->block_ops ? v->o->block_ops : default_block;
  if (qg_list_has(list, n->op_type) || (*n->domain && strcmp(n->domain, "com.microsoft"))) return true;
  /* the operator at the model's opset does not take the target type (Conv takes bfloat16 from opset 22) */
  int64_t opset = oxrt_model_opset(v->c.opt.model, n->domain);
  const oxrt_op_schema *sc = opset >= 0 ? oxrt_registry_find(n->domain, n->op_type) : NULL;
  const oxrt_op_impl *impl = sc ? oxrt_registry_resolve(sc, opset) : NULL;
  return impl && impl->type_mask && !(impl->type_mask & OXRT_TBIT(v->to)) && (impl->type_mask & OXRT_TBIT(OXRT_FLOAT));
}

static oxrt_status *convert_tensor(oxrt_elem_type to, oxrt_value **pv) {
  oxrt_value *v = *pv, *nv;
  if (!v || v->kind != OXRT_KIND_TENSOR || v->dtype != OXRT_FLOAT) return NULL;
  OXRT_TRY(oxrt_tensor_new(to, v->rank, v->dims, &nv));
  const float *src = v->data;
  uint16_t *dst = nv->data;
  for (size_t i = 0; i < v->count; i++) {
    float x = src[i];
    if (to == OXRT_FLOAT16 && isfinite(x)) x = x > 65504.0f ? 65504.0f : x < -65504.0f ? -65504.0f : x;
    dst[i] = to == OXRT_FLOAT16 ? oxrt_f32_to_f16(x) : oxrt_f32_to_bf16(x);
  }
  oxrt_value_free(v);
  *pv = nv;
  return NULL;
}

/* A Cast of value `x` to `t`, made once per (value, type). */
static int cast_of(cv *v, int x, oxrt_elem_type t) {
  int *slot = t == OXRT_FLOAT ? &v->cast_f32[x] : &v->cast_low[x];
  if (*slot >= 0) return *slot;
  const char *name = v->c.g->values[x].name;
  int y = qg_new_value(&v->c, name, t == OXRT_FLOAT ? "_float32" : t == OXRT_FLOAT16 ? "_float16" : "_bfloat16");
  if (y < 0) return -1;
  int idx = qg_add_node(&v->c, "Cast", "", name, &x, 1, &y, 1);
  if (idx < 0) return -1;
  oxrt_status *st = qg_attr_int(&v->c, idx, "to", t);
  if (st) {
    oxrt_status_free(st);
    return -1;
  }
  *slot = y;
  return y;
}

static void set_type(oxrt_graph *g, int id, oxrt_elem_type t) {
  oxrt_type *ty = g->values[id].type;
  if (ty && ty->kind == OXRT_KIND_TENSOR) ty->elem_type = t;
}

/* Float32 attributes of a node that now computes in the target type. */
static oxrt_status *convert_attrs(cv *v, oxrt_node *n) {
  for (int a = 0; a < n->n_attrs; a++) {
    oxrt_attr *at = &n->attrs[a];
    if (at->type == OXRT_ATTR_TENSOR) OXRT_TRY(convert_tensor(v->to, &at->t));
    if (at->type == OXRT_ATTR_INT && at->i == OXRT_FLOAT &&
        ((!strcmp(n->op_type, "Cast") && !strcmp(at->name, "to")) || !strcmp(at->name, "dtype")))
      at->i = v->to;
  }
  return NULL;
}

static oxrt_status *convert(cv *v) {
  oxrt_graph *g = v->c.g;
  int n_nodes = g->n_nodes;
  char *blk = calloc((size_t)n_nodes + 1, 1), *used_low = calloc((size_t)v->n_vals + 1, 1);
  if (!blk || !used_low) {
    free(blk), free(used_low);
    return OXRT_OOM();
  }
  for (int i = 0; i < n_nodes; i++) blk[i] = blocked(v, &g->nodes[i]);
  /* which float32 values the low-precision part reads (initializers only convert when it does) */
  for (int i = 0; i < n_nodes; i++)
    for (int k = 0; !blk[i] && k < g->nodes[i].n_inputs; k++)
      if (g->nodes[i].inputs[k] >= 0) used_low[g->nodes[i].inputs[k]] = 1;
  oxrt_status *st = NULL;
  /* where each float32 value lives: a node's outputs follow the node; graph inputs follow keep_io_types */
  for (int id = 0; id < v->n_vals; id++) {
    if (!v->is_f32[id]) continue;
    oxrt_value_def *d = &g->values[id];
    int p = d->producer;
    if (d->init && !d->is_input) v->low[id] = used_low[id];
    else if (p >= 0 && p < n_nodes) v->low[id] = !blk[p];
    else if (d->is_input) v->low[id] = !v->o->keep_io_types;
    else v->low[id] = 0; /* captured from outside: stays */
    if (v->low[id] && d->init && !d->is_input && !st) st = convert_tensor(v->to, &d->init);
    if (v->low[id]) set_type(g, id, v->to);
  }
  /* every node input in the precision its node computes in */
  for (int i = 0; !st && i < n_nodes; i++) {
    if (!blk[i]) st = convert_attrs(v, &g->nodes[i]);
    for (int k = 0; !st && k < g->nodes[i].n_inputs; k++) {
      int x = g->nodes[i].inputs[k];
      if (x < 0 || x >= v->n_vals || !v->is_f32[x] || v->low[x] == !blk[i]) continue;
      int y = cast_of(v, x, blk[i] ? OXRT_FLOAT : v->to);
      if (y < 0) st = OXRT_OOM();
      else g->nodes[i].inputs[k] = y;
    }
  }
  /* graph outputs: float32 with keep_io_types, else the target type */
  for (int i = 0; !st && i < g->n_outputs; i++) {
    int y = g->outputs[i];
    if (y >= v->n_vals || !v->is_f32[y]) continue;
    bool want_low = !v->o->keep_io_types;
    if (v->low[y] == want_low) continue;
    if (g->values[y].init || g->values[y].is_input) {
      st = oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "graph output '%s' is an input or initializer: not converted",
                      g->values[y].name);
      break;
    }
    /* the producer writes a renamed value; a Cast restores the output's name and type */
    int p = g->values[y].producer;
    int tmp = qg_new_value(&v->c, g->values[y].name, v->low[y] ? "_low" : "_float32");
    if (tmp < 0 || p < 0) {
      st = p < 0 ? oxrt_error(OXRT_ERR_INVALID_MODEL, "graph output '%s' has no producer", g->values[y].name) : OXRT_OOM();
      break;
    }
    for (int k = 0; k < g->nodes[p].n_outputs; k++)
      if (g->nodes[p].outputs[k] == y) g->nodes[p].outputs[k] = tmp;
    g->values[tmp].producer = p;
    opt_replace_uses(g, y, tmp);
    int idx = qg_add_node(&v->c, "Cast", "", g->values[y].name, &tmp, 1, &y, 1);
    if (idx < 0 || (st = qg_attr_int(&v->c, idx, "to", want_low ? v->to : OXRT_FLOAT))) {
      if (!st) st = OXRT_OOM();
      break;
    }
    set_type(g, y, want_low ? v->to : OXRT_FLOAT);
  }
  free(blk), free(used_low);
  return st;
}

/* Element types of every value, from declarations and shape inference on the model as loaded. */
static oxrt_status *find_floats(oxrt_model *m, char *is_f32, int n_vals) {
  oxrt_graph *g = m->graph;
  oxrt_type **saved = malloc(sizeof(oxrt_type *) * ((size_t)n_vals + 1));
  if (!saved) return OXRT_OOM();
  for (int i = 0; i < n_vals; i++) saved[i] = g->values[i].type;
  oxrt_status_free(oxrt_infer_graph(m, g, 0)); /* values it cannot type are left alone */
  for (int i = 0; i < n_vals; i++) {
    const oxrt_value_def *d = &g->values[i];
    if (d->init) is_f32[i] = d->init->kind == OXRT_KIND_TENSOR && d->init->dtype == OXRT_FLOAT;
    else is_f32[i] = d->type && d->type->kind == OXRT_KIND_TENSOR && d->type->elem_type == OXRT_FLOAT;
  }
  /* intermediate types are dropped (ONNX Runtime infers them again); inputs and outputs keep theirs */
  for (int i = 0; i < n_vals; i++) {
    oxrt_value_def *d = &g->values[i];
    d->type = d->is_input || d->is_output ? saved[i] : NULL;
  }
  free(saved);
  return NULL;
}

oxrt_status *oxrt_convert_float_model_file(const char *model_path, const char *out_path,
                                           const oxrt_convert_options *opts) {
  if (!model_path || !out_path || !*out_path)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "model_path and out_path must be given");
  oxrt_convert_options dflt = {.size = sizeof dflt};
  if (!opts) opts = &dflt;
  if (opts->size < sizeof *opts) /* fields are only appended: a smaller size was never initialised */
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                      "oxrt_convert_options.size is %zu, expected %zu: initialise it with OXRT_INIT(oxrt_convert_options)",
                      opts->size, sizeof *opts);
  oxrt_elem_type to = opts->to ? opts->to : OXRT_FLOAT16;
  if (to != OXRT_FLOAT16 && to != OXRT_BFLOAT16)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "conversion target must be float16 or bfloat16, got %s",
                      oxrt_elem_type_name(to));
  oxrt_model *m;
  OXRT_TRY(oxrt_load_model_file(model_path, &m));
  oxrt_graph *g = m->graph;
  int nv = g->n_values;
  cv v = {{.opt = {.model = m}, .g = g}, to, opts, calloc((size_t)nv + 1, 1), calloc((size_t)nv + 1, 1),
          malloc(sizeof(int) * ((size_t)nv + 1)), malloc(sizeof(int) * ((size_t)nv + 1)), nv};
  oxrt_status *st = !v.is_f32 || !v.low || !v.cast_low || !v.cast_f32 ? OXRT_OOM() : NULL;
  for (int i = 0; !st && i < nv; i++) v.cast_low[i] = v.cast_f32[i] = -1;
  if (!st) st = find_floats(m, v.is_f32, nv);
  if (!st) st = convert(&v);
  if (!st) st = qg_topo_sort(g);
  if (!st) st = qg_save(m, out_path);
  free(v.is_f32), free(v.low), free(v.cast_low), free(v.cast_f32);
  oxrt_model_free(m);
  return st;
}
