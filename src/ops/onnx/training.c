/* training.c - optimizers of the ai.onnx.preview.training domain: Adagrad, Adam, Momentum (standard and
 * nesterov). Inputs are R (learning rate), T (update count), then per optimised tensor groups of
 * X, G and the state tensors (H for Adagrad; V, H for Adam; V for Momentum), each group listed tensor by
 * tensor: X1..Xn, G1..Gn, .... Outputs are the new X1..Xn followed by the new states. Computed in double. */
#include "../op_util.h"
#include <math.h>
#include <string.h>

enum { OPT_ADAGRAD, OPT_ADAM, OPT_MOMENTUM };

static oxrt_status *opt_run(oxrt_kernel_ctx *ctx, int kind) {
  const int per = kind == OPT_ADAM ? 4 : 3; /* X, G and the states */
  const int n_in = ctx->n_inputs - 2;
  if (n_in <= 0 || n_in % per != 0)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "expected R, T and %d inputs per optimised tensor, got %d inputs", per,
                      ctx->n_inputs);
  const int n = n_in / per;
  double r;
  int64_t t;
  OXRT_TRY(oxrt_read_scalar_f64(oxrt_input(ctx, 0), 0, &r));
  OXRT_TRY(oxrt_read_scalar_i64(oxrt_input(ctx, 1), 1, &t));
  const double norm = oxrt_attr_float(ctx->node, "norm_coefficient", 0.0f);
  const double eps = oxrt_attr_float(ctx->node, "epsilon", 1e-6f);
  const double decay = oxrt_attr_float(ctx->node, "decay_factor", 0.0f);
  const double alpha = oxrt_attr_float(ctx->node, "alpha", kind == OPT_ADAM ? 0.9f : 0.0f);
  const double beta = oxrt_attr_float(ctx->node, "beta", kind == OPT_ADAM ? 0.999f : 0.0f);
  const double post = oxrt_attr_float(ctx->node, "norm_coefficient_post", 0.0f);
  bool nesterov = false;
  if (kind == OPT_MOMENTUM) {
    const char *mode = oxrt_attr_string(ctx->node, "mode", "standard");
    if (strcmp(mode, "nesterov") == 0) nesterov = true;
    else if (strcmp(mode, "standard") != 0)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "mode '%s' is not standard or nesterov", mode);
  }
  for (int k = 0; k < n; k++) {
    const oxrt_value *in[4];
    for (int j = 0; j < per; j++) {
      in[j] = oxrt_input(ctx, 2 + j * n + k);
      OXRT_TRY(oxrt_check_tensor(in[j], 2 + j * n + k, "optimizer tensor"));
      if (in[j]->count != in[0]->count)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: %zu elements, expected %zu like X", 2 + j * n + k,
                          in[j]->count, in[0]->count);
    }
    oxrt_value *out[3] = {NULL, NULL, NULL};
    for (int j = 0; j < per - 1; j++) {
      const oxrt_value *src = j == 0 ? in[0] : in[1 + j];
      if (oxrt_output_wanted(ctx, j * n + k))
        OXRT_TRY(oxrt_output_tensor(ctx, j * n + k, src->dtype, src->rank, src->dims, &out[j]));
    }
    const oxrt_value *X = in[0], *G = in[1];
    for (size_t i = 0; i < X->count; i++) {
      const double x = oxrt_load_f64(X->dtype, X->data, i);
      const double g = oxrt_load_f64(G->dtype, G->data, i) + norm * x;
      if (kind == OPT_ADAGRAD) {
        const double h = oxrt_load_f64(in[2]->dtype, in[2]->data, i) + g * g;
        const double rr = r / (1.0 + (double)t * decay);
        if (out[0]) oxrt_store_f64(out[0]->dtype, out[0]->data, i, x - rr * g / (sqrt(h) + eps));
        if (out[1]) oxrt_store_f64(out[1]->dtype, out[1]->data, i, h);
      } else if (kind == OPT_ADAM) {
        const double v = alpha * oxrt_load_f64(in[2]->dtype, in[2]->data, i) + (1 - alpha) * g;
        const double h = beta * oxrt_load_f64(in[3]->dtype, in[3]->data, i) + (1 - beta) * g * g;
        const double ra = t > 0 ? r * sqrt(1 - pow(beta, (double)t)) / (1 - pow(alpha, (double)t)) : r;
        const double xn = (1 - post) * (x - ra * v / (sqrt(h) + eps));
        if (out[0]) oxrt_store_f64(out[0]->dtype, out[0]->data, i, xn);
        if (out[1]) oxrt_store_f64(out[1]->dtype, out[1]->data, i, v);
        if (out[2]) oxrt_store_f64(out[2]->dtype, out[2]->data, i, h);
      } else {
        const double bt = t > 0 ? beta : 1.0;
        const double v = alpha * oxrt_load_f64(in[2]->dtype, in[2]->data, i) + bt * g;
        const double xn = nesterov ? x - r * (g + alpha * v) : x - r * v;
        if (out[0]) oxrt_store_f64(out[0]->dtype, out[0]->data, i, xn);
        if (out[1]) oxrt_store_f64(out[1]->dtype, out[1]->data, i, v);
      }
    }
  }
  return NULL;
}

static oxrt_status *adagrad_run(oxrt_kernel_ctx *ctx) { return opt_run(ctx, OPT_ADAGRAD); }
static oxrt_status *adam_run(oxrt_kernel_ctx *ctx) { return opt_run(ctx, OPT_ADAM); }
static oxrt_status *momentum_run(oxrt_kernel_ctx *ctx) { return opt_run(ctx, OPT_MOMENTUM); }

#define OPT_T (OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_DOUBLE))
static const oxrt_op_impl adagrad_impls[] = {{.since_version = 1, .type_mask = OPT_T, .run = adagrad_run}};
static const oxrt_op_impl adam_impls[] = {{.since_version = 1, .type_mask = OPT_T, .run = adam_run}};
static const oxrt_op_impl momentum_impls[] = {{.since_version = 1, .type_mask = OPT_T, .run = momentum_run}};
OXRT_REGISTER_OP(training_Adagrad) = {"ai.onnx.preview.training", "Adagrad", OXRT_IMPLS(adagrad_impls)};
OXRT_REGISTER_OP(training_Adam) = {"ai.onnx.preview.training", "Adam", OXRT_IMPLS(adam_impls)};
OXRT_REGISTER_OP(training_Momentum) = {"ai.onnx.preview.training", "Momentum", OXRT_IMPLS(momentum_impls)};
