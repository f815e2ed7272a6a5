/* op_util.c - broadcasting and argument helpers for operators. */
#include "op_util.h"
#include <stdlib.h>
#include <string.h>

oxrt_status *oxrt_broadcast_shapes(int n, const oxrt_value *const *ins, int *rank, int64_t *dims) {
  int r = 0;
  for (int i = 0; i < n; i++)
    if (ins[i] && ins[i]->rank > r) r = ins[i]->rank;
  for (int d = 0; d < r; d++) dims[d] = 1;
  for (int i = 0; i < n; i++) {
    if (!ins[i]) continue;
    int off = r - ins[i]->rank;
    for (int d = 0; d < ins[i]->rank; d++) {
      int64_t x = ins[i]->dims[d];
      int64_t *o = &dims[off + d];
      if (x == *o || x == 1) continue;
      if (*o == 1) {
        *o = x;
        continue;
      }
      char a[200], b[200];
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shapes %s and %s cannot be broadcast (input %d, axis %d: %lld vs %lld)",
                        oxrt_dims_str(ins[0]->dims, ins[0]->rank, a, sizeof a),
                        oxrt_dims_str(ins[i]->dims, ins[i]->rank, b, sizeof b), i, off + d, (long long)x, (long long)*o);
    }
  }
  *rank = r;
  return NULL;
}

void oxrt_broadcast_strides(const oxrt_value *v, int rank, const int64_t *dims, int64_t *strides) {
  int off = rank - v->rank;
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    int vd = d - off;
    if (vd < 0) {
      strides[d] = 0;
      continue;
    }
    strides[d] = v->dims[vd] == 1 && dims[d] != 1 ? 0 : s;
    s *= v->dims[vd];
  }
}

void oxrt_broadcast_foreach(int n, const oxrt_value *const *ins, int rank, const int64_t *dims, oxrt_bcast_fn fn,
                            void *arg) {
  int64_t strides[4][OXRT_MAX_RANK];
  size_t total = 1;
  for (int d = 0; d < rank; d++) total *= (size_t)dims[d];
  if (total == 0) return;
  for (int i = 0; i < n; i++) oxrt_broadcast_strides(ins[i], rank, dims, strides[i]);
  if (rank == 0) {
    size_t off[4] = {0, 0, 0, 0};
    int64_t step[4] = {0, 0, 0, 0};
    fn(arg, 0, off, step, 1);
    return;
  }
  size_t inner = (size_t)dims[rank - 1];
  int64_t step[4];
  for (int i = 0; i < n; i++) step[i] = strides[i][rank - 1];
  int64_t idx[OXRT_MAX_RANK] = {0};
  size_t off[4] = {0, 0, 0, 0};
  for (size_t out = 0; out < total; out += inner) {
    fn(arg, out, off, step, inner);
    for (int d = rank - 2; d >= 0; d--) {
      idx[d]++;
      for (int i = 0; i < n; i++) off[i] += (size_t)strides[i][d];
      if (idx[d] < dims[d]) break;
      for (int i = 0; i < n; i++) off[i] -= (size_t)(strides[i][d] * dims[d]);
      idx[d] = 0;
    }
  }
}

oxrt_status *oxrt_norm_axis(int64_t axis, int rank, bool inclusive, int64_t *out) {
  int64_t r = inclusive ? rank + 1 : rank;
  if (axis < -r || axis >= r)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %lld is out of range for rank %d", (long long)axis, rank);
  *out = axis < 0 ? axis + r : axis;
  return NULL;
}

oxrt_status *oxrt_read_int_list(const oxrt_value *t, int index, int64_t **vals, size_t *n) {
  OXRT_TRY(oxrt_check_tensor(t, index, "integer list"));
  if (t->dtype != OXRT_INT64 && t->dtype != OXRT_INT32)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d must be int64 or int32, got %s", index,
                      oxrt_elem_type_name(t->dtype));
  if (t->rank > 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d must be 1-D, got rank %d", index, t->rank);
  int64_t *v = malloc(sizeof(int64_t) * (t->count + 1));
  if (!v) return OXRT_OOM();
  for (size_t i = 0; i < t->count; i++)
    v[i] = t->dtype == OXRT_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
  *vals = v;
  *n = t->count;
  return NULL;
}

oxrt_status *oxrt_read_scalar_f64(const oxrt_value *t, int index, double *out) {
  OXRT_TRY(oxrt_check_tensor(t, index, "scalar"));
  if (t->count != 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d must hold one value, has %zu", index, t->count);
  *out = oxrt_load_f64(t->dtype, t->data, 0);
  return NULL;
}

oxrt_status *oxrt_read_scalar_i64(const oxrt_value *t, int index, int64_t *out) {
  OXRT_TRY(oxrt_check_tensor(t, index, "scalar"));
  if (t->count != 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d must hold one value, has %zu", index, t->count);
  *out = oxrt_load_i64(t->dtype, t->data, 0);
  return NULL;
}

oxrt_status *oxrt_output_copy(oxrt_kernel_ctx *ctx, int out_index, const oxrt_value *src, int rank, const int64_t *dims) {
  oxrt_value *o;
  OXRT_TRY(oxrt_output_tensor(ctx, out_index, src->dtype, rank, dims, &o));
  if (o->count != src->count) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "element count mismatch in copy");
  if (src->dtype == OXRT_STRING) {
    if (!oxrt_convert(OXRT_STRING, o->data, OXRT_STRING, src->data, src->count, false)) return OXRT_OOM();
  } else if (src->nbytes) {
    memcpy(o->data, src->data, src->nbytes);
  }
  return NULL;
}

oxrt_status *oxrt_f32_view(const oxrt_value *x, const float **out, float **tmp) {
  *tmp = NULL;
  if (x->dtype == OXRT_FLOAT) {
    *out = (const float *)x->data;
    return NULL;
  }
  float *b = malloc(sizeof(float) * (x->count ? x->count : 1));
  if (!b) return OXRT_OOM();
  if (!oxrt_convert(OXRT_FLOAT, b, x->dtype, x->data, x->count, false)) {
    free(b);
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "element type %s is not supported", oxrt_elem_type_name(x->dtype));
  }
  *out = b;
  *tmp = b;
  return NULL;
}
