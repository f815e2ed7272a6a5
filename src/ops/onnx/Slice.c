/* Slice.c - Slice: starts/ends/axes as attributes (opset 1) or inputs with steps (10+).
 * Indices are clamped like numpy; negative steps walk backwards. */
#include "layout_util.h"
#include "../infer_rules.h"
#include <stdlib.h>

static oxrt_status *slice_common(oxrt_kernel_ctx *ctx, const int64_t *starts, const int64_t *ends, size_t n,
                                 const int64_t *axes, size_t n_axes, const int64_t *steps, size_t n_steps) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  if (axes && n_axes != n)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axes has %zu entries, starts has %zu", n_axes, n);
  if (steps && n_steps != n)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "steps has %zu entries, starts has %zu", n_steps, n);
  if (!axes && n > (size_t)x->rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "starts has %zu entries for rank %d", n, x->rank);
  int r = x->rank;
  int64_t dims[OXRT_MAX_RANK], strides[OXRT_MAX_RANK], xs[OXRT_MAX_RANK];
  bool seen[OXRT_MAX_RANK] = {false};
  oxrt_lay_strides(r, x->dims, xs);
  for (int d = 0; d < r; d++) {
    dims[d] = x->dims[d];
    strides[d] = xs[d];
  }
  int64_t base = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t a = (int64_t)i;
    if (axes) OXRT_TRY(oxrt_norm_axis(axes[i], r, false, &a));
    if (seen[a]) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %lld is repeated", (long long)a);
    seen[a] = true;
    int64_t dim = x->dims[a], step = steps ? steps[i] : 1;
    if (step == 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "steps[%zu] is 0", i);
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s = s < -dim ? 0 : s + dim; /* no overflow: dim >= 0 */
    if (e < 0) e = e < -dim ? -1 : e + dim;
    int64_t count;
    if (step > 0) {
      if (s > dim) s = dim;
      if (e > dim) e = dim;
      if (e < 0) e = 0;
      count = e > s ? (e - s - 1) / step + 1 : 0;
    } else {
      if (s > dim - 1) s = dim - 1;
      if (e > dim - 1) e = dim - 1;
      /* after the shift e is >= -1: -1 means "through index 0" */
      if (step < -INT64_MAX) step = -INT64_MAX; /* same count, and negating it is safe */
      count = s > e ? (s - e - 1) / (-step) + 1 : 0;
    }
    dims[a] = count;
    if (count > 0) base += s * xs[a];
    strides[a] = xs[a] * step;
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, dims, &y));
  return oxrt_lay_gather(ctx, x->dtype, y->data, x->data, base, r, dims, strides);
}

static oxrt_status *slice1_run(oxrt_kernel_ctx *ctx) {
  size_t ns, ne, na;
  const int64_t *starts = oxrt_attr_ints(ctx->node, "starts", &ns);
  const int64_t *ends = oxrt_attr_ints(ctx->node, "ends", &ne);
  const int64_t *axes = oxrt_attr_ints(ctx->node, "axes", &na);
  if (!starts || !ends) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attributes 'starts' and 'ends' are required");
  if (ns != ne) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "starts has %zu entries, ends has %zu", ns, ne);
  return slice_common(ctx, starts, ends, ns, axes, na, NULL, 0);
}

static oxrt_status *slice10_run(oxrt_kernel_ctx *ctx) {
  int64_t *v[4] = {NULL, NULL, NULL, NULL};
  size_t n[4] = {0, 0, 0, 0};
  oxrt_status *st = NULL;
  for (int i = 0; i < 4 && !st; i++) {
    const oxrt_value *t = oxrt_input(ctx, i + 1);
    if (t || i < 2) st = oxrt_read_int_list(t, i + 1, &v[i], &n[i]);
  }
  if (!st && n[0] != n[1])
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "starts has %zu entries, ends has %zu", n[0], n[1]);
  if (!st) st = slice_common(ctx, v[0], v[1], n[0], v[2], n[2], v[3], n[3]);
  for (int i = 0; i < 4; i++) free(v[i]);
  return st;
}

static const oxrt_op_impl slice_impls[] = {
    {.since_version = 1, .run = slice1_run},
    {.since_version = 10, .run = slice10_run},
};

/* An ints attribute of Slice-1 as known content (NULL when absent or too long). */
static const oxrt_known_ints *attr_ints(const oxrt_node *n, const char *name, oxrt_known_ints *k) {
  size_t c;
  const int64_t *v = oxrt_attr_ints(n, name, &c);
  if (!v || c > OXRT_MAX_RANK) return NULL;
  memset(k, 0, sizeof *k);
  for (size_t i = 0; i < c; i++) k->v[k->n++] = v[i];
  return k;
}

/* Sizes from known starts/ends/axes/steps (inputs 1-4, attributes before opset 10); the content of a sliced 1-D
 * integer tensor. With starts/ends unknown, the rank is kept and the sliced axes become unknown. */
static oxrt_status *infer_slice(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  const oxrt_known_ints *a = oxrt_infer_known(ctx, 0), *st = oxrt_infer_known(ctx, 1), *en = oxrt_infer_known(ctx, 2);
  const oxrt_known_ints *ax = oxrt_infer_known(ctx, 3), *sp = oxrt_infer_known(ctx, 4);
  bool has_ax = n->n_inputs > 3 && n->inputs[3] >= 0, has_sp = n->n_inputs > 4 && n->inputs[4] >= 0;
  oxrt_known_ints k1, k2, k3;
  if (ctx->opset < 10) {
    st = attr_ints(n, "starts", &k1), en = attr_ints(n, "ends", &k2), ax = attr_ints(n, "axes", &k3), sp = NULL;
    has_ax = ax != NULL, has_sp = false;
  }
  if (a && !a->scalar && st && en && st->n == 1 && en->n == 1 &&
      (!ax || (ax->n == 1 && (ax->v[0] == 0 || ax->v[0] == -1))) &&
      (!sp || (sp->n == 1 && sp->v[0] == 1)) && !(has_ax && !ax) && !(has_sp && !sp)) {
    int64_t s0 = st->v[0], e0 = en->v[0], len = a->n;
    if (s0 < 0) s0 += len;
    if (e0 < 0) e0 += len;
    s0 = s0 < 0 ? 0 : s0 > len ? len : s0;
    e0 = e0 < 0 ? 0 : e0 > len ? len : e0;
    oxrt_known_ints r;
    memset(&r, 0, sizeof r);
    for (int64_t i = s0; i < e0; i++) r.v[r.n] = a->v[i], r.names[r.n++] = a->names[i];
    oxrt_infer_set_known(ctx, 0, &r);
  }
  oxrt_tshape x, out;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0) return NULL;
  if (!st || !en || st->n != en->n || (has_ax && !ax) || (has_sp && !sp) || (ax && st && ax->n != st->n) ||
      (sp && st && sp->n != st->n)) {
    out = x; /* the rank stays; sliced axes (every axis when they are not known) lose their size */
    for (int d = 0; d < x.rank; d++) {
      bool sliced = !ax;
      for (int i = 0; ax && i < ax->n; i++) sliced |= ax->v[i] == d || ax->v[i] + x.rank == d;
      if (sliced) out.dims[d] = -1, out.names[d] = NULL;
    }
    return oxrt_infer_output(ctx, 0, &out);
  }
  out = x;
  for (int i = 0; i < st->n; i++) {
    int64_t axis = ax ? ax->v[i] : i, step = sp ? sp->v[i] : 1;
    if (axis < 0) axis += x.rank;
    if (axis < 0 || axis >= x.rank || step == 0 || st->names[i] || en->names[i]) return NULL;
    int64_t len = x.dims[axis];
    out.names[axis] = NULL;
    if (len < 0) {
      out.dims[axis] = -1;
      continue;
    }
    int64_t s0 = st->v[i], e0 = en->v[i];
    if (s0 < 0) s0 += len;
    if (e0 < 0) e0 += len;
    if (step > 0) {
      s0 = s0 < 0 ? 0 : s0 > len ? len : s0;
      e0 = e0 < 0 ? 0 : e0 > len ? len : e0;
      out.dims[axis] = e0 > s0 ? (e0 - s0 + step - 1) / step : 0;
    } else {
      s0 = s0 < 0 ? -1 : s0 > len - 1 ? len - 1 : s0;
      e0 = e0 < -1 ? -1 : e0 > len - 1 ? len - 1 : e0;
      out.dims[axis] = s0 > e0 ? (s0 - e0 - step - 1) / -step : 0;
    }
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Slice) = {"", "Slice", OXRT_IMPLS(slice_impls), .infer = infer_slice, .flags = OXRT_OP_SAME_ELEM_TYPE};
