/* Gradient.c - ai.onnx.preview.training Gradient: reverse-mode derivative of a forward subgraph.
 *
 * The node names the independent variables (`xs`, differentiated; `zs`, held constant) and the
 * differentiated tensor `y` of its own graph. At run time the nodes between them are found in the
 * graph, re-evaluated with the Gradient node's inputs bound to xs and zs (their own kernels run
 * them, so any operator works in the forward pass), then the derivative of sum(y) is propagated
 * back in double precision through the differentiable operators listed in `backward`. */
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gstate {
  const oxrt_graph *g;
  oxrt_kernel_ctx *ctx;
  oxrt_value **vals; /* forward values by graph value id (borrowed or owned) */
  bool *owned;
  double **grad; /* accumulated d(sum y)/d(value), shaped as vals[id]; NULL while zero */
  bool *active;  /* value depends on an x (derivative may be non-zero) */
} gstate;

/* ------------------------------------------------------------ helpers */
static int find_value(const oxrt_graph *g, const char *name) {
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i].name && strcmp(g->values[i].name, name) == 0) return i;
  return -1;
}

static bool is_float_type(oxrt_elem_type t) {
  return t == OXRT_FLOAT || t == OXRT_DOUBLE || t == OXRT_FLOAT16 || t == OXRT_BFLOAT16;
}

/* Element strides of shape (vr, vd) broadcast to (rank, dims): 0 along broadcast axes. */
static void bstrides(int vr, const int64_t *vd, int rank, const int64_t *dims, int64_t *st) {
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    int k = d - (rank - vr);
    if (k < 0) {
      st[d] = 0;
      continue;
    }
    st[d] = vd[k] == 1 && dims[d] != 1 ? 0 : s;
    s *= vd[k];
  }
}

/* True when shape (vr, vd) broadcasts to (rank, dims). */
static bool broadcastable(int vr, const int64_t *vd, int rank, const int64_t *dims) {
  if (vr > rank) return false;
  for (int k = 0; k < vr; k++) {
    int64_t a = vd[k], b = dims[rank - vr + k];
    if (a != b && a != 1) return false;
  }
  return true;
}

/* Walks (rank, dims) in row-major order; off[i] follows strides st. */
#define ODOMETER_NEXT(rank, dims, idx, off, st)                                                                        \
  for (int d_ = (rank)-1; d_ >= 0; d_--) {                                                                             \
    (idx)[d_]++;                                                                                                       \
    (off) += (st)[d_];                                                                                                 \
    if ((idx)[d_] < (dims)[d_]) break;                                                                                 \
    (off) -= (st)[d_] * (dims)[d_];                                                                                    \
    (idx)[d_] = 0;                                                                                                     \
  }

static size_t dims_count(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
  return n;
}

/* Tensor data as a malloc'd double array. */
static oxrt_status *load_f64(const oxrt_value *v, double **out) {
  *out = malloc((v->count ? v->count : 1) * sizeof(double));
  if (!*out) return OXRT_OOM();
  for (size_t i = 0; i < v->count; i++) (*out)[i] = oxrt_load_f64(v->dtype, v->data, i);
  return NULL;
}

/* v's elements broadcast to (rank, dims), as doubles. */
static oxrt_status *expand_f64(const oxrt_value *v, int rank, const int64_t *dims, double **out) {
  if (!broadcastable(v->rank, v->dims, rank, dims)) return oxrt_error(OXRT_ERR_RUNTIME, "gradient shape mismatch");
  size_t n = dims_count(rank, dims);
  double *r = malloc((n ? n : 1) * sizeof(double));
  if (!r) return OXRT_OOM();
  int64_t st[OXRT_MAX_RANK], idx[OXRT_MAX_RANK] = {0};
  bstrides(v->rank, v->dims, rank, dims, st);
  int64_t off = 0;
  for (size_t i = 0; i < n; i++) {
    r[i] = oxrt_load_f64(v->dtype, v->data, (size_t)off);
    ODOMETER_NEXT(rank, dims, idx, off, st);
  }
  *out = r;
  return NULL;
}

/* Adds `src` (shaped (rank, dims), `scale` times) into the gradient of value `id`, summing over the
 * axes along which that value was broadcast. */
static oxrt_status *accum(gstate *s, int id, const double *src, double scale, int rank, const int64_t *dims) {
  if (id < 0 || !s->active[id]) return NULL;
  const oxrt_value *v = s->vals[id];
  if (!v || v->kind != OXRT_KIND_TENSOR) return NULL;
  if (!s->grad[id]) {
    s->grad[id] = calloc(v->count ? v->count : 1, sizeof(double));
    if (!s->grad[id]) return OXRT_OOM();
  }
  double *g = s->grad[id];
  size_t n = dims_count(rank, dims);
  if (v->rank == rank && dims_count(v->rank, v->dims) == n && memcmp(v->dims, dims, sizeof(int64_t) * rank) == 0) {
    for (size_t i = 0; i < n; i++) g[i] += scale * src[i];
    return NULL;
  }
  if (!broadcastable(v->rank, v->dims, rank, dims)) return oxrt_error(OXRT_ERR_RUNTIME, "gradient shape mismatch");
  int64_t st[OXRT_MAX_RANK], idx[OXRT_MAX_RANK] = {0};
  bstrides(v->rank, v->dims, rank, dims, st);
  int64_t off = 0;
  for (size_t i = 0; i < n; i++) {
    g[off] += scale * src[i];
    ODOMETER_NEXT(rank, dims, idx, off, st);
  }
  return NULL;
}

/* Adds a same-count gradient (reshape-like ops) into value `id`. */
static oxrt_status *accum_flat(gstate *s, int id, const double *src, size_t n) {
  if (id < 0 || !s->active[id] || !s->vals[id]) return NULL;
  if (s->vals[id]->count != n) return oxrt_error(OXRT_ERR_RUNTIME, "gradient size mismatch");
  return accum(s, id, src, 1.0, s->vals[id]->rank, s->vals[id]->dims);
}

/* ------------------------------------------------------------ backward rules */
typedef struct bw_args {
  gstate *s;
  const oxrt_node *nd;
  const oxrt_value *const *in; /* forward inputs (NULL when omitted) */
  const oxrt_value *out;       /* forward output 0 */
  const double *gy;            /* gradient of output 0 */
  int opset;                   /* of the forward node */
} bw_args;

static int in_id(const bw_args *a, int i) { return i < a->nd->n_inputs ? a->nd->inputs[i] : -1; }

static bool wants(const bw_args *a, int i) {
  int id = in_id(a, i);
  return id >= 0 && a->s->active[id];
}

/* Unary ops: dx = gy * f'(x, y). */
typedef enum { U_IDENT, U_NEG, U_RELU, U_SIGMOID, U_TANH, U_EXP, U_LOG, U_SQRT, U_ABS, U_RECIP, U_SIN, U_COS,
               U_SOFTPLUS, U_LEAKY, U_ERF } unary_kind;

static oxrt_status *bw_unary(bw_args *a, unary_kind k) {
  if (!wants(a, 0)) return NULL;
  const oxrt_value *x = a->in[0], *y = a->out;
  size_t n = y->count;
  if (x->count != n) return oxrt_error(OXRT_ERR_RUNTIME, "unexpected output size");
  double *d = malloc((n ? n : 1) * sizeof(double));
  if (!d) return OXRT_OOM();
  double alpha = k == U_LEAKY ? oxrt_attr_float(a->nd, "alpha", 0.01f) : 0;
  for (size_t i = 0; i < n; i++) {
    double xv = oxrt_load_f64(x->dtype, x->data, i), yv = oxrt_load_f64(y->dtype, y->data, i), f = 1;
    switch (k) {
    case U_IDENT: f = 1; break;
    case U_NEG: f = -1; break;
    case U_RELU: f = xv > 0; break;
    case U_SIGMOID: f = yv * (1 - yv); break;
    case U_TANH: f = 1 - yv * yv; break;
    case U_EXP: f = yv; break;
    case U_LOG: f = 1 / xv; break;
    case U_SQRT: f = 0.5 / yv; break;
    case U_ABS: f = xv > 0 ? 1 : xv < 0 ? -1 : 0; break;
    case U_RECIP: f = -yv * yv; break;
    case U_SIN: f = cos(xv); break;
    case U_COS: f = -sin(xv); break;
    case U_SOFTPLUS: f = 1 / (1 + exp(-xv)); break;
    case U_LEAKY: f = xv > 0 ? 1 : alpha; break;
    case U_ERF: f = 1.1283791670955126 * exp(-xv * xv); break;
    }
    d[i] = a->gy[i] * f;
  }
  oxrt_status *st = accum(a->s, in_id(a, 0), d, 1.0, x->rank, x->dims);
  free(d);
  return st;
}

typedef enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW } binary_kind;

static oxrt_status *bw_binary(bw_args *a, binary_kind k) {
  const oxrt_value *y = a->out;
  if (k == B_ADD || k == B_SUB) {
    OXRT_TRY(accum(a->s, in_id(a, 0), a->gy, 1.0, y->rank, y->dims));
    return accum(a->s, in_id(a, 1), a->gy, k == B_SUB ? -1.0 : 1.0, y->rank, y->dims);
  }
  size_t n = y->count;
  double *av = NULL, *bv = NULL, *d = malloc((n ? n : 1) * sizeof(double));
  oxrt_status *st = d ? NULL : OXRT_OOM();
  if (!st) st = expand_f64(a->in[0], y->rank, y->dims, &av);
  if (!st) st = expand_f64(a->in[1], y->rank, y->dims, &bv);
  if (!st && wants(a, 0)) {
    for (size_t i = 0; i < n; i++) {
      double g = a->gy[i];
      d[i] = k == B_MUL ? g * bv[i] : k == B_DIV ? g / bv[i] : g * bv[i] * pow(av[i], bv[i] - 1);
    }
    st = accum(a->s, in_id(a, 0), d, 1.0, y->rank, y->dims);
  }
  if (!st && wants(a, 1)) {
    for (size_t i = 0; i < n; i++) {
      double g = a->gy[i];
      d[i] = k == B_MUL ? g * av[i] : k == B_DIV ? -g * av[i] / (bv[i] * bv[i]) : g * log(av[i]) * pow(av[i], bv[i]);
    }
    st = accum(a->s, in_id(a, 1), d, 1.0, y->rank, y->dims);
  }
  free(av);
  free(bv);
  free(d);
  return st;
}

static oxrt_status *bw_sum(bw_args *a, double scale) {
  for (int i = 0; i < a->nd->n_inputs; i++) OXRT_TRY(accum(a->s, in_id(a, i), a->gy, scale, a->out->rank, a->out->dims));
  return NULL;
}

/* Max/Min: the gradient goes to the (first) input that supplied each element. */
static oxrt_status *bw_maxmin(bw_args *a) {
  const oxrt_value *y = a->out;
  size_t n = y->count;
  int m = a->nd->n_inputs;
  double *d = malloc((n ? n : 1) * sizeof(double));
  char *taken = calloc(n ? n : 1, 1);
  oxrt_status *st = d && taken ? NULL : OXRT_OOM();
  for (int i = 0; !st && i < m; i++) {
    double *xv = NULL;
    st = expand_f64(a->in[i], y->rank, y->dims, &xv);
    if (st) break;
    for (size_t e = 0; e < n; e++) {
      bool hit = !taken[e] && xv[e] == oxrt_load_f64(y->dtype, y->data, e);
      if (hit) taken[e] = 1;
      d[e] = hit ? a->gy[e] : 0;
    }
    free(xv);
    st = accum(a->s, in_id(a, i), d, 1.0, y->rank, y->dims);
  }
  free(d);
  free(taken);
  return st;
}

/* MatMul with numpy semantics: 1-D operands promoted, batch dimensions broadcast. */
static oxrt_status *bw_matmul(bw_args *a) {
  const oxrt_value *A = a->in[0], *B = a->in[1];
  if (A->rank < 1 || B->rank < 1) return oxrt_error(OXRT_ERR_RUNTIME, "MatMul operands must have rank >= 1");
  int64_t M = A->rank == 1 ? 1 : A->dims[A->rank - 2], K = A->dims[A->rank - 1];
  int64_t N = B->rank == 1 ? 1 : B->dims[B->rank - 1];
  int ar = A->rank > 2 ? A->rank - 2 : 0, br = B->rank > 2 ? B->rank - 2 : 0;
  int r = ar > br ? ar : br;
  int64_t bd[OXRT_MAX_RANK], sa[OXRT_MAX_RANK], sb[OXRT_MAX_RANK], idx[OXRT_MAX_RANK] = {0};
  for (int d = 0; d < r; d++) {
    int ka = d - (r - ar), kb = d - (r - br);
    int64_t da = ka >= 0 ? A->dims[ka] : 1, db = kb >= 0 ? B->dims[kb] : 1;
    bd[d] = da > db ? da : db;
  }
  int64_t kb = B->rank == 1 ? B->dims[0] : B->dims[B->rank - 2];
  size_t nb = dims_count(r, bd);
  if (kb != K || a->out->count != nb * (size_t)(M * N))
    return oxrt_error(OXRT_ERR_RUNTIME, "MatMul shapes do not match its output");
  bstrides(ar, A->dims, r, bd, sa);
  bstrides(br, B->dims, r, bd, sb);
  double *av = NULL, *bv = NULL, *ga = NULL, *gb = NULL;
  oxrt_status *st = load_f64(A, &av);
  if (!st) st = load_f64(B, &bv);
  bool wa = wants(a, 0), wb = wants(a, 1);
  if (!st && wa && !(ga = calloc(A->count ? A->count : 1, sizeof(double)))) st = OXRT_OOM();
  if (!st && wb && !(gb = calloc(B->count ? B->count : 1, sizeof(double)))) st = OXRT_OOM();
  int64_t oa = 0, ob = 0;
  for (size_t b = 0; !st && b < nb; b++) {
    const double *G = a->gy + b * (size_t)(M * N);
    const double *Ab = av + oa * M * K, *Bb = bv + ob * K * N;
    for (int64_t m = 0; m < M; m++)
      for (int64_t k = 0; k < K; k++) {
        double acc = 0;
        for (int64_t j = 0; j < N; j++) acc += G[m * N + j] * Bb[k * N + j];
        if (wa) ga[oa * M * K + m * K + k] += acc;
        if (wb)
          for (int64_t j = 0; j < N; j++) gb[ob * K * N + k * N + j] += Ab[m * K + k] * G[m * N + j];
      }
    for (int d = r - 1; d >= 0; d--) {
      idx[d]++;
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < bd[d]) break;
      oa -= sa[d] * bd[d];
      ob -= sb[d] * bd[d];
      idx[d] = 0;
    }
  }
  if (!st && wa) st = accum(a->s, in_id(a, 0), ga, 1.0, A->rank, A->dims);
  if (!st && wb) st = accum(a->s, in_id(a, 1), gb, 1.0, B->rank, B->dims);
  free(av);
  free(bv);
  free(ga);
  free(gb);
  return st;
}

/* Gemm: Y = alpha * op(A) op(B) + beta * C. */
static oxrt_status *bw_gemm(bw_args *a) {
  const oxrt_value *A = a->in[0], *B = a->in[1], *C = a->nd->n_inputs > 2 ? a->in[2] : NULL;
  if (A->rank != 2 || B->rank != 2) return oxrt_error(OXRT_ERR_RUNTIME, "Gemm operands must be 2-D");
  bool ta = oxrt_attr_int(a->nd, "transA", 0) != 0, tb = oxrt_attr_int(a->nd, "transB", 0) != 0;
  double alpha = oxrt_attr_float(a->nd, "alpha", 1.0f), beta = oxrt_attr_float(a->nd, "beta", 1.0f);
  int64_t M = ta ? A->dims[1] : A->dims[0], K = ta ? A->dims[0] : A->dims[1], N = tb ? B->dims[0] : B->dims[1];
  if ((tb ? B->dims[1] : B->dims[0]) != K || a->out->count != (size_t)(M * N))
    return oxrt_error(OXRT_ERR_RUNTIME, "Gemm shapes do not match its output");
  double *av = NULL, *bv = NULL, *ga = NULL, *gb = NULL;
  oxrt_status *st = load_f64(A, &av);
  if (!st) st = load_f64(B, &bv);
  if (!st && !(ga = calloc(A->count ? A->count : 1, sizeof(double)))) st = OXRT_OOM();
  if (!st && !(gb = calloc(B->count ? B->count : 1, sizeof(double)))) st = OXRT_OOM();
  if (!st) {
    const double *G = a->gy;
    for (int64_t m = 0; m < M; m++)
      for (int64_t k = 0; k < K; k++) {
        size_t ia = ta ? (size_t)(k * M + m) : (size_t)(m * K + k);
        for (int64_t j = 0; j < N; j++) {
          size_t ib = tb ? (size_t)(j * K + k) : (size_t)(k * N + j);
          ga[ia] += alpha * G[m * N + j] * bv[ib];
          gb[ib] += alpha * av[ia] * G[m * N + j];
        }
      }
    st = accum(a->s, in_id(a, 0), ga, 1.0, A->rank, A->dims);
    if (!st) st = accum(a->s, in_id(a, 1), gb, 1.0, B->rank, B->dims);
    if (!st && C) st = accum(a->s, in_id(a, 2), G, beta, a->out->rank, a->out->dims);
  }
  free(av);
  free(bv);
  free(ga);
  free(gb);
  return st;
}

static oxrt_status *bw_transpose(bw_args *a) {
  const oxrt_value *x = a->in[0], *y = a->out;
  int r = x->rank;
  size_t np = 0;
  const int64_t *perm = oxrt_attr_ints(a->nd, "perm", &np);
  int64_t p[OXRT_MAX_RANK], xs[OXRT_MAX_RANK], st[OXRT_MAX_RANK], idx[OXRT_MAX_RANK] = {0};
  if (y->count != x->count || y->rank != r) return oxrt_error(OXRT_ERR_RUNTIME, "Transpose output does not match input");
  for (int d = 0; d < r; d++) {
    p[d] = perm && (int)np == r ? perm[d] : r - 1 - d;
    if (p[d] < 0 || p[d] >= r) return oxrt_error(OXRT_ERR_INVALID_MODEL, "Transpose perm out of range");
  }
  int64_t s = 1;
  for (int d = r - 1; d >= 0; d--) {
    xs[d] = s;
    s *= x->dims[d];
  }
  for (int d = 0; d < r; d++) st[d] = xs[p[d]];
  double *gx = malloc((x->count ? x->count : 1) * sizeof(double));
  if (!gx) return OXRT_OOM();
  int64_t off = 0;
  for (size_t i = 0; i < y->count; i++) {
    gx[off] = a->gy[i];
    ODOMETER_NEXT(r, y->dims, idx, off, st);
  }
  oxrt_status *e = accum(a->s, in_id(a, 0), gx, 1.0, x->rank, x->dims);
  free(gx);
  return e;
}

/* ReduceSum / ReduceMean: the output gradient broadcast back over the reduced axes. */
static oxrt_status *bw_reduce(bw_args *a, bool mean) {
  const oxrt_value *x = a->in[0];
  int r = x->rank;
  bool red[OXRT_MAX_RANK] = {0};
  int64_t *axes = NULL;
  size_t na = 0;
  const int64_t *aattr = oxrt_attr_ints(a->nd, "axes", &na);
  oxrt_status *st = NULL;
  if (!aattr && a->nd->n_inputs > 1 && a->in[1]) {
    OXRT_TRY(oxrt_read_int_list(a->in[1], 1, &axes, &na));
    aattr = axes;
  }
  if (!aattr || na == 0) {
    if (oxrt_attr_int(a->nd, "noop_with_empty_axes", 0)) {
      free(axes);
      return accum(a->s, in_id(a, 0), a->gy, 1.0, x->rank, x->dims);
    }
    for (int d = 0; d < r; d++) red[d] = true;
  }
  for (size_t i = 0; aattr && i < na; i++) {
    int64_t ax;
    st = oxrt_norm_axis(aattr[i], r, false, &ax);
    if (st) break;
    red[ax] = true;
  }
  free(axes);
  if (st) return st;
  int64_t kd[OXRT_MAX_RANK];
  double cnt = 1;
  for (int d = 0; d < r; d++) {
    kd[d] = red[d] ? 1 : x->dims[d];
    if (red[d]) cnt *= (double)x->dims[d];
  }
  if (dims_count(r, kd) != a->out->count) return oxrt_error(OXRT_ERR_RUNTIME, "reduction output does not match input");
  oxrt_value gyv = {.kind = OXRT_KIND_TENSOR, .dtype = OXRT_DOUBLE, .rank = r, .count = a->out->count,
                    .data = (void *)a->gy};
  memcpy(gyv.dims, kd, sizeof(int64_t) * r);
  double *gx = NULL;
  st = expand_f64(&gyv, r, x->dims, &gx);
  if (!st) st = accum(a->s, in_id(a, 0), gx, mean && cnt > 0 ? 1.0 / cnt : 1.0, x->rank, x->dims);
  free(gx);
  return st;
}

static oxrt_status *bw_softmax(bw_args *a, bool logsm) {
  const oxrt_value *y = a->out;
  int64_t axis;
  /* Before opset 13 (Log)Softmax normalised the flattened trailing block from `axis` (default 1);
   * from 13 it works along one axis (default -1). */
  bool old = a->opset < 13;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(a->nd, "axis", old ? 1 : -1), y->rank, false, &axis));
  size_t outer = 1, n = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= (size_t)y->dims[d];
  if (old)
    for (int d = (int)axis; d < y->rank; d++) n *= (size_t)y->dims[d];
  else {
    n = (size_t)y->dims[axis];
    for (int d = (int)axis + 1; d < y->rank; d++) inner *= (size_t)y->dims[d];
  }
  double *gx = malloc((y->count ? y->count : 1) * sizeof(double));
  if (!gx) return OXRT_OOM();
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      size_t base = o * n * inner + i;
      double dot = 0;
      for (size_t k = 0; k < n; k++) {
        size_t e = base + k * inner;
        double yv = oxrt_load_f64(y->dtype, y->data, e);
        dot += logsm ? a->gy[e] : a->gy[e] * yv;
      }
      for (size_t k = 0; k < n; k++) {
        size_t e = base + k * inner;
        double yv = oxrt_load_f64(y->dtype, y->data, e);
        gx[e] = logsm ? a->gy[e] - exp(yv) * dot : yv * (a->gy[e] - dot);
      }
    }
  oxrt_status *st = accum_flat(a->s, in_id(a, 0), gx, y->count);
  free(gx);
  return st;
}

static oxrt_status *bw_where(bw_args *a) {
  const oxrt_value *c = a->in[0], *y = a->out;
  double *cv = NULL, *d = malloc((y->count ? y->count : 1) * sizeof(double));
  oxrt_status *st = d ? expand_f64(c, y->rank, y->dims, &cv) : OXRT_OOM();
  for (int side = 1; !st && side <= 2; side++) {
    for (size_t i = 0; i < y->count; i++) d[i] = (cv[i] != 0) == (side == 1) ? a->gy[i] : 0;
    st = accum(a->s, in_id(a, side), d, 1.0, y->rank, y->dims);
  }
  free(cv);
  free(d);
  return st;
}

static oxrt_status *bw_expand(bw_args *a) {
  return accum(a->s, in_id(a, 0), a->gy, 1.0, a->out->rank, a->out->dims);
}

static oxrt_status *bw_concat(bw_args *a) {
  const oxrt_value *y = a->out;
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(a->nd, "axis", 0), y->rank, false, &axis));
  size_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= (size_t)y->dims[d];
  for (int d = (int)axis + 1; d < y->rank; d++) inner *= (size_t)y->dims[d];
  size_t ystride = (size_t)y->dims[axis] * inner, start = 0;
  for (int i = 0; i < a->nd->n_inputs; i++) {
    const oxrt_value *x = a->in[i];
    if (!x) continue;
    if (x->rank != y->rank || start + (size_t)x->dims[axis] * inner > ystride)
      return oxrt_error(OXRT_ERR_RUNTIME, "Concat inputs do not match its output");
    size_t w = (size_t)x->dims[axis] * inner;
    if (wants(a, i)) {
      double *gx = malloc((x->count ? x->count : 1) * sizeof(double));
      if (!gx) return OXRT_OOM();
      for (size_t o = 0; o < outer; o++) memcpy(gx + o * w, a->gy + o * ystride + start, w * sizeof(double));
      oxrt_status *st = accum(a->s, in_id(a, i), gx, 1.0, x->rank, x->dims);
      free(gx);
      if (st) return st;
    }
    start += w;
  }
  return NULL;
}

static oxrt_status *backward(gstate *s, const oxrt_node *nd, int opset, const oxrt_value *const *in,
                             const oxrt_value *out, const double *gy) {
  bw_args a = {s, nd, in, out, gy, opset};
  const char *op = nd->op_type;
  if (*nd->domain) goto unsupported;
  static const struct {
    const char *name;
    unary_kind k;
  } unary[] = {{"Identity", U_IDENT},   {"Neg", U_NEG},       {"Relu", U_RELU},          {"Sigmoid", U_SIGMOID},
               {"Tanh", U_TANH},        {"Exp", U_EXP},       {"Log", U_LOG},            {"Sqrt", U_SQRT},
               {"Abs", U_ABS},          {"Reciprocal", U_RECIP}, {"Sin", U_SIN},         {"Cos", U_COS},
               {"Softplus", U_SOFTPLUS}, {"LeakyRelu", U_LEAKY}, {"Erf", U_ERF}};
  for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
    if (strcmp(op, unary[i].name) == 0) return bw_unary(&a, unary[i].k);
  static const struct {
    const char *name;
    binary_kind k;
  } binary[] = {{"Add", B_ADD}, {"Sub", B_SUB}, {"Mul", B_MUL}, {"Div", B_DIV}, {"Pow", B_POW}};
  for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++)
    if (strcmp(op, binary[i].name) == 0) return bw_binary(&a, binary[i].k);
  /* Piecewise-constant: derivative 0 almost everywhere. */
  if (strcmp(op, "Floor") == 0 || strcmp(op, "Ceil") == 0 || strcmp(op, "Round") == 0 || strcmp(op, "Sign") == 0)
    return NULL;
  if (strcmp(op, "Sum") == 0) return bw_sum(&a, 1.0);
  if (strcmp(op, "Mean") == 0) return bw_sum(&a, 1.0 / nd->n_inputs);
  if (strcmp(op, "Max") == 0 || strcmp(op, "Min") == 0) return bw_maxmin(&a);
  if (strcmp(op, "MatMul") == 0) return bw_matmul(&a);
  if (strcmp(op, "Gemm") == 0) return bw_gemm(&a);
  if (strcmp(op, "Transpose") == 0) return bw_transpose(&a);
  if (strcmp(op, "ReduceSum") == 0) return bw_reduce(&a, false);
  if (strcmp(op, "ReduceMean") == 0) return bw_reduce(&a, true);
  if (strcmp(op, "Where") == 0) return bw_where(&a);
  if (strcmp(op, "Expand") == 0) return bw_expand(&a);
  if (strcmp(op, "Concat") == 0) return bw_concat(&a);
  if (strcmp(op, "Softmax") == 0) return bw_softmax(&a, false);
  if (strcmp(op, "LogSoftmax") == 0) return bw_softmax(&a, true);
  if (strcmp(op, "Reshape") == 0 || strcmp(op, "Flatten") == 0 || strcmp(op, "Squeeze") == 0 ||
      strcmp(op, "Unsqueeze") == 0)
    return accum_flat(s, in_id(&a, 0), gy, out->count);
  if (strcmp(op, "Cast") == 0) {
    if (!is_float_type(in[0]->dtype)) return NULL;
    return accum_flat(s, in_id(&a, 0), gy, out->count);
  }
unsupported:
  return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "no derivative for operator %s%s%s (node '%s') on the path to y",
                    *nd->domain ? nd->domain : "", *nd->domain ? ":" : "", op, nd->name ? nd->name : "");
}

/* ------------------------------------------------------------ the operator */
static void gstate_free(gstate *s, int nv) {
  for (int i = 0; i < nv; i++) {
    if (s->owned && s->owned[i]) oxrt_value_free(s->vals[i]);
    if (s->grad) free(s->grad[i]);
  }
  free(s->vals);
  free(s->owned);
  free(s->grad);
  free(s->active);
}

static oxrt_status *resolve_names(const oxrt_graph *g, const oxrt_attr *a, const char *what, int *ids) {
  for (size_t i = 0; a && i < a->n; i++) {
    ids[i] = find_value(g, a->strings[i]);
    if (ids[i] < 0) return oxrt_error(OXRT_ERR_INVALID_MODEL, "%s[%zu] '%s' is not a tensor of the graph", what, i, a->strings[i]);
  }
  return NULL;
}

static oxrt_status *gradient_run(oxrt_kernel_ctx *ctx) {
  const oxrt_node *node = ctx->node;
  const oxrt_graph *g = oxrt_ctx_graph(ctx);
  if (!g) return oxrt_error(OXRT_ERR_RUNTIME, "Gradient needs its enclosing graph");
  const oxrt_attr *ax = oxrt_node_attr(node, "xs"), *az = oxrt_node_attr(node, "zs");
  const char *yname = oxrt_attr_string(node, "y", NULL);
  if (!ax || ax->type != OXRT_ATTR_STRINGS || ax->n == 0)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute 'xs' (a non-empty list of tensor names) is required");
  if (az && az->type != OXRT_ATTR_STRINGS) return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute 'zs' must be strings");
  if (!yname || !*yname) return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute 'y' (a tensor name) is required");
  int nx = (int)ax->n, nz = az ? (int)az->n : 0;
  if (ctx->n_inputs != nx + nz)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "expected %d inputs (xs then zs), got %d", nx + nz, ctx->n_inputs);
  if (ctx->n_outputs > nx)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "at most %d outputs (one per xs), got %d", nx, ctx->n_outputs);
  int yid = find_value(g, yname);
  if (yid < 0) return oxrt_error(OXRT_ERR_INVALID_MODEL, "y '%s' is not a tensor of the graph", yname);
  for (int i = 0; i < nx + nz; i++) OXRT_TRY(oxrt_check_tensor(oxrt_input(ctx, i), i, i < nx ? "xs" : "zs"));

  int nv = g->n_values, ns = oxrt_ctx_step_count(ctx), max_in = 0, max_out = 0;
  for (int k = 0; k < g->n_nodes; k++) {
    if (g->nodes[k].n_inputs > max_in) max_in = g->nodes[k].n_inputs;
    if (g->nodes[k].n_outputs > max_out) max_out = g->nodes[k].n_outputs;
  }
  gstate s = {g, ctx, NULL, NULL, NULL, NULL};
  int *ids = malloc(sizeof(int) * (size_t)(nx + nz));
  int *stack = malloc(sizeof(int) * ((size_t)nv + 1));
  int *step_of = malloc(sizeof(int) * ((size_t)g->n_nodes + 1));
  bool *seen = calloc((size_t)nv + 1, 1), *bound = calloc((size_t)nv + 1, 1), *need = calloc((size_t)ns + 1, 1);
  const oxrt_value **kin = malloc(sizeof(*kin) * ((size_t)max_in + 1));
  oxrt_value **kout = malloc(sizeof(*kout) * ((size_t)max_out + 1));
  s.vals = calloc((size_t)nv + 1, sizeof *s.vals);
  s.owned = calloc((size_t)nv + 1, 1);
  s.grad = calloc((size_t)nv + 1, sizeof *s.grad);
  s.active = calloc((size_t)nv + 1, 1);
  oxrt_status *st = NULL;
  if (!ids || !stack || !step_of || !seen || !bound || !need || !kin || !kout || !s.vals || !s.owned || !s.grad ||
      !s.active) {
    st = OXRT_OOM();
    goto out;
  }
  st = resolve_names(g, ax, "xs", ids);
  if (!st) st = resolve_names(g, az, "zs", ids + nx);
  if (st) goto out;
  /* The values at which the derivative is taken are the node's inputs, not the graph's. */
  for (int i = 0; i < nx + nz; i++) {
    s.vals[ids[i]] = (oxrt_value *)ctx->inputs[i];
    bound[ids[i]] = true;
    if (i < nx) s.active[ids[i]] = true;
  }
  for (int k = 0; k < g->n_nodes; k++) step_of[k] = -1;
  for (int k = 0; k < ns; k++) step_of[oxrt_ctx_step_node(ctx, k, NULL) - g->nodes] = k;

  /* Nodes between {xs, zs} and y; other leaves come from the running graph. */
  int sp = 0;
  stack[sp++] = yid;
  seen[yid] = true;
  while (sp > 0 && !st) {
    int v = stack[--sp];
    if (bound[v]) continue;
    const oxrt_value_def *d = &g->values[v];
    if (d->producer < 0) {
      s.vals[v] = (oxrt_value *)oxrt_ctx_value(ctx, v);
      if (!s.vals[v] && !(d->type && d->type->kind == OXRT_KIND_OPTIONAL))
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "'%s', needed to evaluate y, has no value", d->name);
      continue;
    }
    const oxrt_node *pn = &g->nodes[d->producer];
    if (pn == node) {
      st = oxrt_error(OXRT_ERR_INVALID_MODEL, "y '%s' depends on this Gradient node's own outputs", yname);
      break;
    }
    int k = step_of[d->producer];
    if (k < 0) {
      st = oxrt_error(OXRT_ERR_RUNTIME, "producer of '%s' is not planned", d->name);
      break;
    }
    need[k] = true;
    for (int i = 0; i < pn->n_inputs; i++) {
      int u = pn->inputs[i];
      if (u >= 0 && !seen[u]) {
        seen[u] = true;
        stack[sp++] = u;
      }
    }
  }

  /* Forward pass with the nodes' own kernels. */
  for (int k = 0; k < ns && !st; k++) {
    if (!need[k]) continue;
    const oxrt_node *nd = oxrt_ctx_step_node(ctx, k, NULL);
    bool act = false;
    for (int i = 0; i < nd->n_inputs; i++) {
      int u = nd->inputs[i];
      kin[i] = u >= 0 ? s.vals[u] : NULL;
      if (u >= 0 && s.active[u]) act = true;
    }
    st = oxrt_ctx_run_step(ctx, k, kin, kout);
    if (st) st = oxrt_error_prefix(st, "forward node '%s' (%s): ", nd->name ? nd->name : "", nd->op_type);
    for (int o = 0; o < nd->n_outputs; o++) {
      int id = nd->outputs[o];
      if (st || id < 0 || bound[id]) {
        oxrt_value_free(kout[o]);
        continue;
      }
      if (s.owned[id]) oxrt_value_free(s.vals[id]);
      s.vals[id] = kout[o];
      s.owned[id] = true;
      s.active[id] = act && kout[o] && kout[o]->kind == OXRT_KIND_TENSOR && is_float_type(kout[o]->dtype);
    }
  }
  if (st) goto out;

  /* Backward pass: seed d(sum y)/dy = 1. */
  const oxrt_value *yv = s.vals[yid];
  if (!yv || yv->kind != OXRT_KIND_TENSOR || !is_float_type(yv->dtype)) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "y '%s' must be a floating-point tensor", yname);
    goto out;
  }
  if (s.active[yid]) {
    s.grad[yid] = malloc((yv->count ? yv->count : 1) * sizeof(double));
    if (!s.grad[yid]) {
      st = OXRT_OOM();
      goto out;
    }
    for (size_t i = 0; i < yv->count; i++) s.grad[yid][i] = 1.0;
  }
  for (int k = ns - 1; k >= 0 && !st; k--) {
    if (!need[k]) continue;
    int opset = 0;
    const oxrt_node *nd = oxrt_ctx_step_node(ctx, k, &opset);
    int o0 = nd->n_outputs > 0 ? nd->outputs[0] : -1;
    for (int o = 1; o < nd->n_outputs; o++)
      if (nd->outputs[o] >= 0 && s.grad[nd->outputs[o]] && !bound[nd->outputs[o]]) {
        st = oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "no derivative through output %d of %s (node '%s')", o, nd->op_type,
                        nd->name ? nd->name : "");
        break;
      }
    if (st || o0 < 0 || bound[o0] || !s.grad[o0]) continue;
    bool any = false;
    for (int i = 0; i < nd->n_inputs; i++) {
      int u = nd->inputs[i];
      kin[i] = u >= 0 ? s.vals[u] : NULL;
      if (u >= 0 && s.active[u]) any = true;
    }
    if (!any) continue;
    st = backward(&s, nd, opset, kin, s.vals[o0], s.grad[o0]);
  }

  for (int i = 0; i < ctx->n_outputs && !st; i++) {
    if (!oxrt_output_wanted(ctx, i)) continue;
    const oxrt_value *x = ctx->inputs[i];
    if (!is_float_type(x->dtype)) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "xs[%d] must be a floating-point tensor, got %s", i,
                      oxrt_elem_type_name(x->dtype));
      break;
    }
    oxrt_value *out;
    st = oxrt_output_tensor(ctx, i, x->dtype, x->rank, x->dims, &out);
    if (st) break;
    const double *gx = s.grad[ids[i]];
    for (size_t e = 0; e < out->count; e++) oxrt_store_f64(out->dtype, out->data, e, gx ? gx[e] : 0.0);
  }
out:
  gstate_free(&s, nv);
  free(ids);
  free(stack);
  free(step_of);
  free(seen);
  free(bound);
  free(need);
  free(kin);
  free(kout);
  return st;
}

/* its forward and backward passes read the graph's weights themselves: they stay */
static const oxrt_op_impl gradient_impls[] = {{.since_version = 1, .run = gradient_run, .reads_graph = true}};
OXRT_REGISTER_OP(training_Gradient) = {"ai.onnx.preview.training", "Gradient", OXRT_IMPLS(gradient_impls)};
