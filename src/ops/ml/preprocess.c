/* preprocess.c - ai.onnx.ml feature preprocessing: Scaler, Normalizer, Binarizer, Imputer,
 * ArrayFeatureExtractor, FeatureVectorizer. */
#include "ml_common.h"

/* ------------------------------------------------------------ Scaler: (x - offset) * scale, per column */
static oxrt_status *scaler_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(ml_rows(x, 0, &N, &C));
  size_t no = 0, ns = 0;
  const float *off = oxrt_attr_floats(ctx->node, "offset", &no), *sc = oxrt_attr_floats(ctx->node, "scale", &ns);
  if ((no != 0 && no != 1 && no != (size_t)C) || (ns != 0 && ns != 1 && ns != (size_t)C))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "offset (%zu) and scale (%zu) must have 1 or %lld entries", no, ns,
                      (long long)C);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, x->rank, x->dims, &y));
  float *o = y->data;
  size_t rows = C ? x->count / (size_t)C : 0, i = 0;
  for (size_t r = 0; r < rows; r++) /* row by row: no division per element; float input read directly */
    for (size_t c = 0; c < (size_t)C; c++, i++) {
      double v = x->dtype == OXRT_FLOAT ? ((const float *)x->data)[i] : ml_get(x, i);
      if (no) v -= off[no == 1 ? 0 : c];
      if (ns) v *= sc[ns == 1 ? 0 : c];
      o[i] = (float)v;
    }
  return NULL;
}

/* ------------------------------------------------------------ Normalizer: rows scaled by MAX, L1 or L2 norm */
static oxrt_status *normalizer_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(ml_rows(x, 0, &N, &C));
  if (x->rank > 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be [C] or [N, C], got rank %d", x->rank);
  const char *norm = oxrt_attr_string(ctx->node, "norm", "MAX");
  int kind = !strcmp(norm, "MAX") ? 0 : !strcmp(norm, "L1") ? 1 : !strcmp(norm, "L2") ? 2 : -1;
  if (kind < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "norm must be MAX, L1 or L2, got '%s'", norm);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, x->rank, x->dims, &y));
  float *o = y->data;
  const float *xf = x->dtype == OXRT_FLOAT ? x->data : NULL; /* float input read directly */
  for (int64_t r = 0; r < N; r++) {
    size_t b = (size_t)(r * C);
    double d = 0;
    for (int64_t c = 0; c < C; c++) {
      double v = xf ? xf[b + (size_t)c] : ml_get(x, b + (size_t)c);
      if (kind == 0)
        d = fmax(d, fabs(v));
      else if (kind == 1)
        d += fabs(v);
      else
        d += v * v;
    }
    if (kind == 2) d = sqrt(d);
    if (d < 1e-30) d = 1e-30;
    double inv = 1.0 / d; /* one division per row */
    for (int64_t c = 0; c < C; c++) o[b + (size_t)c] = (float)((xf ? xf[b + (size_t)c] : ml_get(x, b + (size_t)c)) * inv);
  }
  return NULL;
}

/* ------------------------------------------------------------ Binarizer: x > threshold -> 1 else 0, same type */
static oxrt_status *binarizer_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  double th = oxrt_attr_float(ctx->node, "threshold", 0.f);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  for (size_t i = 0; i < x->count; i++) {
    double v = ml_get(x, i);
    oxrt_store_f64(x->dtype, y->data, i, isnan(v) ? v : (v > th ? 1.0 : 0.0));
  }
  return NULL;
}

/* ------------------------------------------------------------ Imputer: replace missing values per column */
static oxrt_status *imputer_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  int64_t N, C;
  OXRT_TRY(ml_rows(x, 0, &N, &C));
  size_t nf = 0, ni = 0;
  const float *vf = oxrt_attr_floats(ctx->node, "imputed_value_floats", &nf);
  const int64_t *vi = oxrt_attr_ints(ctx->node, "imputed_value_int64s", &ni);
  bool is_float = x->dtype == OXRT_FLOAT || x->dtype == OXRT_DOUBLE;
  size_t nv = is_float ? nf : ni;
  if (!nv)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "imputed_value_%s is required for %s input", is_float ? "floats" : "int64s",
                      oxrt_elem_type_name(x->dtype));
  if (nv != 1 && nv != (size_t)C)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%zu imputed values for %lld columns", nv, (long long)C);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  if (is_float) {
    double rep = oxrt_attr_float(ctx->node, "replaced_value_float", 0.f);
    for (size_t i = 0; i < x->count; i++) {
      double v = ml_get(x, i);
      size_t c = nv == 1 ? 0 : i % (size_t)C;
      bool miss = isnan(rep) ? isnan(v) : v == rep;
      oxrt_store_f64(x->dtype, y->data, i, miss ? vf[c] : v);
    }
  } else {
    int64_t rep = oxrt_attr_int(ctx->node, "replaced_value_int64", 0);
    for (size_t i = 0; i < x->count; i++) {
      int64_t v = oxrt_load_i64(x->dtype, x->data, i);
      size_t c = nv == 1 ? 0 : i % (size_t)C;
      oxrt_store_i64(x->dtype, y->data, i, v == rep ? vi[c] : v);
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ ArrayFeatureExtractor: X[..., indices] */
static oxrt_status *afe_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *ind = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(ind, 1, "Y"));
  if (ind->dtype != OXRT_INT64) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "indices must be int64");
  if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "X must have rank >= 1");
  int64_t C = x->dims[x->rank - 1], K = (int64_t)ind->count;
  const int64_t *idx = ind->data;
  for (int64_t k = 0; k < K; k++)
    if (idx[k] < 0 || idx[k] >= C)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "index %lld is out of range for last dimension %lld",
                        (long long)idx[k], (long long)C);
  int64_t dims[OXRT_MAX_RANK];
  int rank = x->rank;
  if (rank == 1) {
    rank = 2;
    dims[0] = 1;
  } else {
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)(rank - 1));
  }
  dims[rank - 1] = K;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, rank, dims, &y));
  size_t rows = C ? x->count / (size_t)C : 0, es = oxrt_elem_type_size(x->dtype);
  for (size_t r = 0; r < rows; r++)
    for (int64_t k = 0; k < K; k++) {
      size_t src = r * (size_t)C + (size_t)idx[k], dst = r * (size_t)K + (size_t)k;
      if (x->dtype == OXRT_STRING) {
        if (ml_set_str(y, dst, ((char *const *)x->data)[src])) return OXRT_OOM();
      } else {
        memcpy((char *)y->data + dst * es, (const char *)x->data + src * es, es);
      }
    }
  return NULL;
}

/* ------------------------------------------------------------ FeatureVectorizer: concat columns, each input cut or
 * zero-padded to its declared width */
static oxrt_status *fv_run(oxrt_kernel_ctx *ctx) {
  size_t nd = 0;
  const int64_t *w = oxrt_attr_ints(ctx->node, "inputdimensions", &nd);
  if (!w || nd < (size_t)ctx->n_inputs)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "inputdimensions needs one entry per input (%d)", ctx->n_inputs);
  int64_t N = -1, total = 0;
  for (int i = 0; i < ctx->n_inputs; i++) {
    const oxrt_value *x = oxrt_input(ctx, i);
    OXRT_TRY(oxrt_check_tensor(x, i, "X"));
    if (x->dtype == OXRT_STRING) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d must be numeric", i);
    int64_t n = x->rank <= 1 ? (x->rank == 1 ? x->dims[0] : 1) : x->dims[0];
    if (x->rank > 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d must be 1-D or 2-D", i);
    if (N >= 0 && n != N)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d has %lld rows, expected %lld", i, (long long)n, (long long)N);
    N = n;
    if (w[i] < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "inputdimensions[%d] is negative", i);
    total += w[i];
  }
  if (N < 0) N = 0;
  int64_t dims[2] = {N, total};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 2, dims, &y));
  float *o = y->data;
  memset(o, 0, sizeof(float) * y->count);
  int64_t col = 0;
  for (int i = 0; i < ctx->n_inputs; i++) {
    const oxrt_value *x = oxrt_input(ctx, i);
    int64_t c = x->rank == 2 ? x->dims[1] : 1, m = c < w[i] ? c : w[i];
    for (int64_t r = 0; r < N; r++)
      for (int64_t k = 0; k < m; k++) o[r * total + col + k] = (float)ml_get(x, (size_t)(r * c + k));
    col += w[i];
  }
  return NULL;
}

static const oxrt_op_impl scaler_impls[] = {{.since_version = 1, .type_mask = ML_TMASK_NUM, .run = scaler_run}};
static const oxrt_op_impl normalizer_impls[] = {{.since_version = 1, .type_mask = ML_TMASK_NUM, .run = normalizer_run}};
static const oxrt_op_impl binarizer_impls[] = {{.since_version = 1, .type_mask = ML_TMASK_NUM, .run = binarizer_run}};
static const oxrt_op_impl imputer_impls[] = {{.since_version = 1, .type_mask = ML_TMASK_NUM, .run = imputer_run}};
static const oxrt_op_impl afe_impls[] = {{.since_version = 1, .run = afe_run}};
static const oxrt_op_impl fv_impls[] = {{.since_version = 1, .run = fv_run}};
OXRT_REGISTER_OP(ml_Scaler) = {"ai.onnx.ml", "Scaler", OXRT_IMPLS(scaler_impls)};
OXRT_REGISTER_OP(ml_Normalizer) = {"ai.onnx.ml", "Normalizer", OXRT_IMPLS(normalizer_impls)};
OXRT_REGISTER_OP(ml_Binarizer) = {"ai.onnx.ml", "Binarizer", OXRT_IMPLS(binarizer_impls)};
OXRT_REGISTER_OP(ml_Imputer) = {"ai.onnx.ml", "Imputer", OXRT_IMPLS(imputer_impls)};
OXRT_REGISTER_OP(ml_ArrayFeatureExtractor) = {"ai.onnx.ml", "ArrayFeatureExtractor", OXRT_IMPLS(afe_impls)};
OXRT_REGISTER_OP(ml_FeatureVectorizer) = {"ai.onnx.ml", "FeatureVectorizer", OXRT_IMPLS(fv_impls)};
