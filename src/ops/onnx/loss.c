/* loss.c - NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
 *
 * Both gather -logp[n, target[n, d], d] from a [N, C, D] view (D = product of the trailing axes), weighted
 * by weight[target] (1 without weights) and 0 where target == ignore_index. reduction "none" keeps the
 * target's shape, "sum" adds, "mean" divides by the sum of the weights used (the count of non-ignored
 * targets without weights). SoftmaxCrossEntropyLoss first takes log_softmax over axis 1 and can return it. */
#include "f32_view.h"
#include <math.h>
#include <string.h>

static oxrt_status *nll_core(oxrt_kernel_ctx *ctx, const float *lp, const oxrt_value *scores, const char *what) {
  const oxrt_value *tg = oxrt_input(ctx, 1), *wv = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(tg, 1, "target"));
  if (tg->dtype != OXRT_INT32 && tg->dtype != OXRT_INT64)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: target must be int32 or int64, got %s",
                      oxrt_elem_type_name(tg->dtype));
  const size_t N = (size_t)scores->dims[0], C = (size_t)scores->dims[1];
  if (tg->rank != scores->rank - 1 || (tg->rank > 0 && (size_t)tg->dims[0] != N))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: target must have shape [N, d1, ...] matching %s", what);
  for (int i = 1; i < tg->rank; i++)
    if (tg->dims[i] != scores->dims[i + 1])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: target dim %d is %lld, expected %lld", i,
                        (long long)tg->dims[i], (long long)scores->dims[i + 1]);
  const float *w = NULL;
  float *wt = NULL;
  if (wv) {
    OXRT_TRY(oxrt_check_tensor(wv, 2, "weight"));
    if (wv->count != C) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2: weight must hold C=%zu values", C);
    OXRT_TRY(f32_in(wv, &w, &wt));
  }
  const oxrt_attr *ia = oxrt_node_attr(ctx->node, "ignore_index");
  const bool has_ignore = ia != NULL;
  const int64_t ignore = ia ? ia->i : 0;
  const char *red = oxrt_attr_string(ctx->node, "reduction", "mean");
  const int mode = strcmp(red, "none") == 0 ? 0 : strcmp(red, "sum") == 0 ? 1 : strcmp(red, "mean") == 0 ? 2 : -1;
  if (mode < 0) {
    free(wt);
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "reduction '%s' is not none, sum or mean", red);
  }
  const size_t D = N ? tg->count / N : 0;
  float *loss = malloc(sizeof(float) * (tg->count ? tg->count : 1));
  if (!loss) {
    free(wt);
    return OXRT_OOM();
  }
  double sum = 0, wsum = 0;
  for (size_t n = 0; n < N; n++)
    for (size_t d = 0; d < D; d++) {
      const size_t i = n * D + d;
      const int64_t t = oxrt_load_i64(tg->dtype, tg->data, i);
      if (has_ignore && t == ignore) {
        loss[i] = 0;
        continue;
      }
      if (t < 0 || (size_t)t >= C) {
        free(loss);
        free(wt);
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: target %lld at %zu is outside [0, %zu)", (long long)t, i, C);
      }
      const double wk = w ? w[t] : 1.0;
      loss[i] = (float)(-(double)lp[(n * C + (size_t)t) * D + d] * wk);
      sum += loss[i];
      wsum += wk;
    }
  free(wt);
  oxrt_value *o;
  oxrt_status *st;
  if (mode == 0) {
    st = oxrt_output_tensor(ctx, 0, scores->dtype, tg->rank, tg->dims, &o);
    if (!st) {
      if (o->dtype == OXRT_FLOAT) memcpy(o->data, loss, sizeof(float) * tg->count);
      else oxrt_convert(o->dtype, o->data, OXRT_FLOAT, loss, tg->count, false);
    }
  } else {
    st = oxrt_output_tensor(ctx, 0, scores->dtype, 0, NULL, &o);
    if (!st) oxrt_store_f64(o->dtype, o->data, 0, mode == 1 ? sum : sum / wsum);
  }
  free(loss);
  return st;
}

static oxrt_status *check_scores(const oxrt_value *x) {
  OXRT_TRY(oxrt_check_tensor(x, 0, "scores"));
  if (x->rank < 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 2 (N, C, ...), got %d", x->rank);
  return NULL;
}

static oxrt_status *nll_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(check_scores(x));
  const float *xf = NULL;
  float *xt = NULL;
  OXRT_TRY(f32_in(x, &xf, &xt));
  oxrt_status *st = nll_core(ctx, xf, x, "input");
  free(xt);
  return st;
}

static oxrt_status *sce_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(check_scores(x));
  const size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1], D = (N * C) != 0 ? x->count / (N * C) : 0;
  const float *xf = NULL;
  float *xt = NULL;
  OXRT_TRY(f32_in(x, &xf, &xt));
  float *lp = malloc(sizeof(float) * (x->count ? x->count : 1));
  if (!lp) {
    free(xt);
    return OXRT_OOM();
  }
  for (size_t n = 0; n < N; n++)
    for (size_t d = 0; d < D; d++) {
      const float *xp = xf + n * C * D + d;
      float *lq = lp + n * C * D + d;
      float m = -INFINITY;
      for (size_t c = 0; c < C; c++) m = xp[c * D] > m ? xp[c * D] : m;
      double s = 0;
      for (size_t c = 0; c < C; c++) s += exp((double)xp[c * D] - m);
      const double ls = log(s) + m;
      for (size_t c = 0; c < C; c++) lq[c * D] = (float)(xp[c * D] - ls);
    }
  free(xt);
  oxrt_status *st = nll_core(ctx, lp, x, "scores");
  if (!st && oxrt_output_wanted(ctx, 1)) {
    oxrt_value *o;
    st = oxrt_output_tensor(ctx, 1, x->dtype, x->rank, x->dims, &o);
    if (!st) oxrt_convert(o->dtype, o->data, OXRT_FLOAT, lp, x->count, false);
  }
  free(lp);
  return st;
}

static const oxrt_op_impl nll_impls[] = {
    {.since_version = 12, .type_mask = OXRT_TMASK_FLOATS, .run = nll_run},
    {.since_version = 13, .type_mask = OXRT_TMASK_FLOATS, .run = nll_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = nll_run},
};
OXRT_REGISTER_OP(NegativeLogLikelihoodLoss) = {"", "NegativeLogLikelihoodLoss", OXRT_IMPLS(nll_impls)};

static const oxrt_op_impl sce_impls[] = {
    {.since_version = 12, .type_mask = OXRT_TMASK_FLOATS, .run = sce_run},
    {.since_version = 13, .type_mask = OXRT_TMASK_FLOATS, .run = sce_run},
};
OXRT_REGISTER_OP(SoftmaxCrossEntropyLoss) = {"", "SoftmaxCrossEntropyLoss", OXRT_IMPLS(sce_impls)};
