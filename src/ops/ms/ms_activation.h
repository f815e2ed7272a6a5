/* ms_activation.h - family-private driver of the com.microsoft activations that graph fusions produce
 * (Gelu, FastGelu, BiasGelu, QuickGelu): y = f(x + bias), bias optional and 1-D along the last axis.
 *
 * float runs the vmath array functions straight on the tensors; float16/bfloat16 go through float32 in
 * blocks on the stack; double is computed in double (ONNX Runtime's schemas allow it for some of them).
 * Large tensors are split over the thread pool. */
#ifndef OXRT_OPS_MS_ACTIVATION_H
#define OXRT_OPS_MS_ACTIVATION_H
#include "../../kernels/vmath.h"
#include "../op_util.h"
#include "../onnx/f32_view.h"
#include <math.h>
#include <stdlib.h>

typedef enum { MS_ACT_GELU, MS_ACT_GELU_TANH, MS_ACT_SILU } ms_act_kind;

#define MS_ACT_BLOCK 1024 /* floats per stack block: 4 KiB, stays in L1 */
#define MS_ACT_GRAIN 16384 /* elements per parallel chunk: below this a thread costs more than it saves */

typedef struct {
  ms_act_kind kind;
  float alpha; /* QuickGelu */
  oxrt_elem_type t;
  const void *x;
  void *y;
  const float *bias; /* float32 copy of the bias (the double tensor's own data for double), or NULL */
  const double *bias_d;
  size_t bias_n; /* bias length = size of x's last axis */
} ms_act_job;

static inline void ms_act_f32(const ms_act_job *j, const float *x, float *y, size_t n) {
  switch (j->kind) {
  case MS_ACT_GELU: oxrt_vgelu_f32(x, y, n); break;
  case MS_ACT_GELU_TANH: oxrt_vgelu_tanh_f32(x, y, n); break;
  case MS_ACT_SILU: oxrt_vsilu_f32(x, y, n, j->alpha); break;
  }
}

static inline double ms_act_f64(const ms_act_job *j, double v) {
  switch (j->kind) {
  case MS_ACT_GELU: return 0.5 * v * (1.0 + erf(v * 0.70710678118654752440));
  case MS_ACT_GELU_TANH: return 0.5 * v * (1.0 + tanh(0.79788456080286535588 * (v + 0.044715 * v * v * v)));
  case MS_ACT_SILU: return v / (1.0 + exp(-(double)j->alpha * v));
  }
  return v;
}

/* Elements [b, e): blocks that never cross a row of the bias, so the bias index runs contiguously. */
static void ms_act_range(void *arg, size_t b, size_t e) {
  const ms_act_job *j = arg;
  if (j->t == OXRT_FLOAT && !j->bias) { /* nothing to stage: one call over the whole range */
    ms_act_f32(j, (const float *)j->x + b, (float *)j->y + b, e - b);
    return;
  }
  float buf[MS_ACT_BLOCK];
  for (size_t s = b; s < e;) {
    size_t n = e - s < MS_ACT_BLOCK ? e - s : MS_ACT_BLOCK, col = 0;
    if (j->bias_n) {
      col = s % j->bias_n;
      if (n > j->bias_n - col) n = j->bias_n - col;
    }
    switch (j->t) {
    case OXRT_FLOAT: {
      const float *x = (const float *)j->x + s;
      float *y = (float *)j->y + s;
      if (j->bias) {
        for (size_t i = 0; i < n; i++) y[i] = x[i] + j->bias[col + i];
        x = y;
      }
      ms_act_f32(j, x, y, n);
      break;
    }
    case OXRT_FLOAT16:
    case OXRT_BFLOAT16: {
      const uint16_t *x = (const uint16_t *)j->x + s;
      uint16_t *y = (uint16_t *)j->y + s;
      f32_widen(j->t, x, buf, n); /* bulk conversions (F16C), not a call per element */
      if (j->bias)
        for (size_t i = 0; i < n; i++) buf[i] += j->bias[col + i];
      ms_act_f32(j, buf, buf, n);
      f32_narrow(j->t, buf, y, n);
      break;
    }
    case OXRT_DOUBLE: {
      const double *x = (const double *)j->x + s;
      double *y = (double *)j->y + s;
      for (size_t i = 0; i < n; i++) y[i] = ms_act_f64(j, x[i] + (j->bias_d ? j->bias_d[col + i] : 0.0));
      break;
    }
    default: return; /* excluded by ms_act_run */
    }
    s += n;
  }
}

/* Runs y = f(X + bias) for the node's input 0 and optional 1-D `bias` (NULL: none), into output 0. */
static inline oxrt_status *ms_act_run(oxrt_kernel_ctx *ctx, ms_act_kind kind, float alpha, const oxrt_value *bias) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  oxrt_elem_type t = x->dtype;
  if (t != OXRT_FLOAT && t != OXRT_FLOAT16 && t != OXRT_BFLOAT16 && t != OXRT_DOUBLE)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input 0: element type %s is not supported", oxrt_elem_type_name(t));
  ms_act_job j = {kind, alpha, t, x->data, NULL, NULL, NULL, 0};
  float *bias_tmp = NULL;
  if (bias) {
    OXRT_TRY(oxrt_check_tensor(bias, 1, "bias"));
    if (bias->dtype != t)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (bias): element type %s differs from input 0's %s",
                        oxrt_elem_type_name(bias->dtype), oxrt_elem_type_name(t));
    if (bias->rank != 1)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (bias): expected rank 1, got %d", bias->rank);
    if (x->rank < 1 || x->dims[x->rank - 1] != bias->dims[0])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                        "input 1 (bias): length %lld must equal the last dimension of input 0 (%lld)",
                        (long long)bias->dims[0], x->rank < 1 ? -1LL : (long long)x->dims[x->rank - 1]);
    j.bias_n = (size_t)bias->dims[0];
    if (t == OXRT_DOUBLE) j.bias_d = bias->data;
    else if (t == OXRT_FLOAT) j.bias = bias->data;
    else if (j.bias_n) {
      OXRT_TRY(oxrt_f32_view(bias, &j.bias, &bias_tmp));
    }
  }
  oxrt_value *y;
  oxrt_status *st = oxrt_output_tensor(ctx, 0, t, x->rank, x->dims, &y);
  if (!st && x->count) {
    j.y = y->data;
    if (!j.bias_n) j.bias = NULL, j.bias_d = NULL;
    oxrt_parallel(ctx, x->count, MS_ACT_GRAIN, ms_act_range, &j);
  }
  free(bias_tmp);
  return st;
}

#endif
