/* conv_narrow.c - the driver of conv_narrow.h: gather, per-panel products, bias, residual, activation. */
#include "conv_narrow.h"
#include <stdlib.h>
#include <string.h>

/* The panel kernel of this process's ISA; NULL without a vector one. */
static oxrt_conv_narrow_fn narrow_kernel(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  switch (oxrt_cpu_isa()) {
  case OXRT_ISA_AVX512: return oxrt_conv_narrow_avx512;
  case OXRT_ISA_AVX2: return oxrt_conv_narrow_avx2;
  default: break;
  }
#endif
  return NULL;
}

static size_t plane(const int64_t *d, int nd) {
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)d[i];
  return n;
}

bool oxrt_conv_narrow_ok(const oxrt_conv_shape *s, const oxrt_conv_wpack *wp) {
  if (!narrow_kernel() || s->nd < 1 || s->nd > 2 || s->group == 0 || !wp || !wp->g ||
      wp->g[0].mr > CONV_NARROW_MAX_MR || wp->g[0].bf16) /* it reads float panels; bfloat16 ones go to the GEMM */
    return false;
  const size_t out = plane(s->out, s->nd), Mg = s->M / s->group, Kg = s->C / s->group * plane(s->k, s->nd);
  if (out == 0 || out > CONV_NARROW_MAX_OUT || wp->group != s->group || wp->Mg != Mg || wp->Kg != Kg) return false;
  return (double)s->N * (double)s->M * (double)Kg * (double)out <= (double)CONV_NARROW_MAX_MACS;
}

/* col[k*np + p] = the input entry tap k (channel k / kprod) of group g meets at output position p, 0 in padding. */
static void gather(const oxrt_conv_shape *s, const float *xg, size_t Cg, size_t np, float *col) {
  const bool two = s->nd == 2;
  const int64_t IH = two ? s->in[0] : 1, IW = s->in[s->nd - 1], OW = s->out[s->nd - 1];
  const int64_t KH = two ? s->k[0] : 1, KW = s->k[s->nd - 1], dh = two ? s->dil[0] : 1, dw = s->dil[s->nd - 1];
  const size_t in_size = (size_t)(IH * IW);
  int64_t ih0[CONV_NARROW_MAX_OUT], iw0[CONV_NARROW_MAX_OUT];
  for (size_t p = 0; p < np; p++) {
    ih0[p] = two ? (int64_t)p / OW * s->stride[0] - s->pad[0] : 0;
    iw0[p] = (int64_t)p % OW * s->stride[s->nd - 1] - s->pad[s->nd - 1];
  }
  for (size_t c = 0; c < Cg; c++) {
    const float *xc = xg + c * in_size;
    for (int64_t kh = 0; kh < KH; kh++)
      for (int64_t kw = 0; kw < KW; kw++, col += np)
        for (size_t p = 0; p < np; p++) {
          const int64_t ih = ih0[p] + kh * dh, iw = iw0[p] + kw * dw;
          col[p] = ih >= 0 && ih < IH && iw >= 0 && iw < IW ? xc[ih * IW + iw] : 0.0f;
        }
  }
}

bool oxrt_conv_narrow_f32(const oxrt_conv_shape *s, const float *x, const oxrt_conv_wpack *wp, const float *bias,
                          const float *z, oxrt_activation act, float *y) {
  const size_t np = plane(s->out, s->nd), in_size = plane(s->in, s->nd), G = s->group;
  const size_t Cg = s->C / G, Mg = s->M / G, Kg = Cg * plane(s->k, s->nd);
  const oxrt_conv_narrow_fn kern = narrow_kernel();
  float *col = kern ? malloc(sizeof(float) * (Kg * np + 1)) : NULL;
  if (!col) return false;
  for (size_t n = 0; n < s->N; n++)
    for (size_t g = 0; g < G; g++) {
      const oxrt_sgemm_apack *a = &wp->g[g];
      float *yg = y + (n * s->M + g * Mg) * np;
      gather(s, x + (n * s->C + g * Cg) * in_size, Cg, np, col);
      for (size_t p = 0, P = oxrt_sgemm_apack_panels(a); p < P; p++) { /* the GEMM's panels (gemm.h) */
        const size_t i0 = oxrt_sgemm_apack_row(a, p), m = oxrt_sgemm_apack_row(a, p + 1) - i0;
        kern(Kg, m, a->data + i0 * Kg, col, np, yg + i0 * np, np);
      }
      if (bias)
        for (size_t i = 0; i < Mg; i++)
          for (size_t p = 0; p < np; p++) yg[i * np + p] += bias[g * Mg + i];
    }
  free(col);
  const size_t total = s->N * s->M * np;
  if (z)
    for (size_t i = 0; i < total; i++) y[i] += z[i];
  oxrt_act_apply(act, y, total);
  return true;
}
