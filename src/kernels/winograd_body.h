/* winograd_body.h - the F(4x4, 3x3) input and output transforms (winograd.h), included once per ISA with
 * WINO_SFX set (portable: winograd.c; winograd_avx2.c; winograd_avx512.c). Every inner loop runs over the tiles
 * of a tile row with unit stride on its stores, so the compiler vectorises them at each file's target level. */
#include <math.h>
#include <string.h>

#define WINO_CAT2(a, b) a##b
#define WINO_CAT(a, b) WINO_CAT2(a, b)
#define WINO_FN(name) WINO_CAT(name, WINO_SFX)

#if defined(__GNUC__) && !defined(__clang__)
#define WINO_VEC __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define WINO_VEC
#endif

/* tiles rounded up to whole vectors */
static inline int64_t WINO_FN(wino_twp_)(int64_t TW) { return (TW + 15) & ~(int64_t)15; }

/* Default horizontal passes (a vector file defines WINO_HIN / WINO_HOUT before including this body to take
 * over the whole-vector part; `done` tiles are already written).
 * hin: v_j[t] = B^T[j] . R[4t .. 4t+5] for the six j; hout: out[4t + b] = A^T[b] . (q0..q5)[t] + bias. */
#ifndef WINO_HIN
#define WINO_HIN(R, TW, v, vstride) 0
#endif
#ifndef WINO_HOUT
#define WINO_HOUT(q, twp, TW, out, bias) 0
#endif

/* B^T . down the columns: six rows d (stride ds) into six rows r (same stride), n floats each. Parameters, so
 * that restrict lets the compiler vectorise. */
WINO_VEC static void WINO_FN(wino_vin6_)(const float *restrict d0, const float *restrict d1,
                                         const float *restrict d2, const float *restrict d3,
                                         const float *restrict d4, const float *restrict d5, float *restrict r0,
                                         float *restrict r1, float *restrict r2, float *restrict r3,
                                         float *restrict r4, float *restrict r5, int64_t n) {
  for (int64_t w = 0; w < n; w++) {
    r0[w] = 4 * d0[w] - 5 * d2[w] + d4[w];
    r1[w] = -4 * (d1[w] + d2[w]) + d3[w] + d4[w];
    r2[w] = 4 * (d1[w] - d2[w]) - d3[w] + d4[w];
    r3[w] = 2 * (d3[w] - d1[w]) - d2[w] + d4[w];
    r4[w] = 2 * (d1[w] - d3[w]) - d2[w] + d4[w];
    r5[w] = 4 * d1[w] - 5 * d3[w] + d5[w];
  }
}
static inline void WINO_FN(wino_vin_)(const float *d, int64_t ds, float *r, int64_t n) {
  WINO_FN(wino_vin6_)(d, d + ds, d + 2 * ds, d + 3 * ds, d + 4 * ds, d + 5 * ds, r, r + ds, r + 2 * ds, r + 3 * ds,
                      r + 4 * ds, r + 5 * ds, n);
}

/* A^T . down the columns: six rows m (stride ms) into four rows q (stride qs), n floats each. */
WINO_VEC static void WINO_FN(wino_vout_)(const float *restrict m, size_t ms, float *restrict q, int64_t qs,
                                         int64_t n) {
  for (int64_t t = 0; t < n; t++) {
    float m0 = m[t], m1 = m[ms + t], m2 = m[2 * ms + t], m3 = m[3 * ms + t], m4 = m[4 * ms + t], m5 = m[5 * ms + t];
    float a1 = m1 + m2, a2 = m1 - m2, b1 = m3 + m4, b2 = m3 - m4;
    q[t] = m0 + a1 + b1;
    q[qs + t] = a2 + 2 * b2;
    q[2 * qs + t] = a1 + 4 * b1;
    q[3 * qs + t] = a2 + 8 * b2 + m5;
  }
}

/* Input rows of one tile row, padded; B^T . down the columns (contiguous rows R_a), then B^T . along each R_a. */
WINO_VEC void WINO_FN(oxrt_wino_in_)(const float *x, int64_t xs, int64_t IH, int64_t IW, int64_t ph, int64_t pw,
                                     int64_t ty0, int64_t nty, int64_t TW, float *v, size_t vstride, float *scratch) {
  /* rows are rw = 4 * twp + 8 wide (zeros past the input), so whole-vector tile groups read defined data */
  const int64_t rw = 4 * WINO_FN(wino_twp_)(TW) + 8, rs = rw;
  float *restrict in = scratch;   /* 6 padded input rows */
  float *restrict R = in + 6 * rs; /* 6 transformed rows */
  int64_t jlo = pw > 0 ? pw : 0, jhi = IW + pw < rw ? IW + pw : rw;
  if (jhi < jlo) jhi = jlo;
  for (int64_t ty = ty0; ty < ty0 + nty; ty++) {
    for (int i = 0; i < 6; i++) {
      float *row = in + i * rs;
      int64_t ih = ty * 4 + i - ph;
      if (ih < 0 || ih >= IH) {
        memset(row, 0, sizeof(float) * (size_t)rw);
      } else {
        memset(row, 0, sizeof(float) * (size_t)jlo);
        if (xs == 1) memcpy(row + jlo, x + ih * IW + (jlo - pw), sizeof(float) * (size_t)(jhi - jlo));
        else { /* a channel of a blocked plane: one float per pixel, the block's other channels between */
          const float *src = x + (ih * IW + (jlo - pw)) * xs;
          for (int64_t k = 0; k < jhi - jlo; k++) row[jlo + k] = src[k * xs];
        }
        memset(row + jhi, 0, sizeof(float) * (size_t)(rw - jhi));
      }
    }
    WINO_FN(wino_vin_)(in, rs, R, rw);
    const int64_t b0 = (ty - ty0) * TW;
    for (int a = 0; a < 6; a++) {
      const float *Ra = R + a * rs;
      float *va = v + (size_t)(a * 6) * vstride + b0;
      int64_t t = WINO_HIN(Ra, TW, va, vstride);
      for (; t < TW; t++) {
        const float *d = Ra + 4 * t;
        float d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3], d4 = d[4], d5 = d[5];
        va[t] = 4 * d0 - 5 * d2 + d4;
        va[vstride + t] = -4 * (d1 + d2) + d3 + d4;
        va[2 * vstride + t] = 4 * (d1 - d2) - d3 + d4;
        va[3 * vstride + t] = 2 * (d3 - d1) - d2 + d4;
        va[4 * vstride + t] = 2 * (d1 - d3) - d2 + d4;
        va[5 * vstride + t] = 4 * d1 - 5 * d3 + d5;
      }
    }
  }
}

/* A^T . down the columns into q[a][j][t], then A^T along the rows into a padded output row, then the output
 * pass over the row's OW useful columns. */
WINO_VEC void WINO_FN(oxrt_wino_out_)(const float *o, size_t ostride, int64_t ty0, int64_t nty, int64_t TW,
                                      int64_t OH, int64_t OW, float bias, const float *z, oxrt_activation act,
                                      float *y, int64_t ys, float *scratch) {
  const int64_t twp = WINO_FN(wino_twp_)(TW);
  float *restrict q = scratch;               /* [4 rows][6 columns][twp] */
  float *restrict orow = scratch + 24 * twp; /* 4 * twp floats */
  float lo, hi;
  const bool clamp = oxrt_act_is_clamp(act, &lo, &hi);
  for (int64_t ty = ty0; ty < ty0 + nty; ty++) {
    const int64_t b0 = (ty - ty0) * TW;
    for (int j = 0; j < 6; j++) WINO_FN(wino_vout_)(o + (size_t)j * ostride + b0, 6 * ostride, q + j * twp, 6 * twp, TW);
    for (int a = 0; a < 4; a++) {
      const int64_t oh = ty * 4 + a;
      if (oh >= OH) break;
      const float *qa = q + (a * 6) * twp;
      int64_t t = WINO_HOUT(qa, twp, TW, orow, bias);
      const float *restrict p0 = qa, *restrict p1 = p0 + twp, *restrict p2 = p1 + twp;
      const float *restrict p3 = p2 + twp, *restrict p4 = p3 + twp, *restrict p5 = p4 + twp;
      for (; t < TW; t++) {
        float a1 = p1[t] + p2[t], a2 = p1[t] - p2[t], b1 = p3[t] + p4[t], b2 = p3[t] - p4[t];
        float *dst = orow + 4 * t;
        dst[0] = p0[t] + a1 + b1 + bias;
        dst[1] = a2 + 2 * b2 + bias;
        dst[2] = a1 + 4 * b1 + bias;
        dst[3] = a2 + 8 * b2 + p5[t] + bias;
      }
      float *restrict yr = y + oh * OW * ys;
      if (z) {
        const float *restrict zr = z + oh * OW * ys;
        if (ys == 1)
          for (int64_t w = 0; w < OW; w++) orow[w] += zr[w];
        else
          for (int64_t w = 0; w < OW; w++) orow[w] += zr[w * ys];
      }
      if (ys != 1) { /* a channel of a blocked plane: the activation in the row, then one float per pixel */
        if (clamp)
          for (int64_t w = 0; w < OW; w++) {
            float val = orow[w];
            val = val < lo ? lo : val;
            yr[w * ys] = val > hi ? hi : val;
          }
        else {
          oxrt_act_apply(act, orow, (size_t)OW);
          for (int64_t w = 0; w < OW; w++) yr[w * ys] = orow[w];
        }
      } else if (clamp) {
        for (int64_t w = 0; w < OW; w++) {
          float val = orow[w];
          val = val < lo ? lo : val;
          yr[w] = val > hi ? hi : val;
        }
      } else {
        memcpy(yr, orow, sizeof(float) * (size_t)OW);
        oxrt_act_apply(act, yr, (size_t)OW);
      }
    }
  }
}
