/* CausalConvWithState.c - CausalConvWithState (opset 27): depthwise causal 1-D convolution over
 * [batch, channels, length] with a carried state of the last k-1 inputs (zeros when absent), optional bias and
 * SiLU activation; outputs the result and the new state. Computed in float (double for double). */
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static oxrt_status *ccws_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 1), *bias = oxrt_input(ctx, 2),
                   *past = oxrt_input(ctx, 3);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  OXRT_TRY(oxrt_check_tensor(w, 1, "weight"));
  if (x->rank != 3) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be [batch, channels, length]");
  int64_t B = x->dims[0], C = x->dims[1], L = x->dims[2];
  if (w->rank != 3 || w->dims[0] != C || w->dims[1] != 1 || w->dims[2] < 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "weight must be [channels=%lld, 1, k]", (long long)C);
  int64_t K = w->dims[2], P = K - 1;
  if (bias && (bias->kind != OXRT_KIND_TENSOR || bias->count != (size_t)C))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "bias must have %lld elements", (long long)C);
  if (past && (past->kind != OXRT_KIND_TENSOR || past->rank != 3 || past->dims[0] != B || past->dims[1] != C ||
               past->dims[2] != P))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "past_state must be [%lld, %lld, %lld]", (long long)B, (long long)C,
                      (long long)P);
  const char *act = oxrt_attr_string(ctx->node, "activation", "none");
  bool silu = !strcmp(act, "silu") || !strcmp(act, "swish");
  if (!silu && strcmp(act, "none"))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "activation must be none, silu or swish, got '%s'", act);
  int64_t sd[3] = {B, C, P};
  oxrt_value *y, *st;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, 3, x->dims, &y));
  bool want_state = oxrt_output_wanted(ctx, 1);
  if (want_state) OXRT_TRY(oxrt_output_tensor(ctx, 1, x->dtype, 3, sd, &st));
  double *pad = malloc(sizeof(double) * (size_t)(P + L + 1));
  if (!pad) return OXRT_OOM();
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = 0; c < C; c++) {
      for (int64_t t = 0; t < P; t++)
        pad[t] = past ? oxrt_load_f64(past->dtype, past->data, (size_t)((b * C + c) * P + t)) : 0.0;
      for (int64_t t = 0; t < L; t++) pad[P + t] = oxrt_load_f64(x->dtype, x->data, (size_t)((b * C + c) * L + t));
      double bv = bias ? oxrt_load_f64(bias->dtype, bias->data, (size_t)c) : 0.0;
      for (int64_t t = 0; t < L; t++) {
        double acc = bv;
        for (int64_t k = 0; k < K; k++) acc += pad[t + k] * oxrt_load_f64(w->dtype, w->data, (size_t)(c * K + k));
        if (silu) acc = acc / (1.0 + exp(-acc));
        oxrt_store_f64(x->dtype, y->data, (size_t)((b * C + c) * L + t), acc);
      }
      if (want_state)
        for (int64_t t = 0; t < P; t++) oxrt_store_f64(x->dtype, st->data, (size_t)((b * C + c) * P + t), pad[L + t]);
    }
  free(pad);
  return NULL;
}

static const oxrt_op_impl ccws_impls[] = {{.since_version = 27, .type_mask = OXRT_TMASK_FLOATS, .run = ccws_run}};
OXRT_REGISTER_OP(CausalConvWithState) = {"", "CausalConvWithState", OXRT_IMPLS(ccws_impls)};
