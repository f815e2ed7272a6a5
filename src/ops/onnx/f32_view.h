/* f32_view.h - family-private helpers (pooling, normalisation, softmax, losses): look at any numeric tensor as
 * float32. float tensors are used in place; float16/bfloat16/double/int inputs are converted into a scratch
 * buffer, so one float kernel serves every element type (float16/bfloat16 are computed through float32). */
#ifndef OXRT_OPS_F32_VIEW_H
#define OXRT_OPS_F32_VIEW_H
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

/* n values of type t (float16/bfloat16 in the hot paths) widened to float32 / narrowed back, a block per call:
 * oxrt_convert's bulk loops (F16C for float16 where the CPU has it, round to nearest even), never a call per
 * element. The one conversion step the element-wise float16/bfloat16 branches use. */
static inline void f32_widen(oxrt_elem_type t, const void *src, float *dst, size_t n) {
  oxrt_convert(OXRT_FLOAT, dst, t, src, n, false);
}
static inline void f32_narrow(oxrt_elem_type t, const float *src, void *dst, size_t n) {
  oxrt_convert(t, dst, OXRT_FLOAT, src, n, false);
}

/* *out points at float32 data for x; *tmp receives a buffer to free (NULL when x is float already). */
static inline oxrt_status *f32_in(const oxrt_value *x, const float **out, float **tmp) {
  return oxrt_f32_view(x, out, tmp);
}

/* A float32 buffer to write output o through: o's own data when o is float, else scratch. */
static inline oxrt_status *f32_out(oxrt_value *o, float **out) {
  if (o->dtype == OXRT_FLOAT) {
    *out = (float *)o->data;
    return NULL;
  }
  *out = malloc(sizeof(float) * (o->count ? o->count : 1));
  return *out ? NULL : OXRT_OOM();
}

/* Moves the scratch of f32_out into o (converting) and frees it; no-op for float outputs. */
static inline void f32_commit(oxrt_value *o, float *buf) {
  if (!buf || o->dtype == OXRT_FLOAT) return;
  oxrt_convert(o->dtype, o->data, OXRT_FLOAT, buf, o->count, false);
  free(buf);
}

/* Frees a scratch output without committing (error paths). */
static inline void f32_drop(oxrt_value *o, float *buf) {
  if (o && o->dtype != OXRT_FLOAT) free(buf);
}

/* Float32 views of up to 4 inputs and of one output, for kernels that read and write nothing else:
 * f32_views_open, then the float kernel on in[] and y, then f32_views_close. */
typedef struct {
  const float *in[4];
  float *tmp[4], *y;
  int n;
} f32_views;

/* Views ins[0..n) and y; on error what was taken so far is still released by f32_views_close. */
static inline oxrt_status *f32_views_open(f32_views *v, int n, const oxrt_value *const *ins, oxrt_value *y) {
  memset(v, 0, sizeof *v);
  for (v->n = 0; v->n < n; v->n++) OXRT_TRY(f32_in(ins[v->n], &v->in[v->n], &v->tmp[v->n]));
  return f32_out(y, &v->y);
}

/* Commits y when st is NULL (success), frees the scratch buffers, and returns st. */
static inline oxrt_status *f32_views_close(f32_views *v, oxrt_value *y, oxrt_status *st) {
  if (st) f32_drop(y, v->y);
  else f32_commit(y, v->y);
  for (int i = 0; i < v->n; i++) free(v->tmp[i]);
  return st;
}

/* Mean and population variance of n floats, two passes in double. */
static inline void f32_mean_var(const float *x, size_t n, double *mean, double *var) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i];
  const double m = n ? s / (double)n : 0.0;
  double v = 0;
  for (size_t i = 0; i < n; i++) {
    const double d = x[i] - m;
    v += d * d;
  }
  *mean = m;
  *var = n ? v / (double)n : 0.0;
}

/* w (any numeric type) broadcast unidirectionally to (rank, dims) as a new float buffer of prod(dims). */
static inline oxrt_status *f32_broadcast_to(const oxrt_value *w, int index, int rank, const int64_t *dims, float **out) {
  if (w->rank > rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: rank %d does not broadcast to rank %d", index, w->rank, rank);
  for (int d = 0; d < w->rank; d++) {
    const int64_t wd = w->dims[d], od = dims[rank - w->rank + d];
    if (wd != od && wd != 1)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: dim %d is %lld, expected %lld or 1", index, d,
                        (long long)wd, (long long)od);
  }
  size_t n = 1;
  for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
  float *b = malloc(sizeof(float) * (n ? n : 1));
  if (!b) return OXRT_OOM();
  int64_t strides[OXRT_MAX_RANK], idx[OXRT_MAX_RANK] = {0};
  oxrt_broadcast_strides(w, rank, dims, strides);
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    b[i] = w->dtype == OXRT_FLOAT ? ((const float *)w->data)[off] : (float)oxrt_load_f64(w->dtype, w->data, off);
    for (int d = rank - 1; d >= 0; d--) {
      off += (size_t)strides[d];
      if (++idx[d] < dims[d]) break;
      off -= (size_t)(strides[d] * dims[d]);
      idx[d] = 0;
    }
  }
  *out = b;
  return NULL;
}

/* Element type named by a stash_type attribute (a TensorProto data type). */
static inline oxrt_elem_type f32_stash_type(int64_t s) {
  return s == OXRT_DOUBLE || s == OXRT_FLOAT16 || s == OXRT_BFLOAT16 ? (oxrt_elem_type)s : OXRT_FLOAT;
}

/* exp(x) for float without a libm call, so loops over it vectorise: Cody-Waite range reduction and a
 * degree-6 polynomial (about 1 ulp); inputs are clamped to [-87, 88], so -inf gives ~1e-38, not 0. */
static inline float f32_exp(float x) {
  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
  const float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f; /* round to nearest */
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float yv = p * r * r + r + 1.0f;
  const float t = n + 8388735.0f; /* 2^23 + 127: the low mantissa bits now hold n + 127 */
  uint32_t bits;
  memcpy(&bits, &t, 4);
  bits <<= 23;
  float scale;
  memcpy(&scale, &bits, 4);
  return yv * scale;
}

#endif
