/* SVM.c - ai.onnx.ml SVMClassifier and SVMRegressor (libsvm conventions): LINEAR, POLY, RBF and SIGMOID kernels,
 * one-vs-one voting, optional Platt probabilities with pairwise coupling, liblinear mode when there are no
 * support vectors. */
#include "ml_common.h"
#include "kernels/gemm.h"
#include "kernels/vmath.h"
#include "svm_kernels.h"

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
  /* float copies for the evaluation: support vectors transposed to [feat][nvp] (nvp = n_vec rounded up to SVM_NV)
   * so that a row's kernel values come out a register tile at a time, and the coefficients */
  float *svt, *coef_f;
  size_t nvp;
  oxrt_isa isa;
} svm_state;

static void svm_release(void *p) {
  svm_state *s = p;
  if (!s) return;
  free(s->coef), free(s->sv), free(s->rho), free(s->prob_a), free(s->prob_b), free(s->start), free(s->per_class);
  free(s->svt), free(s->coef_f);
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

/* Packs the float copies (at the end of a successful prepare). */
static oxrt_status *svm_pack(svm_state *s) {
  s->isa = oxrt_cpu_isa();
  s->coef_f = malloc(sizeof(float) * (s->n_coef + 1));
  if (!s->coef_f) return OXRT_OOM();
  for (size_t i = 0; i < s->n_coef; i++) s->coef_f[i] = (float)s->coef[i];
  if (s->n_vec <= 0 || s->feat <= 0) return NULL;
  size_t nv = (size_t)s->n_vec, C = (size_t)s->feat;
  s->nvp = (nv + SVM_NV - 1) / SVM_NV * SVM_NV;
  s->svt = calloc(s->nvp * C, sizeof(float));
  if (!s->svt) return OXRT_OOM();
  for (size_t j = 0; j < nv; j++)
    for (size_t c = 0; c < C; c++) s->svt[c * s->nvp + j] = (float)s->sv[j * C + c];
  return NULL;
}

/* The portable sums of svm_kernels.h. */
static void svm_sums_portable(const float *svt, size_t nvp, const float *X, size_t C, size_t nr, int rbf, float *T) {
  for (size_t j0 = 0; j0 < nvp; j0 += SVM_NV) {
    float a[SVM_ROWS][SVM_NV] = {{0}};
    for (size_t c = 0; c < C; c++) {
      const float *sv = svt + c * nvp + j0;
      for (size_t r = 0; r < nr; r++) {
        float xv = X[r * C + c];
        if (rbf)
          for (size_t q = 0; q < SVM_NV; q++) {
            float d = xv - sv[q];
            a[r][q] += d * d;
          }
        else
          for (size_t q = 0; q < SVM_NV; q++) a[r][q] += xv * sv[q];
      }
    }
    for (size_t r = 0; r < nr; r++) memcpy(T + r * nvp + j0, a[r], sizeof a[r]);
  }
}

/* Kernel values of rows [r0, r0 + nr) (nr <= SVM_ROWS) against the support vectors into T[nr][nvp] (float, like
 * ONNX Runtime). Float input goes through the packed vectors; other types are read as double. */
static void svm_kernels(const svm_state *s, const oxrt_value *x, size_t C, size_t r0, size_t nr, float *T) {
  size_t nv = (size_t)s->n_vec, nvp = s->nvp;
  if (x->dtype != OXRT_FLOAT) {
    for (size_t r = 0; r < nr; r++)
      for (size_t j = 0; j < nv; j++)
        T[r * nvp + j] = (float)kernel_dot(s, x, (r0 + r) * C, s->sv + j * C, (int64_t)C, s->kernel);
    return;
  }
  const float *X = (const float *)x->data + r0 * C;
  int rbf = s->kernel == K_RBF;
  switch (s->isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  case OXRT_ISA_AVX512: oxrt_svm_sums_avx512(s->svt, nvp, X, C, nr, rbf, T); break;
  case OXRT_ISA_AVX2: oxrt_svm_sums_avx2(s->svt, nvp, X, C, nr, rbf, T); break;
#endif
  default: svm_sums_portable(s->svt, nvp, X, C, nr, rbf, T); break;
  }
  size_t n = nr * nvp;
  float g = (float)s->gamma, c0 = (float)s->coef0;
  switch (s->kernel) {
  case K_RBF:
    for (size_t i = 0; i < n; i++) T[i] *= -g;
    oxrt_vexp_f32(T, T, n);
    break;
  case K_SIGMOID:
    for (size_t i = 0; i < n; i++) T[i] = T[i] * g + c0;
    oxrt_vtanh_f32(T, T, n);
    break;
  case K_POLY:
    if (s->degree >= 0 && s->degree <= 16) { /* integer power by multiplication */
      for (size_t i = 0; i < n; i++) {
        float b = T[i] * g + c0, p = 1;
        for (int d = 0; d < s->degree; d++) p *= b;
        T[i] = p;
      }
    } else {
      for (size_t i = 0; i < n; i++) T[i] = (float)pow((double)(T[i] * g + c0), s->degree);
    }
    break;
  default: break;
  }
}

/* sum a[i] * b[i] over float vectors: eight float partial sums (vectorisable), added in double. */
static double svm_dot(const float *a, const float *b, size_t n) {
  float acc[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int q = 0; q < 8; q++) acc[q] += a[i + q] * b[i + q];
  double s = 0;
  for (; i < n; i++) s += (double)a[i] * b[i];
  for (int q = 0; q < 8; q++) s += acc[q];
  return s;
}

/* ------------------------------------------------------------ SVMRegressor */
static oxrt_status *svr_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
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
  if (!st) st = svm_pack(s);
  return ml_prepared(st, s, svm_release, state);
}

typedef struct {
  const svm_state *s;
  const oxrt_value *x;
  size_t C;
  oxrt_value *y, *lab;
  int64_t nout;
  bool oom;
} svm_job;

static void svr_rows(void *arg, size_t begin, size_t end) {
  svm_job *jb = arg;
  const svm_state *s = jb->s;
  size_t nv = s->n_vec > 0 ? (size_t)s->n_vec : 0, C = jb->C;
  float *T = malloc(sizeof(float) * (SVM_ROWS * s->nvp + 1));
  if (!T) {
    jb->oom = true;
    return;
  }
  for (size_t r0 = begin; r0 < end; r0 += SVM_ROWS) {
    size_t nr = end - r0 < SVM_ROWS ? end - r0 : SVM_ROWS;
    if (nv) svm_kernels(s, jb->x, C, r0, nr, T);
    for (size_t r = 0; r < nr; r++) {
      double v = 0;
      if (nv) {
        v = svm_dot(s->coef_f, T + r * s->nvp, nv);
      } else {
        v = kernel_dot(s, jb->x, (r0 + r) * C, s->coef, (int64_t)C, K_LINEAR);
      }
      v += s->rho[0];
      if (s->one_class) v = v > 0 ? 1.0 : -1.0;
      ml_post(&v, 1, s->post);
      ((float *)jb->y->data)[r0 + r] = (float)v;
    }
  }
  free(T);
}

/* Rows and features of input X, which must have the model's feature count. */
static oxrt_status *svm_rows(const svm_state *s, const oxrt_value *x, int64_t *N, int64_t *C) {
  OXRT_TRY(ml_rows(x, 0, N, C));
  if (*C != s->feat)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input has %lld features, the model expects %lld", (long long)*C,
                      (long long)s->feat);
  return NULL;
}

static oxrt_status *svr_run(oxrt_kernel_ctx *ctx) {
  const svm_state *s = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(svm_rows(s, x, &N, &C));
  int64_t dims[2] = {N, 1};
  svm_job jb = {.s = s, .x = x, .C = (size_t)C};
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 2, dims, &jb.y));
  oxrt_parallel(ctx, (size_t)N, 2 * SVM_ROWS, svr_rows, &jb);
  return jb.oom ? OXRT_OOM() : NULL;
}

/* ------------------------------------------------------------ SVMClassifier */
static oxrt_status *svc_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
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
  if (!st) st = svm_pack(s);
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
    for (int64_t t = 0; t < k; t++) {
      double e = fabs(Qp[t] - pQp);
      max_err = e > max_err ? e : max_err;
    }
    if (max_err < eps) break;
    for (int64_t t = 0; t < k; t++) {
      double diff = (-Qp[t] + pQp) / Q[t * k + t], inv = 1.0 / (1 + diff); /* one division, k multiplies */
      P[t] += diff;
      pQp = (pQp + diff * (diff * Q[t * k + t] + 2 * Qp[t])) * inv * inv;
      for (int64_t j = 0; j < k; j++) {
        Qp[j] = (Qp[j] + diff * Q[t * k + j]) * inv;
        P[j] *= inv;
      }
    }
  }
}

static void svc_rows(void *arg, size_t begin, size_t end) {
  svm_job *jb = arg;
  const svm_state *s = jb->s;
  const oxrt_value *x = jb->x;
  size_t C = jb->C;
  oxrt_value *y = jb->y, *lab = jb->lab;
  int64_t k = s->n_cls, pairs = k * (k - 1) / 2, nout = jb->nout;
  bool svc = s->n_vec > 0, proba = svc && s->n_pa > 0;
  int64_t nraw = svc ? pairs : k;
  size_t scratch = (size_t)(3 * k + 3 * k * k + nraw + nout + 8);
  double *buf = malloc(sizeof(double) * scratch);
  float *T = malloc(sizeof(float) * (SVM_ROWS * s->nvp + 1));
  if (!buf || !T) {
    free(buf), free(T);
    jb->oom = true;
    return;
  }
  double *votes = buf, *raw = votes + k, *R = raw + nraw, *Q = R + k * k, *P = Q + k * k,
         *Qp = P + k, *out = Qp + k;
  for (size_t r = begin; r < end; r++) {
    size_t bi = (r - begin) % SVM_ROWS;
    if (svc && !bi) svm_kernels(s, x, C, r, end - r < SVM_ROWS ? end - r : SVM_ROWS, T);
    const float *kern = T + bi * s->nvp;
    size_t off = r * C;
    int64_t maxc = 0;
    double maxw;
    if (svc) {
      for (int64_t i = 0; i < k; i++) votes[i] = 0;
      int64_t e = 0;
      for (int64_t i = 0; i < k; i++)
        for (int64_t j = i + 1; j < k; j++, e++) {
          const float *ci = s->coef_f + (j - 1) * s->n_vec, *cj = s->coef_f + i * s->n_vec;
          double s1 = svm_dot(ci + s->start[i], kern + s->start[i], (size_t)s->per_class[i]);
          double s2 = svm_dot(cj + s->start[j], kern + s->start[j], (size_t)s->per_class[j]);
          raw[e] = s->rho[e] + s1 + s2;
          votes[raw[e] > 0 ? i : j] += 1;
        }
      for (int64_t i = 1; i < k; i++)
        if (votes[i] > votes[maxc]) maxc = i;
      maxw = votes[maxc];
    } else {
      for (int64_t j = 0; j < k; j++) raw[j] = s->rho[0] + kernel_dot(s, x, off, s->coef + j * C, (int64_t)C, K_LINEAR);
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
          v = !(v >= 1e-7) ? 1e-7 : v > 1 - 1e-7 ? 1 - 1e-7 : v; /* NaN becomes 1e-7, as fmax would give */
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
    for (int64_t c = 0; c < nout; c++) ((float *)y->data)[r * (size_t)nout + (size_t)c] = (float)out[c];
    if (s->labels_s) {
      if (ml_set_str(lab, r, !raw_label && li < (int64_t)s->n_labels ? s->labels_s[li] : "")) jb->oom = true;
    } else {
      ((int64_t *)lab->data)[r] = !raw_label && s->labels_i && li < (int64_t)s->n_labels ? s->labels_i[li] : li;
    }
  }
  free(buf), free(T);
}

static oxrt_status *svc_run(oxrt_kernel_ctx *ctx) {
  const svm_state *s = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(svm_rows(s, x, &N, &C));
  int64_t k = s->n_cls, pairs = k * (k - 1) / 2;
  bool svc = s->n_vec > 0, proba = svc && s->n_pa > 0;
  int64_t nraw = svc ? pairs : k;
  /* final score width */
  int64_t nout = proba ? k : nraw;
  if (nout == 1 && s->post != ML_PT_PROBIT && s->n_rho == 1 && s->n_labels == 2) nout = 2;
  svm_job jb = {.s = s, .x = x, .C = (size_t)C, .nout = nout};
  OXRT_TRY(ml_classifier_outputs(ctx, s->labels_s != NULL, N, nout, &jb.lab, &jb.y));
  oxrt_parallel(ctx, (size_t)N, 2 * SVM_ROWS, svc_rows, &jb);
  return jb.oom ? OXRT_OOM() : NULL;
}

static const oxrt_op_impl svr_impls[] = {
    {.since_version = 1, .type_mask = ML_TMASK_NUM, .prepare = svr_prepare, .run = svr_run, .release = svm_release}};
static const oxrt_op_impl svc_impls[] = {
    {.since_version = 1, .type_mask = ML_TMASK_NUM, .prepare = svc_prepare, .run = svc_run, .release = svm_release}};
OXRT_REGISTER_OP(ml_SVMRegressor) = {"ai.onnx.ml", "SVMRegressor", OXRT_IMPLS(svr_impls)};
OXRT_REGISTER_OP(ml_SVMClassifier) = {"ai.onnx.ml", "SVMClassifier", OXRT_IMPLS(svc_impls)};
