/* Hardmax.c - Hardmax: 1 at the first maximum of each row, 0 elsewhere. Opsets 1 and 11 flatten the input to 2-D
 * at `axis` (default 1); opset 13 works along `axis` (default -1). */
#include "index_util.h"
#include "../infer_rules.h"

static oxrt_status *hardmax_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  bool v13 = ctx->opset >= 13;
  int64_t axis;
  size_t outer, dim, inner;
  if (v13) {
    if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must have rank >= 1");
    OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", -1), x->rank, false, &axis));
    outer = ix_prod(x->dims, 0, (int)axis);
    dim = (size_t)x->dims[axis];
    inner = ix_prod(x->dims, (int)axis + 1, x->rank);
  } else {
    OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", 1), x->rank, true, &axis));
    outer = ix_prod(x->dims, 0, (int)axis);
    dim = ix_prod(x->dims, (int)axis, x->rank);
    inner = 1;
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  oxrt_elem_type t = x->dtype;
  for (size_t i = 0; i < x->count; i++) oxrt_store_f64(t, y->data, i, 0.0);
  if (!dim) return NULL;
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      size_t base = o * dim * inner + i, best = 0;
      double bv = oxrt_load_f64(t, x->data, base);
      for (size_t k = 1; k < dim; k++) {
        double c = oxrt_load_f64(t, x->data, base + k * inner);
        if (c > bv || (isnan(c) && !isnan(bv))) bv = c, best = k;
      }
      oxrt_store_f64(t, y->data, base + best * inner, 1.0);
    }
  return NULL;
}

static const oxrt_op_impl hardmax_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = hardmax_run},
    {.since_version = 11, .type_mask = OXRT_TMASK_FLOATS, .run = hardmax_run},
    {.since_version = 13, .type_mask = OXRT_TMASK_FLOATS, .run = hardmax_run},
};
OXRT_REGISTER_OP(Hardmax) = {"", "Hardmax", OXRT_IMPLS(hardmax_impls), .infer = oxrt_infer_same};
