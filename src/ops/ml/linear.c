/* linear.c - ai.onnx.ml LinearClassifier and LinearRegressor: scores = X * coefficients^T + intercepts, then a
 * post transform; the classifier also picks a label. */
#include "ml_common.h"
#include "kernels/vmath.h"

typedef struct {
  double *coef, *icpt;
  size_t n_coef, n_icpt;
  int64_t rows; /* classes or targets */
  int post;
  /* classifier */
  const int64_t *labels_i;
  const char **labels_s;
  size_t n_labels;
} linear_state;

static void linear_release(void *p) {
  linear_state *s = p;
  if (!s) return;
  free(s->coef), free(s->icpt);
  free(s);
}

static oxrt_status *linear_common(const oxrt_node *node, linear_state *s) {
  OXRT_TRY(ml_attr_doubles(node, "coefficients", NULL, &s->coef, &s->n_coef));
  OXRT_TRY(ml_attr_doubles(node, "intercepts", NULL, &s->icpt, &s->n_icpt));
  OXRT_TRY(ml_parse_post(oxrt_attr_string(node, "post_transform", "NONE"), &s->post));
  if (!s->coef || !s->n_coef) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "coefficients are required");
  return NULL;
}

static oxrt_status *linreg_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  linear_state *s = calloc(1, sizeof *s);
  if (!s) return OXRT_OOM();
  oxrt_status *st = linear_common(node, s);
  s->rows = oxrt_attr_int(node, "targets", 1);
  if (!st && (s->rows < 1 || s->n_coef % (size_t)s->rows))
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%zu coefficients do not split into %lld targets", s->n_coef,
                    (long long)s->rows);
  if (!st && s->n_icpt && s->n_icpt != (size_t)s->rows)
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%zu intercepts for %lld targets", s->n_icpt, (long long)s->rows);
  return ml_prepared(st, s, linear_release, state);
}

static oxrt_status *linclf_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  linear_state *s = calloc(1, sizeof *s);
  if (!s) return OXRT_OOM();
  oxrt_status *st = linear_common(node, s);
  size_t ni = 0, ns = 0;
  s->labels_i = oxrt_attr_ints(node, "classlabels_ints", &ni);
  s->labels_s = ml_attr_strings(node, "classlabels_strings", &ns);
  if (!st && ni && ns) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "classlabels_ints and classlabels_strings are exclusive");
  s->n_labels = ni ? ni : ns;
  if (!ni) s->labels_i = NULL;
  if (!ns) s->labels_s = NULL;
  s->rows = s->n_icpt ? (int64_t)s->n_icpt : (int64_t)(s->n_labels ? s->n_labels : 1);
  if (!st && (s->n_coef % (size_t)s->rows))
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%zu coefficients do not split into %lld classes", s->n_coef,
                    (long long)s->rows);
  return ml_prepared(st, s, linear_release, state);
}

/* Raw scores of row r into o[rows]. */
static oxrt_status *linear_scores(const linear_state *s, const oxrt_value *x, int64_t *N, int64_t *C) {
  OXRT_TRY(ml_rows(x, 0, N, C));
  if ((size_t)*C * (size_t)s->rows != s->n_coef)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input has %lld features, the coefficients expect %zu", (long long)*C,
                      s->n_coef / (size_t)s->rows);
  return NULL;
}

static void linear_row(const linear_state *s, const oxrt_value *x, int64_t r, int64_t C, double *o) {
  for (int64_t k = 0; k < s->rows; k++) {
    double acc = s->n_icpt ? s->icpt[k] : 0.0;
    const double *w = s->coef + k * C;
    for (int64_t c = 0; c < C; c++) acc += w[c] * ml_get(x, (size_t)(r * C + c));
    o[k] = acc;
  }
}

#define LIN_BLOCK 64 /* rows scored (and exponentiated) together */

/* Raw scores of rows [r0, r0 + nr) (nr <= LIN_BLOCK) into o[nr][rows]; xt is LIN_BLOCK * C floats of scratch.
 * Float input: the block is transposed so that each (class, feature) weight updates all the block's sums in one
 * vectorisable pass. */
static void linear_block(const linear_state *s, const oxrt_value *x, size_t r0, size_t nr, int64_t C, double *o,
                         float *xt) {
  size_t K = (size_t)s->rows;
  if (x->dtype != OXRT_FLOAT) {
    for (size_t r = 0; r < nr; r++) linear_row(s, x, (int64_t)(r0 + r), C, o + r * K);
    return;
  }
  const float *X = (const float *)x->data + r0 * (size_t)C;
  for (size_t r = 0; r < LIN_BLOCK; r++) /* rows past nr read as 0 */
    for (int64_t c = 0; c < C; c++) xt[(size_t)c * LIN_BLOCK + r] = r < nr ? X[r * (size_t)C + (size_t)c] : 0.0f;
  double acc[LIN_BLOCK];
  for (size_t k = 0; k < K; k++) {
    double b = s->n_icpt ? s->icpt[k] : 0.0;
    for (size_t r = 0; r < LIN_BLOCK; r++) acc[r] = b;
    const double *w = s->coef + k * (size_t)C;
    for (int64_t c = 0; c < C; c++) {
      const float *xc = xt + (size_t)c * LIN_BLOCK;
      double wc = w[c];
      for (size_t r = 0; r < LIN_BLOCK; r++) acc[r] += wc * xc[r];
    }
    for (size_t r = 0; r < nr; r++) o[r * K + k] = acc[r];
  }
}

/* SOFTMAX of every row of o[nr][k] with one vector exp call; other transforms row by row (ml_post). t is
 * nr * k floats of scratch. */
static void linear_post(double *o, size_t nr, size_t k, int post, float *t) {
  if (post != ML_PT_SOFTMAX || k < 2) {
    for (size_t r = 0; r < nr; r++) ml_post(o + r * k, k, post);
    return;
  }
  for (size_t r = 0; r < nr; r++) {
    const double *v = o + r * k;
    double mx = v[0];
    for (size_t i = 1; i < k; i++) mx = v[i] > mx ? v[i] : mx;
    for (size_t i = 0; i < k; i++) t[r * k + i] = (float)(v[i] - mx);
  }
  oxrt_vexp_f32(t, t, nr * k);
  for (size_t r = 0; r < nr; r++) {
    double sum = 0;
    for (size_t i = 0; i < k; i++) sum += t[r * k + i];
    double inv = 1.0 / sum;
    for (size_t i = 0; i < k; i++) o[r * k + i] = t[r * k + i] * inv;
  }
}

static oxrt_status *linreg_run(oxrt_kernel_ctx *ctx) {
  const linear_state *s = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(linear_scores(s, x, &N, &C));
  int64_t dims[2] = {N, s->rows};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 2, dims, &y));
  size_t K = (size_t)s->rows;
  double *o = malloc(sizeof(double) * (LIN_BLOCK * K + 1));
  float *t = malloc(sizeof(float) * (LIN_BLOCK * (K + (size_t)C) + 1)), *xt = t + LIN_BLOCK * K;
  if (!o || !t) {
    free(o), free(t);
    return OXRT_OOM();
  }
  for (size_t r0 = 0; r0 < (size_t)N; r0 += LIN_BLOCK) {
    size_t nr = (size_t)N - r0 < LIN_BLOCK ? (size_t)N - r0 : LIN_BLOCK;
    linear_block(s, x, r0, nr, C, o, xt);
    linear_post(o, nr, K, s->post, t);
    for (size_t i = 0; i < nr * K; i++) ((float *)y->data)[r0 * K + i] = (float)o[i];
  }
  free(o), free(t);
  return NULL;
}

static oxrt_status *linclf_run(oxrt_kernel_ctx *ctx) {
  const linear_state *s = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(linear_scores(s, x, &N, &C));
  /* one score row for two labels: the binary case scores [-s, s] */
  bool binary = s->rows == 1 && s->n_labels == 2;
  int64_t nout = binary ? 2 : s->rows;
  oxrt_value *lab, *y;
  OXRT_TRY(ml_classifier_outputs(ctx, s->labels_s != NULL, N, nout, &lab, &y));
  size_t K = (size_t)s->rows;
  double *ob = malloc(sizeof(double) * (LIN_BLOCK * K + 1)), *ob_row = malloc(sizeof(double) * (size_t)(nout + 2)), *o;
  float *t = malloc(sizeof(float) * (LIN_BLOCK * (K + (size_t)C) + 1)), *xt = t + LIN_BLOCK * K;
  if (!ob || !ob_row || !t) {
    free(ob), free(ob_row), free(t);
    return OXRT_OOM();
  }
  oxrt_status *st = NULL;
  for (int64_t r = 0; r < N && !st; r++) {
    size_t bi = (size_t)r % LIN_BLOCK;
    if (!bi) {
      size_t nr = (size_t)(N - r) < LIN_BLOCK ? (size_t)(N - r) : LIN_BLOCK;
      linear_block(s, x, (size_t)r, nr, C, ob, xt);
      if (!binary) linear_post(ob, nr, K, s->post, t);
    }
    int64_t li = 0;
    if (!binary) {
      o = ob + bi * K; /* the block's row, transformed already */
    } else {
      o = ob_row, o[1] = ob[bi];
      /* ONNX Runtime's convention: label by the sign of the margin; LOGISTIC gives [1-p, p], the other
       * transforms leave the pair [1 - score, score] */
      double v = o[1];
      li = v > 0 ? 1 : 0;
      if (s->post == ML_PT_LOGISTIC)
        o[0] = ml_logistic(-v), o[1] = ml_logistic(v);
      else if (s->post == ML_PT_PROBIT)
        o[1] = ml_probit(v), o[0] = 1.0 - o[1];
      else
        o[0] = 1.0 - v;
    }
    for (int64_t k = 0; k < nout; k++) ((float *)y->data)[r * nout + k] = (float)o[k];
    if (binary) {
      /* label chosen above */
    } else if (nout > 1) {
      li = 0;
      for (int64_t k = 1; k < nout; k++)
        if (o[k] > o[li]) li = k;
    } else { /* a single score: positive class when above the threshold */
      double th = s->post == ML_PT_NONE ? 0.0 : 0.5;
      li = o[0] >= th ? 0 : -1;
    }
    if (s->labels_s) {
      st = ml_set_str(lab, (size_t)r, li >= 0 && (size_t)li < s->n_labels ? s->labels_s[li] : "");
    } else if (s->labels_i) {
      ((int64_t *)lab->data)[r] = li >= 0 && (size_t)li < s->n_labels ? s->labels_i[li] : 0;
    } else {
      ((int64_t *)lab->data)[r] = nout > 1 ? li : (li >= 0 ? 1 : 0);
    }
  }
  free(ob), free(ob_row), free(t);
  return st;
}

static const oxrt_op_impl linreg_impls[] = {
    {.since_version = 1, .type_mask = ML_TMASK_NUM, .prepare = linreg_prepare, .run = linreg_run, .release = linear_release}};
static const oxrt_op_impl linclf_impls[] = {
    {.since_version = 1, .type_mask = ML_TMASK_NUM, .prepare = linclf_prepare, .run = linclf_run, .release = linear_release}};
OXRT_REGISTER_OP(ml_LinearRegressor) = {"ai.onnx.ml", "LinearRegressor", OXRT_IMPLS(linreg_impls)};
OXRT_REGISTER_OP(ml_LinearClassifier) = {"ai.onnx.ml", "LinearClassifier", OXRT_IMPLS(linclf_impls)};
