/* nchwc_dw.c - depthwise convolution and per-channel broadcast in the NCHWc layout (nchwc.h): weight packing, the
 * split of the work over the pool, the portable vector kernels (nchwc_dw_body.h on 8-float GCC vectors) and
 * scalar loops for a block size no vector kernel serves. */
#if defined(__GNUC__) /* the vector kernels need GCC/Clang vector extensions; other compilers get the loops */
#include "nchwc_dw_isa.h"
#include "nchwc_dw_body.h"
#else
#include "nchwc_dw_impl.h"
#include <math.h>
#include <string.h>
#endif

#ifndef NCHWC_DW_PAD
#define NCHWC_DW_PAD 1 /* 0: never through a padded plane (for timing the choice) */
#endif

size_t oxrt_nchwc_dw_packed_floats(const oxrt_nchwc_geom *g) { return g->C * (size_t)(g->kh * g->kw); }

void oxrt_nchwc_dw_pack(const oxrt_nchwc_geom *g, size_t C_real, const float *w, float *packed) {
  const size_t B = (size_t)g->B, T = (size_t)(g->kh * g->kw);
  memset(packed, 0, oxrt_nchwc_dw_packed_floats(g) * sizeof *packed);
  for (size_t c = 0; c < C_real; c++)
    for (size_t t = 0; t < T; t++) packed[(c / B * T + t) * B + c % B] = w[c * T + t];
}

void oxrt_nchwc_interior(const oxrt_nchwc_geom *g, int64_t *owa, int64_t *owb) {
  int64_t a = g->pl <= 0 ? 0 : (g->pl + g->sw - 1) / g->sw;
  const int64_t last = g->W - 1 - (g->kw - 1) * g->dw + g->pl; /* largest first-tap column ow * sw may reach */
  int64_t b = last < 0 ? 0 : last / g->sw + 1;
  if (a > g->OW) a = g->OW;
  if (b > g->OW) b = g->OW;
  *owa = a, *owb = b < a ? a : b;
}

oxrt_isa oxrt_nchwc_level(oxrt_isa isa, int B, bool *vector) {
  const oxrt_isa top = oxrt_cpu_isa();
  if (isa > top) isa = top;
#if defined(__GNUC__)
  *vector = (B == 16 && isa == OXRT_ISA_AVX512) || B == 8;
#else
  *vector = false;
#endif
  return B == 8 && isa == OXRT_ISA_AVX512 ? OXRT_ISA_AVX2 : isa;
}

static oxrt_range_fn dw_rows_fn(oxrt_isa isa) {
  switch (isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  case OXRT_ISA_AVX512: return oxrt_nchwc_dw_rows_avx512;
  case OXRT_ISA_AVX2: return oxrt_nchwc_dw_rows_avx2;
#endif
  default:
#if defined(__GNUC__)
    return oxrt_nchwc_dw_rows_portable;
#else
    return NULL;
#endif
  }
}

static oxrt_range_fn chan_fn(oxrt_isa isa) {
  switch (isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  case OXRT_ISA_AVX512: return oxrt_nchwc_chan_range_avx512;
  case OXRT_ISA_AVX2: return oxrt_nchwc_chan_range_avx2;
#endif
  default:
#if defined(__GNUC__)
    return oxrt_nchwc_chan_range_portable;
#else
    return NULL;
#endif
  }
}

/* Scalar depthwise for a block size without vector kernels (same results, slowly). */
static void dwconv_scalar(const oxrt_nchwc_geom *g, const float *x, const float *wp, const float *bias,
                          const float *z, oxrt_activation act, float *y) {
  const size_t B = (size_t)g->B, Cb = g->C / B, T = (size_t)(g->kh * g->kw);
  for (size_t nc = 0; nc < g->N * Cb; nc++) {
    const size_t cb = nc % Cb;
    const float *xp = x + nc * (size_t)(g->H * g->W) * B;
    for (int64_t oh = 0; oh < g->OH; oh++) {
      float *yr = y + (nc * (size_t)g->OH + (size_t)oh) * (size_t)g->OW * B;
      for (int64_t ow = 0; ow < g->OW; ow++) {
        float *o = yr + (size_t)ow * B;
        for (size_t b = 0; b < B; b++) o[b] = bias ? bias[cb * B + b] : 0.0f;
        for (int64_t i = 0; i < g->kh; i++) {
          const int64_t ih = oh * g->sh - g->pt + i * g->dh;
          if (ih < 0 || ih >= g->H) continue;
          for (int64_t k = 0; k < g->kw; k++) {
            const int64_t iw = ow * g->sw - g->pl + k * g->dw;
            if (iw < 0 || iw >= g->W) continue;
            const float *xi = xp + (size_t)(ih * g->W + iw) * B, *wt = wp + (cb * T + (size_t)(i * g->kw + k)) * B;
            for (size_t b = 0; b < B; b++) o[b] += xi[b] * wt[b];
          }
        }
        if (z)
          for (size_t b = 0; b < B; b++) o[b] += z[(size_t)(o - y) + b];
      }
      oxrt_act_apply(act, yr, (size_t)g->OW * B);
    }
  }
}

void oxrt_nchwc_dwconv(const oxrt_nchwc_geom *g, const float *x, const float *wp, const float *bias, const float *z,
                       oxrt_activation act, float *y, oxrt_isa isa, oxrt_threadpool *pool) {
  bool vector;
  isa = oxrt_nchwc_level(isa, g->B, &vector);
  if (!vector) {
    dwconv_scalar(g, x, wp, bias, z, act, y);
    return;
  }
  nchwc_dw_job j = {.g = g, .x = x, .w = wp, .bias = bias, .z = z, .y = y, .act = act};
  if (oxrt_act_is_clamp(act, &j.lo, &j.hi)) j.act.kind = OXRT_ACT_NONE; /* in registers, after z */
  else j.lo = -INFINITY, j.hi = INFINITY;
  oxrt_nchwc_interior(g, &j.owa, &j.owb);
  const size_t planes = g->N * (g->C / (size_t)g->B);
  /* a padded copy of the plane lets every column run as interior: worth it where border columns are at least a
   * fifth and the copy (H*W vectors) is at most a quarter of the taps (measured: 5x5 on 14x14 and 7x7, 3x3 on 7x7
   * gain 10-30%; 3x3 stride 2 and planes of 14 or more with 3x3 lose up to 2x) */
  const int64_t Hp = (g->OH - 1) * g->sh + (g->kh - 1) * g->dh + 1, Wp = (g->OW - 1) * g->sw + (g->kw - 1) * g->dw + 1;
  const int64_t border = j.owa + g->OW - j.owb;
  if (NCHWC_DW_PAD && g->OH > 0 && g->OW > 0 && 5 * border >= g->OW &&
      4 * g->H * g->W <= g->OH * g->OW * g->kh * g->kw && Hp * Wp * g->B <= 32768)
    j.Hp = Hp, j.Wp = Wp;
  const size_t items = j.Hp ? planes : planes * (size_t)g->OH;
  const size_t per_item = (size_t)((j.Hp ? g->OH : 1) * g->OW * g->kh * g->kw) * (size_t)g->B + 1;
  oxrt_parallel_for(pool, items, 1 + 32768 / per_item, dw_rows_fn(isa), &j);
}

void oxrt_nchwc_channel_op(size_t N, size_t C, size_t HW, int B, char op, const float *x, const float *s, float *y,
                           oxrt_isa isa, oxrt_threadpool *pool) {
  bool vector;
  isa = oxrt_nchwc_level(isa, B, &vector);
  const size_t Bz = (size_t)B, Cb = C / Bz;
  if (!vector) {
    for (size_t nc = 0; nc < N * Cb; nc++) {
      const float *sv = s + nc / Cb * C + nc % Cb * Bz;
      for (size_t p = 0; p < HW * Bz; p++) {
        const float v = x[nc * HW * Bz + p];
        y[nc * HW * Bz + p] = op == '*' ? v * sv[p % Bz] : v + sv[p % Bz];
      }
    }
    return;
  }
  /* runs of ~4K floats: enough items for two threads on a 7x7 plane, little loop overhead on big ones */
  const size_t chunk = 4096 / Bz, nchunks = HW ? (HW + chunk - 1) / chunk : 1;
  nchwc_chan_job j = {.Cb = Cb, .HW = HW, .chunk = chunk, .nchunks = nchunks, .C = C, .op = op, .x = x, .s = s, .y = y};
  const size_t per_item = (HW < chunk ? HW : chunk) * Bz + 1;
  oxrt_parallel_for(pool, N * Cb * nchunks, 1 + 65536 / per_item, chan_fn(isa), &j); /* ~10 us to wake a worker */
}
