/* im2col.c - convolution through im2col + GEMM (and col2im for the transposed form), plus a direct
 * depthwise 2-D path. One template (a macro over the element type) serves float and double. */
#include "im2col.h"
#include "../core/value.h"
#include "gemm.h"
#include "dwconv.h"
#include "winograd.h"
#include "conv_narrow.h"
#include "scratch.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Outputs o in [0, n_out) with 0 <= o*s + off < n_in form the range [*lo, *hi). */
static void valid_range(int64_t off, int64_t s, int64_t n_in, int64_t n_out, int64_t *lo, int64_t *hi) {
  int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
  int64_t h = n_in - 1 - off < 0 ? 0 : (n_in - 1 - off) / s + 1;
  if (h > n_out) h = n_out;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

static size_t prod(const int64_t *d, int n) {
  size_t p = 1;
  for (int i = 0; i < n; i++) p *= (size_t)d[i];
  return p;
}

/* Kernel multi-index of flat kernel offset kk. */
static void kernel_index(const oxrt_conv_shape *s, size_t kk, int64_t *kidx) {
  for (int d = s->nd - 1; d >= 0; d--) {
    kidx[d] = (int64_t)(kk % (size_t)s->k[d]);
    kk /= (size_t)s->k[d];
  }
}

static bool is_pointwise(const oxrt_conv_shape *s) {
  for (int d = 0; d < s->nd; d++)
    if (s->k[d] != 1 || s->stride[d] != 1 || s->pad[d] != 0 || s->out[d] != s->in[d]) return false;
  return true;
}

#define CONV_TEMPLATE(T, SFX, GEMM)                                                                                    \
  /* Rows [r0, r1) of the column matrix of one image-group: row = (channel, kernel offset), col = output pos. */     \
  typedef struct {                                                                                                     \
    const oxrt_conv_shape *s;                                                                                          \
    const T *x;                                                                                                        \
    T *col;                                                                                                            \
    size_t kprod, in_size, out_size;                                                                                   \
  } im2col_job_##SFX;                                                                                                  \
  static void im2col_rows_##SFX(void *arg, size_t r0, size_t r1) {                                                     \
    const im2col_job_##SFX *j = arg;                                                                                   \
    const oxrt_conv_shape *s = j->s;                                                                                   \
    int nd = s->nd, L = nd - 1;                                                                                        \
    int64_t kidx[OXRT_CONV_MAX_DIMS], oidx[OXRT_CONV_MAX_DIMS], instr[OXRT_CONV_MAX_DIMS];                            \
    instr[L] = 1;                                                                                                      \
    for (int d = L - 1; d >= 0; d--) instr[d] = instr[d + 1] * s->in[d + 1];                                           \
    size_t n_outer = j->out_size / (size_t)s->out[L];                                                                  \
    for (size_t r = r0; r < r1; r++) {                                                                                 \
      size_t c = r / j->kprod;                                                                                         \
      kernel_index(s, r % j->kprod, kidx);                                                                             \
      T *dst = j->col + r * j->out_size;                                                                               \
      const T *xc = j->x + c * j->in_size;                                                                             \
      int64_t off = kidx[L] * s->dil[L] - s->pad[L], st = s->stride[L], lo, hi;                                        \
      valid_range(off, st, s->in[L], s->out[L], &lo, &hi);                                                             \
      for (int d = 0; d < L; d++) oidx[d] = 0;                                                                         \
      for (size_t q = 0; q < n_outer; q++, dst += s->out[L]) {                                                         \
        int64_t base = 0;                                                                                              \
        bool ok = true;                                                                                                \
        for (int d = 0; d < L; d++) {                                                                                  \
          int64_t i = oidx[d] * s->stride[d] + kidx[d] * s->dil[d] - s->pad[d];                                        \
          if (i < 0 || i >= s->in[d]) ok = false;                                                                      \
          base += i * instr[d];                                                                                        \
        }                                                                                                              \
        for (int d = L - 1; d >= 0; d--) {                                                                             \
          if (++oidx[d] < s->out[d]) break;                                                                            \
          oidx[d] = 0;                                                                                                 \
        }                                                                                                              \
        if (!ok) {                                                                                                     \
          memset(dst, 0, sizeof(T) * (size_t)s->out[L]);                                                               \
          continue;                                                                                                    \
        }                                                                                                              \
        const T *src = xc + base + off;                                                                                \
        for (int64_t o = 0; o < lo; o++) dst[o] = 0;                                                                   \
        if (st == 1) memcpy(dst + lo, src + lo, sizeof(T) * (size_t)(hi - lo));                                        \
        else                                                                                                           \
          for (int64_t o = lo; o < hi; o++) dst[o] = src[o * st];                                                      \
        for (int64_t o = hi; o < s->out[L]; o++) dst[o] = 0;                                                           \
      }                                                                                                                \
    }                                                                                                                  \
  }                                                                                                                    \
                                                                                                                       \
  typedef struct {                                                                                                     \
    const oxrt_conv_shape *s;                                                                                          \
    const T *x, *w, *b;                                                                                                \
    T *y;                                                                                                              \
    size_t Cg, Mg, kprod, Kg, in_size, out_size;                                                                       \
    bool pointwise;                                                                                                    \
    int failed;                                                                                                        \
  } conv_job_##SFX;                                                                                                    \
                                                                                                                       \
  /* One (image, group) product; `col` has Kg*out_size room unless pointwise. */                                       \
  static void conv_one_##SFX(conv_job_##SFX *j, size_t n, size_t g, T *col, oxrt_threadpool *pool) {                  \
    const oxrt_conv_shape *s = j->s;                                                                                   \
    const T *xg = j->x + (n * s->C + g * j->Cg) * j->in_size;                                                          \
    const T *bm = xg;                                                                                                  \
    if (!j->pointwise) {                                                                                               \
      im2col_job_##SFX ij = {s, xg, col, j->kprod, j->in_size, j->out_size};                                           \
      size_t rows = j->Kg;                                                                                             \
      oxrt_parallel_for(pool, rows, 1 + 32768 / (j->out_size + 1), im2col_rows_##SFX, &ij);                            \
      bm = col;                                                                                                        \
    }                                                                                                                  \
    T *yg = j->y + (n * s->M + g * j->Mg) * j->out_size;                                                               \
    T beta = 0;                                                                                                        \
    if (j->b) {                                                                                                        \
      for (size_t m = 0; m < j->Mg; m++) {                                                                             \
        T bv = j->b[g * j->Mg + m], *row = yg + m * j->out_size;                                                       \
        for (size_t o = 0; o < j->out_size; o++) row[o] = bv;                                                          \
      }                                                                                                                \
      beta = 1;                                                                                                        \
    }                                                                                                                  \
    GEMM(false, false, j->Mg, j->out_size, j->Kg, 1, j->w + g * j->Mg * j->Kg, j->Kg, bm, j->out_size, beta, yg,      \
         j->out_size, pool);                                                                                           \
  }                                                                                                                    \
                                                                                                                       \
  static void conv_tasks_##SFX(void *arg, size_t t0, size_t t1) {                                                      \
    conv_job_##SFX *j = arg;                                                                                           \
    T *col = NULL;                                                                                                     \
    if (!j->pointwise) {                                                                                               \
      col = oxrt_aligned_alloc(sizeof(T) * j->Kg * j->out_size);                                                       \
      if (!col) {                                                                                                      \
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);                                                             \
        return;                                                                                                        \
      }                                                                                                                \
    }                                                                                                                  \
    for (size_t t = t0; t < t1; t++) conv_one_##SFX(j, t / j->s->group, t % j->s->group, col, NULL);                   \
    oxrt_aligned_free(col);                                                                                            \
  }                                                                                                                    \
                                                                                                                       \
  /* Depthwise 2-D (one input channel per group): direct loops, one output channel per task item. */                  \
  static void dw2d_##SFX(void *arg, size_t t0, size_t t1) {                                                            \
    const conv_job_##SFX *j = arg;                                                                                     \
    const oxrt_conv_shape *s = j->s;                                                                                   \
    int64_t H = s->in[0], W = s->in[1], OH = s->out[0], OW = s->out[1], KH = s->k[0], KW = s->k[1];                   \
    int64_t sh = s->stride[0], sw = s->stride[1];                                                                      \
    for (size_t t = t0; t < t1; t++) {                                                                                 \
      size_t n = t / s->M, m = t % s->M, c = m / j->Mg;                                                                \
      const T *xc = j->x + (n * s->C + c) * j->in_size;                                                                \
      const T *wm = j->w + m * j->kprod;                                                                               \
      T *yc = j->y + (n * s->M + m) * j->out_size;                                                                     \
      T bv = j->b ? j->b[m] : 0;                                                                                       \
      for (int64_t oh = 0; oh < OH; oh++) {                                                                            \
        T *yr = yc + oh * OW;                                                                                          \
        for (int64_t ow = 0; ow < OW; ow++) yr[ow] = bv;                                                               \
        for (int64_t ki = 0; ki < KH; ki++) {                                                                          \
          int64_t ih = oh * sh + ki * s->dil[0] - s->pad[0];                                                           \
          if (ih < 0 || ih >= H) continue;                                                                             \
          const T *xr = xc + ih * W;                                                                                   \
          for (int64_t kj = 0; kj < KW; kj++) {                                                                        \
            int64_t off = kj * s->dil[1] - s->pad[1], lo, hi;                                                          \
            valid_range(off, sw, W, OW, &lo, &hi);                                                                     \
            T wv = wm[ki * KW + kj];                                                                                   \
            const T *xs = xr + off;                                                                                    \
            if (sw == 1)                                                                                               \
              for (int64_t ow = lo; ow < hi; ow++) yr[ow] += wv * xs[ow];                                              \
            else                                                                                                       \
              for (int64_t ow = lo; ow < hi; ow++) yr[ow] += wv * xs[ow * sw];                                         \
          }                                                                                                            \
        }                                                                                                              \
      }                                                                                                                \
    }                                                                                                                  \
  }                                                                                                                    \
                                                                                                                       \
  static bool conv_generic_##SFX(const oxrt_conv_shape *s, const T *x, const T *w, const T *bias, T *y,              \
                                 oxrt_threadpool *pool) {                                                              \
    conv_job_##SFX j = {.s = s, .x = x, .w = w, .b = bias, .y = y};                                                    \
    j.Cg = s->C / s->group;                                                                                            \
    j.Mg = s->M / s->group;                                                                                            \
    j.kprod = prod(s->k, s->nd);                                                                                       \
    j.Kg = j.Cg * j.kprod;                                                                                             \
    j.in_size = prod(s->in, s->nd);                                                                                    \
    j.out_size = prod(s->out, s->nd);                                                                                  \
    j.pointwise = is_pointwise(s);                                                                                     \
    if (s->N == 0 || s->M == 0 || j.out_size == 0) return true;                                                        \
    if (j.Kg == 0) { /* no input channels: bias only */                                                                \
      for (size_t n = 0; n < s->N; n++)                                                                                \
        for (size_t m = 0; m < s->M; m++)                                                                              \
          for (size_t o = 0; o < j.out_size; o++) y[(n * s->M + m) * j.out_size + o] = bias ? bias[m] : 0;             \
      return true;                                                                                                     \
    }                                                                                                                  \
    if (j.Cg == 1 && s->nd == 2 && j.Mg <= 4) {                                                                        \
      oxrt_parallel_for(pool, s->N * s->M, 1, dw2d_##SFX, &j);                                                         \
      return true;                                                                                                     \
    }                                                                                                                  \
    size_t tasks = s->N * s->group;                                                                                    \
    double flops = (double)j.Mg * (double)j.Kg * (double)j.out_size;                                                   \
    int nth = oxrt_threadpool_size(pool);                                                                              \
    if (nth > 1 && tasks >= (size_t)nth && flops < 2e7) {                                                              \
      oxrt_parallel_for(pool, tasks, 1, conv_tasks_##SFX, &j);                                                         \
      return !j.failed;                                                                                                \
    }                                                                                                                  \
    T *col = NULL;                                                                                                     \
    if (!j.pointwise) {                                                                                                \
      col = oxrt_aligned_alloc(sizeof(T) * j.Kg * j.out_size);                                                         \
      if (!col) return false;                                                                                          \
    }                                                                                                                  \
    for (size_t t = 0; t < tasks; t++) conv_one_##SFX(&j, t / s->group, t % s->group, col, pool);                      \
    oxrt_aligned_free(col);                                                                                            \
    return true;                                                                                                       \
  }

CONV_TEMPLATE(float, f32, oxrt_sgemm)
CONV_TEMPLATE(double, f64, oxrt_dgemm)

bool oxrt_conv_f64(const oxrt_conv_shape *s, const double *x, const double *w, const double *bias, double *y,
                   oxrt_threadpool *pool) {
  return conv_generic_f64(s, x, w, bias, y, pool);
}

/* ------------------------------------------------------------------ float: implicit im2col
 * 1-D and 2-D convolutions never build the column matrix: the GEMM asks for B panels (kc rows of nr output
 * positions) and conv2d_bfill gathers them straight from the input, so the data is written once, into the
 * cache-resident panel the micro-kernel reads next. Weights come pre-packed (oxrt_conv_f32_pack), bias and
 * activation are applied in the GEMM epilogue. */

typedef struct {
  const float *x; /* first input channel of the image-group (of the first image when batched) */
  int64_t IH, IW, OH, OW, sh, sw, dh, dw, ph, pw, KW;
  size_t kprod, in_size, out_size;
  size_t img_stride; /* elements between images when columns span several images (batched), else 0 */
  const int64_t *wlo, *whi; /* per kernel column: outputs ow in [wlo, whi) read inside the row */
  oxrt_isa vfill;           /* ISA of the vector fill (oxrt_conv_fill_*), PORTABLE for none */
} conv2d_bsrc;

/* One run of a panel row: lanes [lane, lane+len) copy from src (+ channel base, stride sw) or are zero. */
typedef struct {
  int32_t lane, len;
  int64_t src; /* < 0: zeros */
} conv_seg;

typedef struct {
  int32_t lane, len;
  int64_t base, oh, ow; /* image base offset and first output position of the run */
} conv_run;

/* GCC would turn the short copy/zero loops below into memcpy/memset calls, whose call overhead dominates
 * runs of a few elements. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_LIBCALLS
#endif

static int conv_push(conv_seg *sg, int n, int32_t lane, int32_t len, int64_t src) {
  if (len <= 0) return n;
  if (src < 0 && n > 0 && sg[n - 1].src < 0 && sg[n - 1].lane + sg[n - 1].len == lane) {
    sg[n - 1].len += len;
    return n;
  }
  sg[n].lane = lane, sg[n].len = len, sg[n].src = src;
  return n + 1;
}

/* Segments of kernel tap `tap` over the panel's runs; at most 3 * n_runs + 1. */
static int conv_tap_segs(const conv2d_bsrc *b, size_t tap, const conv_run *runs, int n_runs, int32_t n_eff,
                         int32_t nr, conv_seg *sg) {
  const int64_t kh = (int64_t)tap / b->KW, kw = (int64_t)tap % b->KW;
  const int64_t hoff = kh * b->dh - b->ph, woff = kw * b->dw - b->pw, lo = b->wlo[kw], hi = b->whi[kw];
  int n = 0;
  for (int r = 0; r < n_runs; r++) {
    const conv_run *R = &runs[r];
    int64_t ih = R->oh * b->sh + hoff, ow = R->ow, e = ow + R->len;
    if (ih < 0 || ih >= b->IH) {
      n = conv_push(sg, n, R->lane, R->len, -1);
      continue;
    }
    int64_t a = lo > ow ? lo : ow, z = hi < e ? hi : e;
    if (a > e) a = e;
    if (z < a) z = a;
    n = conv_push(sg, n, R->lane, (int32_t)(a - ow), -1);
    n = conv_push(sg, n, R->lane + (int32_t)(a - ow), (int32_t)(z - a), R->base + ih * b->IW + a * b->sw + woff);
    n = conv_push(sg, n, R->lane + (int32_t)(z - ow), (int32_t)(e - z), -1);
  }
  return conv_push(sg, n, n_eff, nr - n_eff, -1);
}

#define CONV_SEG_CACHE 2048

/* Table entries of kernel tap `tap` over the panel's runs (see oxrt_conv_fill), appended at n; returns the new n. */
static int32_t conv_tap_table(const conv2d_bsrc *b, size_t tap, const conv_run *runs, int n_runs, int64_t *off,
                              uint32_t *lanes, int32_t n) {
  const int64_t kh = (int64_t)tap / b->KW, kw = (int64_t)tap % b->KW;
  const int64_t hoff = kh * b->dh - b->ph, woff = kw * b->dw - b->pw, lo = b->wlo[kw], hi = b->whi[kw];
  for (int r = 0; r < n_runs; r++) {
    const conv_run *R = &runs[r];
    int64_t ih = R->oh * b->sh + hoff, ow = R->ow, e = ow + R->len;
    if (ih < 0 || ih >= b->IH) continue;
    int64_t a = lo > ow ? lo : ow, z = hi < e ? hi : e;
    if (z <= a) continue;
    int64_t la = R->lane + (a - ow), lz = R->lane + (z - ow);
    uint32_t upto = lz >= 32 ? 0xFFFFFFFFu : (1u << lz) - 1u;
    lanes[n] = upto & ~((1u << la) - 1u);
    off[n] = R->base + ih * b->IW + (ow - R->lane) * b->sw + woff;
    n++;
  }
  return n;
}

#define CONV_FILL_TAB 2048

NO_LIBCALLS static void conv2d_bfill(const void *vctx, size_t p0, size_t kc, size_t j0, size_t n_eff, size_t nr,
                                     float *dst) {
  const conv2d_bsrc *b = vctx;
  const int64_t OW = b->OW, OH = b->OH, sw = b->sw;
  /* the panel's columns as runs along output rows (a run ends at a row or image boundary) */
  conv_run runs[65];
  int n_runs = 0;
  {
    size_t img = j0 / b->out_size, pos = j0 % b->out_size;
    int64_t oh = (int64_t)pos / OW, ow = (int64_t)pos % OW;
    for (size_t lane = 0; lane < n_eff && n_runs < 64;) {
      int64_t len = OW - ow < (int64_t)(n_eff - lane) ? OW - ow : (int64_t)(n_eff - lane);
      runs[n_runs++] = (conv_run){(int32_t)lane, (int32_t)len, (int64_t)(img * b->img_stride), oh, ow};
      lane += (size_t)len;
      ow = 0;
      if (++oh == OH) oh = 0, img++;
    }
  }
  /* Vector fill: a table of (offset, lane mask) per tap and run, then masked loads per panel row. */
  if (b->vfill != OXRT_ISA_PORTABLE && nr <= (b->vfill == OXRT_ISA_AVX512 ? 32u : 16u) && b->kprod <= 256 &&
      b->kprod * (size_t)n_runs <= CONV_FILL_TAB) {
    int64_t off[CONV_FILL_TAB];
    uint32_t lanes[CONV_FILL_TAB];
    int32_t first[256], count[256], n = 0;
    size_t ntaps = kc < b->kprod ? kc : b->kprod;
    for (size_t t = 0, tap = p0 % b->kprod; t < ntaps; t++) {
      first[tap] = n;
      n = conv_tap_table(b, tap, runs, n_runs, off, lanes, n);
      count[tap] = n - first[tap];
      if (++tap == b->kprod) tap = 0;
    }
    oxrt_conv_fill f = {b->x, b->in_size, b->kprod, sw, first, count, off, lanes};
#if defined(__x86_64__) && defined(__GNUC__)
    if (b->vfill == OXRT_ISA_AVX512) oxrt_conv_fill_avx512(&f, p0 / b->kprod, p0 % b->kprod, kc, nr, dst);
    else oxrt_conv_fill_avx2(&f, p0 / b->kprod, p0 % b->kprod, kc, nr, dst);
#else
    (void)f; /* vfill is only ever set on x86 (oxrt_cpu_isa) */
#endif
    return;
  }
  /* Short runs (small images): a per-lane offset table per tap, filled branch-free, beats run bookkeeping. */
  if ((size_t)n_runs * 6 > n_eff && b->kprod * nr <= 2048) {
    int64_t offs[2048];
    bool built[256] = {false};
    const bool cache_ok = b->kprod <= 256;
    size_t c = p0 / b->kprod, tap = p0 % b->kprod;
    for (size_t k = 0; k < kc; k++) {
      int64_t *off = offs + (cache_ok ? tap * nr : 0);
      if (!cache_ok || !built[tap]) {
        const int64_t kh = (int64_t)tap / b->KW, kw = (int64_t)tap % b->KW;
        const int64_t hoff = kh * b->dh - b->ph, woff = kw * b->dw - b->pw;
        for (int r = 0; r < n_runs; r++) {
          const conv_run *R = &runs[r];
          int64_t ih = R->oh * b->sh + hoff;
          bool row_ok = ih >= 0 && ih < b->IH;
          for (int32_t l = 0; l < R->len; l++) {
            int64_t iw = (R->ow + l) * sw + woff;
            off[R->lane + l] = row_ok && iw >= 0 && iw < b->IW ? R->base + ih * b->IW + iw : -1;
          }
        }
        for (size_t l = n_eff; l < nr; l++) off[l] = -1;
        if (cache_ok) built[tap] = true;
      }
      float *d = dst + k * nr;
      const float *xc = b->x + c * b->in_size;
      for (size_t l = 0; l < nr; l++) {
        int64_t o = off[l];
        float v = xc[o < 0 ? 0 : o];
        d[l] = o < 0 ? 0.0f : v;
      }
      if (++tap == b->kprod) tap = 0, c++;
    }
    return;
  }
  /* segments per tap, built on first use within this panel */
  const size_t per_tap = 3 * (size_t)n_runs + 1;
  const bool cache = b->kprod * per_tap <= CONV_SEG_CACHE;
  conv_seg segs[CONV_SEG_CACHE];
  int32_t nseg_stack[256], *nseg = b->kprod <= 256 ? nseg_stack : NULL;
  bool use_cache = cache && nseg;
  if (use_cache)
    for (size_t t = 0; t < b->kprod; t++) nseg[t] = -1;
  size_t c = p0 / b->kprod, tap = p0 % b->kprod;
  for (size_t k = 0; k < kc; k++) {
    float *d = dst + k * nr;
    const float *xc = b->x + c * b->in_size;
    const conv_seg *sg;
    int ns;
    if (use_cache) {
      conv_seg *slot = segs + tap * per_tap;
      if (nseg[tap] < 0) nseg[tap] = conv_tap_segs(b, tap, runs, n_runs, (int32_t)n_eff, (int32_t)nr, slot);
      sg = slot, ns = nseg[tap];
    } else {
      ns = conv_tap_segs(b, tap, runs, n_runs, (int32_t)n_eff, (int32_t)nr, segs);
      sg = segs;
    }
    for (int i = 0; i < ns; i++) {
      float *o = d + sg[i].lane;
      const int32_t len = sg[i].len;
      if (sg[i].src < 0) {
        for (int32_t l = 0; l < len; l++) o[l] = 0;
      } else if (sw == 1) {
        const float *src = xc + sg[i].src;
        for (int32_t l = 0; l < len; l++) o[l] = src[l];
      } else {
        const float *src = xc + sg[i].src;
        for (int32_t l = 0; l < len; l++) o[l] = src[l * sw];
      }
    }
    if (++tap == b->kprod) tap = 0, c++;
  }
}

static bool conv_pack(const oxrt_conv_shape *s, const float *w, bool winograd, bool bf16, oxrt_conv_wpack *out) {
  size_t Mg = s->M / s->group, Kg = s->C / s->group * prod(s->k, s->nd);
  out->group = s->group, out->Mg = Mg, out->Kg = Kg, out->g = NULL, out->wino = NULL;
  if (winograd && oxrt_wino_shape_ok(s)) {
    out->wino = calloc(OXRT_WINO_POS, sizeof *out->wino);
    if (!out->wino) return false;
    if (oxrt_wino_pack(s, w, bf16, out->wino)) return true;
    free(out->wino);
    out->wino = NULL;
    return false;
  }
  out->g = calloc(s->group ? s->group : 1, sizeof *out->g);
  if (!out->g) return false;
  for (size_t g = 0; g < s->group; g++)
    if (!(bf16 ? oxrt_sgemm_pack_a_bf16(false, Mg, Kg, w + g * Mg * Kg, Kg, &out->g[g])
               : oxrt_sgemm_pack_a(false, Mg, Kg, w + g * Mg * Kg, Kg, &out->g[g]))) {
      oxrt_conv_wpack_free(out);
      return false;
    }
  return true;
}

bool oxrt_conv_f32_pack_method(const oxrt_conv_shape *s, const float *w, bool winograd, oxrt_conv_wpack *out) {
  return conv_pack(s, w, winograd, false, out);
}

bool oxrt_conv_f32_pack(const oxrt_conv_shape *s, const float *w, oxrt_conv_wpack *out) {
  return conv_pack(s, w, oxrt_wino_pays(s), false, out);
}

/* Where Winograd pays, it stays float32: faster than the bfloat16 GEMM there (1.4-1.8x on ResNet's and PP-OCR's
 * 3x3 layers, AMD Zen 4) and exact, while multiplying its transformed tiles in bfloat16 gave 4-5x the error of
 * rounding the conv's own inputs. The bf16 emulation (quant/bf16_compute.c) leaves the same convs alone. */
bool oxrt_conv_f32_pack_bf16(const oxrt_conv_shape *s, const float *w, oxrt_conv_wpack *out) {
  return oxrt_wino_pays(s) ? conv_pack(s, w, true, false, out) : conv_pack(s, w, false, true, out);
}

void oxrt_conv_wpack_free(oxrt_conv_wpack *p) {
  if (p && p->wino) {
    for (int i = 0; i < OXRT_WINO_POS; i++) oxrt_sgemm_apack_free(&p->wino[i]);
    free(p->wino);
    p->wino = NULL;
  }
  if (!p || !p->g) return;
  for (size_t g = 0; g < p->group; g++) oxrt_sgemm_apack_free(&p->g[g]);
  free(p->g);
  p->g = NULL;
}

typedef struct {
  const oxrt_conv_shape *s;
  const float *x, *bias, *z;
  const oxrt_conv_wpack *wp;
  oxrt_activation act;
  float *y;
  float *tmp; /* batched: [Mg, N * out_size] result of one group, scattered into y */
  size_t Cg, Mg, kprod, Kg, in_size, out_size;
  bool pointwise, batched;
  const int64_t *wlo, *whi;
  atomic_int failed;
} conv_f32_job;

/* y = act(y + z) (z may be NULL). */
static void residual_act(float *y, const float *z, size_t n, oxrt_activation act) {
  if (z)
    for (size_t i = 0; i < n; i++) y[i] += z[i];
  if (act.kind != OXRT_ACT_NONE) oxrt_act_apply(act, y, n);
}

/* Image n, group g (or with j->batched, every image of group g in one product). */
static void conv_f32_one(conv_f32_job *j, size_t n, size_t g, oxrt_threadpool *pool) {
  const oxrt_conv_shape *s = j->s;
  const float *xg = j->x + (n * s->C + g * j->Cg) * j->in_size;
  size_t cols = j->batched ? s->N * j->out_size : j->out_size;
  size_t yoff = (n * s->M + g * j->Mg) * j->out_size;
  oxrt_sgemm_ex ge = {.M = j->Mg, .N = cols, .K = j->Kg, .alpha = 1, .beta = 0, .ap = &j->wp->g[g],
                      .C = j->batched ? j->tmp : j->y + yoff, .ldc = cols,
                      .bias = j->bias ? j->bias + g * j->Mg : NULL, .act = j->act.kind, .act_a = j->act.a,
                      .act_b = j->act.b};
  if (j->z && !j->batched) ge.Z = j->z + yoff, ge.ldz = j->out_size;
  else if (j->z) ge.act = OXRT_ACT_NONE; /* batched: z and the activation after the scatter */
  /* Activations other than clamps: one vector pass over this product's output (still in L2) instead of the
   * GEMM's per-tile-row calls, whose per-call cost was more than the arithmetic on small-K products
   * (PP-LCNet's fused HardSwish measured slower than a separate node); up to 1 MiB of output, so it stays in L2. */
  float lo, hi;
  const bool late_act = !j->batched && !oxrt_act_is_clamp(j->act, &lo, &hi) && j->Mg * j->out_size <= (1u << 18);
  if (late_act) ge.act = OXRT_ACT_NONE;
  conv2d_bsrc src;
  if (j->pointwise && !j->batched) {
    ge.B = xg, ge.ldb = j->out_size;
  } else {
    bool two = s->nd == 2; /* 1-D runs as 2-D with a unit height */
    src = (conv2d_bsrc){.x = xg, .IH = two ? s->in[0] : 1, .IW = s->in[s->nd - 1], .OH = two ? s->out[0] : 1,
                        .OW = s->out[s->nd - 1], .sh = two ? s->stride[0] : 1, .sw = s->stride[s->nd - 1],
                        .dh = two ? s->dil[0] : 1, .dw = s->dil[s->nd - 1], .ph = two ? s->pad[0] : 0,
                        .pw = s->pad[s->nd - 1], .KW = s->k[s->nd - 1], .kprod = j->kprod, .in_size = j->in_size,
                        .out_size = j->out_size, .img_stride = j->batched ? s->C * j->in_size : 0,
                        .wlo = j->wlo, .whi = j->whi, .vfill = OXRT_ISA_PORTABLE};
#if defined(__x86_64__) && defined(__GNUC__)
    src.vfill = oxrt_cpu_isa();
#endif
    ge.bfill = conv2d_bfill, ge.bctx = &src;
  }
  if (!oxrt_sgemm_run(&ge, pool)) {
    atomic_store(&j->failed, 1);
    return;
  }
  if (late_act) oxrt_act_apply(j->act, j->y + yoff, j->Mg * j->out_size);
  if (j->batched)
    for (size_t i = 0; i < s->N; i++)
      for (size_t m = 0; m < j->Mg; m++) {
        size_t off = (i * s->M + g * j->Mg + m) * j->out_size;
        float *yr = j->y + off;
        memcpy(yr, j->tmp + m * cols + i * j->out_size, sizeof(float) * j->out_size);
        if (j->z) residual_act(yr, j->z + off, j->out_size, j->act);
      }
}

static void conv_f32_tasks(void *arg, size_t t0, size_t t1) {
  conv_f32_job *j = arg;
  for (size_t t = t0; t < t1; t++) conv_f32_one(j, t / j->s->group, t % j->s->group, NULL);
}


/* Depthwise 2-D, no input channels, 3-D and beyond: the generic paths, which read W directly. */
static bool conv_f32_generic_case(const oxrt_conv_shape *s) {
  size_t Cg = s->C / s->group, Mg = s->M / s->group;
  return Cg == 0 || prod(s->k, s->nd) == 0 || (Cg == 1 && s->nd == 2 && Mg <= 4) || s->nd > 2;
}

bool oxrt_conv_f32_uses_pack(const oxrt_conv_shape *s) { return s->group > 0 && !conv_f32_generic_case(s); }

bool oxrt_conv_f32_ex(const oxrt_conv_shape *s, const float *x, const float *w, const oxrt_conv_wpack *wp,
                      const float *bias, const float *z, oxrt_activation act, float *y, oxrt_threadpool *pool) {
  conv_f32_job j = {.s = s, .x = x, .bias = bias, .z = z, .wp = wp, .act = act, .y = y};
  j.Cg = s->C / s->group;
  j.Mg = s->M / s->group;
  j.kprod = prod(s->k, s->nd);
  j.Kg = j.Cg * j.kprod;
  j.in_size = prod(s->in, s->nd);
  j.out_size = prod(s->out, s->nd);
  j.pointwise = is_pointwise(s);
  size_t total = s->N * s->M * j.out_size;
  if (s->N == 0 || s->M == 0 || j.out_size == 0) return true;
  if (conv_f32_generic_case(s)) {
    /* The depthwise kernels take z and the activation per output plane; the generic loops have no residual in
     * their output pass, so Z and the activation are applied here, once (a path that returned early here once
     * dropped Z: issue 9). */
    if (oxrt_dwconv_f32_ok(s) && j.Kg > 0) return oxrt_dwconv_f32_act(s, x, w, bias, z, act, y, pool); /* dwconv.c */
    bool ok = conv_generic_f32(s, x, w, bias, y, pool);
    if (ok) residual_act(y, z, total, act);
    return ok;
  }
  oxrt_conv_wpack own = {0};
  if (!wp || wp->group != s->group || wp->Mg != j.Mg || wp->Kg != j.Kg) {
    if (!oxrt_conv_f32_pack(s, w, &own)) return false;
    wp = &own;
  }
  if (wp->wino && oxrt_wino_shape_ok(s)) {
    bool ok = oxrt_wino_run(s, x, wp->wino, bias, z, act, y, pool);
    oxrt_conv_wpack_free(&own);
    return ok;
  }
  if (!wp->g) { /* Winograd packs for a shape that cannot use them: pack for the GEMM (W must still be there) */
    oxrt_conv_wpack_free(&own);
    if (!w || !oxrt_conv_f32_pack_method(s, w, false, &own)) return false;
    wp = &own;
  }
  j.wp = wp;
  if (oxrt_conv_narrow_ok(s, wp)) { /* 1-4 output positions: the channels along the lanes instead */
    bool ok = oxrt_conv_narrow_f32(s, x, wp, bias, z, act, y);
    oxrt_conv_wpack_free(&own);
    return ok;
  }
  int64_t KW = s->k[s->nd - 1], wst[2 * 16], *wtab = KW <= 16 ? wst : malloc(sizeof(int64_t) * 2 * (size_t)KW);
  if (!wtab) {
    oxrt_conv_wpack_free(&own);
    return false;
  }
  for (int64_t kw = 0; kw < KW; kw++) {
    int64_t L = s->nd - 1;
    valid_range(kw * s->dil[L] - s->pad[L], s->stride[L], s->in[L], s->out[L], &wtab[kw], &wtab[KW + kw]);
  }
  j.wlo = wtab, j.whi = wtab + KW;
  size_t tasks = s->N * s->group;
  double flops = (double)j.Mg * (double)j.Kg * (double)j.out_size;
  int nth = oxrt_threadpool_size(pool);
  /* Small images in a batch: one product per group over the columns of every image, so micro-tiles are full
   * and per-product overheads are paid once. */
  if (s->N > 1 && j.out_size < 256 && (j.tmp = oxrt_aligned_alloc(sizeof(float) * j.Mg * s->N * j.out_size))) {
    j.batched = true;
    for (size_t g = 0; g < s->group && !atomic_load(&j.failed); g++) conv_f32_one(&j, 0, g, pool);
    oxrt_aligned_free(j.tmp);
  } else if (nth > 1 && tasks >= (size_t)nth && flops < 2e7) {
    oxrt_parallel_for(pool, tasks, 1, conv_f32_tasks, &j);
  } else {
    for (size_t t = 0; t < tasks; t++) conv_f32_one(&j, t / s->group, t % s->group, pool);
  }
  if (wtab != wst) free(wtab);
  oxrt_conv_wpack_free(&own);
  return !atomic_load(&j.failed);
}

bool oxrt_conv_f32(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias, float *y,
                   oxrt_threadpool *pool) {
  return oxrt_conv_f32_ex(s, x, w, NULL, bias, NULL, (oxrt_activation){OXRT_ACT_NONE, 0, 0}, y, pool);
}

#define CONVT_TEMPLATE(T, SFX, GEMM)                                                                                   \
  typedef struct {                                                                                                     \
    const oxrt_conv_shape *s;                                                                                          \
    const T *b;                                                                                                        \
    T *y;                                                                                                              \
    const T *col;                                                                                                      \
    size_t n, g, Mg, kprod, in_size, out_size;                                                                         \
  } col2im_job_##SFX;                                                                                                  \
  /* Output channels [m0, m1) of one image-group: start from the bias, add every column row of the channel. */       \
  static void col2im_##SFX(void *arg, size_t m0, size_t m1) {                                                          \
    const col2im_job_##SFX *j = arg;                                                                                   \
    const oxrt_conv_shape *s = j->s;                                                                                   \
    int nd = s->nd, L = nd - 1;                                                                                        \
    int64_t kidx[OXRT_CONV_MAX_DIMS], iidx[OXRT_CONV_MAX_DIMS], ostr[OXRT_CONV_MAX_DIMS];                             \
    ostr[L] = 1;                                                                                                       \
    for (int d = L - 1; d >= 0; d--) ostr[d] = ostr[d + 1] * s->out[d + 1];                                            \
    /* an empty input (in[L] = 0) with a non-empty output (pads, output_shape) leaves only the bias */                 \
    size_t n_outer = s->in[L] ? j->in_size / (size_t)s->in[L] : 0;                                                     \
    for (size_t m = m0; m < m1; m++) {                                                                                 \
      size_t mo = j->g * j->Mg + m;                                                                                    \
      T *yc = j->y + (j->n * s->M + mo) * j->out_size;                                                                 \
      T bv = j->b ? j->b[mo] : 0;                                                                                      \
      for (size_t o = 0; o < j->out_size; o++) yc[o] = bv;                                                             \
      for (size_t kk = 0; kk < j->kprod; kk++) {                                                                       \
        kernel_index(s, kk, kidx);                                                                                     \
        const T *src = j->col + (m * j->kprod + kk) * j->in_size;                                                      \
        int64_t off = kidx[L] * s->dil[L] - s->pad[L], st = s->stride[L], lo, hi;                                      \
        valid_range(off, st, s->out[L], s->in[L], &lo, &hi);                                                           \
        for (int d = 0; d < L; d++) iidx[d] = 0;                                                                       \
        for (size_t q = 0; q < n_outer; q++, src += s->in[L]) {                                                        \
          int64_t base = 0;                                                                                            \
          bool ok = true;                                                                                              \
          for (int d = 0; d < L; d++) {                                                                                \
            int64_t o = iidx[d] * s->stride[d] + kidx[d] * s->dil[d] - s->pad[d];                                      \
            if (o < 0 || o >= s->out[d]) ok = false;                                                                   \
            base += o * ostr[d];                                                                                       \
          }                                                                                                            \
          for (int d = L - 1; d >= 0; d--) {                                                                           \
            if (++iidx[d] < s->in[d]) break;                                                                           \
            iidx[d] = 0;                                                                                               \
          }                                                                                                            \
          if (!ok) continue;                                                                                           \
          T *dst = yc + base + off;                                                                                    \
          for (int64_t i = lo; i < hi; i++) dst[i * st] += src[i];                                                     \
        }                                                                                                              \
      }                                                                                                                \
    }                                                                                                                  \
  }                                                                                                                    \
                                                                                                                       \
  static bool convt_colbuf_##SFX(const oxrt_conv_shape *s, const T *x, const T *w, const T *bias, T *y,               \
                                 oxrt_threadpool *pool) {                                                              \
    size_t Cg = s->C / s->group, Mg = s->M / s->group, kprod = prod(s->k, s->nd);                                      \
    size_t in_size = prod(s->in, s->nd), out_size = prod(s->out, s->nd);                                               \
    if (s->N == 0 || s->M == 0 || out_size == 0) return true;                                                          \
    T *col = oxrt_aligned_alloc(sizeof(T) * (Mg * kprod * in_size + 1));                                               \
    if (!col) return false;                                                                                            \
    for (size_t n = 0; n < s->N; n++)                                                                                  \
      for (size_t g = 0; g < s->group; g++) {                                                                          \
        if (Cg == 0 || in_size == 0) memset(col, 0, sizeof(T) * Mg * kprod * in_size);                                 \
        else                                                                                                           \
          GEMM(true, false, Mg * kprod, in_size, Cg, 1, w + g * Cg * Mg * kprod, Mg * kprod,                           \
               x + (n * s->C + g * Cg) * in_size, in_size, 0, col, in_size, pool);                                     \
        col2im_job_##SFX cj = {s, bias, y, col, n, g, Mg, kprod, in_size, out_size};                                   \
        oxrt_parallel_for(pool, Mg, 1, col2im_##SFX, &cj);                                                             \
      }                                                                                                                \
    oxrt_aligned_free(col);                                                                                            \
    return true;                                                                                                       \
  }

CONVT_TEMPLATE(float, f32, oxrt_sgemm)
CONVT_TEMPLATE(double, f64, oxrt_dgemm)

bool oxrt_conv_transpose_f64(const oxrt_conv_shape *s, const double *x, const double *w, const double *bias, double *y,
                             oxrt_threadpool *pool) {
  return convt_colbuf_f64(s, x, w, bias, y, pool);
}

/* 2-D float ConvTranspose a band of input rows at a time: the band's columns (Mg*kh*kw rows of band*W, sized to stay
 * in L2) come from one GEMM and are added into Y right away, instead of a column matrix for the whole plane that
 * goes through memory and back: PP-OCR's detector holds 9.5 MB less at its peak (its 2x2 stride-2 upsampling had
 * 9.8 MB of columns per conv); the time stays that of the GEMM with K = 24 and the scatter (level with ORT). */
typedef struct {
  const oxrt_conv_shape *s;
  const float *x, *w, *bias;
  float *y;
  size_t Cg, Mg, kprod, band, bands; /* input rows per band, bands per image-group */
  atomic_int failed;
} convt_band_job;

static void convt_band(convt_band_job *j, size_t n, size_t g, size_t band, oxrt_threadpool *pool) {
  const oxrt_conv_shape *s = j->s;
  const int64_t IH = s->in[0], IW = s->in[1], OH = s->out[0], OW = s->out[1], KW = s->k[1];
  const size_t r0 = band * j->band, r1 = r0 + j->band < (size_t)IH ? r0 + j->band : (size_t)IH;
  const size_t ncol = (r1 - r0) * (size_t)IW, rows = j->Mg * j->kprod, plane = (size_t)(IH * IW);
  float *col = oxrt_scratch_get(OXRT_SCRATCH_CONVT, sizeof(float) * rows * ncol);
  if (!col) {
    atomic_store(&j->failed, 1);
    return;
  }
  /* W is [C, Mg, kh, kw] per group: op(A) = W_g^T [Mg*kprod, Cg]; B = the band of X's channel planes */
  oxrt_sgemm(true, false, rows, ncol, j->Cg, 1, j->w + g * j->Cg * rows, rows,
             j->x + (n * s->C + g * j->Cg) * plane + r0 * (size_t)IW, plane, 0, col, ncol, pool);
  /* 2-wide stride-2 upsampling without column pads (PP-OCR, U-Nets): both column taps of a kernel row in one
   * pass, each output column written by exactly one of them, interleaved (vectorizes) */
  const bool pairs = KW == 2 && s->stride[1] == 2 && s->dil[1] == 1 && s->pad[1] == 0 && OW >= 2 * IW;
  for (size_t m = 0; m < j->Mg; m++) {
    float *yc = j->y + (n * s->M + g * j->Mg + m) * (size_t)(OH * OW);
    for (size_t kk = 0; pairs && kk < j->kprod; kk += 2) {
      const float *a = col + (m * j->kprod + kk) * ncol, *b = a + ncol;
      for (size_t r = r0; r < r1; r++, a += IW, b += IW) {
        const int64_t oh = (int64_t)r * s->stride[0] + (int64_t)kk / 2 * s->dil[0] - s->pad[0];
        if (oh < 0 || oh >= OH) continue;
        float *restrict d = yc + oh * OW;
        for (int64_t i = 0; i < IW; i++) {
          d[2 * i] += a[i];
          d[2 * i + 1] += b[i];
        }
      }
    }
    for (size_t kk = 0; !pairs && kk < j->kprod; kk++) {
      const int64_t kh = (int64_t)kk / KW, kw = (int64_t)kk % KW;
      const int64_t off = kw * s->dil[1] - s->pad[1], sw = s->stride[1];
      int64_t lo, hi;
      valid_range(off, sw, OW, IW, &lo, &hi);
      const float *src = col + (m * j->kprod + kk) * ncol;
      for (size_t r = r0; r < r1; r++, src += IW) {
        const int64_t oh = (int64_t)r * s->stride[0] + kh * s->dil[0] - s->pad[0];
        if (oh < 0 || oh >= OH) continue;
        float *d = yc + oh * OW; /* off may be negative: index past it, do not point before the row */
        if (sw == 1)
          for (int64_t i = lo; i < hi; i++) d[off + i] += src[i];
        else
          for (int64_t i = lo; i < hi; i++) d[off + i * sw] += src[i];
      }
    }
  }
}

static void convt_bands_range(void *arg, size_t t0, size_t t1) {
  convt_band_job *j = arg;
  for (size_t t = t0; t < t1; t++) convt_band(j, t / j->bands / j->s->group, t / j->bands % j->s->group, t % j->bands,
                                              NULL);
}

typedef struct {
  const oxrt_conv_shape *s;
  const float *bias;
  float *y;
  size_t plane;
} convt_fill_job;

static void convt_fill(void *arg, size_t c0, size_t c1) {
  const convt_fill_job *f = arg;
  for (size_t c = c0; c < c1; c++) {
    float v = f->bias ? f->bias[c % f->s->M] : 0.0f, *p = f->y + c * f->plane;
    for (size_t i = 0; i < f->plane; i++) p[i] = v;
  }
}

bool oxrt_conv_transpose_f32(const oxrt_conv_shape *s, const float *x, const float *w, const float *bias, float *y,
                             oxrt_threadpool *pool) {
  if (s->nd != 2 || s->N == 0 || s->M == 0 || s->group == 0 || s->in[0] == 0 || s->in[1] == 0 || s->C == 0)
    return convt_colbuf_f32(s, x, w, bias, y, pool);
  convt_band_job j = {.s = s, .x = x, .w = w, .bias = bias, .y = y, .Cg = s->C / s->group, .Mg = s->M / s->group,
                      .kprod = prod(s->k, 2)};
  size_t rowcols = j.Mg * j.kprod * (size_t)s->in[1]; /* column floats per input row */
  j.band = rowcols ? 65536 / rowcols : 1;            /* 256 KiB of columns per band */
  if (j.band < 1) j.band = 1;
  if (j.band > (size_t)s->in[0]) j.band = (size_t)s->in[0];
  j.bands = ((size_t)s->in[0] + j.band - 1) / j.band;
  convt_fill_job f = {s, bias, y, (size_t)(s->out[0] * s->out[1])};
  oxrt_parallel_for(pool, s->N * s->M, 1 + 16384 / (f.plane + 1), convt_fill, &f);
  /* bands of different input rows add into disjoint output rows when a row's kernel span fits in the stride:
   * then bands run in parallel, each with its own GEMM; otherwise one band at a time with a threaded GEMM */
  bool disjoint = (s->k[0] - 1) * s->dil[0] + 1 <= s->stride[0];
  size_t tasks = s->N * s->group * j.bands;
  if (disjoint && tasks > 1) {
    oxrt_parallel_for(pool, tasks, 1, convt_bands_range, &j);
  } else {
    for (size_t t = 0; t < tasks && !atomic_load(&j.failed); t++)
      convt_band(&j, t / j.bands / s->group, t / j.bands % s->group, t % j.bands, pool);
  }
  return !atomic_load(&j.failed);
}
