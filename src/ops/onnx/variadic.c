/* variadic.c - Max, Min, Mean, Sum over one or more inputs with numpy broadcasting.
 *
 * The output (broadcast of all input shapes) is filled from the first two
 * inputs and then folded in place with each further input; Mean divides at
 * the end. Max/Min propagate NaN like numpy's maximum/minimum.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("-fno-math-errno", "-fno-trapping-math")
#endif
#include "elementwise.h"
#include "../infer_rules.h"
#include <string.h>

/* In-place capable loops (the fold reads and writes the output at the same index). */
#define FMAX(x, z) ((x) != (x) || (x) > (z) ? (x) : (z))
#define FMIN(x, z) ((x) != (x) || (x) < (z) ? (x) : (z))
#define MAKE_FLOAT(sfx, T)                                                                                             \
  BIN_LOOP_Q(vmax_##sfx, T, T, FMAX(x, z), , OXRT_EW_CLONES)                                                           \
  BIN_LOOP_Q(vmin_##sfx, T, T, FMIN(x, z), , OXRT_EW_CLONES)                                                           \
  BIN_LOOP_Q(vsum_##sfx, T, T, x + z, , OXRT_EW_CLONES)
MAKE_FLOAT(f32, float)
MAKE_FLOAT(f64, double)
#define MAKE_INT(sfx, T)                                                                                               \
  BIN_LOOP_Q(vmax_##sfx, T, T, x > z ? x : z, , )                                                                      \
  BIN_LOOP_Q(vmin_##sfx, T, T, x < z ? x : z, , )
MAKE_INT(i8, int8_t)
MAKE_INT(i16, int16_t)
MAKE_INT(i32, int32_t)
MAKE_INT(i64, int64_t)
MAKE_INT(u8, uint8_t)
MAKE_INT(u16, uint16_t)
MAKE_INT(u32, uint32_t)
MAKE_INT(u64, uint64_t)

typedef struct {
  bin_loop loops[OXRT_ELEM_TYPE_COUNT];
} var_desc;

#define T_INTS(pfx)                                                                                                    \
  [OXRT_INT8] = pfx##_i8, [OXRT_INT16] = pfx##_i16, [OXRT_INT32] = pfx##_i32, [OXRT_INT64] = pfx##_i64,               \
  [OXRT_UINT8] = pfx##_u8, [OXRT_UINT16] = pfx##_u16, [OXRT_UINT32] = pfx##_u32, [OXRT_UINT64] = pfx##_u64
#define T_FLOATS(pfx)                                                                                                  \
  [OXRT_FLOAT] = pfx##_f32, [OXRT_DOUBLE] = pfx##_f64, [OXRT_FLOAT16] = pfx##_f32, [OXRT_BFLOAT16] = pfx##_f32

static const var_desc d_max = {{T_INTS(vmax), T_FLOATS(vmax)}};
static const var_desc d_min = {{T_INTS(vmin), T_FLOATS(vmin)}};
static const var_desc d_sum = {{T_FLOATS(vsum)}};

static void divide(oxrt_value *y, size_t n_inputs) {
  if (y->dtype == OXRT_FLOAT) {
    float *p = y->data, s = 1.0f / (float)n_inputs;
    for (size_t i = 0; i < y->count; i++) p[i] *= s;
  } else if (y->dtype == OXRT_DOUBLE) {
    double *p = y->data;
    for (size_t i = 0; i < y->count; i++) p[i] /= (double)n_inputs;
  } else {
    for (size_t i = 0; i < y->count; i++)
      oxrt_store_f64(y->dtype, y->data, i, oxrt_load_f64(y->dtype, y->data, i) / (double)n_inputs);
  }
}

static oxrt_status *variadic_run(oxrt_kernel_ctx *ctx, const var_desc *d, bool mean) {
  int n = ctx->n_inputs;
  if (n < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "expected at least one input");
  for (int i = 0; i < n; i++) {
    OXRT_TRY(oxrt_check_tensor(oxrt_input(ctx, i), i, "data"));
    if (ctx->inputs[i]->dtype != ctx->inputs[0]->dtype)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d has type %s, input 0 has %s", i,
                        oxrt_elem_type_name(ctx->inputs[i]->dtype), oxrt_elem_type_name(ctx->inputs[0]->dtype));
  }
  const oxrt_value *x0 = ctx->inputs[0];
  bin_loop loop = oxrt_dtype_is_valid((int)x0->dtype) ? d->loops[x0->dtype] : NULL;
  if (!loop)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input 0: element type %s is not supported",
                      oxrt_elem_type_name(x0->dtype));
  int rank;
  int64_t dims[OXRT_MAX_RANK];
  OXRT_TRY(oxrt_broadcast_shapes(n, ctx->inputs, &rank, dims));
  oxrt_value *y;
  if (n == 1) return oxrt_output_copy(ctx, 0, x0, x0->rank, x0->dims);
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x0->dtype, rank, dims, &y));
  bparams p = {x0->dtype, x0->dtype, x0->dtype};
  oxrt_ew_binary_exec(ctx, loop, &p, x0, ctx->inputs[1], y);
  for (int i = 2; i < n; i++) oxrt_ew_binary_exec(ctx, loop, &p, y, ctx->inputs[i], y);
  if (mean) divide(y, (size_t)n);
  return NULL;
}

static oxrt_status *max_run(oxrt_kernel_ctx *ctx) { return variadic_run(ctx, &d_max, false); }
static oxrt_status *min_run(oxrt_kernel_ctx *ctx) { return variadic_run(ctx, &d_min, false); }
static oxrt_status *sum_run(oxrt_kernel_ctx *ctx) { return variadic_run(ctx, &d_sum, false); }
static oxrt_status *mean_run(oxrt_kernel_ctx *ctx) { return variadic_run(ctx, &d_sum, true); }

/* Versions only widened types (integers for Max/Min from 12) and added broadcasting (8). */
static const oxrt_op_impl max_impls[] = {{.since_version = 1, .type_mask = OXRT_TMASK_NUMERIC, .run = max_run}};
static const oxrt_op_impl min_impls[] = {{.since_version = 1, .type_mask = OXRT_TMASK_NUMERIC, .run = min_run}};
static const oxrt_op_impl sum_impls[] = {{.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = sum_run}};
static const oxrt_op_impl mean_impls[] = {{.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = mean_run}};
OXRT_REGISTER_OP(Max) = {"", "Max", OXRT_IMPLS(max_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(Min) = {"", "Min", OXRT_IMPLS(min_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(Sum) = {"", "Sum", OXRT_IMPLS(sum_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(Mean) = {"", "Mean", OXRT_IMPLS(mean_impls), .infer = oxrt_infer_broadcast};
