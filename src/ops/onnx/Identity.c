/* Identity.c - Identity (tensors, sequences and optionals pass through as copies). */
#include "../op_util.h"
#include "../infer_rules.h"

static oxrt_status *identity_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  if (!x) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 is missing");
  if (x->kind == OXRT_KIND_TENSOR) return oxrt_output_copy(ctx, 0, x, x->rank, x->dims);
  oxrt_value *c;
  OXRT_TRY(oxrt_value_clone(x, &c));
  return oxrt_set_output(ctx, 0, c);
}

static const oxrt_op_impl identity_impls[] = {{.since_version = 1, .run = identity_run}};
OXRT_REGISTER_OP(Identity) = {"", "Identity", OXRT_IMPLS(identity_impls), .infer = oxrt_infer_same_content,
                              .flags = OXRT_OP_SAME_ELEM_TYPE};
