/* NonZero.c - NonZero: int64 [rank, n] coordinates of the non-zero elements in row-major order. */
#include "index_util.h"
#include "../infer_rules.h"

static bool nz_elem(const oxrt_value *x, size_t i) {
  switch (x->dtype) {
  case OXRT_STRING: return ((char *const *)x->data)[i][0] != 0;
  case OXRT_FLOAT: return ((const float *)x->data)[i] != 0;
  case OXRT_DOUBLE: return ((const double *)x->data)[i] != 0;
  case OXRT_COMPLEX64: return ((const float *)x->data)[2 * i] != 0 || ((const float *)x->data)[2 * i + 1] != 0;
  case OXRT_COMPLEX128: return ((const double *)x->data)[2 * i] != 0 || ((const double *)x->data)[2 * i + 1] != 0;
  default:
    if (ix_is_intlike(x->dtype)) {
      size_t es = oxrt_elem_type_size(x->dtype);
      const unsigned char *p = (const unsigned char *)x->data + i * es;
      for (size_t b = 0; b < es; b++)
        if (p[b]) return true;
      return false;
    }
    return oxrt_load_f64(x->dtype, x->data, i) != 0; /* -0.0 is zero, NaN is not */
  }
}

static oxrt_status *nonzero_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  size_t nnz = 0;
  for (size_t i = 0; i < x->count; i++) nnz += nz_elem(x, i);
  int r = x->rank ? x->rank : 1; /* a scalar counts as a 1-element vector, as numpy and ONNX Runtime do */
  int64_t dims[2] = {r, (int64_t)nnz};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT64, 2, dims, &y));
  int64_t *o = y->data;
  int64_t idx[OXRT_MAX_RANK] = {0};
  size_t k = 0;
  for (size_t i = 0; i < x->count; i++) {
    if (nz_elem(x, i)) {
      for (int d = 0; d < r; d++) o[(size_t)d * nnz + k] = x->rank ? idx[d] : 0;
      k++;
    }
    for (int d = x->rank - 1; d >= 0; d--) {
      if (++idx[d] < x->dims[d]) break;
      idx[d] = 0;
    }
  }
  return NULL;
}

static const oxrt_op_impl nonzero_impls[] = {
    {.since_version = 9, .run = nonzero_run},
    {.since_version = 13, .run = nonzero_run},
};

/* int64 [rank, number of non-zeros]. */
static oxrt_status *infer_nonzero(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, out;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0) return NULL;
  oxrt_tshape_clear(&out);
  out.elem = OXRT_INT64, out.rank = 2, out.dims[0] = x.rank, out.dims[1] = -1;
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(NonZero) = {"", "NonZero", OXRT_IMPLS(nonzero_impls), .infer = infer_nonzero};
