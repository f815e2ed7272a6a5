/* pass_fuse_gelu.c - the GELU subgraphs that exporters write out element by element become one
 * com.microsoft node (ONNX Runtime's contrib ops, so the saved model still runs there):
 *
 *   erf form   0.5 * x * (1 + Erf(x / sqrt2))                  -> Gelu(x)
 *              (Div by sqrt2 or Mul by 1/sqrt2; the 0.5 applied to x, to (1 + erf) or last)
 *   tanh form  0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))  -> FastGelu(x)
 *              (x^3 as Pow(x, 3), Mul(x, Mul(x, x)) or Mul(Mul(x, x), x))
 *              (any Add may be a Sum of two, as in ONNX's Gelu function body)
 *   then       Gelu(Add(a, bias)) with bias a constant 1-D row as long as a's last axis
 *              -> BiasGelu(a, bias); FastGelu takes the bias as its optional second input
 *
 * Five to nine passes over the tensor become one. Exactness: every constant must have its value within
 * the precision of its type, with no more dimensions than x (broadcasting could not add axes), every
 * intermediate value must be read only by the pattern and be no graph output, and x must be float or
 * float16 (the types ONNX Runtime's CPU kernels take).
 */
#include "opt.h"
#include <string.h>

#define SQRT2 1.41421356237309504880
#define SQRT_2_OVER_PI 0.79788456080286535588

typedef struct {
  const oxrt_model *model;
  int x;                /* the activation's input */
  oxrt_elem_type t;     /* its element type */
  int max_rank;         /* largest rank a constant may have (x's rank, 0 when unknown) */
  oxrt_node *del[14];   /* nodes the fused one replaces, the last one excepted */
  int n_del;
  oxrt_node *last;      /* the node whose output the fused node takes over */
} gelu_match;

static bool is_const(oxrt_graph *g, const gelu_match *m, int id, double want) {
  return opt_scalar_near(g, id, m->t, m->max_rank, want);
}

/* Add, or Sum of two (the form ONNX's own Gelu function body uses; broadcasting since opset 8). */
static bool is_add(const gelu_match *m, const oxrt_node *n) {
  return opt_is_op(n, "Add", 2) || (opt_is_op(n, "Sum", 2) && opt_node_opset(m->model, n) >= 8);
}

/* Reads x's element type from constant `c` (Div/Mul/Add require both operands to share it) and its rank. */
static bool set_type(oxrt_graph *g, gelu_match *m, int x, int c) {
  const oxrt_value *cv = opt_const(g, c);
  if (!cv || (cv->dtype != OXRT_FLOAT && cv->dtype != OXRT_FLOAT16)) return false;
  oxrt_elem_type xt = opt_value_type(g, x);
  if (xt != OXRT_UNDEFINED && xt != cv->dtype) return false;
  int64_t dims[OXRT_MAX_RANK];
  int r = opt_shape(g, x, dims);
  m->x = x;
  m->t = cv->dtype;
  m->max_rank = r > 0 ? r : 0;
  return true;
}

/* Binary node `n` with one operand `id`: the other operand, or -1. */
static int other(const oxrt_node *n, int id) { return opt_other_input(n, id); }

/* (1 + act) times x times 0.5, from act's output `e` on: finds the multiplications in any order. */
static bool match_tail(oxrt_graph *g, const opt_uses *u, gelu_match *m, int e) {
  oxrt_node *add = opt_sole_reader(g, u, e);
  if (!is_add(m, add) || !is_const(g, m, other(add, e), 1.0)) return false;
  m->del[m->n_del++] = add;
  int a = add->outputs[0];
  oxrt_node *ma = opt_sole_reader(g, u, a);
  if (!opt_is_op(ma, "Mul", 2)) return false;
  int o = other(ma, a);
  if (o == a) return false;
  if (o == m->x || is_const(g, m, o, 0.5)) { /* (x * a) * 0.5  or  (a * 0.5) * x */
    oxrt_node *m2 = opt_sole_reader(g, u, ma->outputs[0]);
    if (!opt_is_op(m2, "Mul", 2)) return false;
    int o2 = other(m2, ma->outputs[0]);
    if (o == m->x ? !is_const(g, m, o2, 0.5) : o2 != m->x) return false;
    m->del[m->n_del++] = ma;
    m->last = m2;
    return true;
  }
  oxrt_node *half = opt_sole_producer(g, u, o); /* (x * 0.5) * a */
  if (!opt_is_op(half, "Mul", 2) || !is_const(g, m, other(half, m->x), 0.5)) return false;
  m->del[m->n_del++] = half;
  m->last = ma;
  return true;
}

/* Erf(x / sqrt2) or Erf(x * (1/sqrt2)). */
static bool match_erf(oxrt_graph *g, const opt_uses *u, oxrt_node *erf, gelu_match *m) {
  if (!opt_is_op(erf, "Erf", 1)) return false;
  oxrt_node *d = opt_sole_producer(g, u, erf->inputs[0]);
  if (opt_is_op(d, "Div", 2)) {
    if (!set_type(g, m, d->inputs[0], d->inputs[1]) || !is_const(g, m, d->inputs[1], SQRT2)) return false;
  } else if (opt_is_op(d, "Mul", 2)) {
    int side = opt_const(g, d->inputs[1]) ? 1 : 0;
    if (!set_type(g, m, d->inputs[1 - side], d->inputs[side]) || !is_const(g, m, d->inputs[side], 1.0 / SQRT2))
      return false;
  } else {
    return false;
  }
  m->del[m->n_del++] = d;
  m->del[m->n_del++] = erf;
  return match_tail(g, u, m, erf->outputs[0]);
}

/* x^3 as Pow(x, 3) or x * (x * x) in either order. */
static bool match_cube(oxrt_graph *g, const opt_uses *u, gelu_match *m, int id) {
  oxrt_node *c = opt_sole_producer(g, u, id);
  if (opt_is_op(c, "Pow", 2) && c->inputs[0] == m->x) {
    const oxrt_value *e = opt_const(g, c->inputs[1]);
    if (!e || e->count != 1 || e->rank > m->max_rank || !oxrt_dtype_is_float(e->dtype) ||
        oxrt_load_f64(e->dtype, e->data, 0) != 3.0)
      return false;
    m->del[m->n_del++] = c;
    return true;
  }
  if (!opt_is_op(c, "Mul", 2)) return false;
  int sq = other(c, m->x);
  if (sq < 0 || sq == m->x) return false;
  oxrt_node *s = opt_sole_producer(g, u, sq);
  if (!opt_is_op(s, "Mul", 2) || s->inputs[0] != m->x || s->inputs[1] != m->x) return false;
  m->del[m->n_del++] = s;
  m->del[m->n_del++] = c;
  return true;
}

/* Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)). */
static bool match_tanh(oxrt_graph *g, const opt_uses *u, oxrt_node *th, gelu_match *m) {
  if (!opt_is_op(th, "Tanh", 1)) return false;
  oxrt_node *scale = opt_sole_producer(g, u, th->inputs[0]);
  if (!opt_is_op(scale, "Mul", 2)) return false;
  int cs = opt_const(g, scale->inputs[0]) ? 0 : 1;
  oxrt_node *sum = opt_sole_producer(g, u, scale->inputs[1 - cs]);
  if (!is_add(m, sum)) return false;
  /* one operand of the sum is x, the other kappa * x^3 (x is not yet known: try both) */
  for (int side = 0; side < 2; side++) {
    m->n_del = 0;
    if (!set_type(g, m, sum->inputs[side], scale->inputs[cs]) || !is_const(g, m, scale->inputs[cs], SQRT_2_OVER_PI))
      continue;
    oxrt_node *k = opt_sole_producer(g, u, sum->inputs[1 - side]);
    if (!opt_is_op(k, "Mul", 2)) continue;
    int ck = opt_const(g, k->inputs[0]) ? 0 : 1;
    if (!is_const(g, m, k->inputs[ck], 0.044715) || !match_cube(g, u, m, k->inputs[1 - ck])) continue;
    m->del[m->n_del++] = k;
    m->del[m->n_del++] = sum;
    m->del[m->n_del++] = scale;
    m->del[m->n_del++] = th;
    return match_tail(g, u, m, th->outputs[0]);
  }
  return false;
}

/* Size of the last axis of value `id`, or -1: from its shape, or as MatMul(., W) with a constant W of rank >= 2
 * (then it is W's last dimension whatever the other operand). */
static int64_t last_dim(oxrt_graph *g, int id) {
  int64_t dims[OXRT_MAX_RANK];
  int r = opt_shape(g, id, dims);
  if (r >= 1 && dims[r - 1] >= 0) return dims[r - 1];
  oxrt_node *mm = opt_producer(g, id);
  const oxrt_value *w = mm && opt_is_op(mm, "MatMul", 2) ? opt_const(g, mm->inputs[1]) : NULL;
  return w && w->rank >= 2 ? w->dims[w->rank - 1] : -1;
}

/* x = Add(a, bias) read only by the pattern (`uses` times), bias a constant 1-D row of a's last axis:
 * returns the bias id and sets *a and *add, or -1. */
static int match_bias(oxrt_graph *g, const opt_uses *u, const gelu_match *m, int uses, int *a, oxrt_node **add) {
  if (u->pinned[m->x] || u->count[m->x] != uses) return -1;
  oxrt_node *n = opt_producer(g, m->x);
  if (!opt_is_op(n, "Add", 2)) return -1;
  for (int side = 0; side < 2; side++) {
    const oxrt_value *b = opt_const(g, n->inputs[side]);
    if (!b || b->dtype != m->t || b->rank != 1 || b->dims[0] < 1 || last_dim(g, n->inputs[1 - side]) != b->dims[0])
      continue;
    if (opt_value_type(g, n->inputs[1 - side]) != m->t) continue;
    *a = n->inputs[1 - side];
    *add = n;
    return n->inputs[side];
  }
  return -1;
}

/* Uses of x inside the matched pattern. */
static int pattern_uses(const gelu_match *m) {
  int k = 0;
  for (int i = 0; i < m->n_del; i++)
    for (int j = 0; j < m->del[i]->n_inputs; j++) k += m->del[i]->inputs[j] == m->x;
  for (int j = 0; j < m->last->n_inputs; j++) k += m->last->inputs[j] == m->x;
  return k;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *act = &g->nodes[i];
    if (!act->op_type || *act->domain) continue;
    gelu_match m = {.model = ctx->model};
    bool fast = false;
    if (!match_erf(g, &u, act, &m)) {
      m = (gelu_match){.model = ctx->model};
      if (!match_tanh(g, &u, act, &m)) continue;
      fast = true;
    }
    int a = -1;
    oxrt_node *add = NULL;
    int bias = match_bias(g, &u, &m, pattern_uses(&m), &a, &add);
    if (add) m.del[m.n_del++] = add;
    if ((st = opt_import_domain(ctx->model, "com.microsoft", 1))) break;
    int ins[2] = {bias >= 0 ? a : m.x, bias};
    const int *old = m.last->inputs;
    int n_old = m.last->n_inputs;
    if ((st = opt_set_inputs(g, m.last, ins, bias >= 0 ? 2 : 1))) break;
    for (int j = 0; j < n_old; j++) u.count[old[j]]--;
    for (int k = 0; k < m.n_del; k++) {
      for (int j = 0; j < m.del[k]->n_inputs; j++)
        if (m.del[k]->inputs[j] >= 0) u.count[m.del[k]->inputs[j]]--;
      m.del[k]->op_type = NULL;
    }
    for (int j = 0; j < m.last->n_inputs; j++) u.count[m.last->inputs[j]]++;
    /* the last node keeps its output and its place: x is computed before it, every reader after it */
    m.last->op_type = fast ? "FastGelu" : bias >= 0 ? "BiasGelu" : "Gelu";
    m.last->domain = "com.microsoft";
    m.last->n_attrs = 0;
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_gelu = {
    "fuse_gelu", OXRT_OPT_EXTENDED, true, run,
    "erf-form GELU subgraph into com.microsoft Gelu (BiasGelu with a preceding bias Add), tanh form into FastGelu"};
