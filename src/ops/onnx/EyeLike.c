/* EyeLike.c - EyeLike: a 2-D tensor shaped like the input with ones on diagonal k; the element type is
 * `dtype` or the input's. */
#include "../op_util.h"
#include <string.h>

static oxrt_status *eyelike_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  if (x->rank != 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be 2-D, got rank %d", x->rank);
  int64_t dt = oxrt_attr_int(ctx->node, "dtype", x->dtype);
  if (!oxrt_dtype_is_valid((int)dt) || dt == OXRT_UNDEFINED || dt == OXRT_STRING || dt == OXRT_COMPLEX64 ||
      dt == OXRT_COMPLEX128)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "dtype %lld is not supported", (long long)dt);
  int64_t k = oxrt_attr_int(ctx->node, "k", 0);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, (oxrt_elem_type)dt, 2, x->dims, &y));
  memset(y->data, 0, y->nbytes);
  int64_t rows = x->dims[0], cols = x->dims[1];
  for (int64_t i = 0; i < rows; i++) {
    if (k > cols || k < -rows) break; /* diagonal entirely outside */
    int64_t j = i + k;
    if (j >= 0 && j < cols) oxrt_store_f64((oxrt_elem_type)dt, y->data, (size_t)(i * cols + j), 1.0);
  }
  return NULL;
}

static const oxrt_op_impl eyelike_impls[] = {{.since_version = 9, .run = eyelike_run}};
OXRT_REGISTER_OP(EyeLike) = {"", "EyeLike", OXRT_IMPLS(eyelike_impls)};
