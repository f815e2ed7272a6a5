/* index_util.h - private helpers of the indexing/selection operator family (Gather*, Scatter*, TopK, Unique, ...):
 * element copies that handle strings, index reading with bounds checks, reductions for scatter, a stable sort. */
#ifndef OXRT_OPS_ONNX_INDEX_UTIL_H
#define OXRT_OPS_ONNX_INDEX_UTIL_H
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Copies n elements src[so..] -> dst[do_..]; strings are duplicated (the old destination string is freed).
 * Returns false on out of memory. */
static inline bool ix_copy(oxrt_elem_type t, void *dst, size_t do_, const void *src, size_t so, size_t n) {
  if (t == OXRT_STRING) return oxrt_convert(t, (char **)dst + do_, t, (char *const *)src + so, n, false);
  size_t es = oxrt_elem_type_size(t);
  if (n) memmove((char *)dst + do_ * es, (const char *)src + so * es, n * es);
  return true;
}

/* Input `index` must be an int32/int64 tensor. */
static inline oxrt_status *ix_check_indices(const oxrt_value *v, int index) {
  OXRT_TRY(oxrt_check_tensor(v, index, "indices"));
  if (v->dtype != OXRT_INT64 && v->dtype != OXRT_INT32)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (indices) must be int32 or int64, got %s", index,
                      oxrt_elem_type_name(v->dtype));
  return NULL;
}

static inline int64_t ix_get(const oxrt_value *v, size_t i) {
  return v->dtype == OXRT_INT64 ? ((const int64_t *)v->data)[i] : (int64_t)((const int32_t *)v->data)[i];
}

/* Index i of `v` wrapped into [0, dim); error when out of range. */
static inline oxrt_status *ix_wrap(const oxrt_value *v, size_t i, int64_t dim, int64_t *out) {
  int64_t x = ix_get(v, i);
  int64_t y = x < 0 ? x + dim : x;
  if (y < 0 || y >= dim)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "index %lld (element %zu of the indices) is out of range [%lld, %lld)",
                      (long long)x, i, (long long)-dim, (long long)dim);
  *out = y;
  return NULL;
}

/* The axis coordinate of data element `base + v * xst[axis]` is v: base is the data offset of idx (an index into
 * `ind`'s shape) with the axis coordinate left out. Steps idx to the next element and keeps base in step. */
static inline void ix_axis_walk_next(const oxrt_value *ind, int axis, const int64_t *xst, int64_t *idx, size_t *base) {
  for (int d = ind->rank - 1; d >= 0; d--) {
    idx[d]++;
    if (d != axis) *base += (size_t)xst[d];
    if (idx[d] < ind->dims[d]) break;
    if (d != axis) *base -= (size_t)(xst[d] * ind->dims[d]);
    idx[d] = 0;
  }
}

/* Normalises the axis attribute for GatherElements / ScatterElements (indices of data's rank) and checks every
 * index against data's axis dim, and the other indices dims against data's. */
static inline oxrt_status *ix_elements_axis(const oxrt_kernel_ctx *ctx, const oxrt_value *x, const oxrt_value *ind,
                                            int64_t *axis) {
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", 0), x->rank, false, axis));
  for (int d = 0; d < x->rank; d++)
    if (d != *axis && ind->dims[d] > x->dims[d])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "indices dim %d (%lld) exceeds data dim %d (%lld)", d,
                        (long long)ind->dims[d], d, (long long)x->dims[d]);
  for (size_t i = 0; i < ind->count; i++) {
    int64_t v;
    OXRT_TRY(ix_wrap(ind, i, x->dims[*axis], &v));
  }
  return NULL;
}

/* Product of dims[from..to). */
static inline size_t ix_prod(const int64_t *dims, int from, int to) {
  size_t p = 1;
  for (int d = from; d < to; d++) p *= (size_t)dims[d];
  return p;
}

/* Row-major element strides of (rank, dims). */
static inline void ix_strides(const int64_t *dims, int rank, int64_t *st) {
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    st[d] = s;
    s *= dims[d];
  }
}

/* ---------------------------------------------------------------- scatter reductions */
typedef enum { IX_RED_NONE, IX_RED_ADD, IX_RED_MUL, IX_RED_MAX, IX_RED_MIN } ix_reduction;

static inline oxrt_status *ix_parse_reduction(const char *s, ix_reduction *r) {
  if (!strcmp(s, "none")) *r = IX_RED_NONE;
  else if (!strcmp(s, "add")) *r = IX_RED_ADD;
  else if (!strcmp(s, "mul")) *r = IX_RED_MUL;
  else if (!strcmp(s, "max")) *r = IX_RED_MAX;
  else if (!strcmp(s, "min")) *r = IX_RED_MIN;
  else return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "reduction '%s' is not one of none, add, mul, max, min", s);
  return NULL;
}

/* Inputs data (0), indices (1), updates (2) of ScatterElements / ScatterND, and the reduction attribute (opset 16+;
 * max/min from 18), checked against the data type. */
static inline oxrt_status *ix_scatter_inputs(const oxrt_kernel_ctx *ctx, const oxrt_value *x, const oxrt_value *ind,
                                             const oxrt_value *upd, ix_reduction *red) {
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  OXRT_TRY(ix_check_indices(ind, 1));
  OXRT_TRY(oxrt_check_tensor(upd, 2, "updates"));
  *red = IX_RED_NONE;
  if (ctx->opset >= 16) OXRT_TRY(ix_parse_reduction(oxrt_attr_string(ctx->node, "reduction", "none"), red));
  const bool minmax = *red == IX_RED_MAX || *red == IX_RED_MIN;
  if (ctx->opset < 18 && minmax) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "reduction max/min needs opset 18");
  bool cplx = x->dtype == OXRT_COMPLEX64 || x->dtype == OXRT_COMPLEX128;
  if (*red != IX_RED_NONE && (x->dtype == OXRT_STRING || (cplx && minmax)))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "this reduction is not defined for %s", oxrt_elem_type_name(x->dtype));
  if (upd->dtype != x->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "updates type %s differs from data type %s",
                      oxrt_elem_type_name(upd->dtype), oxrt_elem_type_name(x->dtype));
  return NULL;
}

static inline bool ix_is_intlike(oxrt_elem_type t) {
  return oxrt_dtype_is_signed_int(t) || oxrt_dtype_is_unsigned_int(t) || t == OXRT_BOOL;
}

/* dst[do_+i] = red(dst[do_+i], src[so+i]) for i < n. Native paths for float/double/int32/int64; integers (and bool,
 * where add = or, mul = and) exactly through int64 (uint64 separately); other floats through double. */
static inline bool ix_reduce(oxrt_elem_type t, ix_reduction r, void *dst, size_t do_, const void *src, size_t so,
                             size_t n) {
  if (r == IX_RED_NONE) return ix_copy(t, dst, do_, src, so, n);
#define IX_RED_LOOP(T)                                                                                                 \
  do {                                                                                                                 \
    T *d = (T *)dst + do_;                                                                                             \
    const T *s = (const T *)src + so;                                                                                  \
    for (size_t i = 0; i < n; i++) {                                                                                   \
      switch (r) {                                                                                                     \
      case IX_RED_ADD: d[i] = (T)(d[i] + s[i]); break;                                                                 \
      case IX_RED_MUL: d[i] = (T)(d[i] * s[i]); break;                                                                 \
      case IX_RED_MAX: d[i] = s[i] > d[i] ? s[i] : d[i]; break;                                                        \
      default: d[i] = s[i] < d[i] ? s[i] : d[i]; break;                                                                \
      }                                                                                                                \
    }                                                                                                                  \
  } while (0)
  switch (t) {
  case OXRT_FLOAT: IX_RED_LOOP(float); return true;
  case OXRT_DOUBLE: IX_RED_LOOP(double); return true;
  case OXRT_INT32: IX_RED_LOOP(int32_t); return true;
  case OXRT_INT64: IX_RED_LOOP(int64_t); return true;
  case OXRT_UINT64: IX_RED_LOOP(uint64_t); return true;
  default: break;
  }
#undef IX_RED_LOOP
  if (t == OXRT_COMPLEX64 || t == OXRT_COMPLEX128) { /* add and mul only (callers reject max/min) */
    for (size_t i = 0; i < n; i++) {
      double ar, ai, br, bi;
      if (t == OXRT_COMPLEX64) {
        const float *a = (const float *)dst + 2 * (do_ + i), *b = (const float *)src + 2 * (so + i);
        ar = a[0], ai = a[1], br = b[0], bi = b[1];
      } else {
        const double *a = (const double *)dst + 2 * (do_ + i), *b = (const double *)src + 2 * (so + i);
        ar = a[0], ai = a[1], br = b[0], bi = b[1];
      }
      double cr = r == IX_RED_ADD ? ar + br : ar * br - ai * bi, ci = r == IX_RED_ADD ? ai + bi : ar * bi + ai * br;
      if (t == OXRT_COMPLEX64) {
        float *c = (float *)dst + 2 * (do_ + i);
        c[0] = (float)cr, c[1] = (float)ci;
      } else {
        double *c = (double *)dst + 2 * (do_ + i);
        c[0] = cr, c[1] = ci;
      }
    }
    return true;
  }
  if (t == OXRT_STRING) return false;
  for (size_t i = 0; i < n; i++) {
    if (ix_is_intlike(t)) {
      int64_t a = oxrt_load_i64(t, dst, do_ + i), b = oxrt_load_i64(t, src, so + i), c;
      switch (r) {
      case IX_RED_ADD: c = (int64_t)((uint64_t)a + (uint64_t)b); break;
      case IX_RED_MUL: c = (int64_t)((uint64_t)a * (uint64_t)b); break;
      case IX_RED_MAX: c = a > b ? a : b; break;
      default: c = a < b ? a : b; break;
      }
      oxrt_store_i64(t, dst, do_ + i, c);
    } else {
      double a = oxrt_load_f64(t, dst, do_ + i), b = oxrt_load_f64(t, src, so + i), c;
      switch (r) {
      case IX_RED_ADD: c = a + b; break;
      case IX_RED_MUL: c = a * b; break;
      case IX_RED_MAX: c = b > a ? b : a; break;
      default: c = b < a ? b : a; break;
      }
      oxrt_store_f64(t, dst, do_ + i, c);
    }
  }
  return true;
}

/* ---------------------------------------------------------------- stable merge sort of int64 keys by a comparator */
typedef int (*ix_cmp_fn)(const void *ctx, int64_t a, int64_t b);

static inline void ix_msort_rec(int64_t *a, int64_t *tmp, size_t n, ix_cmp_fn cmp, const void *ctx) {
  if (n < 16) {
    for (size_t i = 1; i < n; i++) {
      int64_t x = a[i];
      size_t j = i;
      while (j > 0 && cmp(ctx, a[j - 1], x) > 0) {
        a[j] = a[j - 1];
        j--;
      }
      a[j] = x;
    }
    return;
  }
  size_t h = n / 2;
  ix_msort_rec(a, tmp, h, cmp, ctx);
  ix_msort_rec(a + h, tmp, n - h, cmp, ctx);
  if (cmp(ctx, a[h - 1], a[h]) <= 0) return;
  memcpy(tmp, a, h * sizeof *a);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) a[k++] = cmp(ctx, a[j], tmp[i]) < 0 ? a[j++] : tmp[i++];
  while (i < h) a[k++] = tmp[i++];
}

/* Stable sort of a[0..n); false on out of memory. */
static inline bool ix_sort(int64_t *a, size_t n, ix_cmp_fn cmp, const void *ctx) {
  if (n < 2) return true;
  int64_t *tmp = malloc((n / 2 + 1) * sizeof *tmp);
  if (!tmp) return false;
  ix_msort_rec(a, tmp, n, cmp, ctx);
  free(tmp);
  return true;
}

/* Three-way compare of elements i and j of a tensor's data (numbers ascending, NaN after everything, strings by
 * bytes). Exact for 64-bit integers. */
static inline int ix_cmp_elem(oxrt_elem_type t, const void *a, size_t i, const void *b, size_t j) {
  switch (t) {
  case OXRT_STRING: {
    int c = strcmp(((char *const *)a)[i], ((char *const *)b)[j]);
    return c < 0 ? -1 : c > 0;
  }
  case OXRT_UINT64: {
    uint64_t x = ((const uint64_t *)a)[i], y = ((const uint64_t *)b)[j];
    return x < y ? -1 : x > y;
  }
  case OXRT_COMPLEX64:
  case OXRT_COMPLEX128: { /* real part, then imaginary part, as numpy orders complex numbers */
    for (int part = 0; part < 2; part++) {
      double x = t == OXRT_COMPLEX64 ? ((const float *)a)[2 * i + part] : ((const double *)a)[2 * i + part];
      double y = t == OXRT_COMPLEX64 ? ((const float *)b)[2 * j + part] : ((const double *)b)[2 * j + part];
      if (isnan(x) || isnan(y)) {
        if (isnan(x) != isnan(y)) return isnan(x) - isnan(y);
        continue;
      }
      if (x != y) return x < y ? -1 : 1;
    }
    return 0;
  }
  default:
    if (ix_is_intlike(t)) {
      int64_t x = oxrt_load_i64(t, a, i), y = oxrt_load_i64(t, b, j);
      return x < y ? -1 : x > y;
    } else {
      double x = oxrt_load_f64(t, a, i), y = oxrt_load_f64(t, b, j);
      if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
      return x < y ? -1 : x > y;
    }
  }
}

/* Shared by ScatterElements and the deprecated Scatter (ScatterElements.c). */
oxrt_status *oxrt_ix_scatter_elements_run(oxrt_kernel_ctx *ctx);

/* Resize core shared by Resize and Upsample (Resize.c). */
typedef enum { IX_RS_NEAREST, IX_RS_LINEAR, IX_RS_CUBIC } ix_rs_mode;
typedef enum {
  IX_CT_HALF_PIXEL,
  IX_CT_HALF_PIXEL_SYMMETRIC,
  IX_CT_PYTORCH_HALF_PIXEL,
  IX_CT_ALIGN_CORNERS,
  IX_CT_ASYMMETRIC,
  IX_CT_TF_HALF_PIXEL_FOR_NN,
  IX_CT_TF_CROP_AND_RESIZE
} ix_rs_coord;
/* SIMPLE is the rule of Upsample and Resize-10 (as ONNX Runtime has it): floor, but ceil when downsampling. */
typedef enum { IX_NM_ROUND_PREFER_FLOOR, IX_NM_ROUND_PREFER_CEIL, IX_NM_FLOOR, IX_NM_CEIL, IX_NM_SIMPLE } ix_rs_nearest;
typedef struct {
  ix_rs_mode mode;
  ix_rs_coord coord;
  ix_rs_nearest nearest;
  double cubic_a, extrapolation;
  bool exclude_outside, antialias;
} ix_rs_params;
/* Resizes x into output 0: per axis d of x, scale[d] and out_dims[d]; roi (2 * rank: starts then ends) only for
 * tf_crop_and_resize; axes lists the axes to interpolate, in order. */
oxrt_status *oxrt_ix_resize(oxrt_kernel_ctx *ctx, const oxrt_value *x, const ix_rs_params *p, const double *scale,
                            const int64_t *out_dims, const double *roi, const int64_t *axes, int n_axes);

#endif
