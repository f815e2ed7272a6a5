/* cumulative.h - family-private: the scan shared by CumSum and CumProd (attributes exclusive, reverse;
 * axis from input 1). Integers are exact in int64 (wrapping like the element type), floats accumulate in
 * double; data is viewed as [outer, D, inner] and walked along D. */
#ifndef OXRT_OPS_CUMULATIVE_H
#define OXRT_OPS_CUMULATIVE_H
#include "../op_util.h"

static oxrt_status *cum_run(oxrt_kernel_ctx *ctx, bool prod) {
  const oxrt_value *x = oxrt_input(ctx, 0), *ax = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "x"));
  int64_t a;
  if (ax && ax->rank > 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (axis) must be a scalar or 1-D");
  OXRT_TRY(oxrt_read_scalar_i64(ax, 1, &a));
  const int r = x->rank;
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(a, r ? r : 1, false, &axis));
  const bool excl = oxrt_attr_int(ctx->node, "exclusive", 0) != 0;
  const bool rev = oxrt_attr_int(ctx->node, "reverse", 0) != 0;
  size_t outer = 1, D = r ? (size_t)x->dims[axis] : 1, inner = 1;
  for (int i = 0; i < r; i++)
    if (i < axis) outer *= (size_t)x->dims[i];
    else if (i > axis) inner *= (size_t)x->dims[i];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, x->dims, &y));
  const oxrt_elem_type t = x->dtype;
  const bool is_int = oxrt_dtype_is_signed_int(t) || oxrt_dtype_is_unsigned_int(t);
  for (size_t o = 0; o < outer; o++)
    for (size_t j = 0; j < inner; j++) {
      double accf = prod ? 1.0 : 0.0;
      uint64_t acci = prod ? 1 : 0;
      for (size_t k = 0; k < D; k++) {
        const size_t i = rev ? D - 1 - k : k;
        const size_t off = (o * D + i) * inner + j;
        if (is_int) {
          const uint64_t v = (uint64_t)oxrt_load_i64(t, x->data, off);
          if (!excl) acci = prod ? acci * v : acci + v;
          oxrt_store_i64(t, y->data, off, (int64_t)acci);
          if (excl) acci = prod ? acci * v : acci + v;
        } else {
          const double v = t == OXRT_FLOAT ? ((const float *)x->data)[off] : oxrt_load_f64(t, x->data, off);
          if (!excl) accf = prod ? accf * v : accf + v;
          if (t == OXRT_FLOAT) ((float *)y->data)[off] = (float)accf;
          else oxrt_store_f64(t, y->data, off, accf);
          if (excl) accf = prod ? accf * v : accf + v;
        }
      }
    }
  return NULL;
}

#define CUM_TYPES (OXRT_TMASK_FLOATS | OXRT_TBIT(OXRT_INT32) | OXRT_TBIT(OXRT_INT64) | OXRT_TBIT(OXRT_UINT32) | OXRT_TBIT(OXRT_UINT64))
#endif
