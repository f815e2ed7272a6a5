/* Tile.c - Tile: opset 1 repeats along one axis (scalar `tiles`, `axis` inputs); from 6 a `repeats`
 * vector. The output is gathered as a view [r0, d0, r1, d1, ...] with zero strides on the repeat axes. */
#include "layout_util.h"
#include "../infer_rules.h"
#include <stdlib.h>

static oxrt_status *tile_common(oxrt_kernel_ctx *ctx, const oxrt_value *x, const int64_t *reps) {
  int r = x->rank;
  int64_t dims[OXRT_MAX_RANK], xs[OXRT_MAX_RANK];
  int64_t vd[2 * OXRT_MAX_RANK], vs[2 * OXRT_MAX_RANK];
  oxrt_lay_strides(r, x->dims, xs);
  for (int d = 0; d < r; d++) {
    if (reps[d] < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "repeats[%d] = %lld is negative", d, (long long)reps[d]);
    if (x->dims[d] && reps[d] > INT64_MAX / x->dims[d])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "repeats[%d] = %lld is too large", d, (long long)reps[d]);
    dims[d] = x->dims[d] * reps[d];
    vd[2 * d] = reps[d];
    vs[2 * d] = 0;
    vd[2 * d + 1] = x->dims[d];
    vs[2 * d + 1] = xs[d];
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, dims, &y));
  return oxrt_lay_gather(ctx, x->dtype, y->data, x->data, 0, 2 * r, vd, vs);
}

static oxrt_status *tile1_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  int64_t tiles, axis;
  OXRT_TRY(oxrt_read_scalar_i64(oxrt_input(ctx, 1), 1, &tiles));
  OXRT_TRY(oxrt_read_scalar_i64(oxrt_input(ctx, 2), 2, &axis));
  OXRT_TRY(oxrt_norm_axis(axis, x->rank, false, &axis));
  int64_t reps[OXRT_MAX_RANK];
  for (int d = 0; d < x->rank; d++) reps[d] = d == axis ? tiles : 1;
  return tile_common(ctx, x, reps);
}

static oxrt_status *tile6_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  int64_t *reps;
  size_t n;
  OXRT_TRY(oxrt_read_int_list(oxrt_input(ctx, 1), 1, &reps, &n));
  oxrt_status *st = (int)n != x->rank
                        ? oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "repeats has %zu entries, input has rank %d", n, x->rank)
                        : tile_common(ctx, x, reps);
  free(reps);
  return st;
}

static const oxrt_op_impl tile_impls[] = {
    {.since_version = 1, .run = tile1_run},
    {.since_version = 6, .run = tile6_run},
};

/* Each dimension times the known repeat count. */
static oxrt_status *infer_tile(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, out;
  const oxrt_known_ints *k = oxrt_infer_known(ctx, 1);
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 0 || !k || k->n != x.rank) return NULL;
  out = x;
  for (int d = 0; d < x.rank; d++) {
    if (x.dims[d] < 0 || k->v[d] < 0 || k->names[d] || __builtin_mul_overflow(x.dims[d], k->v[d], &out.dims[d]))
      out.dims[d] = -1;
    out.names[d] = k->v[d] == 1 ? x.names[d] : NULL;
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Tile) = {"", "Tile", OXRT_IMPLS(tile_impls), .infer = infer_tile};
