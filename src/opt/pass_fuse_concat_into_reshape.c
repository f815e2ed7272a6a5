/* pass_fuse_concat_into_reshape.c - Reshape(x, Concat(parts, axis=0)) and Reshape(x, Cast(Concat(...), to=int64))
 * get a constant shape (onnxoptimizer's fuse_concat_into_reshape): constant parts give their values, and at most
 * one part that is not constant but holds exactly one element becomes -1 (Reshape infers that dimension from the
 * element count, which is what the part held). Not done when allowzero=1 (a runtime 0 would then mean an empty
 * dimension, not "infer"). The Concat (and Cast) go when nothing else reads them.
 */
#include "opt.h"
#include <string.h>

/* The Concat feeding the Reshape's shape input, directly or through Cast(to=int64); *cast gets the Cast or NULL. */
static oxrt_node *shape_concat(oxrt_graph *g, const oxrt_node *reshape, oxrt_node **cast) {
  oxrt_node *p = opt_producer(g, reshape->inputs[1]);
  *cast = NULL;
  if (p && !*p->domain && !strcmp(p->op_type, "Cast") && p->n_inputs == 1 &&
      oxrt_attr_int(p, "to", 0) == OXRT_INT64) {
    *cast = p;
    p = opt_producer(g, p->inputs[0]);
  }
  if (!p || *p->domain || strcmp(p->op_type, "Concat") || oxrt_attr_int(p, "axis", 1) != 0) return NULL;
  return p->n_inputs > 0 && p->n_inputs <= OXRT_MAX_RANK ? p : NULL;
}

/* Value `id` is a scalar: inferred so, or Gather(rank-1 data such as a Shape, rank-0 constant index). */
static bool is_scalar(oxrt_graph *g, int id) {
  int64_t d[OXRT_MAX_RANK];
  if (opt_shape(g, id, d) == 0) return true;
  const oxrt_node *p = opt_producer(g, id);
  if (!p || *p->domain || strcmp(p->op_type, "Gather") || p->n_inputs != 2) return false;
  const oxrt_value *ix = opt_const(g, p->inputs[1]);
  const oxrt_node *src = opt_producer(g, p->inputs[0]);
  bool rank1 = opt_shape(g, p->inputs[0], d) == 1 || (src && !*src->domain && !strcmp(src->op_type, "Shape"));
  return ix && ix->rank == 0 && rank1;
}

/* Value `id` holds exactly one element in a rank-1 tensor: inferred so, or Unsqueeze of a scalar on one axis
 * (the session's inference leaves shape-computing chains to the toolkit's; this is the exporters' pattern). */
static bool is_one_element(oxrt_graph *g, int id, int depth) {
  int64_t d[OXRT_MAX_RANK];
  if (opt_shape(g, id, d) == 1) return d[0] == 1;
  const oxrt_node *p = opt_producer(g, id);
  if (!p || *p->domain || p->n_inputs < 1 || depth > 8) return false;
  if (!strcmp(p->op_type, "Cast") || !strcmp(p->op_type, "Identity")) return is_one_element(g, p->inputs[0], depth + 1);
  if (strcmp(p->op_type, "Unsqueeze") || !is_scalar(g, p->inputs[0])) return false;
  size_t n_axes = 0;
  const oxrt_value *ax = p->n_inputs > 1 ? opt_const(g, p->inputs[1]) : NULL;
  if (ax) n_axes = ax->count;
  else oxrt_attr_ints(p, "axes", &n_axes);
  return n_axes == 1;
}

/* Appends the values of one Concat part to dims (-1 for an unknown one-element part); false when it cannot. */
static bool part_values(oxrt_graph *g, int id, bool cast, int64_t *dims, int *n, int *unknown) {
  const oxrt_value *t = opt_const(g, id);
  if (!t) {
    if (!is_one_element(g, id, 0) || *n >= OXRT_MAX_RANK) return false;
    dims[(*n)++] = -1;
    (*unknown)++;
    return true;
  }
  if (t->rank != 1 || t->count > (size_t)(OXRT_MAX_RANK - *n)) return false;
  if (!cast && t->dtype != OXRT_INT64) return false;
  for (size_t k = 0; k < t->count; k++) {
    int64_t v;
    switch (t->dtype) {
    case OXRT_INT64: v = ((const int64_t *)t->data)[k]; break;
    case OXRT_INT32: v = ((const int32_t *)t->data)[k]; break;
    case OXRT_INT16: v = ((const int16_t *)t->data)[k]; break;
    case OXRT_INT8: v = ((const int8_t *)t->data)[k]; break;
    case OXRT_UINT8: v = ((const uint8_t *)t->data)[k]; break;
    case OXRT_UINT16: v = ((const uint16_t *)t->data)[k]; break;
    case OXRT_UINT32: v = ((const uint32_t *)t->data)[k]; break;
    case OXRT_FLOAT:
    case OXRT_DOUBLE: {
      double f = oxrt_load_f64(t->dtype, t->data, k);
      if (!(f > -1e15 && f < 1e15)) return false; /* Cast of such a value to int64 is not a shape */
      v = (int64_t)f;
      break;
    }
    default: return false;
    }
    if (v == -1) (*unknown)++;
    dims[(*n)++] = v;
  }
  return true;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || strcmp(n->op_type, "Reshape") || n->n_inputs != 2 || n->inputs[1] < 0 ||
        opt_const(g, n->inputs[1]) || oxrt_attr_int(n, "allowzero", 0) != 0 || opt_node_opset(ctx->model, n) < 5)
      continue;
    oxrt_node *cast, *cat = shape_concat(g, n, &cast);
    if (!cat) continue;
    int64_t dims[OXRT_MAX_RANK];
    int m = 0, unknown = 0;
    bool ok = true;
    for (int k = 0; k < cat->n_inputs && ok; k++)
      ok = cat->inputs[k] >= 0 && part_values(g, cat->inputs[k], cast != NULL, dims, &m, &unknown);
    if (!ok || unknown > 1) continue;
    int64_t m64 = m;
    oxrt_value *t;
    if ((st = oxrt_tensor_new(OXRT_INT64, 1, &m64, &t))) break;
    memcpy(t->data, dims, sizeof(int64_t) * (size_t)m);
    int old = n->inputs[1];
    int id = opt_add_initializer(ctx, g, g->values[old].name, t);
    if (id < 0) {
      st = OXRT_OOM();
      break;
    }
    n->inputs[1] = id;
    /* drop the shape computation when this Reshape was its only reader */
    if (--u.count[old] == 0 && !u.pinned[old]) {
      oxrt_node *dead = cast ? cast : cat;
      for (int k = 0; k < dead->n_inputs; k++)
        if (dead->inputs[k] >= 0) u.count[dead->inputs[k]]--;
      dead->op_type = NULL;
      if (cast && u.count[cast->inputs[0]] == 0 && !u.pinned[cast->inputs[0]]) {
        for (int k = 0; k < cat->n_inputs; k++)
          if (cat->inputs[k] >= 0) u.count[cat->inputs[k]]--;
        cat->op_type = NULL;
      }
    }
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_concat_into_reshape = {
    "fuse_concat_into_reshape", OXRT_OPT_ALL, true, run,
    "Reshape's shape from a Concat of constants (and at most one unknown dimension) into a constant"};
