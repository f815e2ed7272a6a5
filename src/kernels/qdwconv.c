/* qdwconv.c - 8-bit depthwise convolution on the float depthwise kernels (dwconv.c), exactly.
 *
 * x - x_zp and w - wzp are integers of at most 9 bits, so every product is below 2^17 and every partial sum of at
 * most 256 taps below 2^24: float32 holds them all exactly, and FMA lanes compute the same integer sums as int32
 * arithmetic would, at the float kernel's speed (AVX-512 / AVX2 phase-buffer kernels, no bias). The sums then go
 * through the 8-bit GEMM's output stage (oxrt_qgemm_store), so rounding matches every other 8-bit path. Channels
 * run in blocks whose float planes stay in L2. With AVX-512, one output channel per input channel, no dilation and
 * a column stride of 1 or 2 (MobileNet's depthwise layers), qdwconv_avx512.c reads the bytes directly instead: the
 * same sums without the float planes' passes over memory; with VNNI, kernels up to 3 wide and int8 weights without
 * zero point, qdwconv_avx512vnni.c multiplies a kernel row per VPDPBUSD.
 */
#include "qdwconv.h"
#include "dwconv.h"
#include "scratch.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
bool oxrt_qdwconv_direct_avx512(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp,
                                const float *wf, const int32_t *wsum, const oxrt_qgemm_out *o, oxrt_threadpool *pool);
bool oxrt_qdwconv_vnni(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp, const int8_t *w,
                       const oxrt_qgemm_out *o, oxrt_threadpool *pool);
#define QDW_DIRECT 1
#endif

#define QDW_MAX_TAPS 256
#define QDW_BLOCK_BYTES (256u * 1024u)

bool oxrt_qdwconv_ok(const oxrt_conv_shape *s) {
  return oxrt_dwconv_f32_ok(s) && s->k[0] * s->k[1] <= QDW_MAX_TAPS;
}

/* The byte <-> float loops per ISA clone (SSE2 alone at the baseline), vectorized whole. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define QDW_VEC __attribute__((target_clones("avx512f", "avx2", "default"), optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define QDW_VEC
#endif

QDW_VEC static void to_int32(const float *restrict p, size_t n, int32_t *restrict row) {
  for (size_t j = 0; j < n; j++) row[j] = (int32_t)p[j];
}

QDW_VEC static void widen8(const void *src, bool is_signed, int32_t zp, size_t n, float *restrict dst) {
  if (is_signed) {
    const int8_t *p = src;
    for (size_t i = 0; i < n; i++) dst[i] = (float)((int32_t)p[i] - zp);
  } else {
    const uint8_t *p = src;
    for (size_t i = 0; i < n; i++) dst[i] = (float)((int32_t)p[i] - zp);
  }
}

/* Image n's output, rows of ldc, and residual (the residual has the output's layout: same offset) in *o, from the
 * batch's *out. */
static void image_out(const oxrt_qgemm_out *out, size_t n, size_t image_bytes, size_t ldc, void *y, oxrt_qgemm_out *o,
                      oxrt_qres *rq) {
  *o = *out;
  o->ldc = ldc;
  o->C = (uint8_t *)y + n * image_bytes;
  if (out->res) {
    *rq = *out->res;
    rq->r = (const uint8_t *)rq->r + n * image_bytes;
    o->res = rq;
  }
}

bool oxrt_qdwconv_run(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp, const void *w,
                      bool w_signed, const int32_t *wzp, size_t n_wzp, const oxrt_qgemm_out *out, void *y,
                      size_t y_esize, oxrt_threadpool *pool) {
  const size_t C = s->C, mult = s->M / s->C, taps = (size_t)(s->k[0] * s->k[1]);
  const size_t in_size = (size_t)(s->in[0] * s->in[1]), out_size = (size_t)(s->out[0] * s->out[1]);
  const size_t image_bytes = s->M * out_size * y_esize;
  size_t per_ch = (in_size + mult * out_size) * sizeof(float), cb = QDW_BLOCK_BYTES / (per_ch ? per_ch : 1);
  size_t threads = pool ? (size_t)oxrt_threadpool_size(pool) : 1;
  if (cb < threads) cb = threads; /* the float kernel splits a block's channels over the pool */
  if (cb < 1) cb = 1;
  if (cb > C) cb = C;
#ifdef QDW_DIRECT
  /* the VNNI kernels read the int8 weights as they are: straight there, without the float weights below */
  bool vnni = mult == 1 && s->dil[0] == 1 && s->dil[1] == 1 && (s->stride[1] == 1 || s->stride[1] == 2) &&
              oxrt_cpu_isa() >= OXRT_ISA_AVX512 && s->k[1] <= 3 && w_signed && oxrt_cpu_usable(OXRT_CPU_AVX512VNNI) &&
              s->k[0] <= 64;
  for (size_t m = 0; vnni && wzp && m < (n_wzp == 1 ? 1 : C); m++) vnni = wzp[m] == 0;
  for (size_t n = 0; vnni && n < s->N; n++) {
    oxrt_qgemm_out o;
    oxrt_qres rq;
    image_out(out, n, image_bytes, out_size, y, &o, &rq);
    if (!oxrt_qdwconv_vnni(s, (const uint8_t *)x + n * C * in_size, x_signed, x_zp, w, &o, pool)) return false;
  }
  if (vnni) return true;
#endif
  size_t wf_n = s->M * taps, xf_n = cb * in_size, yf_n = cb * mult * out_size;
  float *wf = oxrt_scratch_get(OXRT_SCRATCH_QCONV, sizeof(float) * (wf_n + xf_n + yf_n) + sizeof(int32_t) * out_size +
                                                       256);
  if (!wf) return false;
  float *xf = wf + wf_n, *yf = xf + xf_n;
  int32_t *row = (int32_t *)(yf + yf_n);
  for (size_t m = 0; m < s->M; m++)
    widen8((const uint8_t *)w + m * taps, w_signed, wzp ? wzp[n_wzp == 1 ? 0 : m] : 0, taps, wf + m * taps);
#ifdef QDW_DIRECT
  if (mult == 1 && s->dil[0] == 1 && s->dil[1] == 1 && (s->stride[1] == 1 || s->stride[1] == 2) &&
      oxrt_cpu_isa() >= OXRT_ISA_AVX512) {
    int32_t *wsum = (int32_t *)(void *)(wf + wf_n); /* in the float planes' space, unused on this path */
    if (C > xf_n + yf_n + out_size) wsum = NULL;
    for (size_t m = 0; wsum && m < C; m++) {
      int32_t t = 0;
      for (size_t k = 0; k < taps; k++) t += (int32_t)wf[m * taps + k];
      wsum[m] = t;
    }
    for (size_t n = 0; wsum && n < s->N; n++) {
      oxrt_qgemm_out o;
      oxrt_qres rq;
      image_out(out, n, image_bytes, out_size, y, &o, &rq);
      const uint8_t *xn = (const uint8_t *)x + n * C * in_size;
      if (!oxrt_qdwconv_direct_avx512(s, xn, x_signed, x_zp, wf, wsum, &o, pool)) return false;
    }
    if (wsum) return true;
  }
#endif
  for (size_t n = 0; n < s->N; n++) {
    oxrt_qgemm_out o;
    oxrt_qres rq;
    image_out(out, n, image_bytes, out_size, y, &o, &rq);
    for (size_t c0 = 0; c0 < C; c0 += cb) {
      size_t nc = C - c0 < cb ? C - c0 : cb;
      widen8((const uint8_t *)x + (n * C + c0) * in_size, x_signed, x_zp, nc * in_size, xf);
      oxrt_conv_shape b = *s;
      b.N = 1, b.C = nc, b.group = nc, b.M = nc * mult;
      if (!oxrt_dwconv_f32(&b, xf, wf + c0 * mult * taps, NULL, -INFINITY, INFINITY, yf, oxrt_cpu_isa(), pool))
        return false;
      for (size_t m = 0; m < nc * mult; m++) {
        const float *p = yf + m * out_size;
        to_int32(p, out_size, row);
        oxrt_qgemm_store(&o, c0 * mult + m, 0, out_size, row);
      }
    }
  }
  return true;
}
