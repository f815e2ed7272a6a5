/* Size.c - Size: element count of the input as an int64 scalar. */
#include "../op_util.h"
#include "../infer_rules.h"

static oxrt_status *size_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT64, 0, NULL, &y));
  *(int64_t *)y->data = (int64_t)x->count;
  return NULL;
}

static const oxrt_op_impl size_impls[] = {{.since_version = 1, .run = size_run}};

/* An int64 scalar; its content when every dimension is known. */
static oxrt_status *infer_size(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, out;
  oxrt_tshape_clear(&out);
  out.elem = OXRT_INT64, out.rank = 0;
  if (oxrt_infer_input(ctx, 0, &x) && x.rank >= 0) {
    oxrt_known_ints k = {.scalar = true, .n = 1, .v = {1}};
    for (int i = 0; i < x.rank && k.n; i++)
      if (x.dims[i] < 0 || __builtin_mul_overflow(k.v[0], x.dims[i], &k.v[0])) k.n = 0;
    if (k.n) oxrt_infer_set_known(ctx, 0, &k);
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Size) = {"", "Size", OXRT_IMPLS(size_impls), .infer = infer_size};
