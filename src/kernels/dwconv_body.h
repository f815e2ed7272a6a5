/* dwconv_body.h - included once per ISA by the dwconv files with DW_NAME set to the exported name. */
#include "dwconv.h"

/* An ISA file may vectorise whole blocks of the interior run: DW_VEC_INTERIOR returns the first output it left. */
#ifndef DW_VEC_INTERIOR
#define DW_VEC_INTERIOR(KS, r, w, bias, yr, a, b, sw, off) (a)
#endif

#define DW_ROWS(KS)                                                                                                    \
  static void dw_rows_##KS(const oxrt_dw_plane *p) {                                                                   \
    const float *w = p->w;                                                                                             \
    for (int64_t oh = 0; oh < p->OH; oh++) {                                                                           \
      const float *r[KS];                                                                                              \
      for (int ki = 0; ki < KS; ki++) {                                                                                \
        int64_t ih = oh * p->sh + ki - p->ph;                                                                          \
        r[ki] = ih >= 0 && ih < p->H ? p->x + ih * p->W : p->zrow;                                                     \
      }                                                                                                                \
      float *yr = p->y + oh * p->OW;                                                                                   \
      for (int64_t ow = 0; ow < p->OW; ow++) {                                                                         \
        if (ow == p->owa && p->owb > p->owa) {                                                                         \
          const int64_t sw = p->sw, off = -p->pw;                                                                      \
          int64_t o0 = DW_VEC_INTERIOR(KS, r, w, p->bias, yr, p->owa, p->owb, sw, off);                                \
          for (int64_t o = o0; o < p->owb; o++) {                                                                      \
            const int64_t b = o * sw + off;                                                                            \
            float acc = p->bias;                                                                                       \
            for (int ki = 0; ki < KS; ki++)                                                                            \
              for (int kj = 0; kj < KS; kj++) acc += w[ki * KS + kj] * r[ki][b + kj];                                  \
            yr[o] = acc;                                                                                               \
          }                                                                                                            \
          ow = p->owb - 1;                                                                                             \
          continue;                                                                                                    \
        }                                                                                                              \
        float acc = p->bias;                                                                                           \
        for (int ki = 0; ki < KS; ki++)                                                                                \
          for (int kj = 0; kj < KS; kj++) {                                                                            \
            int64_t iw = ow * p->sw + kj - p->pw;                                                                      \
            if (iw >= 0 && iw < p->W) acc += w[ki * KS + kj] * r[ki][iw];                                              \
          }                                                                                                            \
        yr[ow] = acc;                                                                                                  \
      }                                                                                                                \
    }                                                                                                                  \
  }

DW_ROWS(3)
DW_ROWS(5)

void DW_NAME(const oxrt_dw_plane *p) {
  if (p->ks == 3) dw_rows_3(p);
  else dw_rows_5(p);
}
