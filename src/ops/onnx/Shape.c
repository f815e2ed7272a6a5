/* Shape.c - Shape as a 1-D int64 tensor; `start`/`end` (15+) slice it, clamped to [0, rank]. */
#include "../op_util.h"
#include "../infer_rules.h"

static oxrt_status *shape_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  if (!x) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (data) is missing");
  if (x->kind != OXRT_KIND_TENSOR && x->kind != OXRT_KIND_SPARSE_TENSOR)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must be a tensor");
  int64_t r = x->rank, start = 0, end = r;
  if (ctx->opset >= 15) {
    start = oxrt_attr_int(ctx->node, "start", 0);
    end = oxrt_attr_int(ctx->node, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = start < 0 ? 0 : (start > r ? r : start);
    end = end < 0 ? 0 : (end > r ? r : end);
  }
  int64_t n = end > start ? end - start : 0;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT64, 1, &n, &y));
  for (int64_t i = 0; i < n; i++) ((int64_t *)y->data)[i] = x->dims[start + i];
  return NULL;
}

static const oxrt_op_impl shape_impls[] = {{.since_version = 1, .run = shape_run}};

/* 1-D int64 of the (sliced) rank; its content is input 0's dimensions, symbolic names kept. */
static oxrt_status *infer_shape(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, out;
  oxrt_known_ints k;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0) return NULL;
  if (!oxrt_known_from_shape(&x, oxrt_attr_int(ctx->node, "start", 0), oxrt_attr_int(ctx->node, "end", x.rank), &k))
    return NULL;
  oxrt_infer_set_known(ctx, 0, &k);
  oxrt_tshape_clear(&out);
  out.elem = OXRT_INT64, out.rank = 1, out.dims[0] = k.n;
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Shape) = {"", "Shape", OXRT_IMPLS(shape_impls), .infer = infer_shape};
