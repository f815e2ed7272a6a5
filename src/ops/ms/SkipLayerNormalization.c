/* SkipLayerNormalization.c - com.microsoft SkipLayerNormalization (ONNX Runtime contrib op), the residual add,
 * the bias of the MatMul before it and LayerNormalization over the last axis in one pass per row:
 *
 *   s = input + skip (+ bias);  output = (s - mean(s)) / sqrt(var(s) + epsilon) * gamma (+ beta)
 *   input_skip_bias_sum (output 3) = s, for the readers of the residual stream (pre-LN models)
 *
 * input and skip [.., H]: ONNX Runtime takes skip as input's shape, [1, S, H] or [S, H]; any numpy broadcast of
 * the leading dims is computed here (the output has the broadcast shape). gamma, beta, bias [H]. float only; the
 * mean and inv_std_var outputs (1, 2) are refused (the optimizer never asks for them).
 * Rows run in parallel; mean and variance accumulate in double (oxrt_vmean_var_f32). */
#include "../../kernels/vmath.h"
#include "../infer_rules.h"
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>

typedef struct {
  const float *x, *skip, *gamma, *beta, *bias;
  float *y, *sum; /* sum may be NULL: s then lives in y until normalised */
  size_t cols;
  const size_t *xrow, *krow; /* per output row: the rows of x and skip it reads (NULL: the same row) */
  float eps;
} sln_job;

OXRT_SIMD_CLONES static void sln_rows(void *arg, size_t beg, size_t end) {
  const sln_job *J = arg;
  const size_t n = J->cols;
  for (size_t r = beg; r < end; r++) {
    const float *x = J->x + (J->xrow ? J->xrow[r] : r) * n, *k = J->skip + (J->krow ? J->krow[r] : r) * n;
    float *y = J->y + r * n, *s = J->sum ? J->sum + r * n : y;
    if (J->bias)
      for (size_t i = 0; i < n; i++) s[i] = x[i] + k[i] + J->bias[i];
    else
      for (size_t i = 0; i < n; i++) s[i] = x[i] + k[i];
    double mean, var;
    oxrt_vmean_var_f32(s, n, &mean, &var);
    const float inv = (float)(1.0 / sqrt(var + (double)J->eps)), m = (float)mean;
    const float *g = J->gamma, *b = J->beta;
    if (b)
      for (size_t i = 0; i < n; i++) y[i] = (s[i] - m) * inv * g[i] + b[i];
    else
      for (size_t i = 0; i < n; i++) y[i] = (s[i] - m) * inv * g[i];
  }
}

/* Input `i` (optional unless `need`): float, 1-D of length H. */
static oxrt_status *row_param(oxrt_kernel_ctx *ctx, int i, const char *what, int64_t H, const float **out) {
  const oxrt_value *v = oxrt_input(ctx, i);
  *out = NULL;
  if (!v) return NULL;
  OXRT_TRY(oxrt_check_tensor(v, i, what));
  if (v->dtype != OXRT_FLOAT || v->rank != 1 || v->dims[0] != H)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "SkipLayerNormalization: %s (input %d) must be float of shape "
                                                 "[%lld] (the hidden size)",
                      what, i, (long long)H);
  *out = v->data;
  return NULL;
}

static oxrt_status *sln_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *skip = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  OXRT_TRY(oxrt_check_tensor(skip, 1, "skip"));
  if (x->dtype != OXRT_FLOAT || skip->dtype != OXRT_FLOAT || x->rank < 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "SkipLayerNormalization: input and skip must be float tensors of "
                                                 "rank >= 1");
  for (int i = 1; i <= 2; i++)
    if (oxrt_output_wanted(ctx, i))
      return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "SkipLayerNormalization: output %d (mean / inv_std_var) is not "
                                                  "supported",
                        i);
  const int64_t H = x->dims[x->rank - 1];
  if (skip->rank < 1 || skip->dims[skip->rank - 1] != H)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "SkipLayerNormalization: skip's last dim must be input's (%lld)",
                      (long long)H);
  /* leading dims broadcast numpy-style */
  const int r = x->rank > skip->rank ? x->rank : skip->rank;
  int64_t od[OXRT_MAX_RANK], xd[OXRT_MAX_RANK], kd[OXRT_MAX_RANK];
  bool same = x->rank == skip->rank;
  for (int d = 0; d < r; d++) {
    xd[d] = d < r - x->rank ? 1 : x->dims[d - (r - x->rank)];
    kd[d] = d < r - skip->rank ? 1 : skip->dims[d - (r - skip->rank)];
    if (xd[d] != kd[d] && xd[d] != 1 && kd[d] != 1)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "SkipLayerNormalization: input dim %d (%lld) and skip's (%lld) do "
                                                   "not broadcast",
                        d, (long long)xd[d], (long long)kd[d]);
    od[d] = xd[d] == 1 ? kd[d] : xd[d];
    same = same && xd[d] == kd[d];
  }
  size_t rows = 1;
  for (int d = 0; d + 1 < r; d++) rows *= (size_t)od[d];
  sln_job J = {.x = x->data, .skip = skip->data, .cols = (size_t)H};
  OXRT_TRY(row_param(ctx, 2, "gamma", H, &J.gamma));
  if (!J.gamma) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "SkipLayerNormalization: gamma (input 2) is required");
  OXRT_TRY(row_param(ctx, 3, "beta", H, &J.beta));
  OXRT_TRY(row_param(ctx, 4, "bias", H, &J.bias));
  J.eps = oxrt_attr_float(ctx->node, "epsilon", 1e-12f); /* ORT's default */
  oxrt_value *y, *s = NULL;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, r, od, &y));
  if (oxrt_output_wanted(ctx, 3)) OXRT_TRY(oxrt_output_tensor(ctx, 3, OXRT_FLOAT, r, od, &s));
  J.y = y->data;
  J.sum = s ? s->data : NULL;
  if (!rows || !H) return NULL;
  size_t *map = NULL;
  if (!same) { /* row maps: output row -> x row, skip row */
    if (!(map = malloc(sizeof(size_t) * 2 * rows))) return OXRT_OOM();
    for (size_t o = 0; o < rows; o++) {
      size_t rem = o, xi = 0, ki = 0, xs = 1, ks = 1;
      for (int d = r - 2; d >= 0; d--) {
        size_t c = rem % (size_t)od[d];
        rem /= (size_t)od[d];
        xi += (xd[d] == 1 ? 0 : c) * xs, ki += (kd[d] == 1 ? 0 : c) * ks;
        xs *= (size_t)xd[d], ks *= (size_t)kd[d];
      }
      map[o] = xi, map[rows + o] = ki;
    }
    J.xrow = map, J.krow = map + rows;
  }
  oxrt_parallel(ctx, rows, (size_t)H >= 4096 ? 1 : 4096 / (size_t)H + 1, sln_rows, &J);
  free(map);
  return NULL;
}

static const oxrt_op_impl sln_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TBIT(OXRT_FLOAT), .type_input = 0, .run = sln_run}};
/* output and input_skip_bias_sum (3): the broadcast of input and skip, input's type. */
static oxrt_status *infer_sln(oxrt_infer_ctx *ctx) {
  oxrt_tshape in[2], out;
  if (!oxrt_infer_input(ctx, 0, &in[0]) || !oxrt_infer_input(ctx, 1, &in[1])) return NULL;
  if (!oxrt_tshape_broadcast(&out, in, 2))
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "input and skip shapes cannot be broadcast together");
  out.elem = in[0].elem;
  OXRT_TRY(oxrt_infer_output(ctx, 0, &out));
  return oxrt_infer_output(ctx, 3, &out);
}

OXRT_REGISTER_OP(ms_SkipLayerNormalization) = {"com.microsoft", "SkipLayerNormalization", OXRT_IMPLS(sln_impls),
                                              .infer = infer_sln};
