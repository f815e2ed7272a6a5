/* MaxUnpool.c - scatters X into zeros at the flat positions given by I (MaxPool's Indices). The default
 * output is (in - 1) * stride - pad_begin - pad_end + kernel per spatial axis; an explicit output_shape
 * receives that result in its leading corner (cropped where smaller), as the reference does. */
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

static oxrt_status *maxunpool_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *ind = oxrt_input(ctx, 1), *os = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(ind, 1, "I"));
  if (x->rank < 3) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 3, got %d", x->rank);
  if (ind->dtype != OXRT_INT64 || ind->count != x->count)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: expected int64 indices with %zu elements like X", x->count);
  const int nsp = x->rank - 2;
  size_t nk = 0, ns = 0, np = 0;
  const int64_t *ks = oxrt_attr_ints(ctx->node, "kernel_shape", &nk);
  const int64_t *st = oxrt_attr_ints(ctx->node, "strides", &ns);
  const int64_t *pads = oxrt_attr_ints(ctx->node, "pads", &np);
  if (!ks || (int)nk != nsp) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "kernel_shape must have %d values", nsp);
  if (st && (int)ns != nsp) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "strides must have %d values", nsp);
  if (pads && (int)np != 2 * nsp) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "pads must have %d values", 2 * nsp);
  int64_t inf[OXRT_MAX_RANK], od[OXRT_MAX_RANK];
  inf[0] = x->dims[0], inf[1] = x->dims[1];
  for (int i = 0; i < nsp; i++) {
    inf[2 + i] = (x->dims[2 + i] - 1) * (st ? st[i] : 1) - (pads ? pads[i] + pads[nsp + i] : 0) + ks[i];
    if (inf[2 + i] < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %d: negative inferred output size", i);
  }
  memcpy(od, inf, sizeof(int64_t) * (size_t)x->rank);
  if (os) {
    int64_t *v;
    size_t n;
    OXRT_TRY(oxrt_read_int_list(os, 2, &v, &n));
    if ((int)n != x->rank) {
      free(v);
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2: output_shape needs %d values, got %zu", x->rank, n);
    }
    for (size_t i = 0; i < n; i++) od[i] = v[i];
    free(v);
    for (int i = 0; i < x->rank; i++)
      if (od[i] < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2: negative output dim");
  }
  size_t total;
  if (!oxrt_dims_count(inf, x->rank, &total)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output too large");
  const size_t es = oxrt_elem_type_size(x->dtype);
  char *tmp = calloc(total ? total : 1, es);
  if (!tmp) return OXRT_OOM();
  const int64_t *I = ind->data;
  for (size_t i = 0; i < x->count; i++) {
    if (I[i] < 0 || (size_t)I[i] >= total) {
      free(tmp);
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: index %lld at %zu is outside the output of %zu elements",
                        (long long)I[i], i, total);
    }
    memcpy(tmp + (size_t)I[i] * es, (const char *)x->data + i * es, es);
  }
  oxrt_value *y;
  oxrt_status *s = oxrt_output_tensor(ctx, 0, x->dtype, x->rank, od, &y);
  if (s) {
    free(tmp);
    return s;
  }
  memset(y->data, 0, y->nbytes);
  /* copy the common corner, row by row along the last axis */
  const int r = x->rank;
  int64_t cd[OXRT_MAX_RANK];
  size_t rows = 1;
  for (int d = 0; d < r; d++) cd[d] = inf[d] < od[d] ? inf[d] : od[d];
  for (int d = 0; d < r - 1; d++) rows *= (size_t)cd[d];
  if (cd[r - 1] > 0)
    for (size_t row = 0; row < rows; row++) {
      size_t rem = row, so = 0, dst = 0, ss = 1, ds = 1;
      for (int d = r - 2; d >= 0; d--) {
        const size_t k = rem % (size_t)cd[d];
        rem /= (size_t)cd[d];
        ss *= (size_t)inf[d + 1], ds *= (size_t)od[d + 1];
        so += k * ss, dst += k * ds;
      }
      memcpy((char *)y->data + dst * es, tmp + so * es, (size_t)cd[r - 1] * es);
    }
  free(tmp);
  return NULL;
}

static const oxrt_op_impl maxunpool_impls[] = {
    {.since_version = 9, .type_mask = OXRT_TMASK_FLOATS, .run = maxunpool_run},
    {.since_version = 11, .type_mask = OXRT_TMASK_FLOATS, .run = maxunpool_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = maxunpool_run},
};
OXRT_REGISTER_OP(MaxUnpool) = {"", "MaxUnpool", OXRT_IMPLS(maxunpool_impls)};
