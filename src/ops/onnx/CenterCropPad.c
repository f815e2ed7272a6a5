/* CenterCropPad.c - CenterCropPad: crops or zero-pads each selected axis to the target size, centred
 * (the extra element of an odd difference goes to the end). */
#include "layout_util.h"
#include <stdlib.h>

static oxrt_status *ccp_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input_data"));
  int r = x->rank;
  int64_t *shape;
  size_t n;
  OXRT_TRY(oxrt_read_int_list(oxrt_input(ctx, 1), 1, &shape, &n));
  size_t na;
  const int64_t *axes = oxrt_attr_ints(ctx->node, "axes", &na);
  if (!axes) na = (size_t)r;
  oxrt_status *st = NULL;
  if (n != na) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape has %zu entries for %zu axes", n, na);
  int64_t dims[OXRT_MAX_RANK], cd[OXRT_MAX_RANK], skip[OXRT_MAX_RANK], off[OXRT_MAX_RANK];
  for (int d = 0; d < r; d++) {
    dims[d] = cd[d] = x->dims[d];
    skip[d] = off[d] = 0;
  }
  bool seen[OXRT_MAX_RANK] = {false};
  for (size_t i = 0; !st && i < na; i++) {
    int64_t a = (int64_t)i;
    if (axes) st = oxrt_norm_axis(axes[i], r, false, &a);
    if (st) break;
    if (seen[a]) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axes repeats axis %lld", (long long)axes[i]);
      break;
    }
    seen[a] = true;
    int64_t s = shape[i], dim = x->dims[a];
    if (s < 0) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shape[%zu] = %lld is negative", i, (long long)s);
      break;
    }
    dims[a] = s;
    if (s < dim) { /* crop */
      skip[a] = (dim - s) / 2;
      cd[a] = s;
    } else { /* pad */
      off[a] = (s - dim) / 2;
    }
  }
  free(shape);
  if (st) return st;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, dims, &y));
  uint8_t zero[16] = {0};
  const char *empty = "";
  if (!oxrt_lay_fill(x->dtype, y->data, 0, x->dtype == OXRT_STRING ? (const void *)&empty : zero, y->count))
    return OXRT_OOM();
  int64_t ys[OXRT_MAX_RANK], xs[OXRT_MAX_RANK], yb = 0, xb = 0;
  oxrt_lay_strides(r, dims, ys);
  oxrt_lay_strides(r, x->dims, xs);
  for (int d = 0; d < r; d++) {
    yb += off[d] * ys[d];
    xb += skip[d] * xs[d];
  }
  return oxrt_lay_gather2(ctx, x->dtype, y->data, yb, ys, x->data, xb, r, cd, xs);
}

static const oxrt_op_impl ccp_impls[] = {{.since_version = 18, .run = ccp_run}};
OXRT_REGISTER_OP(CenterCropPad) = {"", "CenterCropPad", OXRT_IMPLS(ccp_impls)};
