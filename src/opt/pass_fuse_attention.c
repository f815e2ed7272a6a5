/* pass_fuse_attention.c - the scaled dot-product attention that exporters write out op by op becomes one
 * com.microsoft MultiHeadAttention node (ONNX Runtime's contrib op, so the saved model still runs there):
 *
 *   q4 = Transpose(Reshape(q3, [B,S,H,D]), [0,2,1,3])       (same for v; k as [0,2,3,1], or [0,2,1,3] then
 *   p  = Softmax(MatMul(q4, kT) {/ c | * c} {+ mask}, -1)     [0,1,3,2])
 *   y  = Reshape(Transpose(MatMul(p, v4), [0,2,1,3]), [B,S,H*D])
 *   ->  y = MultiHeadAttention(q3, k3, v3, attention_bias = mask, num_heads = H, scale)
 *
 * Proofs: every intermediate has one reader and is no graph output; q3/k3/v3 are float of rank 3 with a static
 * last dim C, H divides C; each Reshape's first two target dims are 0 (copy) or Gather(Shape(x), i) of a tensor
 * whose leading dims are q3's (q3 itself, or the x of x -> MatMul(const W) -> Add(const) -> Split(last axis) that
 * made it, also through LayerNormalization); dim 2 is the constant H (then the element count fixes D). A mask of rank 4 whose third dim is not
 * proven S (BERT's [B,1,1,T]) is expanded to [B,m,T,T] by Shape -> Gather -> Expand (ORT wants the full S axis);
 * that needs self-attention (q, k, v from one x, so S == T) and is shared between the layers reading that mask.
 * When q3/k3/v3 are the outputs of Split(Add(x, const b)), that Add is dropped and b becomes the node's projection
 * bias (input 3), which the kernel applies while it reads Q and writes Y (K's bias cancels in the softmax).
 * Not matched yet: the scale applied to Q and K separately, HuggingFace's Where/Slice causal masks (the mask stays
 * an additive input when it is one Add), packed-QKV MultiHeadAttention inputs, and a mask whose last dim is 1 at run
 * time (oxrt broadcasts it; ONNX Runtime would refuse the saved model).
 */
#include "opt.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

/* x -> MatMul(x, const W) -> Add(., const) -> Split(last axis): the x whose leading dims `id` has; else id. */
static int root(oxrt_graph *g, int id) {
  oxrt_node *p = opt_producer(g, id);
  if (p && p->op_type && !*p->domain && !strcmp(p->op_type, "Split") && p->n_inputs >= 1) {
    int64_t dims[OXRT_MAX_RANK];
    int r = opt_shape(g, p->inputs[0], dims);
    int64_t ax = oxrt_attr_int(p, "axis", 0);
    if (r >= 0 ? ax != -1 && ax != r - 1 : ax != -1 && ax != 2) return id; /* rank 3 is checked at run time */
    id = p->inputs[0];
    p = opt_producer(g, id);
  }
  if (opt_is_op(p, "Add", 2)) {
    int side = opt_const(g, p->inputs[0]) ? 0 : opt_const(g, p->inputs[1]) ? 1 : -1;
    const oxrt_value *b = side >= 0 ? opt_const(g, p->inputs[side]) : NULL;
    if (!b || b->rank > 1) return id;
    id = p->inputs[1 - side];
    p = opt_producer(g, id);
  }
  if (opt_is_op(p, "MatMul", 2)) {
    const oxrt_value *w = opt_const(g, p->inputs[1]);
    if (w && w->rank == 2) return p->inputs[0];
  }
  return id;
}

/* root(), then through LayerNormalization (keeps the shape: GPT-2's pre-LN reads the block input's Shape). */
static int base(oxrt_graph *g, int id) {
  for (int i = 0; i < 4; i++) {
    id = root(g, id);
    oxrt_node *p = opt_producer(g, id);
    if (!p || !p->op_type || *p->domain || strcmp(p->op_type, "LayerNormalization") || p->n_inputs < 1) break;
    id = p->inputs[0];
  }
  return id;
}

/* Static last dim of a rank-3 `id` (rank and dims from inference, else through the chain root() follows:
 * Split's constant sizes, MatMul's constant W); -1 if unknown. */
static int64_t last_dim3(oxrt_graph *g, int id) {
  int64_t d[OXRT_MAX_RANK];
  int r = opt_shape(g, id, d);
  if (r >= 0 && r != 3) return -1;
  if (r == 3 && d[2] > 0) return d[2];
  r = opt_shape(g, root(g, id), d);
  if (r >= 0 && r != 3) return -1;
  oxrt_node *p = opt_producer(g, id);
  if (p && p->op_type && !*p->domain && !strcmp(p->op_type, "Split") && p->n_inputs == 2) {
    const oxrt_value *sp = opt_const(g, p->inputs[1]);
    if (!sp || sp->dtype != OXRT_INT64 || sp->count != (size_t)p->n_outputs) return -1;
    for (int k = 0; k < p->n_outputs; k++)
      if (p->outputs[k] == id) return ((const int64_t *)sp->data)[k];
    return -1;
  }
  while (opt_is_op(p, "Add", 2)) p = opt_producer(g, opt_const(g, p->inputs[0]) ? p->inputs[1] : p->inputs[0]);
  const oxrt_value *w = opt_is_op(p, "MatMul", 2) ? opt_const(g, p->inputs[1]) : NULL;
  return w && w->rank == 2 ? w->dims[1] : -1;
}

/* Rank of `id`: inferred, else through the ops that build masks (elementwise: the largest input rank; Unsqueeze;
 * Cast; ConstantOfShape of a Concat; Trilu); -1 when unknown. */
static int rank_of(oxrt_graph *g, int id, int depth) {
  int64_t d[OXRT_MAX_RANK];
  int r = opt_shape(g, id, d);
  oxrt_node *p = opt_producer(g, id);
  if (r >= 0 || !p || !p->op_type || *p->domain || depth > 16) return r;
  static const char *const ew[] = {"Add", "Sub", "Mul", "Div", "Where", "Cast", "Trilu", "Neg", NULL};
  for (const char *const *o = ew; *o; o++)
    if (!strcmp(p->op_type, *o)) {
      int n = !strcmp(*o, "Trilu") || !strcmp(*o, "Cast") || !strcmp(*o, "Neg") ? 1 : p->n_inputs;
      for (int k = 0; k < n; k++) {
        int rk = rank_of(g, p->inputs[k], depth + 1);
        if (rk < 0) return -1;
        r = rk > r ? rk : r;
      }
      return r;
    }
  if (!strcmp(p->op_type, "Unsqueeze") && p->n_inputs == 2) {
    const oxrt_value *ax = opt_const(g, p->inputs[1]);
    int rk = rank_of(g, p->inputs[0], depth + 1);
    return ax && rk >= 0 ? rk + (int)ax->count : -1;
  }
  if (!strcmp(p->op_type, "Shape")) return 1;
  if (!strcmp(p->op_type, "Gather") && p->n_inputs == 2) { /* a scalar index drops the axis */
    const oxrt_value *ix = opt_const(g, p->inputs[1]);
    int rk = rank_of(g, p->inputs[0], depth + 1);
    return ix && rk >= 1 ? rk - 1 + ix->rank : -1;
  }
  if (!strcmp(p->op_type, "ConstantOfShape")) {
    const oxrt_value *c = opt_const(g, p->inputs[0]);
    if (c) return (int)c->count;
    oxrt_node *cat = opt_producer(g, p->inputs[0]);
    if (!cat || !cat->op_type || strcmp(cat->op_type, "Concat")) return -1;
    for (int k = 0; k < cat->n_inputs; k++) { /* one-element pieces only */
      const oxrt_value *e = opt_const(g, cat->inputs[k]);
      oxrt_node *u = opt_producer(g, cat->inputs[k]);
      if (!(e && e->count == 1) && !(u && u->op_type && !strcmp(u->op_type, "Unsqueeze") && rank_of(g, u->inputs[0],
                                                                                                    depth + 1) == 0))
        return -1;
    }
    return cat->n_inputs;
  }
  return -1;
}

/* Value of element k of a 1-D shape vector: *c holds a constant, or *src and *idx a Gather(Shape(src), idx). */
static bool shape_elem(oxrt_graph *g, int sh, int n, int k, int64_t *c, int *src, int64_t *idx) {
  *src = -1;
  const oxrt_value *cv = opt_const(g, sh);
  if (cv) {
    if (cv->dtype != OXRT_INT64 || cv->rank != 1 || cv->count != (size_t)n) return false;
    *c = ((const int64_t *)cv->data)[k];
    return true;
  }
  oxrt_node *cat = opt_producer(g, sh);
  if (!cat || !cat->op_type || *cat->domain || strcmp(cat->op_type, "Concat") || cat->n_inputs != n ||
      oxrt_attr_int(cat, "axis", 1) != 0)
    return false;
  int e = cat->inputs[k];
  if ((cv = opt_const(g, e))) {
    if (cv->dtype != OXRT_INT64 || cv->count != 1) return false;
    *c = ((const int64_t *)cv->data)[0];
    return true;
  }
  oxrt_node *un = opt_producer(g, e);
  if (!un || !un->op_type || *un->domain || strcmp(un->op_type, "Unsqueeze") || un->n_inputs != 2) return false;
  const oxrt_value *ax = opt_const(g, un->inputs[1]);
  if (!ax || ax->dtype != OXRT_INT64 || ax->count != 1 || ((const int64_t *)ax->data)[0] != 0) return false;
  oxrt_node *ga = opt_producer(g, un->inputs[0]);
  if (!ga || !ga->op_type || *ga->domain || strcmp(ga->op_type, "Gather") || oxrt_attr_int(ga, "axis", 0) != 0)
    return false;
  const oxrt_value *gi = opt_const(g, ga->inputs[1]);
  oxrt_node *shp = opt_producer(g, ga->inputs[0]);
  if (!gi || gi->dtype != OXRT_INT64 || gi->rank != 0 || !opt_is_op(shp, "Shape", 1)) return false;
  *src = shp->inputs[0];
  *idx = ((const int64_t *)gi->data)[0];
  return true;
}

/* Reshape node `r` (allowzero 0) of a tensor whose leading dims are x's (root `rx`): its target's first two
 * elements copy x's dims 0 and 1, and element 2 is `want2` (>0) or, for want2 < 0, anything but 0. */
static bool reshape_ok(oxrt_graph *g, const oxrt_node *r, int n, int rx, int64_t want2) {
  if (!r || r->n_inputs != 2 || oxrt_attr_int(r, "allowzero", 0) != 0) return false;
  int64_t dims[OXRT_MAX_RANK];
  int xr = opt_shape(g, rx, dims);
  for (int k = 0; k < 3; k++) {
    int64_t c = 0, idx = 0;
    int src;
    if (!shape_elem(g, r->inputs[1], n, k, &c, &src, &idx)) return false;
    if (k == 2) {
      if (src >= 0 ? want2 >= 0 : (want2 >= 0 ? c != want2 : c == 0)) return false;
      continue;
    }
    if (src >= 0) {
      if (idx != k || base(g, src) != base(g, rx)) return false;
    } else if (c != 0 && !(xr > k && dims[k] == c)) {
      return false;
    }
  }
  return true;
}

static bool perm_is(const oxrt_node *n, int64_t a, int64_t b, int64_t c, int64_t d) {
  size_t cnt = 0;
  const int64_t *p = oxrt_attr_ints(n, "perm", &cnt);
  return cnt == 4 && p[0] == a && p[1] == b && p[2] == c && p[3] == d;
}

static bool is_node(const oxrt_node *n, const char *op) {
  return n && n->op_type && !*n->domain && !strcmp(n->op_type, op) && n->n_outputs == 1;
}

typedef struct {
  oxrt_node *del[16];
  int n_del;
} fa_match;

/* id = Transpose(Reshape(x3, [B,S,H,D]), perm): returns x3 (or -1); `perm_k` selects K's [0,2,3,1]. */
static int head_input(oxrt_graph *g, const opt_uses *u, int id, bool is_k, fa_match *m, oxrt_node **rs) {
  oxrt_node *t = opt_sole_producer(g, u, id);
  if (!is_node(t, "Transpose")) return -1;
  oxrt_node *t0 = t;
  if (is_k && perm_is(t, 0, 1, 3, 2)) { /* k.transpose(1,2).transpose(-1,-2) */
    t0 = opt_sole_producer(g, u, t->inputs[0]);
    if (!is_node(t0, "Transpose") || !perm_is(t0, 0, 2, 1, 3)) return -1;
    m->del[m->n_del++] = t;
  } else if (!(is_k ? perm_is(t, 0, 2, 3, 1) : perm_is(t, 0, 2, 1, 3))) {
    return -1;
  }
  m->del[m->n_del++] = t0;
  oxrt_node *r = opt_sole_producer(g, u, t0->inputs[0]);
  if (!is_node(r, "Reshape")) return -1;
  m->del[m->n_del++] = r;
  *rs = r;
  return r->inputs[0];
}

static oxrt_status *new_value(oxrt_opt_ctx *ctx, oxrt_graph *g, const char *base, int *id) {
  char name[256];
  snprintf(name, sizeof name, "%s_fa%d", base, ctx->counter++);
  while (oxrt_graph_find(g, name) >= 0) snprintf(name, sizeof name, "%s_fa%d", base, ctx->counter++);
  *id = oxrt_graph_intern(g, name);
  return *id < 0 ? OXRT_OOM() : NULL;
}

/* Turns deleted slot `n` into op(ins) -> out. */
static oxrt_status *reuse(oxrt_graph *g, oxrt_node *n, const char *op, const int *ins, int n_in, int out, int pos) {
  OXRT_TRY(opt_set_inputs(g, n, ins, n_in));
  n->op_type = op;
  n->domain = "";
  n->n_attrs = 0;
  n->outputs[0] = out;
  g->values[out].producer = pos;
  return NULL;
}

typedef struct {
  int mask, expanded;
} mask_cache;

/* q3, k3, v3 = Split(Add(x, b), last axis) with b a constant float [Cq + Ck + Cv], each output read once (by the
 * fused node): the Add goes (the Split reads x) and b becomes MultiHeadAttention's projection bias; returns b's id
 * or -1. */
static int fold_qkv_bias(oxrt_graph *g, const opt_uses *u, int q3, int k3, int v3, const int64_t *c) {
  oxrt_node *sp = opt_producer(g, q3);
  if (!sp || !sp->op_type || *sp->domain || strcmp(sp->op_type, "Split") || sp->n_outputs != 3 ||
      sp->outputs[0] != q3 || sp->outputs[1] != k3 || sp->outputs[2] != v3 || sp->n_inputs < 1)
    return -1;
  for (int i = 0; i < 3; i++)
    if (u->count[sp->outputs[i]] != 1 || u->pinned[sp->outputs[i]]) return -1;
  oxrt_node *add = opt_sole_producer(g, u, sp->inputs[0]);
  if (!opt_is_op(add, "Add", 2)) return -1;
  for (int side = 0; side < 2; side++) {
    const oxrt_value *b = opt_const(g, add->inputs[side]);
    if (!b || b->dtype != OXRT_FLOAT || b->rank != 1 || b->dims[0] != c[0] + c[1] + c[2]) continue;
    int x = add->inputs[1 - side];
    if (opt_const(g, x)) return -1;
    int *ins = sp->inputs; /* the Split's own array: only input 0 changes */
    ins[0] = x;
    add->op_type = NULL;
    return add->inputs[side];
  }
  return -1;
}

static oxrt_status *try_fuse(oxrt_opt_ctx *ctx, oxrt_graph *g, opt_uses *u, oxrt_node *sm, mask_cache *mc,
                             int *n_mc, bool *changed) {
  if (sm->n_inputs != 1 || sm->n_outputs != 1) return NULL;
  int64_t axis = oxrt_attr_int(sm, "axis", opt_node_opset(ctx->model, sm) >= 13 ? -1 : 1);
  if (axis != -1 && axis != 3) return NULL;
  fa_match m = {.n_del = 0};
  /* forward: Softmax -> MatMul(p, v4) -> Transpose -> Reshape */
  oxrt_node *mm2 = opt_sole_reader(g, u, sm->outputs[0]);
  if (!opt_is_op(mm2, "MatMul", 2) || mm2->inputs[0] != sm->outputs[0]) return NULL;
  oxrt_node *tr = opt_sole_reader(g, u, mm2->outputs[0]);
  if (!is_node(tr, "Transpose") || !perm_is(tr, 0, 2, 1, 3)) return NULL;
  oxrt_node *out = opt_sole_reader(g, u, tr->outputs[0]);
  if (!is_node(out, "Reshape") || out->inputs[0] != tr->outputs[0]) return NULL;
  /* backward: {Add mask} <- {Div|Mul c} <- MatMul(q4, kT) */
  oxrt_node *n = opt_sole_producer(g, u, sm->inputs[0]), *add = NULL, *sc = NULL;
  int mask = -1;
  if (opt_is_op(n, "Add", 2)) {
    add = n;
    oxrt_node *a0 = opt_sole_producer(g, u, n->inputs[0]);
    int side = a0 && (is_node(a0, "MatMul") || is_node(a0, "Div") || is_node(a0, "Mul")) ? 0 : 1;
    mask = n->inputs[1 - side];
    n = opt_sole_producer(g, u, n->inputs[side]);
  }
  float scale = 1.f;
  if (opt_is_op(n, "Div", 2) || opt_is_op(n, "Mul", 2)) {
    const oxrt_value *c = opt_const(g, n->inputs[1]);
    if (!c || c->dtype != OXRT_FLOAT || c->count != 1 || c->rank > 4) return NULL;
    double v = oxrt_load_f64(c->dtype, c->data, 0);
    if (!isfinite(v) || v == 0) return NULL;
    scale = (float)(!strcmp(n->op_type, "Div") ? 1.0 / v : v);
    sc = n;
    n = opt_sole_producer(g, u, n->inputs[0]);
  }
  if (!opt_is_op(n, "MatMul", 2)) return NULL;
  oxrt_node *mm1 = n, *rq, *rk, *rv;
  int q3 = head_input(g, u, mm1->inputs[0], false, &m, &rq);
  int k3 = q3 >= 0 ? head_input(g, u, mm1->inputs[1], true, &m, &rk) : -1;
  int v3 = k3 >= 0 ? head_input(g, u, mm2->inputs[1], false, &m, &rv) : -1;
  if (v3 < 0) return NULL;
  /* shapes: q3/k3/v3 float [., ., C], one H for all */
  int64_t d[OXRT_MAX_RANK];
  int64_t C = -1;
  int ids[3] = {q3, k3, v3};
  for (int i = 0; i < 3; i++) {
    d[i] = last_dim3(g, ids[i]);
    oxrt_elem_type t = opt_value_type(g, ids[i]);
    if (t == OXRT_UNDEFINED) t = opt_value_type(g, root(g, ids[i])); /* root() follows type-keeping ops only */
    if (t != OXRT_FLOAT || d[i] <= 0) return NULL;
    if (i < 2 && C >= 0 && d[i] != C) return NULL;
    if (i == 0) C = d[i];
  }
  int64_t c0 = 0, H = 0;
  int src;
  if (!shape_elem(g, rq->inputs[1], 4, 2, &H, &src, &c0) || src >= 0 || H <= 0 || C % H) return NULL;
  if (d[2] % H) return NULL;
  int rtq = root(g, q3), rtk = root(g, k3), rtv = root(g, v3);
  if (!reshape_ok(g, rq, 4, rtq, H) || !reshape_ok(g, rk, 4, rtk, H) || !reshape_ok(g, rv, 4, rtv, H) ||
      !reshape_ok(g, out, 3, rtq, -1))
    return NULL;
  /* element 3 of the head reshapes must not be a constant other than D or -1 (count would then fail anyway) */
  bool expand = false;
  if (mask >= 0) {
    int64_t md[OXRT_MAX_RANK], qd[OXRT_MAX_RANK];
    for (int i = 0; i < 4; i++) md[i] = qd[i] = -1;
    if (opt_value_type(g, mask) != OXRT_FLOAT || rank_of(g, mask, 0) != 4) return NULL;
    opt_shape(g, mask, md);
    if (md[3] == 1) return NULL;
    opt_shape(g, q3, qd);
    if (!(md[2] >= 0 && md[2] == qd[1] && qd[1] > 0)) {
      if (rtq != rtk || rtk != rtv || md[2] > 1) return NULL; /* S == T only for self-attention */
      expand = true;
    }
  }
  OXRT_TRY(opt_import_domain(ctx->model, "com.microsoft", 1));
  int bias = mask;
  if (expand) {
    for (int i = 0; i < *n_mc && bias == mask; i++)
      if (mc[i].mask == mask) bias = mc[i].expanded;
    if (bias == mask) {
      /* [m0, m1, 1, T] -> [m0, m1, T, T] in the slots of the Add, the Softmax and the second MatMul */
      int shp, sel, ex;
      OXRT_TRY(new_value(ctx, g, "attn_mask_shape", &shp));
      OXRT_TRY(new_value(ctx, g, "attn_mask_dims", &sel));
      OXRT_TRY(new_value(ctx, g, "attn_bias", &ex));
      oxrt_value *iv;
      int64_t four = 4;
      OXRT_TRY(oxrt_tensor_new(OXRT_INT64, 1, &four, &iv));
      int64_t pick[4] = {0, 1, 3, 3};
      memcpy(iv->data, pick, sizeof pick);
      int idx = opt_add_initializer(ctx, g, "attn_mask_pick", iv);
      if (idx < 0) return OXRT_OOM();
      int i1[1] = {mask}, i2[2] = {shp, idx}, i3[2] = {mask, sel};
      OXRT_TRY(reuse(g, add, "Shape", i1, 1, shp, (int)(add - g->nodes)));
      OXRT_TRY(reuse(g, sm, "Gather", i2, 2, sel, (int)(sm - g->nodes)));
      OXRT_TRY(reuse(g, mm2, "Expand", i3, 2, ex, (int)(mm2 - g->nodes)));
      if (*n_mc < 64) mc[(*n_mc)++] = (mask_cache){mask, ex};
      bias = ex;
      add = sm = mm2 = NULL; /* kept as the new nodes */
    }
  }
  oxrt_node *gone[] = {add, sc, mm1, sm, mm2, tr};
  for (size_t i = 0; i < sizeof gone / sizeof *gone; i++)
    if (gone[i]) m.del[m.n_del++] = gone[i];
  for (int k = 0; k < m.n_del; k++) m.del[k]->op_type = NULL;
  int pbias = fold_qkv_bias(g, u, q3, k3, v3, d);
  int ins[6] = {q3, k3, v3, pbias, -1, bias};
  OXRT_TRY(opt_set_inputs(g, out, ins, bias >= 0 ? 6 : pbias >= 0 ? 4 : 3));
  out->op_type = "MultiHeadAttention";
  out->domain = "com.microsoft";
  out->n_attrs = 0;
  oxrt_attr at[2] = {{.name = "num_heads", .type = OXRT_ATTR_INT, .i = H},
                     {.name = "scale", .type = OXRT_ATTR_FLOAT, .f = scale}};
  OXRT_TRY(opt_set_attr(g, out, &at[0]));
  OXRT_TRY(opt_set_attr(g, out, &at[1]));
  *changed = true;
  return NULL;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  mask_cache mc[64];
  int n_mc = 0;
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *sm = &g->nodes[i];
    if (!is_node(sm, "Softmax")) continue;
    opt_uses u; /* rebuilt per candidate: a fusion rewires readers and adds values */
    OXRT_TRY(opt_uses_build(g, &u));
    st = try_fuse(ctx, g, &u, sm, mc, &n_mc, changed);
    opt_uses_free(&u);
  }
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_attention = {
    "fuse_attention", OXRT_OPT_EXTENDED, false, run,
    "Reshape/Transpose/MatMul/scale/mask/Softmax/MatMul attention into com.microsoft MultiHeadAttention"};
