/* BatchNormalization.c - inference (running statistics) and training mode (batch statistics).
 *
 * Inference folds each channel into y = x * a + b with a = scale / sqrt(var + eps), b = bias - mean * a,
 * run over (n, c) planes in parallel. Training mode (training_mode=1 from opset 14; before 14 when the
 * statistics outputs are asked for and is_test is 0) normalises with the batch mean and population
 * variance and also returns running_mean/var = input * momentum + batch * (1 - momentum); opsets < 14
 * additionally return the batch mean and variance (saved_mean, saved_var).
 * Before opset 9, spatial=0 gives per-activation parameters of shape [C, D1, ...]. */
#include "f32_view.h"
#include "../infer_rules.h"
#include <math.h>
#include <string.h>

typedef struct {
  const float *x;
  float *y;
  const float *a, *b; /* per channel, or per channel*S when per_act */
  size_t C, S;
  bool per_act;
} bn_job;

static void bn_planes(void *arg, size_t beg, size_t end) {
  const bn_job *J = arg;
  for (size_t p = beg; p < end; p++) {
    const size_t c = p % J->C;
    const float *x = J->x + p * J->S;
    float *y = J->y + p * J->S;
    if (J->per_act) {
      const float *a = J->a + c * J->S, *b = J->b + c * J->S;
      for (size_t i = 0; i < J->S; i++) y[i] = x[i] * a[i] + b[i];
    } else {
      const float a = J->a[c], b = J->b[c];
      for (size_t i = 0; i < J->S; i++) y[i] = x[i] * a + b;
    }
  }
}

static oxrt_status *bn_param(const oxrt_kernel_ctx *ctx, int i, const char *name, size_t want1, size_t want2,
                             const float **v, float **tmp) {
  const oxrt_value *t = oxrt_input(ctx, i);
  OXRT_TRY(oxrt_check_tensor(t, i, name));
  if (t->count != want1 && t->count != want2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (%s): expected %zu values (one per channel), got %zu", i,
                      name, want1, t->count);
  return f32_in(t, v, tmp);
}

static oxrt_status *bn_out_vec(oxrt_kernel_ctx *ctx, int i, oxrt_elem_type t, size_t n, const double *vals) {
  if (!oxrt_output_wanted(ctx, i)) return NULL;
  oxrt_value *o;
  int64_t d = (int64_t)n;
  OXRT_TRY(oxrt_output_tensor(ctx, i, t, 1, &d, &o));
  for (size_t k = 0; k < n; k++) oxrt_store_f64(t, o->data, k, vals[k]);
  return NULL;
}

static oxrt_status *bn_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->rank < 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 2 (N, C, ...), got %d", x->rank);
  const float eps = oxrt_attr_float(ctx->node, "epsilon", 1e-5f);
  const float momentum = oxrt_attr_float(ctx->node, "momentum", 0.9f);
  bool training;
  if (ctx->opset >= 14) {
    training = oxrt_attr_int(ctx->node, "training_mode", 0) != 0;
  } else {
    bool wants_stats = false;
    for (int i = 1; i < 5; i++) wants_stats |= oxrt_output_wanted(ctx, i);
    training = wants_stats && (ctx->opset >= 7 || oxrt_attr_int(ctx->node, "is_test", 0) == 0);
  }
  const size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1];
  size_t S = 1;
  for (int i = 2; i < x->rank; i++) S *= (size_t)x->dims[i];
  const bool per_act = ctx->opset < 9 && oxrt_attr_int(ctx->node, "spatial", 1) == 0 && S > 1;
  const size_t P = per_act ? C * S : C; /* parameter count */

  const float *sc = NULL, *bi = NULL, *mu = NULL, *va = NULL, *xf = NULL;
  float *t_sc = NULL, *t_bi = NULL, *t_mu = NULL, *t_va = NULL, *t_x = NULL, *yf = NULL;
  double *a = NULL, *bm = NULL, *bv = NULL;
  float *af = NULL;
  oxrt_value *y = NULL;
  oxrt_status *st = bn_param(ctx, 1, "scale", C, P, &sc, &t_sc);
  if (!st) st = bn_param(ctx, 2, "B", C, P, &bi, &t_bi);
  if (!st) st = bn_param(ctx, 3, "input_mean", C, P, &mu, &t_mu);
  if (!st) st = bn_param(ctx, 4, "input_var", C, P, &va, &t_va);
  if (st) goto done;
  /* every parameter must have the same layout (per channel or per activation) */
  const size_t np = oxrt_input(ctx, 1)->count;
  for (int i = 2; i <= 4 && !st; i++)
    if (oxrt_input(ctx, i)->count != np)
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: expected %zu values like scale, got %zu", i, np,
                      oxrt_input(ctx, i)->count);
  if (st) goto done;
  const bool pa = np != C;
  if ((st = oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y))) goto done;
  if ((st = f32_in(x, &xf, &t_x))) goto done;
  if ((st = f32_out(y, &yf))) goto done;
  a = malloc(sizeof(double) * (np + 1) * 4);
  af = malloc(sizeof(float) * (np + 1) * 2);
  if (!a || !af) {
    st = OXRT_OOM();
    goto done;
  }
  bm = a + (np + 1) * 2;
  bv = bm + (np + 1);
  if (training) {
    /* batch statistics per parameter slot: over N and S (or only N when per activation) */
    const size_t per = pa ? S : 1;
    for (size_t k = 0; k < np; k++) bm[k] = bv[k] = 0;
    for (size_t n = 0; n < N; n++)
      for (size_t c = 0; c < C; c++) {
        const float *xp = xf + (n * C + c) * S;
        for (size_t s = 0; s < S; s++) bm[pa ? c * S + s : c] += xp[s];
      }
    const double cnt = (double)(N * S / per);
    for (size_t k = 0; k < np; k++) bm[k] /= cnt;
    for (size_t n = 0; n < N; n++)
      for (size_t c = 0; c < C; c++) {
        const float *xp = xf + (n * C + c) * S;
        for (size_t s = 0; s < S; s++) {
          const size_t k = pa ? c * S + s : c;
          const double d = xp[s] - bm[k];
          bv[k] += d * d;
        }
      }
    for (size_t k = 0; k < np; k++) bv[k] /= cnt;
  }
  for (size_t k = 0; k < np; k++) {
    const double m = training ? bm[k] : mu[k], v = training ? bv[k] : va[k];
    const double s = sc[k] / sqrt(v + (double)eps);
    af[k] = (float)s;
    af[np + 1 + k] = (float)(bi[k] - m * s);
  }
  if (y->count) {
    bn_job J = {.x = xf, .y = yf, .a = af, .b = af + np + 1, .C = C, .S = S, .per_act = pa};
    oxrt_parallel(ctx, N * C, S >= 4096 ? 1 : 4096 / (S + 1) + 1, bn_planes, &J);
  }
  f32_commit(y, yf);
  yf = NULL;
  if (training) {
    double *rm = a, *rv = a + (np + 1);
    for (size_t k = 0; k < np; k++) {
      rm[k] = mu[k] * momentum + bm[k] * (1.0 - momentum);
      rv[k] = va[k] * momentum + bv[k] * (1.0 - momentum);
    }
    const oxrt_elem_type mt = oxrt_input(ctx, 3)->dtype, vt = oxrt_input(ctx, 4)->dtype;
    if (!st) st = bn_out_vec(ctx, 1, mt, np, rm);
    if (!st) st = bn_out_vec(ctx, 2, vt, np, rv);
    if (ctx->opset < 14) {
      if (!st) st = bn_out_vec(ctx, 3, mt, np, bm);
      if (!st) st = bn_out_vec(ctx, 4, vt, np, bv);
    }
  }
done:
  if (yf) f32_drop(y, yf);
  free(a);
  free(af);
  free(t_sc);
  free(t_bi);
  free(t_mu);
  free(t_va);
  free(t_x);
  return st;
}

static const oxrt_op_impl bn_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = bn_run},  /* consumed_inputs, is_test, spatial */
    {.since_version = 6, .type_mask = OXRT_TMASK_FLOATS, .run = bn_run},
    {.since_version = 7, .type_mask = OXRT_TMASK_FLOATS, .run = bn_run},  /* no is_test */
    {.since_version = 9, .type_mask = OXRT_TMASK_FLOATS, .run = bn_run},  /* no spatial */
    {.since_version = 14, .type_mask = OXRT_TMASK_FLOATS, .run = bn_run}, /* training_mode */
    {.since_version = 15, .type_mask = OXRT_TMASK_FLOATS, .run = bn_run}, /* scale/bias and mean/var types apart */
};
OXRT_REGISTER_OP(BatchNormalization) = {"", "BatchNormalization", OXRT_IMPLS(bn_impls), .infer = oxrt_infer_same,
                                        .flags = OXRT_OP_SAME_ELEM_TYPE};
