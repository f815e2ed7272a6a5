/* Resize.c - Resize (opsets 10, 11, 13, 18, 19): nearest, linear and cubic interpolation with every coordinate
 * transformation mode, antialiasing, exclude_outside, tf_crop_and_resize extrapolation, axes and
 * keep_aspect_ratio_policy. Linear and cubic run as separable 1-D passes in double precision, axis by axis like the
 * ONNX reference; nearest is an exact gather that works for any element type. Also the core of Upsample. */
#include "index_util.h"
#include "../infer_rules.h"
#include "f32_view.h"
#include <float.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

/* Source coordinate of output position j along an axis; *extrap is set when it falls outside the crop. */
static double rs_coord(const ix_rs_params *p, double j, double scale, int64_t in, int64_t out, const double *roi,
                       bool *extrap) {
  double outw = scale * (double)in; /* the reference uses the unrounded output length */
  *extrap = false;
  switch (p->coord) {
  case IX_CT_HALF_PIXEL: return (j + 0.5) / scale - 0.5;
  case IX_CT_HALF_PIXEL_SYMMETRIC: {
    double adj = (double)out / outw, center = (double)in / 2;
    return center * (1 - adj) + (j + 0.5) / scale - 0.5;
  }
  case IX_CT_PYTORCH_HALF_PIXEL: return outw == 1 ? -0.5 : (j + 0.5) / scale - 0.5;
  case IX_CT_ALIGN_CORNERS: return outw == 1 ? 0.0 : j * (double)(in - 1) / (outw - 1);
  case IX_CT_ASYMMETRIC: return j / scale;
  case IX_CT_TF_HALF_PIXEL_FOR_NN: return (j + 0.5) / scale;
  case IX_CT_TF_CROP_AND_RESIZE: {
    double x = outw == 1 ? (roi[1] - roi[0]) * (double)(in - 1) / 2 : j * (roi[1] - roi[0]) * (double)(in - 1) / (outw - 1);
    x += roi[0] * (double)(in - 1);
    *extrap = x < 0 || x > (double)(in - 1);
    return x;
  }
  }
  return 0;
}

static int64_t rs_clamp(int64_t i, int64_t in) { return i < 0 ? 0 : i >= in ? in - 1 : i; }

/* Integral double (from floor) -> index. Casting NaN or a huge value is undefined and differs between x86 and
 * ARM; past +-2^40 every axis clamps to the same border, and NaN (a NaN roi) goes to the low end. */
static int64_t rs_index(double f) {
  const double lim = 0x1p40;
  return f >= -lim && f <= lim ? (int64_t)f : f > 0 ? (int64_t)lim : -(int64_t)lim;
}

/* Nearest source index of coordinate x. */
static int64_t rs_nearest(const ix_rs_params *p, double x, double scale, int64_t in) {
  double f = floor(x), fr = x - f;
  int64_t i;
  if (fr == 0) {
    i = rs_index(f);
  } else {
    bool up;
    switch (p->nearest) {
    case IX_NM_ROUND_PREFER_FLOOR: up = fr > 0.5; break;
    case IX_NM_ROUND_PREFER_CEIL: up = fr >= 0.5; break;
    case IX_NM_FLOOR: up = false; break;
    case IX_NM_CEIL: up = true; break;
    default: up = scale < 1; break;
    }
    i = rs_index(f) + (up ? 1 : 0);
  }
  return rs_clamp(i, in);
}

static double rs_cubic(double x, double A) {
  x = fabs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

/* Taps of one axis: for each output position, n (index, weight) pairs. */
typedef struct {
  int n;
  int64_t *idx;
  double *w;
  bool *extrap;
} rs_taps;

static oxrt_status *rs_make_taps(const ix_rs_params *p, double scale, int64_t in, int64_t out, const double *roi,
                                 rs_taps *t) {
  double s = p->antialias && scale < 1 ? scale : 1;
  int64_t start;
  if (p->mode == IX_RS_LINEAR) start = p->antialias ? rs_index(floor(-1 / s)) + 1 : 0;
  else start = p->antialias ? rs_index(floor(-2 / s)) + 1 : -1;
  int64_t n = 2 - 2 * start; /* taps k in [start, 1 - start) around the base index */
  if (n < 1 || n > (1 << 20)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scale %g is too small to antialias", scale);
  t->n = (int)n;
  size_t m = (size_t)out * (size_t)n;
  t->idx = malloc((m + 1) * sizeof *t->idx);
  t->w = malloc((m + 1) * sizeof *t->w);
  t->extrap = malloc((size_t)out + 1);
  if (!t->idx || !t->w || !t->extrap) return OXRT_OOM();
  for (int64_t j = 0; j < out; j++) {
    bool ex;
    double x = rs_coord(p, (double)j, scale, in, out, roi, &ex);
    t->extrap[j] = ex;
    /* base and ratio in (0, 1]: an integer x counts as the right end of the cell to its left, as the reference */
    double f = floor(x), ratio;
    int64_t base;
    if (x == f) base = rs_index(f) - 1, ratio = 1;
    else base = rs_index(f), ratio = x - f;
    double sum = 0;
    for (int64_t k = 0; k < n; k++) {
      double d = ((double)(start + k) - ratio) * s, w;
      if (p->mode == IX_RS_LINEAR) w = p->antialias ? fmax(0, 1 - fabs(d)) : (k == 0 ? 1 - ratio : ratio);
      else w = rs_cubic(d, p->cubic_a);
      int64_t raw = base + start + k;
      t->idx[j * n + k] = rs_clamp(raw, in);
      t->w[j * n + k] = w;
      sum += w;
    }
    if (p->antialias && sum != 0)
      for (int64_t k = 0; k < n; k++) t->w[j * n + k] /= sum;
    if (p->exclude_outside) {
      sum = 0;
      for (int64_t k = 0; k < n; k++) {
        int64_t raw = base + start + k;
        if (raw < 0 || raw >= in) t->w[j * n + k] = 0;
        sum += t->w[j * n + k];
      }
      if (sum != 0)
        for (int64_t k = 0; k < n; k++) t->w[j * n + k] /= sum;
    }
  }
  return NULL;
}

typedef struct {
  const void *in; /* double, or float for float/float16/bfloat16 inputs (enough for the 1e-3 tolerance, half the
                     memory traffic) */
  void *out;
  size_t in_dim, out_dim, inner;
  const rs_taps *t;
  double extrap;
} rs_pass;

#define RS_PASS_FN(NAME, T)                                                                                            \
  static void NAME(void *arg, size_t begin, size_t end) {                                                              \
    const rs_pass *ps = arg;                                                                                           \
    const rs_taps *t = ps->t;                                                                                          \
    size_t inner = ps->inner, n = (size_t)t->n;                                                                        \
    size_t o = begin / ps->out_dim, j = begin % ps->out_dim; /* row r = o * out_dim + j, stepped without divisions */ \
    for (size_t r = begin; r < end; r++) {                                                                             \
      T *dst = (T *)ps->out + r * inner;                                                                               \
      const int64_t *ti = t->idx + j * n;                                                                              \
      const double *tw = t->w + j * n;                                                                                 \
      const T *src = (const T *)ps->in + o * ps->in_dim * inner;                                                       \
      if (t->extrap[j]) {                                                                                              \
        for (size_t i = 0; i < inner; i++) dst[i] = (T)ps->extrap;                                                     \
      } else if (inner == 1 && n == 2) { /* linear along the last axis: the hot case */                              \
        dst[0] = (T)tw[0] * src[ti[0]] + (T)tw[1] * src[ti[1]];                                                        \
      } else if (inner == 1) {                                                                                         \
        T acc = 0;                                                                                                     \
        for (size_t k = 0; k < n; k++) acc += (T)tw[k] * src[ti[k]];                                                   \
        dst[0] = acc;                                                                                                  \
      } else {                                                                                                         \
        const T *s0 = src + (size_t)ti[0] * inner;                                                                     \
        T w0 = (T)tw[0];                                                                                               \
        for (size_t i = 0; i < inner; i++) dst[i] = w0 * s0[i];                                                        \
        for (size_t k = 1; k < n; k++) {                                                                               \
          T w = (T)tw[k];                                                                                              \
          if (w == 0) continue;                                                                                        \
          const T *sk = src + (size_t)ti[k] * inner;                                                                   \
          for (size_t i = 0; i < inner; i++) dst[i] += w * sk[i];                                                      \
        }                                                                                                              \
      }                                                                                                                \
      if (++j == ps->out_dim) j = 0, o++;                                                                              \
    }                                                                                                                  \
  }
RS_PASS_FN(rs_pass_d, double)
RS_PASS_FN(rs_pass_f, float)

/* Stores v into element i of an output of type t with the reference's saturating cast (integers round half to
 * even, then clamp). */
static void rs_store(oxrt_elem_type t, void *base, size_t i, double v) {
  double lo = 0, hi = 0;
  bool isint = true;
  switch (t) {
  case OXRT_FLOAT: ((float *)base)[i] = (float)(v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : v); return;
  case OXRT_DOUBLE: ((double *)base)[i] = v; return;
  case OXRT_INT8: lo = -128, hi = 127; break;
  case OXRT_UINT8: lo = 0, hi = 255; break;
  case OXRT_INT16: lo = -32768, hi = 32767; break;
  case OXRT_UINT16: lo = 0, hi = 65535; break;
  case OXRT_INT32: lo = -2147483648.0, hi = 2147483647.0; break;
  case OXRT_UINT32: lo = 0, hi = 4294967295.0; break;
  case OXRT_INT64: lo = -9223372036854775808.0, hi = 9223372036854774784.0; break;
  case OXRT_UINT64: lo = 0, hi = 18446744073709549568.0; break;
  case OXRT_FLOAT16: isint = false, lo = -65504, hi = 65504; break;
  default: isint = false, lo = -DBL_MAX, hi = DBL_MAX; break;
  }
  if (isint) {
    if (isnan(v)) v = 0;
    v = nearbyint(v);
  }
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  if (t == OXRT_UINT64) ((uint64_t *)base)[i] = (uint64_t)v;
  else if (isint) oxrt_store_i64(t, base, i, (int64_t)v);
  else oxrt_store_f64(t, base, i, v);
}

/* Nearest resize over output rows (the last axis) of a non-string tensor. A row whose source row is the one the
 * previous row used is a memcpy of that (cache-hot) row; other rows gather, by vector replication for an
 * integer factor on 4-byte elements. */
typedef struct {
  const int64_t *const *map; /* per axis: output index -> source index, -1 when extrapolated */
  const int64_t *od, *xst;
  int r;
  size_t es, last, rep;
  bool has_ex;
  const unsigned char *ev;
  const void *x;
  void *y;
} rs_nn_job;

static void rs_rep4(float *dst, const float *src, size_t n, size_t k) {
  size_t i = 0;
  if (k == 1) { /* the last axis kept: a plain copy */
    memcpy(dst, src, n * sizeof *dst);
    return;
  }
#if defined(__SSE2__)
  if (k == 2) {
    for (; i + 4 <= n; i += 4) {
      __m128 v = _mm_loadu_ps(src + i);
      _mm_storeu_ps(dst + 2 * i, _mm_unpacklo_ps(v, v));
      _mm_storeu_ps(dst + 2 * i + 4, _mm_unpackhi_ps(v, v));
    }
  } else if (k == 4) {
    for (; i + 4 <= n; i += 4) {
      __m128 v = _mm_loadu_ps(src + i);
      _mm_storeu_ps(dst + 4 * i, _mm_shuffle_ps(v, v, 0x00));
      _mm_storeu_ps(dst + 4 * i + 4, _mm_shuffle_ps(v, v, 0x55));
      _mm_storeu_ps(dst + 4 * i + 8, _mm_shuffle_ps(v, v, 0xaa));
      _mm_storeu_ps(dst + 4 * i + 12, _mm_shuffle_ps(v, v, 0xff));
    }
  }
#endif
  for (; i < n; i++)
    for (size_t q = 0; q < k; q++) dst[i * k + q] = src[i];
}

static void rs_nn_rows(void *arg, size_t begin, size_t end) {
  const rs_nn_job *J = arg;
  const int r = J->r;
  const size_t es = J->es, last = J->last, rowb = last * es;
  const int64_t *lm = J->map[r - 1];
  int64_t idx[OXRT_MAX_RANK] = {0};
  for (size_t q = begin, d = (size_t)r - 1; d-- > 0;) { /* unflatten the first row over the leading axes */
    idx[d] = (int64_t)(q % (size_t)J->od[d]);
    q /= (size_t)J->od[d];
  }
  int64_t prev = -2; /* source offset of the previous row, -1: all extrapolated */
  for (size_t row = begin; row < end; row++) {
    int64_t off = 0;
    for (int d = 0; d < r - 1 && off >= 0; d++) {
      int64_t s = J->map[d][idx[d]];
      off = s < 0 ? -1 : off + s * J->xst[d];
    }
    unsigned char *dst = (unsigned char *)J->y + row * rowb;
    const unsigned char *srow = (const unsigned char *)J->x + (size_t)(off < 0 ? 0 : off) * es;
    if (off == prev) {
      memcpy(dst, dst - rowb, rowb);
    } else if (off < 0 || J->has_ex) {
      for (size_t j = 0; j < last; j++)
        memcpy(dst + j * es, off < 0 || lm[j] < 0 ? J->ev : srow + (size_t)lm[j] * es, es);
    } else if (J->rep) {
      rs_rep4((float *)dst, (const float *)srow, last / J->rep, J->rep);
    } else if (es == 4) { /* constant-size copies for the common sizes compile to plain moves */
      for (size_t j = 0; j < last; j++) memcpy(dst + j * 4, srow + (size_t)lm[j] * 4, 4);
    } else if (es == 1) {
      for (size_t j = 0; j < last; j++) dst[j] = srow[lm[j]];
    } else if (es == 2) {
      for (size_t j = 0; j < last; j++) memcpy(dst + j * 2, srow + (size_t)lm[j] * 2, 2);
    } else if (es == 8) {
      for (size_t j = 0; j < last; j++) memcpy(dst + j * 8, srow + (size_t)lm[j] * 8, 8);
    } else {
      for (size_t j = 0; j < last; j++) memcpy(dst + j * es, srow + (size_t)lm[j] * es, es);
    }
    prev = off;
    for (int d = r - 2; d >= 0; d--) {
      if (++idx[d] < J->od[d]) break;
      idx[d] = 0;
    }
  }
}

static oxrt_status *rs_nearest_run(oxrt_kernel_ctx *ctx, const oxrt_value *x, const ix_rs_params *p,
                                   const double *scale, const int64_t *od, const double *roi, oxrt_value *y) {
  int r = x->rank;
  int64_t *map[OXRT_MAX_RANK] = {0};
  oxrt_status *st = NULL;
  for (int d = 0; d < r; d++) {
    map[d] = malloc(((size_t)od[d] + 1) * sizeof(int64_t));
    if (!map[d]) {
      st = OXRT_OOM();
      goto done;
    }
    for (int64_t j = 0; j < od[d]; j++) {
      if (od[d] == x->dims[d] && scale[d] == 1 && (!roi || (roi[d] == 0 && roi[r + d] == 1))) {
        map[d][j] = j;
        continue;
      }
      bool ex;
      double rr[2] = {roi ? roi[d] : 0, roi ? roi[r + d] : 1};
      double c = rs_coord(p, (double)j, scale[d], x->dims[d], od[d], rr, &ex);
      map[d][j] = ex ? -1 : rs_nearest(p, c, scale[d], x->dims[d]);
    }
  }
  if (!y->count) goto done;
  size_t es = oxrt_elem_type_size(x->dtype);
  unsigned char ev[16] = {0};
  bool str = x->dtype == OXRT_STRING;
  if (x->dtype == OXRT_COMPLEX64) {
    float re = (float)p->extrapolation;
    memcpy(ev, &re, sizeof re);
  } else if (x->dtype == OXRT_COMPLEX128) {
    memcpy(ev, &p->extrapolation, sizeof(double));
  } else if (!str) {
    rs_store(x->dtype, ev, 0, p->extrapolation);
  }
  int64_t xst[OXRT_MAX_RANK], idx[OXRT_MAX_RANK] = {0};
  ix_strides(x->dims, r, xst);
  if (r == 0) {
    if (!ix_copy(x->dtype, y->data, 0, x->data, 0, 1)) st = OXRT_OOM();
    goto done;
  }
  size_t last = (size_t)od[r - 1];
  bool has_ex = false; /* any extrapolated position on the last axis */
  for (size_t j = 0; j < last; j++) has_ex |= map[r - 1][j] < 0;
  if (str) { /* strings: duplicated (serially: each copy allocates); extrapolated entries stay empty */
    for (size_t row = 0; row < y->count; row += last) {
      int64_t off = 0;
      bool ex = false;
      for (int d = 0; d < r - 1; d++) {
        int64_t s = map[d][idx[d]];
        if (s < 0) ex = true;
        else off += s * xst[d];
      }
      const int64_t *lm = map[r - 1];
      for (size_t j = 0; j < last && !ex; j++)
        if (lm[j] >= 0 && !ix_copy(OXRT_STRING, y->data, row + j, x->data, (size_t)(off + lm[j]), 1)) {
          st = OXRT_OOM();
          goto done;
        }
      for (int d = r - 2; d >= 0; d--) {
        if (++idx[d] < od[d]) break;
        idx[d] = 0;
      }
    }
    goto done;
  }
  /* last-axis map j -> j / k for an integer factor k (4-byte elements): replicated with vector stores */
  size_t rep = 0;
  if (es == 4 && !has_ex && x->dims[r - 1] > 0 && last % (size_t)x->dims[r - 1] == 0) {
    rep = last / (size_t)x->dims[r - 1];
    for (size_t j = 0; j < last && rep; j++)
      if (map[r - 1][j] != (int64_t)(j / rep)) rep = 0;
  }
  rs_nn_job J = {.map = (const int64_t *const *)map, .od = od, .xst = xst, .r = r, .es = es, .last = last,
                 .rep = rep, .has_ex = has_ex, .ev = ev, .x = x->data, .y = y->data};
  size_t rowb = last * es;
  oxrt_parallel(ctx, y->count / last, 1 + 32768 / (rowb + 1), rs_nn_rows, &J);
done:
  for (int d = 0; d < r; d++) free(map[d]);
  return st;
}

oxrt_status *oxrt_ix_resize(oxrt_kernel_ctx *ctx, const oxrt_value *x, const ix_rs_params *p, const double *scale,
                            const int64_t *out_dims, const double *roi, const int64_t *axes, int n_axes) {
  int r = x->rank;
  if (p->mode != IX_RS_NEAREST && (x->dtype == OXRT_STRING || x->dtype == OXRT_BOOL || x->dtype == OXRT_COMPLEX64 ||
                                   x->dtype == OXRT_COMPLEX128))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "linear/cubic resize needs a numeric input, got %s",
                      oxrt_elem_type_name(x->dtype));
  if (p->coord == IX_CT_TF_CROP_AND_RESIZE && !roi)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "tf_crop_and_resize needs the roi input");
  for (int d = 0; d < r; d++) {
    if (out_dims[d] < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output dim %d is negative", d);
    if (out_dims[d] > 0 && x->dims[d] == 0)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot resize the empty axis %d to %lld", d, (long long)out_dims[d]);
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, out_dims, &y));
  if (p->mode == IX_RS_NEAREST) return rs_nearest_run(ctx, x, p, scale, out_dims, roi, y);
  if (!y->count) return NULL;
  /* Separable passes over double (float for float types) buffers. */
  oxrt_elem_type t = x->dtype;
  bool fw = t == OXRT_FLOAT || t == OXRT_FLOAT16 || t == OXRT_BFLOAT16;
  size_t ws = fw ? sizeof(float) : sizeof(double);
  int64_t cur[OXRT_MAX_RANK];
  for (int d = 0; d < r; d++) cur[d] = x->dims[d];
  size_t n = x->count;
  void *buf = malloc((n + 1) * ws);
  if (!buf) return OXRT_OOM();
  if (t == OXRT_FLOAT) memcpy(buf, x->data, n * sizeof(float));
  else if (fw) f32_widen(t, x->data, buf, n); /* float16/bfloat16: the bulk conversions */
  else if (ix_is_intlike(t)) for (size_t i = 0; i < n; i++) ((double *)buf)[i] = (double)oxrt_load_i64(t, x->data, i);
  else for (size_t i = 0; i < n; i++) ((double *)buf)[i] = oxrt_load_f64(t, x->data, i);
  for (int a = 0; a < n_axes; a++) {
    int d = (int)axes[a];
    double rr[2] = {roi ? roi[d] : 0, roi ? roi[r + d] : 1};
    bool trivial_roi = !roi || (fabs(rr[0]) < 1e-9 && fabs(rr[1] - 1) < 1e-9);
    if (fabs(scale[d] - 1) < 1e-9 && out_dims[d] == cur[d] && trivial_roi) continue;
    rs_taps tp = {0, NULL, NULL, NULL};
    oxrt_status *st = rs_make_taps(p, scale[d], cur[d], out_dims[d], rr, &tp);
    int64_t nd[OXRT_MAX_RANK];
    memcpy(nd, cur, sizeof nd);
    nd[d] = out_dims[d];
    size_t nn = ix_prod(nd, 0, r);
    void *nb = st ? NULL : malloc((nn + 1) * ws);
    if (!st && !nb) st = OXRT_OOM();
    if (!st) {
      rs_pass ps = {buf, nb, (size_t)cur[d], (size_t)out_dims[d], ix_prod(cur, d + 1, r), &tp, p->extrapolation};
      size_t rows = ix_prod(cur, 0, d) * (size_t)out_dims[d];
      oxrt_parallel(ctx, rows, 1 + 4096 / (ps.inner * (size_t)tp.n + 1), fw ? rs_pass_f : rs_pass_d, &ps);
    }
    free(tp.idx);
    free(tp.w);
    free(tp.extrap);
    free(buf);
    if (st) return st;
    buf = nb;
    cur[d] = out_dims[d];
  }
  if (t == OXRT_FLOAT) memcpy(y->data, buf, y->count * sizeof(float));
  else if (fw) f32_narrow(t, buf, y->data, y->count);
  else for (size_t i = 0; i < y->count; i++) rs_store(t, y->data, i, ((double *)buf)[i]);
  free(buf);
  return NULL;
}

/* ------------------------------------------------------------------ Resize attributes and inputs */

static oxrt_status *rs_parse_mode(const char *s, ix_rs_mode *m, bool cubic_ok) {
  if (!strcmp(s, "nearest")) *m = IX_RS_NEAREST;
  else if (!strcmp(s, "linear")) *m = IX_RS_LINEAR;
  else if (!strcmp(s, "cubic") && cubic_ok) *m = IX_RS_CUBIC;
  else return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "mode '%s' is not supported", s);
  return NULL;
}

static oxrt_status *resize_run(oxrt_kernel_ctx *ctx) {
  const oxrt_node *nd = ctx->node;
  int opset = ctx->opset;
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  int r = x->rank;
  ix_rs_params p = {IX_RS_NEAREST, IX_CT_ASYMMETRIC, IX_NM_SIMPLE, -0.75, 0, false, false};
  OXRT_TRY(rs_parse_mode(oxrt_attr_string(nd, "mode", "nearest"), &p.mode, opset >= 11));
  const oxrt_value *roi_v = NULL, *scales_v, *sizes_v = NULL;
  if (opset < 11) {
    scales_v = oxrt_input(ctx, 1);
    OXRT_TRY(oxrt_check_tensor(scales_v, 1, "scales"));
  } else {
    roi_v = oxrt_input(ctx, 1);
    scales_v = oxrt_input(ctx, 2);
    sizes_v = oxrt_input(ctx, 3);
    const char *ct = oxrt_attr_string(nd, "coordinate_transformation_mode", "half_pixel");
    static const struct {
      const char *name;
      ix_rs_coord c;
    } cts[] = {{"half_pixel", IX_CT_HALF_PIXEL},
               {"half_pixel_symmetric", IX_CT_HALF_PIXEL_SYMMETRIC},
               {"pytorch_half_pixel", IX_CT_PYTORCH_HALF_PIXEL},
               {"align_corners", IX_CT_ALIGN_CORNERS},
               {"asymmetric", IX_CT_ASYMMETRIC},
               {"tf_half_pixel_for_nn", IX_CT_TF_HALF_PIXEL_FOR_NN},
               {"tf_crop_and_resize", IX_CT_TF_CROP_AND_RESIZE}};
    size_t i = 0;
    while (i < sizeof cts / sizeof cts[0] && strcmp(cts[i].name, ct)) i++;
    if (i == sizeof cts / sizeof cts[0])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "coordinate_transformation_mode '%s' is not supported", ct);
    p.coord = cts[i].c;
    const char *nm = oxrt_attr_string(nd, "nearest_mode", "round_prefer_floor");
    if (!strcmp(nm, "round_prefer_floor")) p.nearest = IX_NM_ROUND_PREFER_FLOOR;
    else if (!strcmp(nm, "round_prefer_ceil")) p.nearest = IX_NM_ROUND_PREFER_CEIL;
    else if (!strcmp(nm, "floor")) p.nearest = IX_NM_FLOOR;
    else if (!strcmp(nm, "ceil")) p.nearest = IX_NM_CEIL;
    else return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nearest_mode '%s' is not supported", nm);
    p.cubic_a = oxrt_attr_float(nd, "cubic_coeff_a", -0.75f);
    p.exclude_outside = oxrt_attr_int(nd, "exclude_outside", 0) != 0;
    p.extrapolation = oxrt_attr_float(nd, "extrapolation_value", 0.0f);
    if (opset >= 18) p.antialias = oxrt_attr_int(nd, "antialias", 0) != 0 && p.mode != IX_RS_NEAREST;
  }
  if (scales_v && scales_v->count == 0) scales_v = NULL;
  if (sizes_v && sizes_v->count == 0) sizes_v = NULL;
  if (roi_v && roi_v->count == 0) roi_v = NULL;
  if (!scales_v == !sizes_v)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "exactly one of scales and sizes must be given");
  /* axes (opset 18) */
  int64_t axes[OXRT_MAX_RANK];
  int na = r;
  size_t n_attr_axes = 0;
  const int64_t *aa = opset >= 18 ? oxrt_attr_ints(nd, "axes", &n_attr_axes) : NULL;
  if (aa) {
    if (n_attr_axes > (size_t)r) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axes has more entries than rank %d", r);
    na = (int)n_attr_axes;
    for (int i = 0; i < na; i++) {
      OXRT_TRY(oxrt_norm_axis(aa[i], r, false, &axes[i]));
      for (int k = 0; k < i; k++)
        if (axes[k] == axes[i]) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %lld repeats in axes", (long long)aa[i]);
    }
  } else {
    for (int i = 0; i < r; i++) axes[i] = i;
  }
  double scale[OXRT_MAX_RANK];
  int64_t od[OXRT_MAX_RANK];
  for (int d = 0; d < r; d++) scale[d] = 1, od[d] = x->dims[d];
  if (scales_v) {
    OXRT_TRY(oxrt_check_tensor(scales_v, opset < 11 ? 1 : 2, "scales"));
    if (scales_v->count != (size_t)na || scales_v->dtype == OXRT_STRING)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scales must hold %d numbers, has %zu", na, scales_v->count);
    for (int i = 0; i < na; i++) {
      double s = oxrt_load_f64(scales_v->dtype, scales_v->data, (size_t)i);
      if (!(s > 0) || !isfinite(s)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scales[%d] = %g must be > 0", i, s);
      int d = (int)axes[i];
      scale[d] = s;
      double o = floor(s * (double)x->dims[d]);
      if (o > 9.0e15) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scales[%d] = %g makes a too large output", i, s);
      od[d] = (int64_t)o;
    }
  } else {
    OXRT_TRY(oxrt_check_tensor(sizes_v, 3, "sizes"));
    if (sizes_v->dtype != OXRT_INT64 || sizes_v->count != (size_t)na)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sizes must hold %d int64 values, has %zu %s", na, sizes_v->count,
                        oxrt_elem_type_name(sizes_v->dtype));
    const int64_t *sz = sizes_v->data;
    for (int i = 0; i < na; i++) {
      if (sz[i] < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sizes[%d] = %lld is negative", i, (long long)sz[i]);
      int d = (int)axes[i];
      od[d] = sz[i];
      scale[d] = x->dims[d] ? (double)sz[i] / (double)x->dims[d] : 1;
    }
    const char *kp = opset >= 18 ? oxrt_attr_string(nd, "keep_aspect_ratio_policy", "stretch") : "stretch";
    bool larger = !strcmp(kp, "not_larger"), smaller = !strcmp(kp, "not_smaller");
    if (!larger && !smaller && strcmp(kp, "stretch"))
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "keep_aspect_ratio_policy '%s' is not supported", kp);
    if ((larger || smaller) && na > 0) {
      double s = scale[axes[0]];
      for (int i = 1; i < na; i++) {
        double v = scale[axes[i]];
        s = larger ? fmin(s, v) : fmax(s, v);
      }
      for (int i = 0; i < na; i++) {
        int d = (int)axes[i];
        scale[d] = s;
        od[d] = (int64_t)(s * (double)x->dims[d] + 0.5);
      }
    }
  }
  double roi[2 * OXRT_MAX_RANK];
  bool have_roi = false;
  if (p.coord == IX_CT_TF_CROP_AND_RESIZE) {
    if (!roi_v) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "tf_crop_and_resize needs the roi input");
    OXRT_TRY(oxrt_check_tensor(roi_v, 1, "roi"));
    if (roi_v->count != 2 * (size_t)na || roi_v->dtype == OXRT_STRING)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "roi must hold %d numbers (starts then ends), has %zu", 2 * na,
                        roi_v->count);
    for (int d = 0; d < r; d++) roi[d] = 0, roi[r + d] = 1;
    for (int i = 0; i < na; i++) {
      roi[axes[i]] = oxrt_load_f64(roi_v->dtype, roi_v->data, (size_t)i);
      roi[r + axes[i]] = oxrt_load_f64(roi_v->dtype, roi_v->data, (size_t)(na + i));
    }
    have_roi = true;
  }
  return oxrt_ix_resize(ctx, x, &p, scale, od, have_roi ? roi : NULL, axes, na);
}

static const oxrt_op_impl resize_impls[] = {
    {.since_version = 10, .run = resize_run}, {.since_version = 11, .run = resize_run},
    {.since_version = 13, .run = resize_run}, {.since_version = 18, .run = resize_run},
    {.since_version = 19, .run = resize_run},
};
/* Output sizes from `sizes` (content known) or constant `scales` (floor(size * scale)); `axes` (opset 18) names
 * the dimensions they cover. tf_crop_and_resize and aspect-ratio policies are shaped at run time. */
static oxrt_status *infer_resize(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  oxrt_tshape x, out;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank < 1) return NULL;
  if (!strcmp(oxrt_attr_string(n, "coordinate_transformation_mode", ""), "tf_crop_and_resize") ||
      strcmp(oxrt_attr_string(n, "keep_aspect_ratio_policy", "stretch"), "stretch") != 0)
    return NULL;
  size_t nax;
  const int64_t *axes = oxrt_attr_ints(n, "axes", &nax);
  int na = axes ? (int)nax : x.rank;
  if (na > x.rank) return NULL;
  const oxrt_known_ints *sizes = ctx->opset >= 11 ? oxrt_infer_known(ctx, 3) : NULL;
  const oxrt_value *scales = oxrt_infer_constant(ctx, ctx->opset >= 11 ? 2 : 1);
  if (scales && (scales->dtype != OXRT_FLOAT || scales->rank != 1 || scales->count == 0)) scales = NULL;
  if (sizes && sizes->n != na) sizes = NULL;
  if (scales && (int64_t)scales->count != na) scales = NULL;
  if (!sizes && !scales) return NULL;
  out = x;
  for (int i = 0; i < na; i++) {
    int64_t d = axes ? axes[i] : i;
    if (d < 0) d += x.rank;
    if (d < 0 || d >= x.rank) return NULL;
    out.names[d] = NULL;
    if (sizes) {
      out.dims[d] = sizes->v[i], out.names[d] = sizes->names[i];
    } else {
      float sc = ((const float *)scales->data)[i];
      if (sc == 1.0f) out.names[d] = x.names[d];
      double v = (double)x.dims[d] * sc;
      out.dims[d] = x.dims[d] < 0 || !(sc > 0) || v > 9e15 ? -1 : (int64_t)v;
    }
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Resize) = {"", "Resize", OXRT_IMPLS(resize_impls), .infer = infer_resize};
