/* ml_common.h - shared pieces of the ai.onnx.ml operators: post transforms (LOGISTIC, SOFTMAX, SOFTMAX_ZERO,
 * PROBIT), reading numeric inputs as double rows, and float-list-or-tensor attributes. Private to src/ops/ml. */
#ifndef OXRT_OPS_ML_COMMON_H
#define OXRT_OPS_ML_COMMON_H
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ML_PT_NONE, ML_PT_LOGISTIC, ML_PT_SOFTMAX, ML_PT_SOFTMAX_ZERO, ML_PT_PROBIT };

/* Numeric input types accepted by most ml operators. */
#define ML_TMASK_NUM (OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_DOUBLE) | OXRT_TBIT(OXRT_INT64) | OXRT_TBIT(OXRT_INT32))

static inline oxrt_status *ml_parse_post(const char *s, int *out) {
  static const char *names[] = {"NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"};
  for (int i = 0; i < 5; i++)
    if (!strcmp(s, names[i])) return *out = i, NULL;
  return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "post_transform must be NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO or PROBIT, got '%s'",
                    s);
}

static inline double ml_logistic(double v) {
  double e = 1.0 / (1.0 + exp(-fabs(v)));
  return v < 0 ? 1.0 - e : e;
}

/* Inverse error function, the same closed-form approximation ONNX Runtime and the reference use. */
static inline double ml_erfinv(double x) {
  double sgn = x < 0 ? -1.0 : 1.0;
  x = (1.0 - x) * (1.0 + x);
  if (x == 0) return sgn * INFINITY;
  double lg = log(x), v = 2.0 / (3.14159265358979323846 * 0.147) + 0.5 * lg, v2 = 1.0 / 0.147 * lg;
  return sgn * sqrt(-v + sqrt(v * v - v2));
}
static inline double ml_probit(double v) { return 1.41421356 * ml_erfinv(v * 2 - 1); }

static inline void ml_softmax(double *r, size_t n) {
  if (!n) return;
  double mx = r[0], s = 0;
  for (size_t i = 1; i < n; i++) mx = r[i] > mx ? r[i] : mx;
  for (size_t i = 0; i < n; i++) s += (r[i] = exp(r[i] - mx));
  for (size_t i = 0; i < n; i++) r[i] /= s;
}

/* Softmax where exact zeros stay (almost) zero; an all-zero row becomes 0.5 everywhere. */
static inline void ml_softmax_zero(double *r, size_t n) {
  if (!n) return;
  double mx = r[0], s = 0;
  for (size_t i = 1; i < n; i++) mx = r[i] > mx ? r[i] : mx;
  double e = exp(-mx);
  for (size_t i = 0; i < n; i++) {
    r[i] = (r[i] > 1e-7 || r[i] < -1e-7) ? exp(r[i] - mx) : r[i] * e;
    s += r[i];
  }
  for (size_t i = 0; i < n; i++) r[i] = s == 0 ? 0.5 : r[i] / s;
}

static inline void ml_post(double *r, size_t n, int pt) {
  switch (pt) {
  case ML_PT_LOGISTIC:
    for (size_t i = 0; i < n; i++) r[i] = ml_logistic(r[i]);
    break;
  case ML_PT_SOFTMAX: ml_softmax(r, n); break;
  case ML_PT_SOFTMAX_ZERO: ml_softmax_zero(r, n); break;
  case ML_PT_PROBIT:
    for (size_t i = 0; i < n; i++) r[i] = ml_probit(r[i]);
    break;
  default: break;
  }
}

/* Input viewed as [N, C] rows: rank 0/1 is one row (C = count), rank 2 is [N, C], higher ranks flatten the tail. */
static inline oxrt_status *ml_rows(const oxrt_value *x, int index, int64_t *N, int64_t *C) {
  OXRT_TRY(oxrt_check_tensor(x, index, "X"));
  if (x->rank <= 1) {
    *N = 1;
    *C = (int64_t)x->count;
  } else {
    *N = x->dims[0];
    *C = *N ? (int64_t)(x->count / (size_t)*N) : 0;
    if (!*N) {
      *C = 1;
      for (int d = 1; d < x->rank; d++) *C *= x->dims[d];
    }
  }
  return NULL;
}

/* Element i of a numeric tensor as double (native fast paths for the common types). */
static inline double ml_get(const oxrt_value *x, size_t i) {
  switch (x->dtype) {
  case OXRT_FLOAT: return ((const float *)x->data)[i];
  case OXRT_DOUBLE: return ((const double *)x->data)[i];
  case OXRT_INT64: return (double)((const int64_t *)x->data)[i];
  case OXRT_INT32: return ((const int32_t *)x->data)[i];
  default: return oxrt_load_f64(x->dtype, x->data, i);
  }
}

/* A floats attribute `name`, or the tensor attribute `tname` (any numeric type), as a malloc'd double array.
 * *vals is NULL (n = 0) when neither is present. */
static inline oxrt_status *ml_attr_doubles(const oxrt_node *node, const char *name, const char *tname, double **vals,
                                           size_t *n) {
  *vals = NULL;
  *n = 0;
  const oxrt_attr *t = tname ? oxrt_node_attr(node, tname) : NULL;
  if (t && t->type == OXRT_ATTR_TENSOR && t->t) {
    const oxrt_value *v = t->t;
    if (v->dtype == OXRT_STRING) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute %s must be numeric", tname);
    double *d = malloc(sizeof(double) * (v->count + 1));
    if (!d) return OXRT_OOM();
    for (size_t i = 0; i < v->count; i++) d[i] = oxrt_load_f64(v->dtype, v->data, i);
    *vals = d;
    *n = v->count;
    return NULL;
  }
  size_t cnt = 0;
  if (!name) return NULL;
  const float *f = oxrt_attr_floats(node, name, &cnt);
  if (!f) return NULL;
  double *d = malloc(sizeof(double) * (cnt + 1));
  if (!d) return OXRT_OOM();
  for (size_t i = 0; i < cnt; i++) d[i] = f[i];
  *vals = d;
  *n = cnt;
  return NULL;
}

/* Strings attribute (NULL/0 when absent). */
static inline const char **ml_attr_strings(const oxrt_node *node, const char *name, size_t *n) {
  const oxrt_attr *a = oxrt_node_attr(node, name);
  if (!a || a->type != OXRT_ATTR_STRINGS) return *n = 0, NULL;
  *n = a->n;
  return a->strings;
}

/* The end of a prepare: on error (st) the half-built state s is released and st returned; else s becomes the
 * node's state. */
static inline oxrt_status *ml_prepared(oxrt_status *st, void *s, void (*release)(void *), void **state) {
  if (st) {
    release(s);
    return st;
  }
  *state = s;
  return NULL;
}

/* The two outputs of a classifier: labels [N] (strings or int64) and float scores [N, n_scores]. */
static inline oxrt_status *ml_classifier_outputs(oxrt_kernel_ctx *ctx, bool str_labels, int64_t N, int64_t n_scores,
                                                 oxrt_value **labels, oxrt_value **scores) {
  int64_t dims[2] = {N, n_scores};
  OXRT_TRY(oxrt_output_tensor(ctx, 0, str_labels ? OXRT_STRING : OXRT_INT64, 1, dims, labels));
  return oxrt_output_tensor(ctx, 1, OXRT_FLOAT, 2, dims, scores);
}

/* Sets string element i of tensor v to a copy of s. */
static inline oxrt_status *ml_set_str(oxrt_value *v, size_t i, const char *s) {
  size_t l = strlen(s);
  char *c = malloc(l + 1);
  if (!c) return OXRT_OOM();
  memcpy(c, s, l + 1);
  char **a = v->data;
  free(a[i]);
  a[i] = c;
  return NULL;
}

#endif
