/* Pad.c - Pad: constant / reflect / edge (all opsets) and wrap (19+). Pads come from an attribute
 * (`paddings` in opset 1, `pads` in 2) or an input (11+), optionally restricted to `axes` (18+).
 * Negative pads crop. */
#include "layout_util.h"
#include "../infer_rules.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

typedef struct pad_job {
  oxrt_elem_type t;
  size_t es;
  char *dst;
  const char *src;
  int rank;
  int64_t dims[OXRT_MAX_RANK], xs[OXRT_MAX_RANK];
  int64_t *map[OXRT_MAX_RANK]; /* per axis: source index of every output index */
  atomic_int failed;
} pad_job;

/* Non-constant modes: every output row (index over all axes but the last) reads a source row through the
 * per-axis index maps. */
static void pad_rows(void *arg, size_t begin, size_t end) {
  pad_job *j = arg;
  int r = j->rank;
  int64_t n = j->dims[r - 1];
  const int64_t *last = j->map[r - 1];
  for (size_t row = begin; row < end; row++) {
    size_t rem = row;
    int64_t so = 0;
    for (int d = r - 2; d >= 0; d--) {
      int64_t i = (int64_t)(rem % (size_t)j->dims[d]);
      rem /= (size_t)j->dims[d];
      so += j->map[d][i] * j->xs[d];
    }
    int64_t doff = (int64_t)row * n;
    if (j->t == OXRT_STRING) {
      for (int64_t i = 0; i < n; i++)
        if (!oxrt_lay_copy(j->t, j->dst, (size_t)(doff + i), j->src, (size_t)(so + last[i]), 1)) {
          atomic_store(&j->failed, 1);
          return;
        }
      continue;
    }
#define PAD_AS(T)                                                                                                      \
  {                                                                                                                    \
    T *d_ = (T *)j->dst + doff;                                                                                        \
    const T *s_ = (const T *)j->src + so;                                                                              \
    for (int64_t i = 0; i < n; i++) d_[i] = s_[last[i]];                                                               \
  }                                                                                                                    \
  break;
    switch (j->es) {
    case 1: PAD_AS(uint8_t)
    case 2: PAD_AS(uint16_t)
    case 4: PAD_AS(uint32_t)
    case 8: PAD_AS(uint64_t)
    default:
      for (int64_t i = 0; i < n; i++)
        memcpy(j->dst + (doff + i) * (int64_t)j->es, j->src + (so + last[i]) * (int64_t)j->es, j->es);
    }
#undef PAD_AS
  }
}

static int64_t pad_index(int mode, int64_t i, int64_t n) {
  switch (mode) {
  case PAD_EDGE: return i < 0 ? 0 : (i >= n ? n - 1 : i);
  case PAD_WRAP: return ((i % n) + n) % n;
  default: { /* reflect without repeating the edge: period 2(n-1) */
    if (n == 1) return 0;
    int64_t p = 2 * (n - 1);
    i = ((i % p) + p) % p;
    return i >= n ? p - i : i;
  }
  }
}

/* pads: 2*rank entries [begin..., end...] over all axes. `value` is one element of x's type (constant mode). */
static oxrt_status *pad_common(oxrt_kernel_ctx *ctx, const oxrt_value *x, const int64_t *pads, int mode,
                               const void *value) {
  int r = x->rank;
  int64_t dims[OXRT_MAX_RANK];
  for (int d = 0; d < r; d++) {
    const int64_t lim = (int64_t)1 << 40; /* keeps the sums below from overflowing */
    if (pads[d] > lim || pads[d] < -lim || pads[r + d] > lim || pads[r + d] < -lim)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %d: pads %lld and %lld are out of range", d, (long long)pads[d],
                        (long long)pads[r + d]);
    dims[d] = x->dims[d] + pads[d] + pads[r + d];
    if (dims[d] < 0)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %d: pads %lld and %lld leave a negative size", d,
                        (long long)pads[d], (long long)pads[r + d]);
    if (mode != PAD_CONSTANT && x->dims[d] == 0 && dims[d] > 0)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %d is empty and cannot be padded in this mode", d);
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, dims, &y));
  if (y->count == 0) return NULL;
  if (mode == PAD_CONSTANT || r == 0) {
    if (r > 0 && !oxrt_lay_fill(x->dtype, y->data, 0, value, y->count)) return OXRT_OOM();
    /* the surviving block of x lands at max(begin, 0) */
    int64_t ys[OXRT_MAX_RANK], xs[OXRT_MAX_RANK], cd[OXRT_MAX_RANK], ybase = 0, xbase = 0;
    oxrt_lay_strides(r, dims, ys);
    oxrt_lay_strides(r, x->dims, xs);
    for (int d = 0; d < r; d++) {
      int64_t b = pads[d], e = pads[r + d];
      int64_t skip = b < 0 ? -b : 0, cut = e < 0 ? -e : 0;
      cd[d] = x->dims[d] - skip - cut;
      if (cd[d] <= 0) return NULL;
      xbase += skip * xs[d];
      ybase += (b > 0 ? b : 0) * ys[d];
    }
    return oxrt_lay_gather2(ctx, x->dtype, y->data, ybase, ys, x->data, xbase, r, cd, xs);
  }
  pad_job *j = calloc(1, sizeof *j);
  if (!j) return OXRT_OOM();
  j->t = x->dtype;
  j->es = oxrt_elem_type_size(x->dtype);
  j->dst = y->data;
  j->src = x->data;
  j->rank = r;
  atomic_init(&j->failed, 0);
  oxrt_lay_strides(r, x->dims, j->xs);
  oxrt_status *st = NULL;
  for (int d = 0; d < r && !st; d++) {
    j->dims[d] = dims[d];
    j->map[d] = malloc(sizeof(int64_t) * (size_t)dims[d]);
    if (!j->map[d]) st = OXRT_OOM();
    for (int64_t i = 0; !st && i < dims[d]; i++) j->map[d][i] = pad_index(mode, i - pads[d], x->dims[d]);
  }
  if (!st) {
    size_t rows = y->count / (size_t)dims[r - 1];
    size_t grain = (size_t)dims[r - 1] >= 65536 ? 1 : 65536 / (size_t)dims[r - 1];
    if (x->dtype == OXRT_STRING) pad_rows(j, 0, rows);
    else oxrt_parallel(ctx, rows, grain, pad_rows, j);
    if (atomic_load(&j->failed)) st = OXRT_OOM();
  }
  for (int d = 0; d < r; d++) free(j->map[d]);
  free(j);
  return st;
}

static oxrt_status *parse_mode(const oxrt_node *node, int opset, int *mode) {
  const char *m = oxrt_attr_string(node, "mode", "constant");
  if (!strcmp(m, "constant")) *mode = PAD_CONSTANT;
  else if (!strcmp(m, "reflect")) *mode = PAD_REFLECT;
  else if (!strcmp(m, "edge")) *mode = PAD_EDGE;
  else if (!strcmp(m, "wrap") && opset >= 19) *mode = PAD_WRAP;
  else return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unknown mode '%s'", m);
  return NULL;
}

/* Stores the constant `v` as one element of type t into buf (at least 16 bytes). */
static void store_value(oxrt_elem_type t, double v, void *buf) {
  memset(buf, 0, 16);
  oxrt_store_f64(t, buf, 0, v);
}

static oxrt_status *pad_attr_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  int mode;
  OXRT_TRY(parse_mode(ctx->node, ctx->opset, &mode));
  size_t n;
  const char *name = ctx->opset < 2 ? "paddings" : "pads";
  const int64_t *pads = oxrt_attr_ints(ctx->node, name, &n);
  if (!pads) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute '%s' is required", name);
  if (n != 2 * (size_t)x->rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%s has %zu entries, expected %d for rank %d", name, n, 2 * x->rank, x->rank);
  if (ctx->opset < 2)
    for (size_t i = 0; i < n; i++)
      if (pads[i] < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "paddings must not be negative in opset 1");
  uint8_t val[16];
  store_value(x->dtype, oxrt_attr_float(ctx->node, "value", 0.0f), val);
  return pad_common(ctx, x, pads, mode, val);
}

static oxrt_status *pad11_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  int mode;
  OXRT_TRY(parse_mode(ctx->node, ctx->opset, &mode));
  int r = x->rank;
  int64_t *raw, *axes = NULL, pads[2 * OXRT_MAX_RANK] = {0};
  size_t n, na = 0;
  OXRT_TRY(oxrt_read_int_list(oxrt_input(ctx, 1), 1, &raw, &n));
  oxrt_status *st = NULL;
  const oxrt_value *ax = ctx->opset >= 18 ? oxrt_input(ctx, 3) : NULL;
  if (ax) st = oxrt_read_int_list(ax, 3, &axes, &na);
  if (!st) {
    if (!axes) na = (size_t)r;
    if (n != 2 * na)
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "pads has %zu entries, expected %zu (2 per axis)", n, 2 * na);
  }
  bool seen[OXRT_MAX_RANK] = {false};
  for (size_t i = 0; !st && i < na; i++) {
    int64_t a = (int64_t)i;
    if (axes) st = oxrt_norm_axis(axes[i], r, false, &a);
    if (!st && seen[a]) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axes repeats axis %lld", (long long)axes[i]);
    if (st) break;
    seen[a] = true;
    pads[a] = raw[i];
    pads[r + a] = raw[na + i];
  }
  free(raw);
  free(axes);
  if (st) return st;
  /* constant_value: optional scalar of x's type; empty string / 0 / false when absent */
  uint8_t val[16] = {0};
  const char *empty = "";
  const void *vp = val;
  const oxrt_value *cv = oxrt_input(ctx, 2);
  if (x->dtype == OXRT_STRING) vp = &empty;
  if (cv && cv->count > 0) {
    if (cv->kind != OXRT_KIND_TENSOR || cv->dtype != x->dtype)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "constant_value must be a %s tensor", oxrt_elem_type_name(x->dtype));
    if (x->dtype == OXRT_STRING) vp = cv->data;
    else memcpy(val, cv->data, oxrt_elem_type_size(x->dtype));
  }
  return pad_common(ctx, x, pads, mode, vp);
}

static const oxrt_op_impl pad_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = pad_attr_run},
    {.since_version = 11, .run = pad11_run},
};
/* Each dimension grows by its begin and end pads (attribute before opset 11, input 1 after; `axes` input 3). */
static oxrt_status *infer_pad(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, out;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0) return NULL;
  int64_t pads[2 * OXRT_MAX_RANK], axes[OXRT_MAX_RANK];
  int np = 0, na = x.rank;
  if (ctx->opset < 11) {
    size_t n;
    const int64_t *p = oxrt_attr_ints(ctx->node, "pads", &n);
    if (!p || n > 2 * OXRT_MAX_RANK) return NULL;
    for (size_t i = 0; i < n; i++) pads[i] = p[i];
    np = (int)n;
  } else {
    const oxrt_known_ints *k = oxrt_infer_known(ctx, 1);
    if (!k) return NULL;
    for (int i = 0; i < k->n; i++) pads[i] = k->v[i];
    np = k->n;
    if (ctx->node->n_inputs > 3 && ctx->node->inputs[3] >= 0) {
      const oxrt_known_ints *a = oxrt_infer_known(ctx, 3);
      if (!a) return NULL;
      for (int i = 0; i < a->n; i++) axes[i] = a->v[i];
      na = a->n;
    } else {
      for (int i = 0; i < x.rank; i++) axes[i] = i;
    }
  }
  if (ctx->opset < 11)
    for (int i = 0; i < x.rank; i++) axes[i] = i;
  if (np != 2 * na) return NULL;
  out = x;
  for (int i = 0; i < na; i++) {
    int64_t d = axes[i] < 0 ? axes[i] + x.rank : axes[i];
    if (d < 0 || d >= x.rank) return NULL;
    if (pads[i] == 0 && pads[na + i] == 0) continue;
    out.names[d] = NULL;
    int64_t v;
    out.dims[d] = x.dims[d] < 0 || __builtin_add_overflow(x.dims[d], pads[i], &v) ||
                          __builtin_add_overflow(v, pads[na + i], &v) || v < 0 ? -1 : v;
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Pad) = {"", "Pad", OXRT_IMPLS(pad_impls), .infer = infer_pad};
