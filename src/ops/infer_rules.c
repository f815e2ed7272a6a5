/* infer_rules.c - shape/type rules shared by operator families (see infer_rules.h). */
#include "infer_rules.h"
#include <stdio.h>
#include <string.h>

void oxrt_tshape_clear(oxrt_tshape *s) {
  memset(s, 0, sizeof *s);
  s->rank = -1;
}

const char *oxrt_tshape_text(const oxrt_tshape *s, char *buf, size_t cap) {
  if (s->rank < 0) return snprintf(buf, cap, "[?]"), buf;
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

bool oxrt_tshape_broadcast(oxrt_tshape *out, const oxrt_tshape *in, int n) {
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

bool oxrt_tshape_union(const oxrt_tshape *a, const oxrt_tshape *b, oxrt_tshape *out) {
  oxrt_tshape_clear(out);
  if (a->elem == OXRT_UNDEFINED || a->elem != b->elem) return false;
  out->elem = a->elem;
  if (a->rank < 0 || a->rank != b->rank) return true;
  out->rank = a->rank;
  for (int i = 0; i < a->rank; i++) {
    bool same_name = a->names[i] && b->names[i] && strcmp(a->names[i], b->names[i]) == 0;
    out->dims[i] = a->dims[i] >= 0 && a->dims[i] == b->dims[i] ? a->dims[i] : -1;
    out->names[i] = out->dims[i] < 0 && same_name ? a->names[i] : NULL;
  }
  return true;
}

int64_t oxrt_window_out(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pb, int64_t pe,
                        const char *auto_pad, bool ceil_mode) {
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

bool oxrt_infer_axes(const oxrt_infer_ctx *ctx, const char *attr, int input, int64_t *axes, int *n) {
  size_t na;
  const int64_t *at = oxrt_attr_ints(ctx->node, attr, &na);
  if (at) {
    if (na > OXRT_MAX_RANK) return false;
    for (size_t i = 0; i < na; i++) axes[i] = at[i];
    *n = (int)na;
    return true;
  }
  if (input < ctx->node->n_inputs && ctx->node->inputs[input] >= 0) {
    const oxrt_known_ints *k = oxrt_infer_known(ctx, input);
    if (!k) return false;
    for (int i = 0; i < k->n; i++) axes[i] = k->v[i];
    *n = k->n;
    return true;
  }
  *n = 0;
  return true;
}

bool oxrt_known_from_shape(const oxrt_tshape *s, int64_t st, int64_t en, oxrt_known_ints *k) {
  memset(k, 0, sizeof *k);
  if (s->rank < 0) return false;
  if (st < 0) st += s->rank;
  if (en < 0) en += s->rank;
  st = st < 0 ? 0 : st > s->rank ? s->rank : st;
  en = en < 0 ? 0 : en > s->rank ? s->rank : en;
  for (int64_t i = st; i < en; i++) k->v[k->n] = s->dims[i], k->names[k->n++] = s->names[i];
  return true;
}

oxrt_status *oxrt_infer_same(oxrt_infer_ctx *ctx) {
  oxrt_tshape x;
  if (!oxrt_infer_input(ctx, 0, &x)) return NULL;
  return oxrt_infer_output(ctx, 0, &x);
}

bool oxrt_infer_matmul_shape(oxrt_infer_ctx *ctx, int ia, int ib, oxrt_elem_type elem, oxrt_status **st) {
  oxrt_tshape x, y, A, B, out;
  *st = NULL;
  if (!oxrt_infer_input(ctx, ia, &x) || !oxrt_infer_input(ctx, ib, &y) || x.rank < 1 || y.rank < 1) return false;
  A = x, B = y;
  if (A.rank == 1) A.dims[1] = A.dims[0], A.names[1] = A.names[0], A.dims[0] = 1, A.names[0] = NULL, A.rank = 2;
  bool bvec = B.rank == 1;
  if (bvec) B.dims[1] = 1, B.names[1] = NULL, B.rank = 2;
  int64_t ka = A.dims[A.rank - 1], kb = B.dims[B.rank - 2];
  char a[256], b[256];
  if (ka >= 0 && kb >= 0 && ka != kb) {
    *st = oxrt_error(OXRT_ERR_INVALID_MODEL, "inner dimensions differ: input %d %s, input %d %s (%lld vs %lld)", ia,
                     oxrt_tshape_text(&x, a, sizeof a), ib, oxrt_tshape_text(&y, b, sizeof b), (long long)ka,
                     (long long)kb);
    return true;
  }
  oxrt_tshape batch[2] = {A, B};
  batch[0].rank -= 2, batch[1].rank -= 2;
  if (!oxrt_tshape_broadcast(&out, batch, 2)) {
    *st = oxrt_error(OXRT_ERR_INVALID_MODEL, "batch dimensions of %s and %s cannot be broadcast",
                     oxrt_tshape_text(&x, a, sizeof a), oxrt_tshape_text(&y, b, sizeof b));
    return true;
  }
  if (x.rank > 1) out.dims[out.rank] = A.dims[A.rank - 2], out.names[out.rank++] = A.names[A.rank - 2];
  if (!bvec) out.dims[out.rank] = B.dims[B.rank - 1], out.names[out.rank++] = B.names[B.rank - 1];
  out.elem = elem == OXRT_UNDEFINED ? x.elem : elem;
  *st = oxrt_infer_output(ctx, 0, &out);
  return true;
}

oxrt_status *oxrt_infer_same_content(oxrt_infer_ctx *ctx) {
  const oxrt_known_ints *k = oxrt_infer_known(ctx, 0);
  if (k) oxrt_infer_set_known(ctx, 0, k);
  return oxrt_infer_same(ctx);
}

/* Broadcast of every input; element type from input `elem_from`, or `fixed` when it is not UNDEFINED. */
static oxrt_status *broadcast_rule(oxrt_infer_ctx *ctx, int elem_from, oxrt_elem_type fixed, oxrt_tshape *out) {
  const oxrt_node *n = ctx->node;
  oxrt_tshape in[OXRT_MAX_RANK];
  int k = n->n_inputs;
  oxrt_tshape_clear(out);
  if (k < 1 || k > OXRT_MAX_RANK) return NULL;
  for (int i = 0; i < k; i++)
    if (!oxrt_infer_input(ctx, i, &in[i])) return NULL;
  if (!oxrt_tshape_broadcast(out, in, k)) {
    char a[256], b[256];
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "input shapes %s and %s cannot be broadcast together",
                      oxrt_tshape_text(&in[0], a, sizeof a), oxrt_tshape_text(&in[k > 1 ? 1 : 0], b, sizeof b));
  }
  out->elem = fixed != OXRT_UNDEFINED ? fixed : in[elem_from].elem;
  return oxrt_infer_output(ctx, 0, out);
}

oxrt_status *oxrt_infer_broadcast(oxrt_infer_ctx *ctx) {
  /* opset < 7 broadcasting (`broadcast`/`axis` attributes) keeps the shape of input 0 */
  if (oxrt_node_attr(ctx->node, "broadcast")) return oxrt_infer_same(ctx);
  oxrt_tshape out;
  return broadcast_rule(ctx, 0, OXRT_UNDEFINED, &out);
}

oxrt_status *oxrt_infer_compare(oxrt_infer_ctx *ctx) {
  if (oxrt_node_attr(ctx->node, "broadcast")) return NULL; /* legacy broadcasting: shaped by the kernel */
  oxrt_tshape out;
  return broadcast_rule(ctx, 0, OXRT_BOOL, &out);
}

/* Broadcast, then the int64 arithmetic on known contents; `op` is one of + - * /. */
static oxrt_status *arith(oxrt_infer_ctx *ctx, char op) {
  OXRT_TRY(oxrt_infer_broadcast(ctx));
  const oxrt_known_ints *a = oxrt_infer_known(ctx, 0), *b = oxrt_infer_known(ctx, 1);
  if (!a || !b || (a->n != b->n && a->n != 1 && b->n != 1)) return NULL;
  oxrt_known_ints r;
  memset(&r, 0, sizeof r);
  r.n = a->n > b->n ? a->n : b->n;
  r.scalar = a->scalar && b->scalar;
  for (int i = 0; i < r.n; i++) {
    int64_t x = a->v[a->n == 1 ? 0 : i], y = b->v[b->n == 1 ? 0 : i], z = -1;
    bool ovf = false;
    if (x < 0 || y < 0) z = -1; /* a symbolic size: its result has no name */
    else if (op == '+') ovf = __builtin_add_overflow(x, y, &z);
    else if (op == '-') z = x - y;
    else if (op == '*') ovf = __builtin_mul_overflow(x, y, &z);
    else z = y ? x / y : -1;
    r.v[i] = ovf ? -1 : z;
  }
  oxrt_infer_set_known(ctx, 0, &r);
  return NULL;
}

oxrt_status *oxrt_infer_add(oxrt_infer_ctx *ctx) { return arith(ctx, '+'); }
oxrt_status *oxrt_infer_sub(oxrt_infer_ctx *ctx) { return arith(ctx, '-'); }
oxrt_status *oxrt_infer_mul(oxrt_infer_ctx *ctx) { return arith(ctx, '*'); }
oxrt_status *oxrt_infer_div(oxrt_infer_ctx *ctx) { return arith(ctx, '/'); }

/* Conv (W given) and pooling (W NULL) windows. */
static oxrt_status *window_rule(oxrt_infer_ctx *ctx, const oxrt_tshape *x, const oxrt_tshape *w) {
  const oxrt_node *n = ctx->node;
  int sp = x->rank - 2;
  size_t nk, ns, nd, np;
  const int64_t *ks = oxrt_attr_ints(n, "kernel_shape", &nk), *st = oxrt_attr_ints(n, "strides", &ns);
  const int64_t *dl = oxrt_attr_ints(n, "dilations", &nd), *pd = oxrt_attr_ints(n, "pads", &np);
  const char *auto_pad = oxrt_attr_string(n, "auto_pad", "NOTSET");
  bool ceil_mode = oxrt_attr_int(n, "ceil_mode", 0) != 0;
  oxrt_tshape out = *x;
  if (w) out.dims[1] = w->dims[0], out.names[1] = NULL;
  for (int i = 0; i < sp; i++) {
    int64_t kk = ks && (int)nk == sp ? ks[i] : w ? w->dims[2 + i] : -1;
    out.dims[2 + i] = oxrt_window_out(x->dims[2 + i], kk, st && (int)ns == sp ? st[i] : 1,
                                      dl && (int)nd == sp ? dl[i] : 1, pd && (int)np == 2 * sp ? pd[i] : 0,
                                      pd && (int)np == 2 * sp ? pd[sp + i] : 0, auto_pad, ceil_mode);
    out.names[2 + i] = NULL;
  }
  return oxrt_infer_output(ctx, 0, &out);
}

oxrt_status *oxrt_infer_conv(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, w;
  if (!oxrt_infer_input(ctx, 0, &x) || !oxrt_infer_input(ctx, 1, &w) || x.rank < 3 || w.rank != x.rank) return NULL;
  int64_t group = oxrt_attr_int(ctx->node, "group", 1);
  int64_t want;
  /* a hostile group or weight shape must not overflow the product (UB): an overflow is a mismatch too */
  if (x.dims[1] >= 0 && w.dims[1] >= 0 && (__builtin_mul_overflow(w.dims[1], group, &want) || x.dims[1] != want)) {
    char b[256];
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "input channels %lld do not match weight %s with group %lld",
                      (long long)x.dims[1], oxrt_tshape_text(&w, b, sizeof b), (long long)group);
  }
  return window_rule(ctx, &x, &w);
}

oxrt_status *oxrt_infer_pool(oxrt_infer_ctx *ctx) {
  oxrt_tshape x;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 3) return NULL;
  return window_rule(ctx, &x, NULL);
}

oxrt_status *oxrt_infer_global_pool(oxrt_infer_ctx *ctx) {
  oxrt_tshape x;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 3) return NULL;
  for (int i = 2; i < x.rank; i++) x.dims[i] = 1, x.names[i] = NULL;
  return oxrt_infer_output(ctx, 0, &x);
}

static bool has_axis(const int64_t *axes, int n, int64_t d, int rank) {
  for (int i = 0; i < n; i++)
    if (axes[i] == d || axes[i] == (int64_t)d - rank) return true; /* no axes[i] + rank: a hostile axis overflows */
  return false;
}

static oxrt_status *reduce_rule(oxrt_infer_ctx *ctx, bool arg) {
  const oxrt_node *n = ctx->node;
  oxrt_tshape x, out;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0) return NULL;
  int64_t axes[OXRT_MAX_RANK];
  int na = 0;
  if (arg) axes[0] = oxrt_attr_int(n, "axis", 0), na = 1;
  else if (!oxrt_infer_axes(ctx, "axes", 1, axes, &na)) return NULL;
  bool keep = oxrt_attr_int(n, "keepdims", 1) != 0;
  if (na == 0 && oxrt_attr_int(n, "noop_with_empty_axes", 0)) return oxrt_infer_output(ctx, 0, &x);
  oxrt_tshape_clear(&out);
  out.elem = arg ? OXRT_INT64 : x.elem, out.rank = 0;
  for (int d = 0; d < x.rank; d++) {
    bool red = na == 0 || has_axis(axes, na, d, x.rank);
    if (!red) out.dims[out.rank] = x.dims[d], out.names[out.rank++] = x.names[d];
    else if (keep) out.dims[out.rank] = 1, out.names[out.rank++] = NULL;
  }
  return oxrt_infer_output(ctx, 0, &out);
}

oxrt_status *oxrt_infer_reduce(oxrt_infer_ctx *ctx) { return reduce_rule(ctx, false); }
oxrt_status *oxrt_infer_arg_reduce(oxrt_infer_ctx *ctx) { return reduce_rule(ctx, true); }

oxrt_status *oxrt_infer_rnn(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  oxrt_tshape x, y, h;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank != 3) return NULL;
  int64_t hidden = oxrt_attr_int(n, "hidden_size", -1);
  int64_t dirs = strcmp(oxrt_attr_string(n, "direction", "forward"), "bidirectional") == 0 ? 2 : 1;
  bool batch_first = oxrt_attr_int(n, "layout", 0) != 0;
  int64_t seq = x.dims[batch_first ? 1 : 0], batch = x.dims[batch_first ? 0 : 1];
  const char *seq_name = x.names[batch_first ? 1 : 0], *batch_name = x.names[batch_first ? 0 : 1];
  if (hidden < 0) return NULL;
  y = x, y.rank = 4;
  int64_t yd[4] = {seq, dirs, batch, hidden}, yb[4] = {batch, seq, dirs, hidden};
  const char *yn[4] = {seq_name, NULL, batch_name, NULL}, *ybn[4] = {batch_name, seq_name, NULL, NULL};
  for (int i = 0; i < 4; i++) y.dims[i] = batch_first ? yb[i] : yd[i], y.names[i] = batch_first ? ybn[i] : yn[i];
  h = x, h.rank = 3;
  h.dims[batch_first ? 0 : 1] = batch, h.names[batch_first ? 0 : 1] = batch_name;
  h.dims[batch_first ? 1 : 0] = dirs, h.names[batch_first ? 1 : 0] = NULL;
  h.dims[2] = hidden, h.names[2] = NULL;
  OXRT_TRY(oxrt_infer_output(ctx, 0, &y));
  for (int i = 1; i < n->n_outputs; i++) OXRT_TRY(oxrt_infer_output(ctx, i, &h));
  return NULL;
}
