/* Unique.c - Unique: distinct elements (or slices along `axis`) sorted ascending or in order of first occurrence,
 * with the first-occurrence indices, the inverse mapping and the counts. NaNs compare equal to each other; complex
 * numbers order by real then imaginary part (numpy). */
#include "index_util.h"

typedef struct {
  const oxrt_value *x;
  size_t outer, n, inner;
} uniq_ctx;

/* Lexicographic compare of slices a and b (elements in row-major order of the other axes). */
static int uniq_cmp(const void *c, int64_t a, int64_t b) {
  const uniq_ctx *u = c;
  for (size_t o = 0; o < u->outer; o++)
    for (size_t i = 0; i < u->inner; i++) {
      size_t base = o * u->n * u->inner + i;
      int r = ix_cmp_elem(u->x->dtype, u->x->data, base + (size_t)a * u->inner, u->x->data, base + (size_t)b * u->inner);
      if (r) return r;
    }
  return 0;
}

static int by_value(const void *c, int64_t a, int64_t b) {
  const int64_t *v = c;
  return v[a] < v[b] ? -1 : v[a] > v[b];
}

static oxrt_status *unique_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  bool sorted = oxrt_attr_int(ctx->node, "sorted", 1) != 0;
  const oxrt_attr *aa = oxrt_node_attr(ctx->node, "axis");
  int64_t axis = 0;
  uniq_ctx u = {x, 1, x->count, 1};
  if (aa) {
    if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must have rank >= 1 when axis is given");
    OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", 0), x->rank, false, &axis));
    u.outer = ix_prod(x->dims, 0, (int)axis);
    u.n = (size_t)x->dims[axis];
    u.inner = ix_prod(x->dims, (int)axis + 1, x->rank);
  }
  size_t n = u.n;
  int64_t *perm = malloc((n + 1) * sizeof *perm), *group = malloc((n + 1) * sizeof *group);
  int64_t *first = malloc((n + 1) * sizeof *first), *cnt = malloc((n + 1) * sizeof *cnt);
  int64_t *order = malloc((n + 1) * sizeof *order), *rank_of = malloc((n + 1) * sizeof *rank_of);
  oxrt_status *st = NULL;
  if (!perm || !group || !first || !cnt || !order || !rank_of) {
    st = OXRT_OOM();
    goto done;
  }
  for (size_t i = 0; i < n; i++) perm[i] = (int64_t)i;
  if (!ix_sort(perm, n, uniq_cmp, &u)) {
    st = OXRT_OOM();
    goto done;
  }
  /* Runs of equal slices in sorted order: the stable sort puts the first occurrence at the head of each run. */
  size_t ng = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || uniq_cmp(&u, perm[i - 1], perm[i]) != 0) {
      first[ng] = perm[i];
      cnt[ng] = 0;
      ng++;
    }
    cnt[ng - 1]++;
    group[perm[i]] = (int64_t)(ng - 1);
  }
  /* order[j] = sorted-group id of output position j */
  for (size_t g = 0; g < ng; g++) order[g] = (int64_t)g;
  if (!sorted && !ix_sort(order, ng, by_value, first)) {
    st = OXRT_OOM();
    goto done;
  }
  for (size_t j = 0; j < ng; j++) rank_of[order[j]] = (int64_t)j;
  int64_t dims[OXRT_MAX_RANK];
  int yr;
  if (aa) {
    yr = x->rank;
    for (int d = 0; d < yr; d++) dims[d] = x->dims[d];
    dims[axis] = (int64_t)ng;
  } else {
    yr = 1;
    dims[0] = (int64_t)ng;
  }
  oxrt_value *y;
  if ((st = oxrt_output_tensor(ctx, 0, x->dtype, yr, dims, &y))) goto done;
  for (size_t o = 0; o < u.outer; o++)
    for (size_t j = 0; j < ng; j++)
      if (!ix_copy(x->dtype, y->data, (o * ng + j) * u.inner, x->data,
                   (o * n + (size_t)first[order[j]]) * u.inner, u.inner)) {
        st = OXRT_OOM();
        goto done;
      }
  int64_t d1 = (int64_t)ng, dn = (int64_t)n;
  oxrt_value *v;
  if (oxrt_output_wanted(ctx, 1)) {
    if ((st = oxrt_output_tensor(ctx, 1, OXRT_INT64, 1, &d1, &v))) goto done;
    for (size_t j = 0; j < ng; j++) ((int64_t *)v->data)[j] = first[order[j]];
  }
  if (oxrt_output_wanted(ctx, 2)) {
    if ((st = oxrt_output_tensor(ctx, 2, OXRT_INT64, 1, &dn, &v))) goto done;
    for (size_t i = 0; i < n; i++) ((int64_t *)v->data)[i] = rank_of[group[i]];
  }
  if (oxrt_output_wanted(ctx, 3)) {
    if ((st = oxrt_output_tensor(ctx, 3, OXRT_INT64, 1, &d1, &v))) goto done;
    for (size_t j = 0; j < ng; j++) ((int64_t *)v->data)[j] = cnt[order[j]];
  }
done:
  free(perm);
  free(group);
  free(first);
  free(cnt);
  free(order);
  free(rank_of);
  return st;
}

static const oxrt_op_impl unique_impls[] = {{.since_version = 11, .run = unique_run}};
OXRT_REGISTER_OP(Unique) = {"", "Unique", OXRT_IMPLS(unique_impls)};
