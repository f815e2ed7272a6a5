/* TopK.c - TopK: the k largest (or smallest, opset 11) entries along `axis` and their int64 indices, in order;
 * equal values keep the lower index first. k is an attribute in opset 1 and an input from opset 10. NaN sorts
 * above every number. */
#include "index_util.h"

typedef struct {
  int mode; /* 0 double keys, 1 int64 keys, 2 uint64 keys */
  bool largest;
  const double *kd;
  const int64_t *ki;
  const uint64_t *ku;
} topk_keys;

static int topk_cmp(const void *c, int64_t a, int64_t b) {
  const topk_keys *k = c;
  int r;
  if (k->mode == 0) {
    double x = k->kd[a], y = k->kd[b];
    if (isnan(x) || isnan(y)) r = isnan(x) - isnan(y);
    else r = x < y ? -1 : x > y;
  } else if (k->mode == 1) {
    r = k->ki[a] < k->ki[b] ? -1 : k->ki[a] > k->ki[b];
  } else {
    r = k->ku[a] < k->ku[b] ? -1 : k->ku[a] > k->ku[b];
  }
  return k->largest ? -r : r;
}

/* Total order: key order, then the lower index first. */
static int topk_cmp_total(const topk_keys *k, int64_t a, int64_t b) {
  int r = topk_cmp(k, a, b);
  return r ? r : (a < b ? -1 : 1);
}

static int topk_cmp_total_fn(const void *k, int64_t a, int64_t b) { return topk_cmp_total(k, a, b); }

static void topk_sift_down(int64_t *h, size_t n, size_t i, const topk_keys *k) {
  for (;;) {
    size_t l = 2 * i + 1, w = i;
    if (l < n && topk_cmp_total(k, h[l], h[w]) > 0) w = l;
    if (l + 1 < n && topk_cmp_total(k, h[l + 1], h[w]) > 0) w = l + 1;
    if (w == i) return;
    int64_t t = h[i];
    h[i] = h[w];
    h[w] = t;
    i = w;
  }
}

/* The first kk of 0..dim-1 in total order into perm[0..kk), sorted. A bounded heap (worst entry on top) when k is
 * small against the axis, a full stable sort otherwise. */
static bool topk_select(int64_t *perm, size_t dim, size_t kk, const topk_keys *k) {
  if (kk * 8 >= dim) {
    for (size_t j = 0; j < dim; j++) perm[j] = (int64_t)j;
    return ix_sort(perm, dim, topk_cmp, k);
  }
  for (size_t j = 0; j < kk; j++) perm[j] = (int64_t)j;
  for (size_t j = kk / 2; j-- > 0;) topk_sift_down(perm, kk, j, k);
  for (size_t j = kk; j < dim; j++)
    if (topk_cmp_total(k, (int64_t)j, perm[0]) < 0) {
      perm[0] = (int64_t)j;
      topk_sift_down(perm, kk, 0, k);
    }
  return ix_sort(perm, kk, topk_cmp_total_fn, k); /* heap order lost the index order: sort on the total order */
}

static oxrt_status *topk_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->dtype == OXRT_STRING || x->dtype == OXRT_COMPLEX64 || x->dtype == OXRT_COMPLEX128)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must be numeric, got %s", oxrt_elem_type_name(x->dtype));
  if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must have rank >= 1");
  int64_t axis, k;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", -1), x->rank, false, &axis));
  if (ctx->opset >= 10) {
    const oxrt_value *kv = oxrt_input(ctx, 1);
    OXRT_TRY(ix_check_indices(kv, 1));
    if (kv->count != 1 || kv->rank > 1)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (K) must be a 1-element 1-D tensor");
    k = ix_get(kv, 0);
  } else {
    k = oxrt_attr_int(ctx->node, "k", -1);
  }
  bool largest = ctx->opset < 11 || oxrt_attr_int(ctx->node, "largest", 1) != 0;
  int64_t dimv = x->dims[axis];
  if (k < 0 || k > dimv)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "k = %lld must be in [0, %lld] (the axis length)", (long long)k,
                      (long long)dimv);
  int64_t dims[OXRT_MAX_RANK];
  for (int d = 0; d < x->rank; d++) dims[d] = x->dims[d];
  dims[axis] = k;
  oxrt_value *yv, *yi;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, dims, &yv));
  OXRT_TRY(oxrt_output_tensor(ctx, 1, OXRT_INT64, x->rank, dims, &yi));
  size_t outer = ix_prod(x->dims, 0, (int)axis), inner = ix_prod(x->dims, (int)axis + 1, x->rank);
  size_t dim = (size_t)dimv, kk = (size_t)k;
  if (!kk || !outer || !inner) return NULL;
  oxrt_elem_type t = x->dtype;
  topk_keys keys = {t == OXRT_INT64 ? 1 : t == OXRT_UINT64 ? 2 : 0, largest, NULL, NULL, NULL};
  int64_t *perm = malloc(dim * sizeof *perm);
  void *kb = malloc(dim * 8);
  if (!perm || !kb) {
    free(perm);
    free(kb);
    return OXRT_OOM();
  }
  keys.kd = kb;
  keys.ki = kb;
  keys.ku = kb;
  int64_t *oi = yi->data;
  size_t es = oxrt_elem_type_size(t);
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      size_t base = o * dim * inner + i;
      for (size_t j = 0; j < dim; j++) {
        size_t s = base + j * inner;
        if (keys.mode == 0) ((double *)kb)[j] = t == OXRT_FLOAT ? ((const float *)x->data)[s] : oxrt_load_f64(t, x->data, s);
        else memcpy((char *)kb + j * 8, (const char *)x->data + s * 8, 8);
      }
      if (!topk_select(perm, dim, kk, &keys)) {
        free(perm);
        free(kb);
        return OXRT_OOM();
      }
      size_t obase = o * kk * inner + i;
      for (size_t j = 0; j < kk; j++) {
        size_t d = obase + j * inner;
        oi[d] = perm[j];
        memcpy((char *)yv->data + d * es, (const char *)x->data + (base + (size_t)perm[j] * inner) * es, es);
      }
    }
  free(perm);
  free(kb);
  return NULL;
}

static const oxrt_op_impl topk_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_NUMERIC, .run = topk_run},
    {.since_version = 10, .type_mask = OXRT_TMASK_NUMERIC, .run = topk_run},
    {.since_version = 11, .type_mask = OXRT_TMASK_NUMERIC, .run = topk_run},
    {.since_version = 24, .type_mask = OXRT_TMASK_NUMERIC, .run = topk_run},
};
OXRT_REGISTER_OP(TopK) = {"", "TopK", OXRT_IMPLS(topk_impls)};
