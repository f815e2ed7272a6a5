/* Range.c - Range(start, limit, delta): max(ceil((limit - start) / delta), 0) values start + i * delta.
 * Integers are exact; float16/bfloat16 (opset 27) are computed in float (stash_type 1) or double (11). */
#include "../op_util.h"
#include "../infer_rules.h"
#include <math.h>

static oxrt_status *range_int(oxrt_kernel_ctx *ctx, oxrt_elem_type t, int64_t start, int64_t limit, int64_t delta) {
  if (delta == 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "delta must not be 0");
  /* the distance is exact in uint64 even when limit - start overflows int64 */
  uint64_t n = 0;
  if (delta > 0 && limit > start) n = ((uint64_t)limit - (uint64_t)start - 1) / (uint64_t)delta + 1;
  if (delta < 0 && limit < start) n = ((uint64_t)start - (uint64_t)limit - 1) / (0 - (uint64_t)delta) + 1;
  if (n > (uint64_t)1 << 40) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "range of %llu elements is too large", (unsigned long long)n);
  int64_t dim = (int64_t)n;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, t, 1, &dim, &y));
  for (uint64_t i = 0; i < n; i++)
    oxrt_store_i64(t, y->data, (size_t)i, (int64_t)((uint64_t)start + i * (uint64_t)delta));
  return NULL;
}

static oxrt_status *range_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *in[3];
  for (int i = 0; i < 3; i++) {
    in[i] = oxrt_input(ctx, i);
    OXRT_TRY(oxrt_check_tensor(in[i], i, i == 0 ? "start" : i == 1 ? "limit" : "delta"));
    if (in[i]->count != 1)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d must be a scalar, has %zu elements", i, in[i]->count);
    if (in[i]->dtype != in[0]->dtype)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d has type %s, start has %s", i, oxrt_elem_type_name(in[i]->dtype),
                        oxrt_elem_type_name(in[0]->dtype));
  }
  oxrt_elem_type t = in[0]->dtype;
  if (oxrt_dtype_is_signed_int(t) || oxrt_dtype_is_unsigned_int(t))
    return range_int(ctx, t, oxrt_load_i64(t, in[0]->data, 0), oxrt_load_i64(t, in[1]->data, 0),
                     oxrt_load_i64(t, in[2]->data, 0));
  double start = oxrt_load_f64(t, in[0]->data, 0), limit = oxrt_load_f64(t, in[1]->data, 0),
         delta = oxrt_load_f64(t, in[2]->data, 0);
  if (delta == 0 || isnan(delta)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "delta must be a non-zero number");
  double nf = ceil((limit - start) / delta);
  if (isnan(nf) || nf > (double)((int64_t)1 << 40))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "range from %g to %g by %g is too large", start, limit, delta);
  int64_t n = nf > 0 ? (int64_t)nf : 0;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, t, 1, &n, &y));
  bool low = t == OXRT_FLOAT16 || t == OXRT_BFLOAT16;
  int64_t stash = low ? oxrt_attr_int(ctx->node, "stash_type", 1) : OXRT_DOUBLE;
  if (stash == OXRT_FLOAT) {
    /* float accumulation: step taken as (float)(start + delta) - (float)start, as numpy does */
    float x0 = (float)start, d = (float)(start + delta) - x0;
    for (int64_t i = 0; i < n; i++) oxrt_store_f64(t, y->data, (size_t)i, (double)(x0 + (float)i * d));
  } else if (stash == OXRT_DOUBLE) {
    if (t == OXRT_FLOAT)
      for (int64_t i = 0; i < n; i++) ((float *)y->data)[i] = (float)(start + (double)i * delta);
    else
      for (int64_t i = 0; i < n; i++) oxrt_store_f64(t, y->data, (size_t)i, start + (double)i * delta);
  } else {
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "stash_type %lld is not float (1) or double (11)", (long long)stash);
  }
  return NULL;
}

#define RANGE_TYPES (OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_DOUBLE) | OXRT_TBIT(OXRT_INT16) | OXRT_TBIT(OXRT_INT32) | OXRT_TBIT(OXRT_INT64))
static const oxrt_op_impl range_impls[] = {
    {.since_version = 11, .type_mask = RANGE_TYPES, .run = range_run},
    {.since_version = 27, .type_mask = RANGE_TYPES | OXRT_TBIT(OXRT_FLOAT16) | OXRT_TBIT(OXRT_BFLOAT16), .run = range_run},
};

/* 1-D of the type of `start`; its length from known integer start/limit/delta, and Range(0, n, 1) of a symbolic
 * size n (a Shape element) is n long, name kept. */
static oxrt_status *infer_range(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, out;
  if (!oxrt_infer_input(ctx, 0, &x)) return NULL;
  oxrt_tshape_clear(&out);
  out.elem = x.elem, out.rank = 1, out.dims[0] = -1;
  const oxrt_known_ints *a = oxrt_infer_known(ctx, 0), *b = oxrt_infer_known(ctx, 1), *d = oxrt_infer_known(ctx, 2);
  if (a && b && d && a->n == 1 && b->n == 1 && d->n == 1 && a->v[0] >= 0 && !a->names[0] && d->v[0] >= 1 &&
      !d->names[0]) {
    if (b->v[0] >= 0 && !b->names[0]) {
      int64_t span = b->v[0] - a->v[0];
      out.dims[0] = span <= 0 ? 0 : span / d->v[0] + (span % d->v[0] != 0);
    } else if (a->v[0] == 0 && d->v[0] == 1 && b->names[0]) {
      out.names[0] = b->names[0];
    }
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Range) = {"", "Range", OXRT_IMPLS(range_impls), .infer = infer_range};
