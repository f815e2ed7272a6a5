/* dwconv_avx512.c - depthwise fill and plane kernels (dwconv_body.h) with 16-lane AVX-512 vectors, and the stride-2
 * split into even and odd columns as two two-source permutes per 32 inputs. */
#include <immintrin.h>
#include <stdint.h>

static void dw_split2(float *even, int64_t ne, float *odd, int64_t no, const float *src, int64_t W) {
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int64_t c = 0, j = 0; j < ne || j < no; c += 32, j += 16) {
    const int64_t rem = W - c, ke = ne - j, ko = no - j;
    const __mmask16 m1 = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
    const __mmask16 m2 = rem >= 32 ? (__mmask16)0xFFFF : rem > 16 ? (__mmask16)((1u << (rem - 16)) - 1u) : 0;
    const __m512 a = _mm512_maskz_loadu_ps(m1, src + c), b = _mm512_maskz_loadu_ps(m2, src + c + 16);
    _mm512_mask_storeu_ps(even + j, ke >= 16 ? (__mmask16)0xFFFF : ke > 0 ? (__mmask16)((1u << ke) - 1u) : 0,
                          _mm512_permutex2var_ps(a, ie, b));
    _mm512_mask_storeu_ps(odd + j, ko >= 16 ? (__mmask16)0xFFFF : ko > 0 ? (__mmask16)((1u << ko) - 1u) : 0,
                          _mm512_permutex2var_ps(a, io, b));
  }
}

#define DW_PLANE oxrt_dw_plane_avx512
#define DW_FILL oxrt_dw_fill_avx512
#define DW_VW 16
#define DW_V __m512
#define DW_SET1 _mm512_set1_ps
#define DW_LOADU _mm512_loadu_ps
#define DW_FMA _mm512_fmadd_ps
#define DW_MIN _mm512_min_ps
#define DW_MAX _mm512_max_ps
#define DW_STOREU _mm512_storeu_ps
#define DW_LOAD_N(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), (p))
#define DW_STORE_N(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
/* compress in a register, then a plain masked store (the memory form of compress is slow on some cores) */
#define DW_STORE_COMPRESS(p, v, m)                                                                                     \
  _mm512_mask_storeu_ps((p), (__mmask16)((1u << __builtin_popcount(m)) - 1u), _mm512_maskz_compress_ps((m), (v)))
#include "dwconv_body.h"

/* Direct mode: nv output vectors from q0 = 16 * v0 on, masked loads straight from the input plane. */
static inline __attribute__((always_inline)) void dw_dtile(int nv, const oxrt_dw_geom *g, const float *x,
                                                           const float *w, int64_t v0, float *y, __m512 vb, __m512 vlo,
                                                           __m512 vhi) {
  __m512 acc[DW_NB];
#pragma GCC unroll 8
  for (int i = 0; i < nv; i++) acc[i] = vb;
  const uint16_t *mk = g->dmask + v0;
  const float *xq = x + v0 * 16;
  for (int t = 0; t < g->ntaps; t++, mk += g->nvec) {
    const __m512 wv = _mm512_set1_ps(w[t]);
    const float *s = xq + g->doff[t];
#pragma GCC unroll 8
    for (int i = 0; i < nv; i++) acc[i] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mk[i], s + 16 * i), acc[i]);
  }
  const int64_t total = g->OH * g->OW;
#pragma GCC unroll 8
  for (int i = 0; i < nv; i++) {
    const __m512 v = _mm512_max_ps(vlo, _mm512_min_ps(vhi, acc[i]));
    const int64_t q = (v0 + i) * 16;
    if (q + 16 <= total) _mm512_storeu_ps(y + q, v);
    else _mm512_mask_storeu_ps(y + q, (__mmask16)((1u << (total - q)) - 1u), v);
  }
}

void oxrt_dw_direct_avx512(const oxrt_dw_geom *g, const float *x, const float *w, float bias, float lo, float hi,
                           float *y) {
  const __m512 vb = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (int64_t v0 = 0; v0 < g->nvec; v0 += DW_NB) {
    switch (g->nvec - v0 < DW_NB ? (int)(g->nvec - v0) : DW_NB) {
    case 1: dw_dtile(1, g, x, w, v0, y, vb, vlo, vhi); break;
    case 2: dw_dtile(2, g, x, w, v0, y, vb, vlo, vhi); break;
    case 3: dw_dtile(3, g, x, w, v0, y, vb, vlo, vhi); break;
    case 4: dw_dtile(4, g, x, w, v0, y, vb, vlo, vhi); break;
    case 5: dw_dtile(5, g, x, w, v0, y, vb, vlo, vhi); break;
    case 6: dw_dtile(6, g, x, w, v0, y, vb, vlo, vhi); break;
    case 7: dw_dtile(7, g, x, w, v0, y, vb, vlo, vhi); break;
    default: dw_dtile(8, g, x, w, v0, y, vb, vlo, vhi); break;
    }
  }
}
