/* qgemm_store_body.h - the 8-bit GEMM's output stage (zero-point corrections, bias, scale, requantization), written
 * once and compiled per instruction set (qgemm.c portable, qgemm_avx2.c, qgemm_avx512.c with their flags, so the
 * 32-bit multiplies and float conversions vectorize at the machine's width). The includer defines QS_NAME(x) (the
 * suffixed name) and QS_EXPORT (static or nothing). Contract: oxrt_qstore in qgemm.h. */
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#define Q_VEC __attribute__((optimize("tree-vectorize")))
#else
#define Q_VEC
#endif

/* Round half to even of |v| < 2^22 with the default rounding mode, without a libm call per element. */
static inline float QS_NAME(q_rint)(float v) {
  const float magic = 12582912.0f; /* 1.5 * 2^23; IEEE arithmetic keeps (v + magic) - magic unfolded */
  return (v + magic) - magic;
}

/* Zero-point corrections of k-group 4 sums (tile row ti, n columns). */
Q_VEC static void QS_NAME(correct_row)(const oxrt_qstore *st, size_t ti, size_t n, int32_t *restrict s) {
  uint32_t zai = (uint32_t)st->za[ti], rai = (uint32_t)st->ra[ti], kz = (uint32_t)st->K * zai;
  for (size_t j = 0; j < n; j++)
    s[j] = (int32_t)((uint32_t)s[j] - zai * (uint32_t)st->cb[j] - (uint32_t)st->zb[j] * rai + kz * (uint32_t)st->zb[j]);
}

/* Output stage of row i (global), columns [j0, j0+n) of sums s[0..n). */
QS_EXPORT void QS_NAME(store_row)(const oxrt_qstore *st, size_t i, size_t ti, size_t j0, size_t n,
                                   int32_t *restrict s) {
  const oxrt_qgemm_out *o = st->o;
  /* With A's packed zero point 0 and one B zero point, the correction is a constant per row: it joins the bias. */
  int32_t radd = o->bias && o->per_row ? o->bias[i] : 0;
  bool fold = st->corr && st->za[ti] == 0 && st->zb_one;
  if (fold) radd = (int32_t)((uint32_t)radd - (uint32_t)st->zb[0] * (uint32_t)st->ra[ti]);
  else if (st->corr) QS_NAME(correct_row)(st, ti, n, s);
  if (radd || (o->bias && !o->per_row)) {
    if (!o->bias || o->per_row) {
      for (size_t j = 0; j < n; j++) s[j] += radd;
    } else {
      const int32_t *b = o->bias + j0;
      for (size_t j = 0; j < n; j++) s[j] += b[j] + radd;
    }
  }
  if (o->kind == OXRT_QOUT_I32) {
    memcpy((int32_t *)o->C + i * o->ldc + j0, s, n * sizeof(int32_t));
    return;
  }
  bool vec = o->n_scale != 1 && !o->per_row;
  float sc = o->n_scale == 1 ? o->scale[0] : o->per_row ? o->scale[i] : 0.0f;
  const float *scv = o->scale + (vec ? j0 : 0);
  if (o->kind == OXRT_QOUT_F32) {
    float *restrict y = (float *)o->C + i * o->ldc + j0;
    if (vec) {
      for (size_t j = 0; j < n; j++) y[j] = (float)s[j] * scv[j];
    } else {
      for (size_t j = 0; j < n; j++) y[j] = (float)s[j] * sc;
    }
    if (o->fbias) {
      if (o->per_row) {
        float b = o->fbias[i];
        for (size_t j = 0; j < n; j++) y[j] += b;
      } else {
        const float *b = o->fbias + j0;
        for (size_t j = 0; j < n; j++) y[j] += b[j];
      }
    }
    return;
  }
  float lo = (float)(o->lo - o->zp), hi = (float)(o->hi - o->zp);
  int32_t zp = o->zp;
  /* ORT's order: scale, clamp to the output range shifted by the zero point, round, add the zero point. */
  /* Sixteen at a time (each group vectorizes whole), the tail through a padded local group: rows are often short
   * (a 7x7 output plane, a column tile's remainder), and a scalar epilogue of up to 63 elements cost more than the
   * vector body. One loop per case: a scale vector or one scale, uint8 or int8. */
#define Q_GROUP(T, S, SCV, Y)                                                                                          \
  for (size_t t = 0; t < 16; t++) {                                                                                    \
    float v = (float)(S)[t] * (SCV);                                                                                   \
    v = v > lo ? v : lo;                                                                                               \
    v = v < hi ? v : hi;                                                                                               \
    (Y)[t] = (T)((int32_t)QS_NAME(q_rint)(v) + zp);                                                                    \
  }
#define Q_REQUANT(T, VEC)                                                                                              \
  do {                                                                                                                 \
    T *restrict y = (T *)o->C + i * o->ldc + j0;                                                                       \
    size_t j = 0;                                                                                                      \
    for (; j + 16 <= n; j += 16) Q_GROUP(T, s + j, VEC ? scv[j + t] : sc, y + j)                                       \
    if (j < n) {                                                                                                       \
      int32_t ts[16] = {0};                                                                                            \
      float tsc[16] = {0};                                                                                             \
      T ty[16];                                                                                                        \
      memcpy(ts, s + j, (n - j) * sizeof(int32_t));                                                                    \
      if (VEC) memcpy(tsc, scv + j, (n - j) * sizeof(float));                                                          \
      Q_GROUP(T, ts, VEC ? tsc[t] : sc, ty)                                                                            \
      memcpy(y + j, ty, (n - j) * sizeof(T));                                                                          \
    }                                                                                                                  \
  } while (0)
  if (o->kind == OXRT_QOUT_U8) {
    if (vec) Q_REQUANT(uint8_t, 1);
    else Q_REQUANT(uint8_t, 0);
  } else {
    if (vec) Q_REQUANT(int8_t, 1);
    else Q_REQUANT(int8_t, 0);
  }
#undef Q_GROUP
#undef Q_REQUANT
}

