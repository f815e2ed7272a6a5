/* ArgMinMax.c - ArgMax and ArgMin: int64 index of the largest/smallest entry along `axis`; the first one on ties,
 * or the last with select_last_index (opset 12). NaN wins over every number, as in numpy. */
#include "index_util.h"
#include "../infer_rules.h"

typedef struct {
  const oxrt_value *x;
  int64_t *out;
  size_t dim, inner;
  bool is_max, last;
} argmm_job;

/* True when candidate c should replace the current best b. */
static inline bool argmm_better_f(double c, double b, bool is_max, bool last) {
  if (isnan(b)) return last && isnan(c);
  if (isnan(c)) return true;
  if (c == b) return last;
  return is_max ? c > b : c < b;
}

static inline bool argmm_better_i(int64_t c, int64_t b, bool is_max, bool last) {
  if (c == b) return last;
  return is_max ? c > b : c < b;
}

static void argmm_range(void *arg, size_t begin, size_t end) {
  const argmm_job *j = arg;
  const oxrt_value *x = j->x;
  oxrt_elem_type t = x->dtype;
  for (size_t r = begin; r < end; r++) {
    size_t o = r / j->inner, i = r % j->inner;
    size_t base = o * j->dim * j->inner + i;
    size_t best = 0;
    if (t == OXRT_FLOAT) {
      const float *p = (const float *)x->data + base;
      float bv = p[0];
      for (size_t k = 1; k < j->dim; k++) {
        float c = p[k * j->inner];
        if (argmm_better_f(c, bv, j->is_max, j->last)) bv = c, best = k;
      }
    } else if (t == OXRT_UINT64) {
      const uint64_t *p = (const uint64_t *)x->data + base;
      uint64_t bv = p[0];
      for (size_t k = 1; k < j->dim; k++) {
        uint64_t c = p[k * j->inner];
        bool better = c == bv ? j->last : (j->is_max ? c > bv : c < bv);
        if (better) bv = c, best = k;
      }
    } else if (ix_is_intlike(t)) {
      int64_t bv = oxrt_load_i64(t, x->data, base);
      for (size_t k = 1; k < j->dim; k++) {
        int64_t c = oxrt_load_i64(t, x->data, base + k * j->inner);
        if (argmm_better_i(c, bv, j->is_max, j->last)) bv = c, best = k;
      }
    } else {
      double bv = oxrt_load_f64(t, x->data, base);
      for (size_t k = 1; k < j->dim; k++) {
        double c = oxrt_load_f64(t, x->data, base + k * j->inner);
        if (argmm_better_f(c, bv, j->is_max, j->last)) bv = c, best = k;
      }
    }
    j->out[r] = (int64_t)best;
  }
}

static oxrt_status *argmm_run(oxrt_kernel_ctx *ctx, bool is_max) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  if (x->dtype == OXRT_STRING || x->dtype == OXRT_COMPLEX64 || x->dtype == OXRT_COMPLEX128)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must be numeric, got %s", oxrt_elem_type_name(x->dtype));
  int r = x->rank ? x->rank : 1; /* a scalar acts as a 1-element vector */
  int64_t xd[OXRT_MAX_RANK];
  for (int d = 0; d < r; d++) xd[d] = x->rank ? x->dims[d] : 1;
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", 0), r, false, &axis));
  bool keep = oxrt_attr_int(ctx->node, "keepdims", 1) != 0;
  bool last = ctx->opset >= 12 && oxrt_attr_int(ctx->node, "select_last_index", 0) != 0;
  if (xd[axis] == 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %lld has length 0", (long long)axis);
  int64_t dims[OXRT_MAX_RANK];
  int k = 0;
  for (int d = 0; d < r; d++) {
    if (d == axis) {
      if (keep) dims[k++] = 1;
    } else {
      dims[k++] = xd[d];
    }
  }
  if (!x->rank) k = keep ? 1 : 0;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT64, k, dims, &y));
  argmm_job j = {x, y->data, (size_t)xd[axis], ix_prod(xd, (int)axis + 1, r), is_max, last};
  size_t rows = ix_prod(xd, 0, (int)axis) * j.inner;
  oxrt_parallel(ctx, rows, 1 + 16384 / (j.dim + 1), argmm_range, &j);
  return NULL;
}

static oxrt_status *argmax_run(oxrt_kernel_ctx *ctx) { return argmm_run(ctx, true); }
static oxrt_status *argmin_run(oxrt_kernel_ctx *ctx) { return argmm_run(ctx, false); }

static const oxrt_op_impl argmax_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_NUMERIC, .run = argmax_run},
    {.since_version = 11, .type_mask = OXRT_TMASK_NUMERIC, .run = argmax_run},
    {.since_version = 12, .type_mask = OXRT_TMASK_NUMERIC, .run = argmax_run},
    {.since_version = 13, .type_mask = OXRT_TMASK_NUMERIC, .run = argmax_run},
};
OXRT_REGISTER_OP(ArgMax) = {"", "ArgMax", OXRT_IMPLS(argmax_impls), .infer = oxrt_infer_arg_reduce};

static const oxrt_op_impl argmin_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_NUMERIC, .run = argmin_run},
    {.since_version = 11, .type_mask = OXRT_TMASK_NUMERIC, .run = argmin_run},
    {.since_version = 12, .type_mask = OXRT_TMASK_NUMERIC, .run = argmin_run},
    {.since_version = 13, .type_mask = OXRT_TMASK_NUMERIC, .run = argmin_run},
};
OXRT_REGISTER_OP(ArgMin) = {"", "ArgMin", OXRT_IMPLS(argmin_impls), .infer = oxrt_infer_arg_reduce};
