/* nchwc_dw.c - depthwise convolution and per-channel broadcast in the NCHWc layout (nchwc.h).
 * Reference loops: the per-ISA vector kernels replace them. */
#include "nchwc.h"
#include <string.h>

size_t oxrt_nchwc_dw_packed_floats(const oxrt_nchwc_geom *g) { return g->C * (size_t)(g->kh * g->kw); }

void oxrt_nchwc_dw_pack(const oxrt_nchwc_geom *g, size_t C_real, const float *w, float *packed) {
  const size_t B = (size_t)g->B, T = (size_t)(g->kh * g->kw);
  memset(packed, 0, oxrt_nchwc_dw_packed_floats(g) * sizeof *packed);
  for (size_t c = 0; c < C_real; c++)
    for (size_t t = 0; t < T; t++) packed[(c / B * T + t) * B + c % B] = w[c * T + t];
}

void oxrt_nchwc_dwconv(const oxrt_nchwc_geom *g, const float *x, const float *wp, const float *bias, const float *z,
                       oxrt_activation act, float *y, oxrt_isa isa, oxrt_threadpool *pool) {
  (void)isa, (void)pool;
  const size_t B = (size_t)g->B, Cb = g->C / B, T = (size_t)(g->kh * g->kw);
  for (size_t n = 0; n < g->N; n++)
    for (size_t cb = 0; cb < Cb; cb++) {
      const float *xp = x + (n * Cb + cb) * (size_t)(g->H * g->W) * B;
      float *yp = y + (n * Cb + cb) * (size_t)(g->OH * g->OW) * B;
      const float *zp = z ? z + (n * Cb + cb) * (size_t)(g->OH * g->OW) * B : NULL;
      for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < g->OW; ow++) {
          float *o = yp + (size_t)(oh * g->OW + ow) * B;
          for (size_t b = 0; b < B; b++) o[b] = bias ? bias[cb * B + b] : 0.0f;
          for (int64_t i = 0; i < g->kh; i++) {
            int64_t ih = oh * g->sh - g->pt + i * g->dh;
            if (ih < 0 || ih >= g->H) continue;
            for (int64_t k = 0; k < g->kw; k++) {
              int64_t iw = ow * g->sw - g->pl + k * g->dw;
              if (iw < 0 || iw >= g->W) continue;
              const float *xi = xp + (size_t)(ih * g->W + iw) * B, *wt = wp + (cb * T + (size_t)(i * g->kw + k)) * B;
              for (size_t b = 0; b < B; b++) o[b] += xi[b] * wt[b];
            }
          }
          if (zp)
            for (size_t b = 0; b < B; b++) o[b] += zp[(size_t)(oh * g->OW + ow) * B + b];
          oxrt_act_apply(act, o, B);
        }
    }
}

void oxrt_nchwc_channel_op(size_t N, size_t C, size_t HW, int B, char op, const float *x, const float *s, float *y,
                           oxrt_isa isa, oxrt_threadpool *pool) {
  (void)isa, (void)pool;
  const size_t Bz = (size_t)B, Cb = C / Bz;
  for (size_t n = 0; n < N; n++)
    for (size_t cb = 0; cb < Cb; cb++) {
      const float *sv = s + n * C + cb * Bz;
      const float *xp = x + (n * Cb + cb) * HW * Bz;
      float *yp = y + (n * Cb + cb) * HW * Bz;
      for (size_t p = 0; p < HW; p++)
        for (size_t b = 0; b < Bz; b++) yp[p * Bz + b] = op == '*' ? xp[p * Bz + b] * sv[b] : xp[p * Bz + b] + sv[b];
    }
}
