/* SwiGLU.c - SwiGLU (opset 28): Y = A * sigmoid(alpha * A) * B for same-shaped A and B; computed in float
 * (double for double inputs). */
#include "../op_util.h"
#include <math.h>
#include <string.h>

static oxrt_status *swiglu_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(a, 0, "A"));
  OXRT_TRY(oxrt_check_tensor(b, 1, "B"));
  if (a->dtype != b->dtype) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "A and B must have the same type");
  if (a->rank != b->rank || memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "A and B must have identical shapes (no broadcasting)");
  double alpha = oxrt_attr_float(ctx->node, "alpha", 1.f);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, a->dtype, a->rank, a->dims, &y));
  if (a->dtype == OXRT_FLOAT) {
    const float *x = a->data, *g = b->data;
    float *o = y->data, al = (float)alpha;
    for (size_t i = 0; i < a->count; i++) o[i] = x[i] / (1.f + expf(-al * x[i])) * g[i];
    return NULL;
  }
  for (size_t i = 0; i < a->count; i++) {
    double x = oxrt_load_f64(a->dtype, a->data, i), g = oxrt_load_f64(b->dtype, b->data, i);
    oxrt_store_f64(a->dtype, y->data, i, x / (1.0 + exp(-alpha * x)) * g);
  }
  return NULL;
}

static const oxrt_op_impl swiglu_impls[] = {{.since_version = 28, .type_mask = OXRT_TMASK_FLOATS, .run = swiglu_run}};
OXRT_REGISTER_OP(SwiGLU) = {"", "SwiGLU", OXRT_IMPLS(swiglu_impls)};
