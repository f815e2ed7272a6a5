/* windows.c - HannWindow, HammingWindow, BlackmanWindow (opset 17): generalized cosine windows
 * w[n] = a0 - a1*cos(2*pi*n/N) + a2*cos(4*pi*n/N), N = size (periodic) or size-1 (symmetric). */
#include "../op_util.h"
#include <math.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define WINDOW_OUT_TYPES (OXRT_TMASK_FLOATS | OXRT_TMASK_INTS)

static oxrt_status *window_run(oxrt_kernel_ctx *ctx, double a0, double a1, double a2) {
  int64_t size;
  OXRT_TRY(oxrt_read_scalar_i64(oxrt_input(ctx, 0), 0, &size));
  if (size < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "size must be non-negative, got %lld", (long long)size);
  int64_t dt = oxrt_attr_int(ctx->node, "output_datatype", OXRT_FLOAT);
  if (!oxrt_dtype_is_valid((int)dt) || !(WINDOW_OUT_TYPES & OXRT_TBIT(dt)))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output_datatype %lld is not a supported numeric type", (long long)dt);
  int periodic = (int)oxrt_attr_int(ctx->node, "periodic", 1);
  double N = periodic ? (double)size : (double)(size - 1);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, (oxrt_elem_type)dt, 1, &size, &y));
  for (int64_t n = 0; n < size; n++) {
    /* a one-point symmetric window divides by zero: defined as 1 (its peak) */
    double v = N == 0 ? 1.0 : a0 - a1 * cos(2 * M_PI * (double)n / N) + a2 * cos(4 * M_PI * (double)n / N);
    oxrt_store_f64((oxrt_elem_type)dt, y->data, (size_t)n, v);
  }
  return NULL;
}

static oxrt_status *hann_run(oxrt_kernel_ctx *ctx) { return window_run(ctx, 0.5, 0.5, 0.0); }
static oxrt_status *hamming_run(oxrt_kernel_ctx *ctx) { return window_run(ctx, 25.0 / 46.0, 21.0 / 46.0, 0.0); }
static oxrt_status *blackman_run(oxrt_kernel_ctx *ctx) { return window_run(ctx, 0.42, 0.5, 0.08); }

#define WIN_TYPES (OXRT_TBIT(OXRT_INT32) | OXRT_TBIT(OXRT_INT64))
static const oxrt_op_impl hann_impls[] = {{.since_version = 17, .type_mask = WIN_TYPES, .run = hann_run}};
static const oxrt_op_impl hamming_impls[] = {{.since_version = 17, .type_mask = WIN_TYPES, .run = hamming_run}};
static const oxrt_op_impl blackman_impls[] = {{.since_version = 17, .type_mask = WIN_TYPES, .run = blackman_run}};
OXRT_REGISTER_OP(HannWindow) = {"", "HannWindow", OXRT_IMPLS(hann_impls)};
OXRT_REGISTER_OP(HammingWindow) = {"", "HammingWindow", OXRT_IMPLS(hamming_impls)};
OXRT_REGISTER_OP(BlackmanWindow) = {"", "BlackmanWindow", OXRT_IMPLS(blackman_impls)};
