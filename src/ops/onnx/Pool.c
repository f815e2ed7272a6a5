/* Pool.c - the pooling family: MaxPool (with Indices), AveragePool, LpPool and their Global* forms.
 *
 * Every input is computed through float32 (f32_view.h). Spatial ranks 1..3 are embedded into 3-D with
 * leading unit dims so one set of loops serves all; per output position and axis the valid kernel taps are
 * precomputed once, so the inner loops never test bounds. Planes (n, c) run in parallel. */
#include "f32_view.h"
#include "../../kernels/maxpool_row.h"
#include "../../kernels/qmaxpool.h"
#include "../infer_rules.h"
#include <math.h>
#include <string.h>

enum { POOL_MAX, POOL_AVG, POOL_LP };

typedef struct {
  int kind;
  int nsp;                             /* spatial rank of the model (1..3) */
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
  int64_t *klo[3], *khi[3], *kpad[3];  /* per output index: valid taps [klo, khi), taps inside the padding */
  int64_t *start[3];                   /* first input position of the window */
  bool count_include_pad;
  int storage_order;
  float p;
  const float *x;
  float *y;
  int64_t *ind;
  const void *x8; /* 8-bit MaxPool: the tensors themselves */
  void *y8;
} pool_job;

static void pool_planes(void *arg, size_t b, size_t e) {
  const pool_job *J = arg;
  /* locals so the compiler need not reload them after every store through y/ind */
  const int kind = J->kind, nsp = J->nsp, so = J->storage_order;
  const int64_t ID = J->in[0], IH = J->in[1], IW = J->in[2];
  const int64_t OD = J->out[0], OH = J->out[1], OW = J->out[2];
  const int64_t dd = J->d[0], dh = J->d[1], dw = J->d[2];
  const int64_t in_plane = ID * IH * IW, out_plane = OD * OH * OW;
  const double p = J->p;
  const bool cip = J->count_include_pad;
  const int64_t *const klo0 = J->klo[0], *const khi0 = J->khi[0], *const st0 = J->start[0], *const kp0 = J->kpad[0];
  const int64_t *const klo1 = J->klo[1], *const khi1 = J->khi[1], *const st1 = J->start[1], *const kp1 = J->kpad[1];
  const int64_t *const klo2 = J->klo[2], *const khi2 = J->khi[2], *const st2 = J->start[2], *const kp2 = J->kpad[2];
  for (size_t pl = b; pl < e; pl++) {
    const float *x = J->x + pl * (size_t)in_plane;
    float *y = J->y + pl * (size_t)out_plane;
    int64_t *ind = J->ind ? J->ind + pl * (size_t)out_plane : NULL;
    for (int64_t od = 0; od < OD; od++) {
      const int64_t d0 = klo0[od], d1 = khi0[od], ds = st0[od];
      for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t h0 = klo1[oh], h1 = khi1[oh], hs = st1[oh];
        float *yrow = y + (od * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ow++) {
          const int64_t w0 = klo2[ow], w1 = khi2[ow], ws = st2[ow];
          const bool empty = d0 >= d1 || h0 >= h1 || w0 >= w1;
          if (kind == POOL_MAX && !ind) {
            float m = -INFINITY;
            for (int64_t kd = d0; kd < d1; kd++)
              for (int64_t kh = h0; kh < h1; kh++) {
                const float *xr = x + ((ds + kd * dd) * IH + hs + kh * dh) * IW + ws;
                if (dw == 1)
                  for (int64_t kw = w0; kw < w1; kw++) m = xr[kw] > m ? xr[kw] : m;
                else
                  for (int64_t kw = w0; kw < w1; kw++) m = xr[kw * dw] > m ? xr[kw * dw] : m;
              }
            yrow[ow] = empty ? 0.0f : m;
          } else if (kind == POOL_MAX) {
            float m = -INFINITY;
            int64_t best = -1;
            for (int64_t kd = d0; kd < d1; kd++)
              for (int64_t kh = h0; kh < h1; kh++) {
                const int64_t base = ((ds + kd * dd) * IH + hs + kh * dh) * IW + ws;
                for (int64_t kw = w0; kw < w1; kw++) {
                  const float v = x[base + kw * dw];
                  if (v > m || best < 0) m = v, best = base + kw * dw;
                }
              }
            yrow[ow] = best < 0 ? 0.0f : m;
            int64_t idx = -1;
            if (best >= 0) {
              if (so) { /* column-major over the spatial axes */
                const int64_t pw = best % IW, ph = (best / IW) % IH, pd = best / (IW * IH);
                idx = nsp == 1 ? pw : nsp == 2 ? ph + pw * IH : pd + ph * ID + pw * ID * IH;
              } else {
                idx = best;
              }
              idx += (int64_t)pl * in_plane;
            }
            ind[(od * OH + oh) * OW + ow] = idx;
          } else {
            double acc = 0.0;
            for (int64_t kd = d0; kd < d1; kd++)
              for (int64_t kh = h0; kh < h1; kh++) {
                const float *xr = x + ((ds + kd * dd) * IH + hs + kh * dh) * IW + ws;
                if (kind == POOL_AVG) {
                  float a = 0.0f;
                  if (dw == 1)
                    for (int64_t kw = w0; kw < w1; kw++) a += xr[kw];
                  else
                    for (int64_t kw = w0; kw < w1; kw++) a += xr[kw * dw];
                  acc += a;
                } else if (p == 2.0) {
                  for (int64_t kw = w0; kw < w1; kw++) acc += (double)xr[kw * dw] * xr[kw * dw];
                } else if (p == 1.0) {
                  for (int64_t kw = w0; kw < w1; kw++) acc += fabsf(xr[kw * dw]);
                } else {
                  for (int64_t kw = w0; kw < w1; kw++) acc += pow(fabsf(xr[kw * dw]), p);
                }
              }
            if (kind == POOL_AVG) {
              const int64_t n = cip ? kp0[od] * kp1[oh] * kp2[ow] : (d1 - d0) * (h1 - h0) * (w1 - w0);
              yrow[ow] = (float)(acc / (double)n);
            } else {
              yrow[ow] = p == 2.0 ? (float)sqrt(acc) : p == 1.0 ? (float)acc : (float)pow(acc, 1.0 / p);
            }
          }
        }
      }
    }
  }
}

/* Separable max/average for planes without an Indices output: first reduce each input row over the
 * kernel's width (and depth) into T[IH, OW], then reduce T's rows over the kernel's height, a loop that runs
 * contiguously over OW and vectorises. */
static void pool_planes_sep(void *arg, size_t b, size_t e) {
  const pool_job *J = arg;
  const bool is_max = J->kind == POOL_MAX, cip = J->count_include_pad;
  const int64_t IH = J->in[1], IW = J->in[2], OD = J->out[0], OH = J->out[1], OW = J->out[2];
  const int64_t dd = J->d[0], dh = J->d[1], dw = J->d[2];
  const int64_t in_plane = J->in[0] * IH * IW, out_plane = OD * OH * OW;
  float *T = malloc(sizeof(float) * (size_t)(IH * OW + 1));
  if (!T) { /* fall back to the direct loops */
    pool_planes(arg, b, e);
    return;
  }
  for (size_t pl = b; pl < e; pl++) {
    const float *x = J->x + pl * (size_t)in_plane;
    float *y = J->y + pl * (size_t)out_plane;
    for (int64_t od = 0; od < OD; od++) {
      const int64_t d0 = J->klo[0][od], d1 = J->khi[0][od];
      for (int64_t i = 0; i < IH * OW; i++) T[i] = is_max ? -INFINITY : 0.0f;
      for (int64_t kd = d0; kd < d1; kd++) {
        const float *xd = x + (J->start[0][od] + kd * dd) * IH * IW;
        for (int64_t ih = 0; ih < IH; ih++) {
          const float *xr = xd + ih * IW;
          float *tr = T + ih * OW;
          for (int64_t ow = 0; ow < OW; ow++) {
            const float *xw = xr + J->start[2][ow];
            const int64_t w0 = J->klo[2][ow], w1 = J->khi[2][ow];
            float a = tr[ow];
            if (is_max)
              for (int64_t kw = w0; kw < w1; kw++) a = xw[kw * dw] > a ? xw[kw * dw] : a;
            else
              for (int64_t kw = w0; kw < w1; kw++) a += xw[kw * dw];
            tr[ow] = a;
          }
        }
      }
      for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t h0 = J->klo[1][oh], h1 = J->khi[1][oh], hs = J->start[1][oh];
        float *yr = y + (od * OH + oh) * OW;
        if (h0 >= h1 || d0 >= d1) {
          for (int64_t ow = 0; ow < OW; ow++) yr[ow] = is_max ? 0.0f : NAN;
          if (!is_max && cip) /* a window made only of padding averages to 0 */
            for (int64_t ow = 0; ow < OW; ow++) yr[ow] = 0.0f;
          continue;
        }
        const float *t0 = T + (hs + h0 * dh) * OW;
        for (int64_t ow = 0; ow < OW; ow++) yr[ow] = t0[ow];
        for (int64_t kh = h0 + 1; kh < h1; kh++) {
          const float *tr = T + (hs + kh * dh) * OW;
          if (is_max)
            for (int64_t ow = 0; ow < OW; ow++) yr[ow] = tr[ow] > yr[ow] ? tr[ow] : yr[ow];
          else
            for (int64_t ow = 0; ow < OW; ow++) yr[ow] += tr[ow];
        }
        if (is_max) {
          for (int64_t ow = 0; ow < OW; ow++)
            if (J->klo[2][ow] >= J->khi[2][ow]) yr[ow] = 0.0f;
        } else {
          const int64_t nd = cip ? J->kpad[0][od] : d1 - d0, nh = cip ? J->kpad[1][oh] : h1 - h0;
          for (int64_t ow = 0; ow < OW; ow++) {
            const int64_t nw = cip ? J->kpad[2][ow] : J->khi[2][ow] - J->klo[2][ow];
            yr[ow] = (float)((double)yr[ow] / (double)(nd * nh * nw));
          }
        }
      }
    }
  }
  free(T);
}

/* 2-D (and 1-D) max/average without dilation, Indices or empty windows: for each output row the window's input
 * rows are reduced straight into y, interior columns (window wholly inside the row) without any bounds, with
 * the common widths unrolled. Same NaN behaviour as the loops above (a NaN never wins a comparison). */
static void pool2d_fast(void *arg, size_t b, size_t e) {
  const pool_job *J = arg;
  const bool is_max = J->kind == POOL_MAX, cip = J->count_include_pad;
  const int64_t IH = J->in[1], IW = J->in[2], OH = J->out[1], OW = J->out[2], KW = J->k[2], sw = J->s[2];
  const int64_t *klo2 = J->klo[2], *khi2 = J->khi[2], *st2 = J->start[2];
  /* interior columns: [ia, ib) */
  int64_t ia = 0, ib = 0;
  while (ia < OW && !(klo2[ia] == 0 && khi2[ia] == KW)) ia++;
  ib = ia;
  while (ib < OW && klo2[ib] == 0 && khi2[ib] == KW) ib++;
  /* max: the window's rows reduced into one row first (contiguous, the compiler vectorizes it), then each output's
   * columns along that row: 2 + KW - 1 comparisons per input column instead of KH x KW per output with strided
   * loads (squeezenet's 3x3 stride-2 pools: 3x faster) */
  float vbuf[2048];
  const bool rows_first = is_max && IW <= 2048;
  for (size_t pl = b; pl < e; pl++) {
    const float *x = J->x + pl * (size_t)(IH * IW);
    float *y = J->y + pl * (size_t)(OH * OW);
    for (int64_t oh = 0; oh < OH; oh++) {
      const int64_t h0 = J->klo[1][oh], h1 = J->khi[1][oh], hs = J->start[1][oh];
      float *yr = y + oh * OW;
      if (rows_first) {
        oxrt_maxpool_rows(x + (hs + h0) * IW, (size_t)IW, (int)(h1 - h0), vbuf, (size_t)IW);
        for (int64_t ow = 0; ow < OW; ow++) {
          if (ow == ia && ib > ia && KW == 3 && sw == 2) { /* interior run of the common 3-wide, stride-2 window */
            oxrt_maxpool_cols_k3s2(vbuf + st2[ia], yr + ia, (size_t)(ib - ia));
            ow = ib - 1;
            continue;
          }
          if (ow == ia && ib > ia && KW == 3) { /* interior run, the common width unrolled */
            const float *q = vbuf + st2[ia];
            for (int64_t o = ia; o < ib; o++, q += sw) {
              float v = q[1] > q[0] ? q[1] : q[0];
              yr[o] = q[2] > v ? q[2] : v;
            }
            ow = ib - 1;
            continue;
          }
          const int64_t c0 = st2[ow]; /* negative in the left pad: index, do not point, before the row */
          float v = vbuf[c0 + klo2[ow]];
          for (int64_t kw = klo2[ow] + 1; kw < khi2[ow]; kw++) v = vbuf[c0 + kw] > v ? vbuf[c0 + kw] : v;
          yr[ow] = v;
        }
        continue;
      }
      for (int64_t r = h0; r < h1; r++) {
        const float *xr = x + (hs + r) * IW;
        const bool first = r == h0;
        for (int64_t ow = 0; ow < OW; ow++) {
          if (ow == ia && ib > ia) { /* interior run */
            const float *xs = xr + st2[ia];
            if (is_max) {
              if (KW == 2)
                for (int64_t o = ia; o < ib; o++) {
                  const float *q = xs + (o - ia) * sw;
                  float v = q[1] > q[0] ? q[1] : q[0];
                  yr[o] = first || v > yr[o] ? v : yr[o];
                }
              else if (KW == 3)
                for (int64_t o = ia; o < ib; o++) {
                  const float *q = xs + (o - ia) * sw;
                  float v = q[1] > q[0] ? q[1] : q[0];
                  v = q[2] > v ? q[2] : v;
                  yr[o] = first || v > yr[o] ? v : yr[o];
                }
              else
                for (int64_t o = ia; o < ib; o++) {
                  const float *q = xs + (o - ia) * sw;
                  float v = -INFINITY;
                  for (int64_t kw = 0; kw < KW; kw++) v = q[kw] > v ? q[kw] : v;
                  yr[o] = first || v > yr[o] ? v : yr[o];
                }
            } else {
              for (int64_t o = ia; o < ib; o++) {
                const float *q = xs + (o - ia) * sw;
                float v = 0.0f;
                for (int64_t kw = 0; kw < KW; kw++) v += q[kw];
                yr[o] = first ? v : yr[o] + v;
              }
            }
            ow = ib - 1;
            continue;
          }
          const float *q = xr + st2[ow];
          float v = is_max ? -INFINITY : 0.0f;
          for (int64_t kw = klo2[ow]; kw < khi2[ow]; kw++) v = is_max ? (q[kw] > v ? q[kw] : v) : v + q[kw];
          yr[ow] = first ? v : is_max ? (v > yr[ow] ? v : yr[ow]) : yr[ow] + v;
        }
      }
      if (!is_max) {
        const int64_t nh = cip ? J->kpad[1][oh] : h1 - h0;
        for (int64_t ow = 0; ow < OW; ow++) {
          const int64_t nw = cip ? J->kpad[2][ow] : khi2[ow] - klo2[ow];
          yr[ow] = (float)((double)yr[ow] / (double)(nh * nw));
        }
      }
    }
  }
}

/* True when pool2d_fast serves J: at most two spatial axes, no dilation, every window non-empty. */
static bool pool2d_fast_ok(const pool_job *J) {
  if (J->in[0] != 1 || J->out[0] != 1 || J->k[0] != 1 || J->d[1] != 1 || J->d[2] != 1) return false;
  for (int a = 1; a < 3; a++)
    for (int64_t o = 0; o < J->out[a]; o++)
      if (J->klo[a][o] >= J->khi[a][o]) return false;
  return true;
}

/* Reads the window attributes and fills geometry (in, out, k, s, d, pb, pe) of J for input x. */
static oxrt_status *pool_geometry(const oxrt_node *node, const oxrt_value *x, int kind, int opset, pool_job *J,
                                  int *out_rank, int64_t *out_dims) {
  if (x->rank < 3) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 3 (N, C, spatial...), got %d", x->rank);
  const int nsp = x->rank - 2;
  if (nsp > 3) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "pooling over %d spatial axes (at most 3 supported)", nsp);
  size_t nk = 0, ns = 0, np = 0, nd = 0;
  const int64_t *ks = oxrt_attr_ints(node, "kernel_shape", &nk);
  const int64_t *st = oxrt_attr_ints(node, "strides", &ns);
  const int64_t *pads = oxrt_attr_ints(node, "pads", &np);
  const int64_t *dil = oxrt_attr_ints(node, "dilations", &nd);
  const char *auto_pad = oxrt_attr_string(node, "auto_pad", "NOTSET");
  const bool ceil_mode = oxrt_attr_int(node, "ceil_mode", 0) != 0;
  (void)kind;
  (void)opset;
  if (!ks) return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute kernel_shape is required");
  if ((int)nk != nsp)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "kernel_shape has %zu values but the input has %d spatial axes", nk, nsp);
  if (st && (int)ns != nsp) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "strides has %zu values, expected %d", ns, nsp);
  if (dil && (int)nd != nsp) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "dilations has %zu values, expected %d", nd, nsp);
  if (pads && (int)np != 2 * nsp) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "pads has %zu values, expected %d", np, 2 * nsp);
  int mode = 0; /* 0 explicit, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
  if (strcmp(auto_pad, "SAME_UPPER") == 0) mode = 1;
  else if (strcmp(auto_pad, "SAME_LOWER") == 0) mode = 2;
  else if (strcmp(auto_pad, "VALID") == 0) mode = 3;
  else if (strcmp(auto_pad, "NOTSET") != 0 && auto_pad[0])
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", auto_pad);
  const int off = 3 - nsp;
  for (int i = 0; i < 3; i++) J->in[i] = J->out[i] = J->k[i] = J->s[i] = J->d[i] = 1, J->pb[i] = J->pe[i] = 0;
  J->nsp = nsp;
  out_dims[0] = x->dims[0];
  out_dims[1] = x->dims[1];
  for (int i = 0; i < nsp; i++) {
    const int a = off + i;
    const int64_t in = x->dims[2 + i], k = ks[i], s = st ? st[i] : 1, d = dil ? dil[i] : 1;
    if (k <= 0 || s <= 0 || d <= 0)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %d: kernel %lld, stride %lld and dilation %lld must be positive",
                        i, (long long)k, (long long)s, (long long)d);
    const int64_t dk = (k - 1) * d + 1;
    int64_t pb = pads ? pads[i] : 0, pe = pads ? pads[nsp + i] : 0, out;
    if (pb < 0 || pe < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %d: negative pads", i);
    if (mode == 1 || mode == 2) {
      out = (in + s - 1) / s;
      int64_t total = (out - 1) * s + dk - in;
      if (total < 0) total = 0;
      pb = mode == 1 ? total / 2 : total - total / 2;
      pe = total - pb;
    } else if (mode == 3) {
      pb = pe = 0;
      out = in >= dk ? (in - dk) / s + 1 : 0;
    } else {
      const int64_t span = in + pb + pe - dk;
      if (span < 0) {
        out = 0;
      } else if (ceil_mode) {
        out = (span + s - 1) / s + 1;
        if ((out - 1) * s >= in + pb) out--; /* the last window must start inside the input or left pad */
      } else {
        out = span / s + 1;
      }
    }
    if (out < 0) out = 0;
    J->in[a] = in, J->out[a] = out, J->k[a] = k, J->s[a] = s, J->d[a] = d, J->pb[a] = pb, J->pe[a] = pe;
    out_dims[2 + i] = out;
  }
  *out_rank = x->rank;
  return NULL;
}

static void pool_free_tables(pool_job *J) {
  for (int a = 0; a < 3; a++) free(J->klo[a]);
}

static oxrt_status *pool_tables(pool_job *J) {
  for (int a = 0; a < 3; a++) {
    const int64_t n = J->out[a] ? J->out[a] : 1;
    int64_t *t = malloc(sizeof(int64_t) * 4 * (size_t)n);
    if (!t) return OXRT_OOM();
    J->klo[a] = t, J->khi[a] = t + n, J->kpad[a] = t + 2 * n, J->start[a] = t + 3 * n;
    const int64_t k = J->k[a], s = J->s[a], d = J->d[a], in = J->in[a];
    for (int64_t o = 0; o < J->out[a]; o++) {
      const int64_t st = o * s - J->pb[a];
      int64_t lo = st < 0 ? (-st + d - 1) / d : 0;
      int64_t hi = in - st <= 0 ? 0 : (in - st + d - 1) / d;
      if (hi > k) hi = k;
      if (lo > hi) lo = hi;
      int64_t np = in + J->pe[a] - st <= 0 ? 0 : (in + J->pe[a] - st + d - 1) / d;
      if (np > k) np = k;
      J->klo[a][o] = lo, J->khi[a][o] = hi, J->kpad[a][o] = np, J->start[a][o] = st;
    }
  }
  return NULL;
}

/* 8-bit MaxPool without Indices: pool_planes' windows over the bytes themselves (the maximum needs no float), a
 * whole input row of the window at a time for the 2-D case without dilation. Empty windows give 0 as above. */
#define MAXPOOL8(name, T, TMIN)                                                                                        \
  static void name(void *arg, size_t b, size_t e) {                                                                    \
    const pool_job *J = arg;                                                                                           \
    const int64_t IH = J->in[1], IW = J->in[2], OD = J->out[0], OH = J->out[1], OW = J->out[2];                      \
    const int64_t dd = J->d[0], dh = J->d[1], dw = J->d[2];                                                            \
    const size_t in_plane = (size_t)(J->in[0] * IH * IW), out_plane = (size_t)(OD * OH * OW);                          \
    for (size_t pl = b; pl < e; pl++) {                                                                                \
      const T *x = (const T *)J->x8 + pl * in_plane;                                                                   \
      T *y = (T *)J->y8 + pl * out_plane;                                                                              \
      for (int64_t od = 0; od < OD; od++)                                                                              \
        for (int64_t oh = 0; oh < OH; oh++) {                                                                          \
          const int64_t d0 = J->klo[0][od], d1 = J->khi[0][od], h0 = J->klo[1][oh], h1 = J->khi[1][oh];               \
          T *yr = y + (od * OH + oh) * OW;                                                                             \
          for (int64_t ow = 0; ow < OW; ow++) {                                                                        \
            const int64_t w0 = J->klo[2][ow], w1 = J->khi[2][ow];                                                      \
            T m = TMIN;                                                                                                \
            for (int64_t kd = d0; kd < d1; kd++)                                                                       \
              for (int64_t kh = h0; kh < h1; kh++) {                                                                   \
                const T *xr = x + ((J->start[0][od] + kd * dd) * IH + J->start[1][oh] + kh * dh) * IW + J->start[2][ow]; \
                for (int64_t kw = w0; kw < w1; kw++) m = xr[kw * dw] > m ? xr[kw * dw] : m;                            \
              }                                                                                                        \
            yr[ow] = d0 >= d1 || h0 >= h1 || w0 >= w1 ? 0 : m;                                                         \
          }                                                                                                            \
        }                                                                                                              \
    }                                                                                                                  \
  }
MAXPOOL8(maxpool_u8, uint8_t, 0)
MAXPOOL8(maxpool_s8, int8_t, -128)


static oxrt_status *pool_window_run(oxrt_kernel_ctx *ctx, int kind) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  pool_job J;
  memset(&J, 0, sizeof J);
  J.kind = kind;
  int rank = 0;
  int64_t dims[OXRT_MAX_RANK];
  OXRT_TRY(pool_geometry(ctx->node, x, kind, ctx->opset, &J, &rank, dims));
  J.count_include_pad = oxrt_attr_int(ctx->node, "count_include_pad", 0) != 0;
  J.storage_order = (int)oxrt_attr_int(ctx->node, "storage_order", 0);
  if (J.storage_order != 0 && J.storage_order != 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "storage_order must be 0 or 1, got %d", J.storage_order);
  if (kind == POOL_LP) {
    const oxrt_attr *pa = oxrt_node_attr(ctx->node, "p");
    J.p = !pa ? 2.0f : pa->type == OXRT_ATTR_FLOAT ? pa->f : (float)pa->i;
    if (!(J.p > 0)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "p must be positive, got %g", (double)J.p);
  }
  oxrt_value *y, *ind = NULL;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, rank, dims, &y));
  if (kind == POOL_MAX && oxrt_output_wanted(ctx, 1))
    OXRT_TRY(oxrt_output_tensor(ctx, 1, OXRT_INT64, rank, dims, &ind));
  if (y->count == 0) return NULL;
  if (kind == POOL_MAX && !ind && (x->dtype == OXRT_UINT8 || x->dtype == OXRT_INT8)) {
    oxrt_status *st = pool_tables(&J);
    if (!st) {
      J.x8 = x->data, J.y8 = y->data;
      const size_t planes = (size_t)(dims[0] * dims[1]);
      const size_t per = (size_t)(y->count / planes) * (size_t)(J.k[0] * J.k[1] * J.k[2]);
      bool u8 = x->dtype == OXRT_UINT8;
      if (pool2d_fast_ok(&J)) { /* rows first, vectorized (src/kernels/qmaxpool.c) */
        oxrt_qpool_geom qg = {(size_t)J.in[1], (size_t)J.in[2], (size_t)J.out[1], (size_t)J.out[2], (size_t)J.k[1],
                              (size_t)J.k[2],  (size_t)J.s[1],  (size_t)J.s[2],   (size_t)J.pb[1], (size_t)J.pb[2]};
        if (!oxrt_qmaxpool2d(J.x8, J.y8, !u8, planes, &qg, ctx->pool)) st = OXRT_OOM();
      } else {
        oxrt_parallel(ctx, planes, per >= 16384 ? 1 : 16384 / (per + 1) + 1, u8 ? maxpool_u8 : maxpool_s8, &J);
      }
    }
    pool_free_tables(&J);
    return st;
  }
  const float *xf = NULL;
  float *xtmp, *yf;
  OXRT_TRY(f32_in(x, &xf, &xtmp));
  oxrt_status *st = f32_out(y, &yf);
  if (!st) st = pool_tables(&J);
  if (!st) {
    J.x = xf, J.y = yf, J.ind = ind ? (int64_t *)ind->data : NULL;
    const size_t planes = (size_t)(dims[0] * dims[1]);
    const size_t per = (size_t)(y->count / planes) * (size_t)(J.k[0] * J.k[1] * J.k[2]);
    const bool sep = (kind == POOL_MAX && !J.ind) || kind == POOL_AVG;
    oxrt_range_fn fn = !sep ? pool_planes : pool2d_fast_ok(&J) ? pool2d_fast : pool_planes_sep;
    oxrt_parallel(ctx, planes, per >= 16384 ? 1 : 16384 / (per + 1) + 1, fn, &J);
    f32_commit(y, yf);
  } else {
    f32_drop(y, yf);
  }
  pool_free_tables(&J);
  free(xtmp);
  return st;
}

static oxrt_status *maxpool_run(oxrt_kernel_ctx *ctx) { return pool_window_run(ctx, POOL_MAX); }
static oxrt_status *avgpool_run(oxrt_kernel_ctx *ctx) { return pool_window_run(ctx, POOL_AVG); }
static oxrt_status *lppool_run(oxrt_kernel_ctx *ctx) { return pool_window_run(ctx, POOL_LP); }

/* ---------------------------------------------------------------- global pools: one value per (n, c) plane */
typedef struct {
  int kind;
  double p;
  size_t plane;
  const float *x;
  float *y;
} gpool_job;

static void gpool_planes(void *arg, size_t b, size_t e) {
  const gpool_job *J = arg;
  const size_t n = J->plane;
  for (size_t pl = b; pl < e; pl++) {
    const float *x = J->x + pl * n;
    if (J->kind == POOL_MAX) {
      float m = n ? x[0] : -INFINITY;
      for (size_t i = 1; i < n; i++) m = x[i] > m || isnan(x[i]) ? x[i] : m;
      J->y[pl] = m;
    } else if (J->kind == POOL_AVG) {
      float a[8] = {0, 0, 0, 0, 0, 0, 0, 0}; /* lanes let the compiler vectorise the sum */
      size_t i = 0;
      for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) a[l] += x[i + l];
      double s = 0;
      for (int l = 0; l < 8; l++) s += a[l];
      for (; i < n; i++) s += x[i];
      J->y[pl] = (float)(s / (double)n);
    } else {
      double s = 0;
      for (size_t i = 0; i < n; i++) s += J->p == 2.0 ? (double)x[i] * x[i] : pow(fabs((double)x[i]), J->p);
      J->y[pl] = (float)(J->p == 2.0 ? sqrt(s) : pow(s, 1.0 / J->p));
    }
  }
}

static oxrt_status *global_run(oxrt_kernel_ctx *ctx, int kind) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->rank < 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 2 (N, C, ...), got %d", x->rank);
  gpool_job J = {.kind = kind, .p = 2.0};
  if (kind == POOL_LP) {
    const oxrt_attr *pa = oxrt_node_attr(ctx->node, "p");
    J.p = !pa ? 2.0 : pa->type == OXRT_ATTR_FLOAT ? pa->f : (double)pa->i;
    if (!(J.p > 0)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "p must be positive, got %g", J.p);
  }
  int64_t dims[OXRT_MAX_RANK];
  dims[0] = x->dims[0], dims[1] = x->dims[1];
  J.plane = 1;
  for (int i = 2; i < x->rank; i++) dims[i] = 1, J.plane *= (size_t)x->dims[i];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, dims, &y));
  if (y->count == 0) return NULL;
  const float *xf = NULL;
  float *xtmp, *yf;
  OXRT_TRY(f32_in(x, &xf, &xtmp));
  oxrt_status *st = f32_out(y, &yf);
  if (!st) {
    J.x = xf, J.y = yf;
    oxrt_parallel(ctx, y->count, J.plane >= 4096 ? 1 : 4096 / (J.plane + 1) + 1, gpool_planes, &J);
    f32_commit(y, yf);
  }
  free(xtmp);
  return st;
}

static oxrt_status *gmax_run(oxrt_kernel_ctx *ctx) { return global_run(ctx, POOL_MAX); }
static oxrt_status *gavg_run(oxrt_kernel_ctx *ctx) { return global_run(ctx, POOL_AVG); }
static oxrt_status *glp_run(oxrt_kernel_ctx *ctx) { return global_run(ctx, POOL_LP); }

#define MAXPOOL_T12 (OXRT_TMASK_FLOATS | OXRT_TBIT(OXRT_INT8) | OXRT_TBIT(OXRT_UINT8))
static const oxrt_op_impl maxpool_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = maxpool_run},
    {.since_version = 8, .type_mask = OXRT_TMASK_FLOATS, .run = maxpool_run},  /* Indices, storage_order */
    {.since_version = 10, .type_mask = OXRT_TMASK_FLOATS, .run = maxpool_run}, /* dilations, ceil_mode */
    {.since_version = 11, .type_mask = OXRT_TMASK_FLOATS, .run = maxpool_run},
    {.since_version = 12, .type_mask = MAXPOOL_T12, .run = maxpool_run}, /* int8, uint8 */
    {.since_version = 22, .type_mask = MAXPOOL_T12, .run = maxpool_run},
};
OXRT_REGISTER_OP(MaxPool) = {"", "MaxPool", OXRT_IMPLS(maxpool_impls), .infer = oxrt_infer_pool,
                             .flags = OXRT_OP_SAME_ELEM_TYPE};

static const oxrt_op_impl avgpool_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = avgpool_run},
    {.since_version = 7, .type_mask = OXRT_TMASK_FLOATS, .run = avgpool_run},  /* count_include_pad */
    {.since_version = 10, .type_mask = OXRT_TMASK_FLOATS, .run = avgpool_run}, /* ceil_mode */
    {.since_version = 11, .type_mask = OXRT_TMASK_FLOATS, .run = avgpool_run},
    {.since_version = 19, .type_mask = OXRT_TMASK_FLOATS, .run = avgpool_run}, /* dilations */
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = avgpool_run},
};
OXRT_REGISTER_OP(AveragePool) = {"", "AveragePool", OXRT_IMPLS(avgpool_impls), .infer = oxrt_infer_pool,
                                 .flags = OXRT_OP_SAME_ELEM_TYPE};

static const oxrt_op_impl lppool_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = lppool_run}, /* float p */
    {.since_version = 2, .type_mask = OXRT_TMASK_FLOATS, .run = lppool_run}, /* int p */
    {.since_version = 11, .type_mask = OXRT_TMASK_FLOATS, .run = lppool_run},
    {.since_version = 18, .type_mask = OXRT_TMASK_FLOATS, .run = lppool_run}, /* ceil_mode, dilations */
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = lppool_run},
};
OXRT_REGISTER_OP(LpPool) = {"", "LpPool", OXRT_IMPLS(lppool_impls), .infer = oxrt_infer_pool};

static const oxrt_op_impl gmax_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = gmax_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = gmax_run},
};
OXRT_REGISTER_OP(GlobalMaxPool) = {"", "GlobalMaxPool", OXRT_IMPLS(gmax_impls), .infer = oxrt_infer_global_pool};

static const oxrt_op_impl gavg_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = gavg_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = gavg_run},
};
OXRT_REGISTER_OP(GlobalAveragePool) = {"", "GlobalAveragePool", OXRT_IMPLS(gavg_impls), .infer = oxrt_infer_global_pool,
                                       .flags = OXRT_OP_SAME_ELEM_TYPE};

static const oxrt_op_impl glp_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = glp_run},
    {.since_version = 2, .type_mask = OXRT_TMASK_FLOATS, .run = glp_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = glp_run},
};
OXRT_REGISTER_OP(GlobalLpPool) = {"", "GlobalLpPool", OXRT_IMPLS(glp_impls), .infer = oxrt_infer_global_pool};
