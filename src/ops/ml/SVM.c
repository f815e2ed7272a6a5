/* SVM.c - ai.onnx.ml SVMClassifier and SVMRegressor (libsvm conventions): LINEAR, POLY, RBF and SIGMOID kernels,
 * one-vs-one voting, optional Platt probabilities with pairwise coupling, liblinear mode when there are no
 * support vectors. */
#include "ml_common.h"

enum { K_LINEAR, K_POLY, K_RBF, K_SIGMOID };

typedef struct {
  int kernel, post;
  double gamma, coef0;
  int degree;
  double *coef, *sv, *rho, *prob_a, *prob_b;
  size_t n_coef, n_sv, n_rho, n_pa, n_pb;
  int64_t n_vec, feat; /* support vectors and their length */
  /* classifier */
  int64_t n_cls;
  int64_t *start, *per_class;
  const int64_t *labels_i;
  const char **labels_s;
  size_t n_labels;
  bool all_pos;
  /* regressor */
  bool one_class;
} svm_state;

static void svm_release(void *p) {
  svm_state *s = p;
  if (!s) return;
  free(s->coef), free(s->sv), free(s->rho), free(s->prob_a), free(s->prob_b), free(s->start), free(s->per_class);
  free(s);
}

static oxrt_status *svm_common(const oxrt_node *node, svm_state *s) {
  const char *k = oxrt_attr_string(node, "kernel_type", "LINEAR");
  s->kernel = !strcmp(k, "LINEAR") ? K_LINEAR : !strcmp(k, "POLY") ? K_POLY : !strcmp(k, "RBF") ? K_RBF
              : !strcmp(k, "SIGMOID")                                                  ? K_SIGMOID
                                                                                       : -1;
  if (s->kernel < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unknown kernel_type '%s'", k);
  OXRT_TRY(ml_parse_post(oxrt_attr_string(node, "post_transform", "NONE"), &s->post));
  size_t np = 0;
  const float *kp = oxrt_attr_floats(node, "kernel_params", &np);
  if (kp && np >= 1) s->gamma = kp[0];
  if (kp && np >= 2) s->coef0 = kp[1];
  if (kp && np >= 3) s->degree = (int)kp[2];
  OXRT_TRY(ml_attr_doubles(node, "coefficients", NULL, &s->coef, &s->n_coef));
  OXRT_TRY(ml_attr_doubles(node, "support_vectors", NULL, &s->sv, &s->n_sv));
  OXRT_TRY(ml_attr_doubles(node, "rho", NULL, &s->rho, &s->n_rho));
  OXRT_TRY(ml_attr_doubles(node, "prob_a", NULL, &s->prob_a, &s->n_pa));
  OXRT_TRY(ml_attr_doubles(node, "prob_b", NULL, &s->prob_b, &s->n_pb));
  if (!s->n_rho) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "rho is required");
  return NULL;
}

static double kernel_dot(const svm_state *s, const oxrt_value *x, size_t xoff, const double *b, int64_t n, int kernel) {
  double acc = 0;
  if (kernel == K_RBF) {
    for (int64_t i = 0; i < n; i++) {
      double d = ml_get(x, xoff + (size_t)i) - b[i];
      acc += d * d;
    }
    return exp(-s->gamma * acc);
  }
  for (int64_t i = 0; i < n; i++) acc += ml_get(x, xoff + (size_t)i) * b[i];
  if (kernel == K_POLY) return pow(s->gamma * acc + s->coef0, s->degree);
  if (kernel == K_SIGMOID) return tanh(s->gamma * acc + s->coef0);
  return acc;
}

/* ------------------------------------------------------------ SVMRegressor */
static oxrt_status *svr_prepare(const oxrt_node *node, int opset, void **state) {
  (void)opset;
  svm_state *s = calloc(1, sizeof *s);
  if (!s) return OXRT_OOM();
  oxrt_status *st = svm_common(node, s);
  s->n_vec = oxrt_attr_int(node, "n_supports", 0);
  s->one_class = oxrt_attr_int(node, "one_class", 0) != 0;
  if (!st) {
    if (s->n_vec > 0) {
      if (s->n_coef < (size_t)s->n_vec || s->n_sv % (size_t)s->n_vec)
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "support_vectors/coefficients do not match n_supports = %lld",
                        (long long)s->n_vec);
      else
        s->feat = (int64_t)(s->n_sv / (size_t)s->n_vec);
    } else {
      s->feat = (int64_t)s->n_coef;
    }
  }
  return ml_prepared(st, s, svm_release, state);
}

static oxrt_status *svr_run(oxrt_kernel_ctx *ctx) {
  const svm_state *s = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(ml_rows(x, 0, &N, &C));
  if (C != s->feat)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input has %lld features, the model expects %lld", (long long)C,
                      (long long)s->feat);
  int64_t dims[2] = {N, 1};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 2, dims, &y));
  for (int64_t r = 0; r < N; r++) {
    size_t off = (size_t)(r * C);
    double v = 0;
    if (s->n_vec > 0) {
      for (int64_t j = 0; j < s->n_vec; j++) v += s->coef[j] * kernel_dot(s, x, off, s->sv + j * C, C, s->kernel);
    } else {
      v = kernel_dot(s, x, off, s->coef, C, K_LINEAR);
    }
    v += s->rho[0];
    if (s->one_class) v = v > 0 ? 1.0 : -1.0;
    ml_post(&v, 1, s->post);
    ((float *)y->data)[r] = (float)v;
  }
  return NULL;
}

/* ------------------------------------------------------------ SVMClassifier */
static oxrt_status *svc_prepare(const oxrt_node *node, int opset, void **state) {
  (void)opset;
  svm_state *s = calloc(1, sizeof *s);
  if (!s) return OXRT_OOM();
  oxrt_status *st = svm_common(node, s);
  size_t ni = 0, ns = 0, nvpc = 0;
  s->labels_i = oxrt_attr_ints(node, "classlabels_ints", &ni);
  s->labels_s = ml_attr_strings(node, "classlabels_strings", &ns);
  if (!ni) s->labels_i = NULL;
  if (!ns) s->labels_s = NULL;
  s->n_labels = ni ? ni : ns;
  s->n_cls = s->n_labels ? (int64_t)s->n_labels : 1;
  const int64_t *vpc = oxrt_attr_ints(node, "vectors_per_class", &nvpc);
  if (!st && vpc && nvpc) {
    if (nvpc != (size_t)s->n_cls) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "vectors_per_class needs one entry per class");
    s->start = calloc(nvpc + 1, sizeof(int64_t));
    s->per_class = calloc(nvpc + 1, sizeof(int64_t));
    if (!st && (!s->start || !s->per_class)) st = OXRT_OOM();
    for (size_t i = 0; !st && i < nvpc; i++) {
      if (vpc[i] < 0) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "vectors_per_class[%zu] is negative", i);
      s->start[i] = s->n_vec;
      s->per_class[i] = vpc[i];
      s->n_vec += vpc[i];
    }
  }
  if (!st) {
    if (s->n_vec > 0) {
      if (s->n_sv % (size_t)s->n_vec || s->n_coef != (size_t)(s->n_cls - 1) * (size_t)s->n_vec)
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "support_vectors/coefficients do not match %lld vectors, %lld classes",
                        (long long)s->n_vec, (long long)s->n_cls);
      else
        s->feat = (int64_t)(s->n_sv / (size_t)s->n_vec);
      size_t pairs = (size_t)(s->n_cls * (s->n_cls - 1) / 2);
      if (!st && s->n_rho < pairs) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "rho needs %zu entries", pairs);
      if (!st && s->n_pa && (s->n_pa < pairs || s->n_pb < pairs))
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "prob_a/prob_b need %zu entries", pairs);
    } else {
      if (s->n_coef % (size_t)s->n_cls) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "coefficients do not split by class");
      s->feat = (int64_t)(s->n_coef / (size_t)s->n_cls);
      s->kernel = K_LINEAR;
    }
  }
  s->all_pos = true;
  for (size_t i = 0; i < s->n_coef; i++)
    if (s->coef[i] < 0) s->all_pos = false;
  return ml_prepared(st, s, svm_release, state);
}

/* Pairwise coupling of one-vs-one probabilities r[k*k] into p[k] (libsvm's multiclass_probability). */
static void couple(int64_t k, const double *R, double *P, double *Q, double *Qp) {
  int64_t max_iter = k > 100 ? k : 100;
  double eps = 0.005 / (double)k;
  for (int64_t t = 0; t < k; t++) {
    P[t] = 1.0 / (double)k;
    Q[t * k + t] = 0;
    for (int64_t j = 0; j < t; j++) {
      Q[t * k + t] += R[j * k + t] * R[j * k + t];
      Q[t * k + j] = Q[j * k + t];
    }
    for (int64_t j = t + 1; j < k; j++) {
      Q[t * k + t] += R[j * k + t] * R[j * k + t];
      Q[t * k + j] = -R[j * k + t] * R[t * k + j];
    }
  }
  for (int64_t it = 0; it < max_iter; it++) {
    double pQp = 0;
    for (int64_t t = 0; t < k; t++) {
      Qp[t] = 0;
      for (int64_t j = 0; j < k; j++) Qp[t] += Q[t * k + j] * P[j];
      pQp += P[t] * Qp[t];
    }
    double max_err = 0;
    for (int64_t t = 0; t < k; t++) max_err = fmax(max_err, fabs(Qp[t] - pQp));
    if (max_err < eps) break;
    for (int64_t t = 0; t < k; t++) {
      double diff = (-Qp[t] + pQp) / Q[t * k + t];
      P[t] += diff;
      pQp = (pQp + diff * (diff * Q[t * k + t] + 2 * Qp[t])) / (1 + diff) / (1 + diff);
      for (int64_t j = 0; j < k; j++) {
        Qp[j] = (Qp[j] + diff * Q[t * k + j]) / (1 + diff);
        P[j] /= (1 + diff);
      }
    }
  }
}

static oxrt_status *svc_run(oxrt_kernel_ctx *ctx) {
  const svm_state *s = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(ml_rows(x, 0, &N, &C));
  if (C != s->feat)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input has %lld features, the model expects %lld", (long long)C,
                      (long long)s->feat);
  int64_t k = s->n_cls, pairs = k * (k - 1) / 2;
  bool svc = s->n_vec > 0, proba = svc && s->n_pa > 0;
  int64_t nraw = svc ? pairs : k;
  /* final score width */
  int64_t nout = proba ? k : nraw;
  if (nout == 1 && s->post != ML_PT_PROBIT && s->n_rho == 1 && s->n_labels == 2) nout = 2;
  oxrt_value *lab, *y;
  OXRT_TRY(ml_classifier_outputs(ctx, s->labels_s != NULL, N, nout, &lab, &y));
  size_t scratch = (size_t)(s->n_vec + 3 * k + 3 * k * k + nraw + nout + 8);
  double *buf = malloc(sizeof(double) * scratch);
  if (!buf) return OXRT_OOM();
  double *kern = buf, *votes = kern + s->n_vec, *raw = votes + k, *R = raw + nraw, *Q = R + k * k, *P = Q + k * k,
         *Qp = P + k, *out = Qp + k;
  oxrt_status *st = NULL;
  for (int64_t r = 0; r < N && !st; r++) {
    size_t off = (size_t)(r * C);
    int64_t maxc = 0;
    double maxw;
    if (svc) {
      for (int64_t j = 0; j < s->n_vec; j++) kern[j] = kernel_dot(s, x, off, s->sv + j * C, C, s->kernel);
      for (int64_t i = 0; i < k; i++) votes[i] = 0;
      int64_t e = 0;
      for (int64_t i = 0; i < k; i++)
        for (int64_t j = i + 1; j < k; j++, e++) {
          double s1 = 0, s2 = 0;
          const double *ci = s->coef + (j - 1) * s->n_vec, *cj = s->coef + i * s->n_vec;
          for (int64_t v = 0; v < s->per_class[i]; v++) s1 += ci[s->start[i] + v] * kern[s->start[i] + v];
          for (int64_t v = 0; v < s->per_class[j]; v++) s2 += cj[s->start[j] + v] * kern[s->start[j] + v];
          raw[e] = s->rho[e] + s1 + s2;
          votes[raw[e] > 0 ? i : j] += 1;
        }
      for (int64_t i = 1; i < k; i++)
        if (votes[i] > votes[maxc]) maxc = i;
      maxw = votes[maxc];
    } else {
      for (int64_t j = 0; j < k; j++) raw[j] = s->rho[0] + kernel_dot(s, x, off, s->coef + j * C, C, K_LINEAR);
      for (int64_t i = 1; i < k; i++)
        if (raw[i] > raw[maxc]) maxc = i;
      maxw = raw[maxc];
    }
    double *sc = raw;
    int64_t nsc = nraw;
    if (proba) {
      int64_t e = 0;
      for (int64_t i = 0; i < k; i++)
        for (int64_t j = i + 1; j < k; j++, e++) {
          double v = 1.0 - ml_logistic(raw[e] * s->prob_a[e] + s->prob_b[e]);
          v = fmin(fmax(v, 1e-7), 1 - 1e-7);
          R[i * k + j] = v;
          R[j * k + i] = 1 - v;
        }
      couple(k, R, P, Q, Qp);
      sc = P;
      nsc = k;
    }
    /* label: index into the labels, or a raw 1/0 when the model has no two labels */
    int64_t li = maxc;
    bool raw_label = false;
    if (s->n_rho == 1) {
      if (s->n_labels == 2) {
        if (!proba && s->all_pos && maxw >= 0.5) li = 1;
      } else {
        raw_label = true;
        li = maxw > 0 ? 1 : 0;
      }
    }
    /* scores */
    if (nsc >= 2) {
      memcpy(out, sc, sizeof(double) * (size_t)nsc);
      ml_post(out, (size_t)nsc, s->post);
    } else if (s->post == ML_PT_PROBIT) {
      out[0] = ml_probit(sc[0]);
    } else if (nout == 2) {
      out[0] = -sc[0], out[1] = sc[0];
      if (s->post != ML_PT_NONE) ml_post(out, 2, s->post);
    } else {
      out[0] = sc[0];
    }
    for (int64_t c = 0; c < nout; c++) ((float *)y->data)[r * nout + c] = (float)out[c];
    if (s->labels_s)
      st = ml_set_str(lab, (size_t)r, !raw_label && li < (int64_t)s->n_labels ? s->labels_s[li] : "");
    else
      ((int64_t *)lab->data)[r] = !raw_label && s->labels_i && li < (int64_t)s->n_labels ? s->labels_i[li] : li;
  }
  free(buf);
  return st;
}

static const oxrt_op_impl svr_impls[] = {
    {.since_version = 1, .type_mask = ML_TMASK_NUM, .prepare = svr_prepare, .run = svr_run, .release = svm_release}};
static const oxrt_op_impl svc_impls[] = {
    {.since_version = 1, .type_mask = ML_TMASK_NUM, .prepare = svc_prepare, .run = svc_run, .release = svm_release}};
OXRT_REGISTER_OP(ml_SVMRegressor) = {"ai.onnx.ml", "SVMRegressor", OXRT_IMPLS(svr_impls)};
OXRT_REGISTER_OP(ml_SVMClassifier) = {"ai.onnx.ml", "SVMClassifier", OXRT_IMPLS(svc_impls)};
