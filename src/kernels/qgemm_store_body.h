/* qgemm_store_body.h - the 8-bit GEMM's output stage (zero-point corrections, bias, scale, requantization), written
 * once and compiled per instruction set (qgemm.c portable, qgemm_avx2.c, qgemm_avx512.c with their flags, so the
 * 32-bit multiplies and float conversions vectorize at the machine's width). The includer defines QS_NAME(x) (the
 * suffixed name) and QS_EXPORT (static or nothing). Contract: oxrt_qstore in qgemm.h. */
#include <string.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

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
  bool vec = o->n_scale != 1 && !o->per_row;
#if defined(__AVX512F__)
  /* float output (MatMulIntegerToFloat, DynamicQuantizeMatMul): the corrections, the bias, the conversion, the scale
   * and the float bias in one pass (the loops below take three): the same integer sums (wrapping), the same two
   * float roundings */
  if (o->kind == OXRT_QOUT_F32) {
    const bool corr = st->corr && !fold, colbias = o->bias && !o->per_row;
    const __m512i vza = _mm512_set1_epi32((int32_t)(uint32_t)(corr ? st->za[ti] : 0));
    const __m512i vra = _mm512_set1_epi32((int32_t)(uint32_t)(corr ? st->ra[ti] : 0));
    const __m512i vkz = _mm512_set1_epi32(corr ? (int32_t)((uint32_t)st->K * (uint32_t)st->za[ti]) : 0);
    const __m512i vadd = _mm512_set1_epi32(radd);
    const __m512 vsc = _mm512_set1_ps(o->n_scale == 1 ? o->scale[0] : o->per_row ? o->scale[i] : 0.0f);
    const __m512 vfb = _mm512_set1_ps(o->fbias && o->per_row ? o->fbias[i] : 0.0f);
    float *y = (float *)o->C + i * o->ldc + j0;
    for (size_t j = 0; j < n; j += 16) {
      __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
      __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, s + j), vadd);
      if (corr) {
        __m512i zb = _mm512_maskz_loadu_epi32(m, st->zb + j);
        v = _mm512_sub_epi32(v, _mm512_mullo_epi32(vza, _mm512_maskz_loadu_epi32(m, st->cb + j)));
        v = _mm512_add_epi32(v, _mm512_mullo_epi32(zb, _mm512_sub_epi32(vkz, vra)));
      }
      if (colbias) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m, o->bias + j0 + j));
      __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), vec ? _mm512_maskz_loadu_ps(m, o->scale + j0 + j) : vsc);
      if (o->fbias) f = _mm512_add_ps(f, o->per_row ? vfb : _mm512_maskz_loadu_ps(m, o->fbias + j0 + j));
      _mm512_mask_storeu_ps(y + j, m, f);
    }
    return;
  }
#endif
  if (!fold && st->corr) QS_NAME(correct_row)(st, ti, n, s);
#if defined(__AVX512F__)
  /* 8-bit output with a scale or an int32 bias per column (a convolution with weights as B, QLinearMatMul with
   * per-column weight scales): the loops' operations below in registers, in their order */
  if ((o->kind == OXRT_QOUT_U8 || o->kind == OXRT_QOUT_S8) && (vec || (o->bias && !o->per_row))) {
    const bool colbias = o->bias && !o->per_row;
    const __m512i vadd = _mm512_set1_epi32(radd), vzp = _mm512_set1_epi32(o->zp);
    const __m512 vsc = _mm512_set1_ps(o->n_scale == 1 ? o->scale[0] : o->per_row ? o->scale[i] : 0.0f);
    const __m512 vlo = _mm512_set1_ps((float)(o->lo - o->zp)), vhi = _mm512_set1_ps((float)(o->hi - o->zp));
    uint8_t *y8 = (uint8_t *)o->C + i * o->ldc + j0;
    for (size_t j = 0; j < n; j += 16) {
      __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
      __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, s + j), vadd);
      if (colbias) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m, o->bias + j0 + j));
      __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), vec ? _mm512_maskz_loadu_ps(m, o->scale + j0 + j) : vsc);
      f = _mm512_min_ps(_mm512_max_ps(f, vlo), vhi);
      _mm_mask_storeu_epi8(y8 + j, m, _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), vzp)));
    }
    return;
  }
#endif
#if defined(__AVX512F__) || defined(__AVX2__)
  /* 8-bit output with one scale for the row and no per-column bias (convolutions): the constant, the scale, the
   * clamp, the rounding (CVTPS2DQ rounds half to even, as q_rint) and the zero point in registers, one pass over
   * the sums; the tail goes through the loops below. Same operations in the same order: identical bytes. */
  if ((o->kind == OXRT_QOUT_U8 || o->kind == OXRT_QOUT_S8) && !vec && !(o->bias && !o->per_row)) {
    const float scl = o->n_scale == 1 ? o->scale[0] : o->scale[i];
    const float flo = (float)(o->lo - o->zp), fhi = (float)(o->hi - o->zp);
    uint8_t *y8 = (uint8_t *)o->C + i * o->ldc + j0;
    size_t j = 0;
#if defined(__AVX512F__)
    const __m512i vadd = _mm512_set1_epi32(radd), vzp = _mm512_set1_epi32(o->zp);
    const __m512 vsc = _mm512_set1_ps(scl), vlo = _mm512_set1_ps(flo), vhi = _mm512_set1_ps(fhi);
    for (; j + 16 <= n; j += 16) {
      __m512 v = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_loadu_si512((const void *)(s + j)), vadd));
      v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, vsc), vlo), vhi);
      _mm_storeu_si128((__m128i *)(void *)(y8 + j), _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), vzp)));
    }
#else
    const __m256i vadd = _mm256_set1_epi32(radd), vzp = _mm256_set1_epi32(o->zp);
    const __m256 vsc = _mm256_set1_ps(scl), vlo = _mm256_set1_ps(flo), vhi = _mm256_set1_ps(fhi);
    for (; j + 8 <= n; j += 8) {
      __m256 v = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(s + j)), vadd));
      v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v, vsc), vlo), vhi);
      __m256i k = _mm256_add_epi32(_mm256_cvtps_epi32(v), vzp); /* within the type: packing cannot saturate */
      __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(k), _mm256_extracti128_si256(k, 1));
      w = o->kind == OXRT_QOUT_U8 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
      _mm_storel_epi64((__m128i *)(void *)(y8 + j), w);
    }
#endif
    if (j == n) return;
    s += j, j0 += j, n -= j; /* the tail below */
  }
#endif
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


/* The fused residual (oxrt_qres) over C elements [at, at+n): QLinearAdd's float32 expression on the stored bytes,
 * products and sum rounded one by one (no FMA, as the unfused operator), clamped, rounded half to even. GCC did not
 * vectorize the byte -> float -> byte loop well (16-byte vectors, or a scalar tail for the short rows), so the vector
 * ISAs have it in intrinsics: 16 (AVX-512) or 8 (AVX2) lanes, then the same scalar expression for the rest. */
#define Q_RES1(T, J)                                                                                                   \
  do {                                                                                                                 \
    float v = ((float)y[J] - tz) * ta + ((float)r[J] - rz) * ra;                                                       \
    v = v > lo ? v : lo;                                                                                               \
    v = v < hi ? v : hi;                                                                                               \
    y[J] = (T)((int32_t)QS_NAME(q_rint)(v) + cz);                                                                      \
  } while (0)
#if defined(__AVX512F__)
#define Q_RESVEC(T, CVT)                                                                                               \
  for (; j + 16 <= n; j += 16) {                                                                                       \
    __m512 a = _mm512_cvtepi32_ps(CVT(_mm_loadu_si128((const __m128i *)(const void *)(y + j))));                     \
    __m512 b = _mm512_cvtepi32_ps(CVT(_mm_loadu_si128((const __m128i *)(const void *)(r + j))));                     \
    __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(a, vtz), vta), _mm512_mul_ps(_mm512_sub_ps(b, vrz), vra));   \
    v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi);                                                                     \
    __m512i k = _mm512_add_epi32(_mm512_cvtps_epi32(v), vcz); /* cvtps rounds half to even */                         \
    _mm_storeu_si128((__m128i *)(void *)(y + j), _mm512_cvtepi32_epi8(k));                                             \
  }
#define Q_RESVEC_SETUP                                                                                                 \
  const __m512 vtz = _mm512_set1_ps(tz), vta = _mm512_set1_ps(ta), vrz = _mm512_set1_ps(rz), vra = _mm512_set1_ps(ra); \
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);                                                     \
  const __m512i vcz = _mm512_set1_epi32(cz);
#elif defined(__AVX2__)
#define Q_RESVEC(T, CVT)                                                                                               \
  for (; j + 8 <= n; j += 8) {                                                                                         \
    __m256 a = _mm256_cvtepi32_ps(CVT(_mm_loadl_epi64((const __m128i *)(const void *)(y + j))));                      \
    __m256 b = _mm256_cvtepi32_ps(CVT(_mm_loadl_epi64((const __m128i *)(const void *)(r + j))));                      \
    __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(a, vtz), vta), _mm256_mul_ps(_mm256_sub_ps(b, vrz), vra));   \
    v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);                                                                     \
    __m256i k = _mm256_add_epi32(_mm256_cvtps_epi32(v), vcz); /* in range: packing cannot saturate */                 \
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(k), _mm256_extracti128_si256(k, 1));                            \
    w = sizeof(T) == 1 && (T)-1 > 0 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);                                 \
    _mm_storel_epi64((__m128i *)(void *)(y + j), w);                                                                   \
  }
#define Q_RESVEC_SETUP                                                                                                 \
  const __m256 vtz = _mm256_set1_ps(tz), vta = _mm256_set1_ps(ta), vrz = _mm256_set1_ps(rz), vra = _mm256_set1_ps(ra); \
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);                                                     \
  const __m256i vcz = _mm256_set1_epi32(cz);
#else
#define Q_RESVEC(T, CVT)
#define Q_RESVEC_SETUP
#endif
#if defined(__AVX512F__)
#define Q_CVT_U8 _mm512_cvtepu8_epi32
#define Q_CVT_S8 _mm512_cvtepi8_epi32
#elif defined(__AVX2__)
#define Q_CVT_U8 _mm256_cvtepu8_epi32
#define Q_CVT_S8 _mm256_cvtepi8_epi32
#endif
#define Q_RESIDUAL(T, CVT)                                                                                             \
  do {                                                                                                                 \
    T *y = (T *)o->C + at;                                                                                             \
    const T *r = (const T *)q->r + at;                                                                                 \
    size_t j = 0;                                                                                                      \
    Q_RESVEC(T, CVT)                                                                                                   \
    for (; j < n; j++) Q_RES1(T, j);                                                                                   \
  } while (0)
QS_EXPORT void QS_NAME(res_row)(const oxrt_qgemm_out *o, size_t at, size_t n) {
  const oxrt_qres *q = o->res;
  const float ta = q->ta, ra = q->ra, tz = (float)q->tz, rz = (float)q->rz;
  const float lo = (float)(q->lo - q->cz), hi = (float)(q->hi - q->cz);
  const int32_t cz = q->cz;
  Q_RESVEC_SETUP
  if (o->kind == OXRT_QOUT_U8) Q_RESIDUAL(uint8_t, Q_CVT_U8);
  else Q_RESIDUAL(int8_t, Q_CVT_S8);
}
#undef Q_RES1
#undef Q_RESVEC
#undef Q_RESVEC_SETUP
#undef Q_RESIDUAL
#undef Q_CVT_U8
#undef Q_CVT_S8
