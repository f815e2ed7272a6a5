/* qgemm.c - 8-bit GEMM driver: kernel choice, packing, blocking, threading and the output stage.
 *
 * Packed operand layout (both sides): panels of r rows (A: kernel mr rows, B: nr columns) over the whole K,
 * panel p at data + p * kg * r * g elements, group kk of it at + kk * r * g, element (i, t) at + i * g + t.
 * Work is split into tiles of C (up to MC rows x NC columns); a tile walks K in blocks of KC, accumulating
 * int32 sums in a scratch block that stays in L2, then runs the output stage over it. B produced on the fly
 * (implicit im2col) is filled raw, then packed, per tile and K block.
 */
#include "qgemm.h"
#include "gemm.h"
#include "scratch.h"
#include "../core/value.h"
#include <stdlib.h>
#include <string.h>

#define Q_KC 640 /* k values per block of a filled B, at most (pack_panel takes up to Q_KC): 3x3 convolutions of 64
                  * channels (K 576) in one block */
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define QGEMM_X86 1
#endif

/* ------------------------------------------------------------------ portable micro-kernels */

#define P_MR 4
#define P_NR 16

static void qukernel_portable(size_t kg, const void *av, const void *bv, int32_t *c, size_t ldc, bool acc) {
  const int16_t *a = av, *b = bv;
  int32_t s[P_MR][P_NR];
  memset(s, 0, sizeof s);
  for (size_t kk = 0; kk < kg; kk++, a += P_MR * 2, b += P_NR * 2)
    for (int i = 0; i < P_MR; i++) {
      int32_t a0 = a[2 * i], a1 = a[2 * i + 1];
      for (int j = 0; j < P_NR; j++) s[i][j] += a0 * b[2 * j] + a1 * b[2 * j + 1];
    }
  for (int i = 0; i < P_MR; i++)
    for (int j = 0; j < P_NR; j++) c[i * ldc + j] = (acc ? c[i * ldc + j] : 0) + s[i][j];
}

/* k-group 4 in C; AT / BT: the signedness of A and B bytes */
#define PORTABLE8(name, AT, BT)                                                                                        \
  static void name(size_t kg, const void *av, const void *bv, int32_t *c, size_t ldc, bool acc) {                     \
    const AT *a = av;                                                                                                  \
    const BT *b = bv;                                                                                                  \
    int32_t s[P_MR][P_NR];                                                                                             \
    memset(s, 0, sizeof s);                                                                                            \
    for (size_t kk = 0; kk < kg; kk++, a += P_MR * 4, b += P_NR * 4)                                                   \
      for (int i = 0; i < P_MR; i++)                                                                                   \
        for (int j = 0; j < P_NR; j++)                                                                                 \
          for (int t = 0; t < 4; t++) s[i][j] += (int32_t)a[4 * i + t] * b[4 * j + t];                                 \
    for (int i = 0; i < P_MR; i++)                                                                                     \
      for (int j = 0; j < P_NR; j++) c[i * ldc + j] = (acc ? c[i * ldc + j] : 0) + s[i][j];                            \
  }
PORTABLE8(qukernel_portable8, uint8_t, int8_t)
PORTABLE8(qukernel_portable8_b, int8_t, uint8_t)

/* ------------------------------------------------------------------ kernel table and choice */

static const oxrt_qkernel g_kernels[OXRT_QK_COUNT] = {
    /* id, name, mr, nr, g, run, b_u8, pairs7, run4, run8 */
    {OXRT_QK_PORTABLE, "portable", P_MR, P_NR, 2, qukernel_portable, false, false, NULL, NULL},
    {OXRT_QK_PORTABLE8, "portable-bytes", P_MR, P_NR, 4, qukernel_portable8, false, false, NULL, NULL},
#ifdef QGEMM_X86
    {OXRT_QK_AVX2, "avx2", 5, 16, 2, oxrt_qukernel_avx2, false, false, NULL, NULL},
    {OXRT_QK_AVXVNNI, "avxvnni", 6, 16, 4, oxrt_qukernel_avxvnni, false, false, NULL, NULL},
    {OXRT_QK_AVX512, "avx512bw", 12, 32, 2, oxrt_qukernel_avx512, false, false, oxrt_qukernel_avx512_r4,
     oxrt_qukernel_avx512_r8},
    {OXRT_QK_AVX512VNNI, "avx512vnni", 12, 32, 4, oxrt_qukernel_avx512vnni, false, false, oxrt_qukernel_avx512vnni_r4,
     oxrt_qukernel_avx512vnni_r8},
    {OXRT_QK_AVX2_BYTES_A, "avx2-bytes-a", 4, 16, 4, oxrt_qukernel_avx2_bytes_a, false, true, NULL, NULL},
    {OXRT_QK_AVX2_BYTES_B, "avx2-bytes-b", 4, 16, 4, oxrt_qukernel_avx2_bytes_b, true, true, NULL, NULL},
    {OXRT_QK_AVXVNNI_B, "avxvnni-b", 6, 16, 4, oxrt_qukernel_avxvnni_b, true, false, NULL, NULL},
    {OXRT_QK_AVX512VNNI_B, "avx512vnni-b", 12, 32, 4, oxrt_qukernel_avx512vnni_b, true, false,
     oxrt_qukernel_avx512vnni_b_r4, oxrt_qukernel_avx512vnni_b_r8},
#endif
    [OXRT_QK_PORTABLE8_B] = {OXRT_QK_PORTABLE8_B, "portable-bytes-b", P_MR, P_NR, 4, qukernel_portable8_b, true, false,
                             NULL, NULL},
};

const oxrt_qkernel *oxrt_qgemm_kernel_at(oxrt_qkernel_id id) {
  if (id < 0 || id >= OXRT_QK_COUNT || !g_kernels[id].run) return NULL;
  if (id <= OXRT_QK_PORTABLE8 || id == OXRT_QK_PORTABLE8_B) return &g_kernels[id];
#ifdef QGEMM_X86
  /* The float kernels' level (CPU probe and OXRT_ISA cap) decides; VNNI is an extra feature on top. */
  oxrt_isa isa = oxrt_cpu_isa();
  switch (id) {
  case OXRT_QK_AVX2:
  case OXRT_QK_AVX2_BYTES_A:
  case OXRT_QK_AVX2_BYTES_B: return isa >= OXRT_ISA_AVX2 ? &g_kernels[id] : NULL;
  case OXRT_QK_AVXVNNI:
  case OXRT_QK_AVXVNNI_B: return oxrt_cpu_usable(OXRT_CPU_AVXVNNI) ? &g_kernels[id] : NULL;
  case OXRT_QK_AVX512: return isa >= OXRT_ISA_AVX512 ? &g_kernels[id] : NULL;
  case OXRT_QK_AVX512VNNI:
  case OXRT_QK_AVX512VNNI_B: return oxrt_cpu_usable(OXRT_CPU_AVX512VNNI) ? &g_kernels[id] : NULL;
  default: break;
  }
#endif
  return NULL;
}

const oxrt_qkernel *oxrt_qgemm_kernel(void) {
  static const oxrt_qkernel *chosen; /* deterministic, so a racing first call is harmless */
  const oxrt_qkernel *k = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
  if (k) return k;
  static const oxrt_qkernel_id order[] = {OXRT_QK_AVX512VNNI, OXRT_QK_AVXVNNI, OXRT_QK_AVX512, OXRT_QK_AVX2};
  k = &g_kernels[OXRT_QK_PORTABLE];
  for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
    const oxrt_qkernel *c = oxrt_qgemm_kernel_at(order[i]);
    if (c) {
      k = c;
      break;
    }
  }
  __atomic_store_n(&chosen, k, __ATOMIC_RELAXED);
  return k;
}

/* ------------------------------------------------------------------ packing */

/* Start of k-row k (rs == 1 sources) */
static inline const uint8_t *q_krow(const oxrt_qmat *m, size_t k) {
  return m->kp ? m->kp[k] : (const uint8_t *)m->data + k * m->ks;
}

static inline int32_t q_elem(const oxrt_qmat *m, size_t r, size_t k) {
  const uint8_t *p = m->kp ? m->kp[k] + r : (const uint8_t *)m->data + r * m->rs + k * m->ks;
  return m->is_signed ? (int32_t)(int8_t)*p : (int32_t)*p;
}

/* The zero point of row r in the packed domain: k-group 2 subtracts it while packing (so it is the source's),
 * k-group 4 re-centres A to uint8 (+128 when signed) and B to int8 (-128 when unsigned). */
static inline int32_t q_zp(const oxrt_qmat *m, size_t r) {
  return m->zp ? m->zp[m->zp_per_row ? r : 0] : 0;
}
static inline int32_t q_shift(const oxrt_qkernel *k, bool is_a, bool is_signed) {
  bool to_u8 = is_a != k->b_u8;
  return to_u8 ? (is_signed ? 128 : 0) : (is_signed ? 0 : -128);
}

/* Rows [r0, r0+r_eff) and k [k0, k0+kc) of m into one panel of width r (zero padded to whole k-groups);
 * k-group 4 also adds each row's packed bytes to sums[0..r_eff). */
/* k-group 2, one zero point for the panel, rows of the source adjacent (rs == 1: a B block row by row, an
 * im2col fill) or k adjacent (ks == 1: activations as A): the hot cases, without per-element index arithmetic. */
#define PACK16_FAST(T)                                                                                                 \
  do {                                                                                                                 \
    const T *src = (const T *)m->data;                                                                                 \
    if (m->rs == 1) {                                                                                                  \
      for (size_t kk = 0; kk < kgc; kk++, d += r * 2) {                                                                \
        const T *s0 = (const T *)(const void *)q_krow(m, k0 + 2 * kk) + r0;                                            \
        const T *s1 = 2 * kk + 1 < kc ? (const T *)(const void *)q_krow(m, k0 + 2 * kk + 1) + r0 : s0;                \
        if (2 * kk + 1 < kc)                                                                                           \
          for (size_t i = 0; i < r_eff; i++) d[2 * i] = (int16_t)(s0[i] - z), d[2 * i + 1] = (int16_t)(s1[i] - z);   \
        else                                                                                                           \
          for (size_t i = 0; i < r_eff; i++) d[2 * i] = (int16_t)(s0[i] - z), d[2 * i + 1] = 0;                      \
        for (size_t i = 2 * r_eff; i < 2 * r; i++) d[i] = 0;                                                           \
      }                                                                                                                \
    } else {                                                                                                           \
      for (size_t i = 0; i < r_eff; i++) {                                                                             \
        const T *row = src + (r0 + i) * m->rs + k0;                                                                    \
        int16_t *di = d + 2 * i;                                                                                       \
        for (size_t k = 0; k < kc; k++) di[(k / 2) * r * 2 + (k & 1)] = (int16_t)(row[k] - z);                         \
        if (kc & 1) di[(kc / 2) * r * 2 + 1] = 0;                                                                      \
      }                                                                                                                \
      for (size_t kk = 0; kk < kgc; kk++)                                                                              \
        for (size_t i = 2 * r_eff; i < 2 * r; i++) d[kk * r * 2 + i] = 0;                                              \
    }                                                                                                                  \
  } while (0)

static void pack_panel(const oxrt_qkernel *kern, bool is_a, const oxrt_qmat *m, size_t r0, size_t r_eff, size_t k0,
                       size_t kc, size_t r, void *dst, int32_t *sums) {
  size_t g = kern->g, kgc = (kc + g - 1) / g;
  if (g == 2 && (m->rs == 1 || m->ks == 1) && !(m->zp && m->zp_per_row)) {
    int16_t *d = dst;
    int32_t z = q_zp(m, 0);
    if (m->is_signed) PACK16_FAST(int8_t);
    else PACK16_FAST(uint8_t);
    return;
  }
  if (g == 2) {
    int16_t *d = dst;
    for (size_t kk = 0; kk < kgc; kk++, d += r * 2) {
      for (size_t t = 0; t < 2; t++) {
        size_t k = kk * 2 + t;
        if (k >= kc) {
          for (size_t i = 0; i < r; i++) d[2 * i + t] = 0;
          continue;
        }
        for (size_t i = 0; i < r_eff; i++) d[2 * i + t] = (int16_t)(q_elem(m, r0 + i, k0 + k) - q_zp(m, r0 + i));
        for (size_t i = r_eff; i < r; i++) d[2 * i + t] = 0;
      }
    }
    return;
  }
  int32_t shift = q_shift(kern, is_a, m->is_signed);
  uint8_t *d = dst;
  uint32_t flip = shift ? 0x80808080u : 0;
  bool to_u8 = is_a != kern->b_u8;
  if (m->rs == 1) { /* rows adjacent (a B block, an im2col fill): four source rows interleaved into k-groups,
                     * re-centred by flipping the top bit; rows past kc read as zero */
    static const uint8_t zeros[64] = {0};
#ifdef QGEMM_X86
    if (!sums && r_eff == r && r % 32 == 0 && kc <= Q_KC && oxrt_cpu_isa() >= OXRT_ISA_AVX2) { /* whole panels */
      if (m->kp) {
        oxrt_qpack_panel_avx2(m->kp + k0, r0, kc, r, flip, d);
        return;
      }
      const uint8_t *rows[Q_KC];
      for (size_t k = 0; k < kc; k++) rows[k] = q_krow(m, k0 + k);
      oxrt_qpack_panel_avx2(rows, r0, kc, r, flip, d);
      return;
    }
#endif
    for (size_t kk = 0; kk < kgc; kk++, d += r * 4) {
      const uint8_t *src[4];
      uint32_t mask = 0;
      for (size_t t = 0; t < 4; t++) {
        size_t k = kk * 4 + t;
        src[t] = k < kc ? q_krow(m, k0 + k) + r0 : NULL;
        if (k < kc) mask |= 0xffu << (8 * t);
      }
      uint32_t *d32 = (uint32_t *)(void *)d;
      size_t i = 0;
#ifdef __SSE2__
      if (!sums) { /* 16 columns at a time: two rounds of byte / word unpacking make the groups */
        __m128i fl = _mm_set1_epi32((int)flip), z = _mm_setzero_si128();
        for (; i + 16 <= r_eff; i += 16) {
          __m128i v[4];
          for (int t = 0; t < 4; t++) v[t] = src[t] ? _mm_loadu_si128((const __m128i *)(src[t] + i)) : z;
          __m128i ab0 = _mm_unpacklo_epi8(v[0], v[1]), ab1 = _mm_unpackhi_epi8(v[0], v[1]);
          __m128i cd0 = _mm_unpacklo_epi8(v[2], v[3]), cd1 = _mm_unpackhi_epi8(v[2], v[3]);
          __m128i fm = _mm_and_si128(fl, _mm_set1_epi32((int)mask)); /* padding rows stay zero */
          _mm_storeu_si128((__m128i *)(d32 + i), _mm_xor_si128(_mm_unpacklo_epi16(ab0, cd0), fm));
          _mm_storeu_si128((__m128i *)(d32 + i + 4), _mm_xor_si128(_mm_unpackhi_epi16(ab0, cd0), fm));
          _mm_storeu_si128((__m128i *)(d32 + i + 8), _mm_xor_si128(_mm_unpacklo_epi16(ab1, cd1), fm));
          _mm_storeu_si128((__m128i *)(d32 + i + 12), _mm_xor_si128(_mm_unpackhi_epi16(ab1, cd1), fm));
        }
      }
#endif
      for (; i < r_eff; i++) {
        uint32_t w = 0;
        for (size_t t = 0; t < 4; t++) w |= (uint32_t)(src[t] ? src[t][i] : zeros[0]) << (8 * t);
        w = (w ^ flip) & mask;
        d32[i] = w;
        if (!sums) continue;
        if (to_u8)
          sums[i] += (int32_t)(w & 0xff) + (int32_t)((w >> 8) & 0xff) + (int32_t)((w >> 16) & 0xff) + (int32_t)(w >> 24);
        else
          sums[i] += (int8_t)(w & 0xff) + (int8_t)((w >> 8) & 0xff) + (int8_t)((w >> 16) & 0xff) + (int8_t)(w >> 24);
      }
      for (i = r_eff; i < r; i++) d32[i] = 0;
    }
    return;
  }
  if (m->ks == 1) { /* k adjacent (activations as A, weight rows): each group is four bytes of a row */
    uint8_t f8 = (uint8_t)(flip & 0xff);
    size_t full = kc / 4, kk0 = 0;
#ifdef __SSE2__
    if (r % 4 == 0 && r <= 16) { /* four groups of four rows at a time: a 4 x 4 transpose of dwords per row quad */
      const __m128i fl = _mm_set1_epi32((int)flip), z = _mm_setzero_si128();
      for (; kk0 + 4 <= full; kk0 += 4)
        for (size_t g = 0; g < r; g += 4) {
          __m128i v[4];
          for (size_t t = 0; t < 4; t++)
            v[t] = g + t < r_eff ? _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(
                                                     (const uint8_t *)m->data + (r0 + g + t) * m->rs + k0 + kk0 * 4)),
                                                 fl)
                                 : z;
          __m128i t0 = _mm_unpacklo_epi32(v[0], v[1]), t1 = _mm_unpackhi_epi32(v[0], v[1]);
          __m128i t2 = _mm_unpacklo_epi32(v[2], v[3]), t3 = _mm_unpackhi_epi32(v[2], v[3]);
          uint8_t *dd = d + (kk0 * r + g) * 4;
          _mm_storeu_si128((__m128i *)(void *)dd, _mm_unpacklo_epi64(t0, t2));
          _mm_storeu_si128((__m128i *)(void *)(dd + r * 4), _mm_unpackhi_epi64(t0, t2));
          _mm_storeu_si128((__m128i *)(void *)(dd + r * 8), _mm_unpacklo_epi64(t1, t3));
          _mm_storeu_si128((__m128i *)(void *)(dd + r * 12), _mm_unpackhi_epi64(t1, t3));
        }
    }
#endif
    for (size_t i = 0; i < r_eff; i++) {
      const uint8_t *row = (const uint8_t *)m->data + (r0 + i) * m->rs + k0;
      for (size_t kk = kk0; kk < full; kk++) {
        uint32_t w;
        memcpy(&w, row + kk * 4, 4);
        w ^= flip;
        memcpy(d + (kk * r + i) * 4, &w, 4);
      }
      if (full < kgc) {
        uint8_t q[4] = {0, 0, 0, 0};
        for (size_t t = 0; full * 4 + t < kc && t < 4; t++) q[t] = (uint8_t)(row[full * 4 + t] ^ f8);
        memcpy(d + (full * r + i) * 4, q, 4);
      }
      if (sums) { /* in the packed domain; a separate pass so it vectorizes */
        int32_t sum = 0;
        if (to_u8)
          for (size_t k = 0; k < kc; k++) sum += (uint8_t)(row[k] ^ f8);
        else
          for (size_t k = 0; k < kc; k++) sum += (int8_t)(row[k] ^ f8);
        sums[i] += sum;
      }
    }
    for (size_t kk = 0; kk < kgc; kk++) memset(d + (kk * r + r_eff) * 4, 0, (r - r_eff) * 4);
    return;
  }
  for (size_t kk = 0; kk < kgc; kk++, d += r * 4)
    for (size_t t = 0; t < 4; t++) {
      size_t k = kk * 4 + t;
      if (k >= kc) {
        for (size_t i = 0; i < r; i++) d[4 * i + t] = 0;
        continue;
      }
      for (size_t i = 0; i < r_eff; i++) {
        int32_t v = q_elem(m, r0 + i, k0 + k) + shift;
        d[4 * i + t] = (uint8_t)v;
        if (sums) sums[i] += v;
      }
      for (size_t i = r_eff; i < r; i++) d[4 * i + t] = 0;
    }
}

void oxrt_qpack_free(oxrt_qpack *p) {
  if (!p) return;
  oxrt_aligned_free(p->data);
  free(p->sums);
  free(p->zp);
  memset(p, 0, sizeof *p);
}

static size_t esize(const oxrt_qkernel *k) { return k->g == 2 ? 2 : 1; }

/* with_sums false: the row sums stay 0 (the other operand's zero points are all 0, so nothing reads them) */
static bool qpack_make(const oxrt_qkernel *kern, bool is_a, size_t rows, size_t K, const oxrt_qmat *src,
                       oxrt_qpack *out, bool with_sums) {
  if (!kern) kern = oxrt_qgemm_kernel();
  memset(out, 0, sizeof *out);
  size_t r = is_a ? kern->mr : kern->nr, panels = (rows + r - 1) / r, kg = (K + kern->g - 1) / kern->g;
  size_t panel_bytes = kg * r * kern->g * esize(kern);
  *out = (oxrt_qpack){.kern = kern, .is_a = is_a, .rows = rows, .K = K, .kg = kg};
  out->data = oxrt_aligned_alloc(panel_bytes * (panels ? panels : 1));
  if (kern->g == 4) {
    out->sums = calloc(panels * r + 1, sizeof(int32_t));
    out->zp = calloc(panels * r + 1, sizeof(int32_t));
  }
  if (!out->data || (kern->g == 4 && (!out->sums || !out->zp))) {
    oxrt_qpack_free(out);
    return false;
  }
  for (size_t p = 0; p < panels; p++) {
    size_t r0 = p * r, r_eff = rows - r0 < r ? rows - r0 : r;
    pack_panel(kern, is_a, src, r0, r_eff, 0, K, r, (uint8_t *)out->data + p * panel_bytes,
               out->sums && with_sums ? out->sums + r0 : NULL);
  }
  if (out->zp)
    for (size_t i = 0; i < rows; i++) out->zp[i] = q_zp(src, i) + q_shift(kern, is_a, src->is_signed);
  return true;
}

bool oxrt_qpack_make(const oxrt_qkernel *kern, bool is_a, size_t rows, size_t K, const oxrt_qmat *src,
                     oxrt_qpack *out) {
  return qpack_make(kern, is_a, rows, K, src, out, true);
}

/* Every pair (k even, k + 1) of the packed int8 side within |w0| + |w1| <= 128. */
static bool pairs_fit(const oxrt_qpack *p) {
  size_t r = p->is_a ? p->kern->mr : p->kern->nr, panels = (p->rows + r - 1) / r, n = panels * p->kg * r * 4;
  const int8_t *d = p->data;
  for (size_t i = 0; i < n; i += 2) {
    int a = d[i] < 0 ? -d[i] : d[i], b = d[i + 1] < 0 ? -d[i + 1] : d[i + 1];
    if (a + b > 128) return false;
  }
  return true;
}

bool oxrt_qpack_make_weight(bool is_a, size_t rows, size_t K, const oxrt_qmat *src, oxrt_qpack *out) {
  const oxrt_qkernel *best = oxrt_qgemm_kernel();
  if (is_a && (best->id == OXRT_QK_AVX512VNNI || best->id == OXRT_QK_AVXVNNI)) {
    oxrt_qkernel_id bid = best->id == OXRT_QK_AVX512VNNI ? OXRT_QK_AVX512VNNI_B : OXRT_QK_AVXVNNI_B;
    const oxrt_qkernel *b = oxrt_qgemm_kernel_at(bid);
    if (b) best = b;
  }
  if (best->id == OXRT_QK_AVX2) {
    const oxrt_qkernel *bytes = oxrt_qgemm_kernel_at(is_a ? OXRT_QK_AVX2_BYTES_B : OXRT_QK_AVX2_BYTES_A);
    if (bytes && oxrt_qpack_make(bytes, is_a, rows, K, src, out)) {
      if (pairs_fit(out)) return true;
      oxrt_qpack_free(out);
    }
  }
  return oxrt_qpack_make(best, is_a, rows, K, src, out);
}

/* ------------------------------------------------------------------ output stage */

#define QS_NAME(x) x##_portable
#define QS_EXPORT static
#include "qgemm_store_body.h"

/* The output stage at the float kernels' level (the vector width of the store loops). */
static oxrt_qstore_fn store_fn(void) {
#ifdef QGEMM_X86
  oxrt_isa isa = oxrt_cpu_isa();
  if (isa >= OXRT_ISA_AVX512) return oxrt_qstore_row_avx512;
  if (isa >= OXRT_ISA_AVX2) return oxrt_qstore_row_avx2;
#endif
  return store_row_portable;
}

static oxrt_qres_fn res_fn(void) {
#ifdef QGEMM_X86
  oxrt_isa isa = oxrt_cpu_isa();
  if (isa >= OXRT_ISA_AVX512) return oxrt_qres_row_avx512;
  if (isa >= OXRT_ISA_AVX2) return oxrt_qres_row_avx2;
#endif
  return res_row_portable;
}

void oxrt_qgemm_store(const oxrt_qgemm_out *o, size_t i, size_t j0, size_t n, int32_t *s) {
  oxrt_qstore st = {.o = o};
  store_fn()(&st, i, 0, j0, n, s);
  if (o->res) res_fn()(o, i * o->ldc + j0, n);
}

void oxrt_qgemm_residual(const oxrt_qgemm_out *o, size_t at, size_t n) {
  if (o->res && n) res_fn()(o, at, n);
}

/* ------------------------------------------------------------------ driver */

/* With B packed beforehand (weights as B: MatMul, the transposed convolution) no B block is packed per tile, and
 * longer blocks halve the accumulator round trips (ResNet-18's 3x3 convs with weights as B 2-5% faster) */
#define Q_KC_PACKED 1152
#define Q_NC 256 /* columns per tile */
#define Q_MC 512 /* rows per tile (rounded down to the kernel's mr) */

typedef struct {
  const oxrt_qgemm_ex *g;
  const oxrt_qkernel *k;
  const oxrt_qpack *ap, *bp;
  size_t mc, nc, kc, tiles_n;
  bool need_cb; /* k-group 4 with B filled: some row of A has a packed zero point, so B's column sums count */
  bool zb_one;  /* packed B: one zero point for every column */
  oxrt_qstore_fn store;
  oxrt_qres_fn res; /* the fused residual, when out.res */
  oxrt_qukernel_q epi[3]; /* requantizing kernels for 12 / 8 / 4 rows, where the output allows them (else NULL) */
  oxrt_qukernel_t epit[3]; /* the same for a transposed per-column output (oxrt_qepi_t), else NULL */
  bool tile_pack;         /* filled B packed by oxrt_qpack_panels32_avx512 (bytes, nr 32, AVX-512) */
  int failed;
} q_plan;

static void run_tiles(void *arg, size_t t0, size_t t1) {
  q_plan *pl = arg;
  const oxrt_qgemm_ex *g = pl->g;
  const oxrt_qkernel *k = pl->k;
  const size_t mr = k->mr, nr = k->nr, G = k->g, es = esize(k), K = g->K;
  const bool g4 = G == 4, fill = !pl->bp;
  /* scratch: sums [mc][nc] int32, B block [KC/G][nc][G], raw B [KC][nc], column sums and zero points [nc] */
  size_t acc_b = pl->mc * pl->nc * 4, bblk_b = fill ? (pl->kc / G) * pl->nc * G * es : 0;
  size_t raw_b = fill ? pl->kc * pl->nc : 0;
  size_t col_b = 3 * pl->nc * 4 + 64 * 4; /* column sums, zero points, one output row (column remap) */
  size_t row_b = pl->epi[0] ? 2 * pl->mc * 4 : 0; /* the epilogue's per-row constants and scales */
  uint8_t *scr = oxrt_scratch_get(OXRT_SCRATCH_QGEMM, acc_b + bblk_b + raw_b + col_b + row_b + 64 * 4);
  if (!scr) {
    __atomic_store_n(&pl->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  int32_t *acc = (int32_t *)scr;
  uint8_t *bblk = scr + acc_b, *raw = bblk + bblk_b;
  int32_t *cb = (int32_t *)(raw + raw_b), *zb = cb + pl->nc, *orow = zb + pl->nc;
  int32_t *radd_t = (int32_t *)(void *)((uint8_t *)cb + col_b);
  float *scale_t = (float *)(void *)(radd_t + pl->mc);
  for (size_t t = t0; t < t1; t++) {
    size_t tm = t / pl->tiles_n, tn = t % pl->tiles_n;
    size_t i_beg = tm * pl->mc, i_end = i_beg + pl->mc < g->M ? i_beg + pl->mc : g->M;
    size_t j_beg = tn * pl->nc, j_end = j_beg + pl->nc < g->N ? j_beg + pl->nc : g->N;
    size_t n_cols = j_end - j_beg, n_panels = (n_cols + nr - 1) / nr, ldacc = n_panels * nr;
    if (fill && g4) memset(cb, 0, sizeof(int32_t) * ldacc);
    oxrt_qstore st = {.o = &g->out, .K = K, .corr = g4};
    if (g4) {
      if (fill) {
        for (size_t j = 0; j < n_cols; j++)
          zb[j] = (g->b.zp ? g->b.zp[g->b.zp_per_row ? j_beg + j : 0] : 0) + q_shift(k, false, g->b.is_signed);
        st.cb = cb, st.zb = zb, st.zb_one = !(g->b.zp && g->b.zp_per_row);
      } else {
        st.cb = pl->bp->sums + j_beg, st.zb = pl->bp->zp + j_beg, st.zb_one = pl->zb_one;
      }
      st.ra = pl->ap->sums + i_beg, st.za = pl->ap->zp + i_beg;
    }
    /* The requantizing epilogue in the last K block: where each row's correction is a constant (A's packed zero
     * points 0, one B zero point), as the output stage's fast path folds it; a fused residual follows per row */
    bool epi = pl->epi[0] && (!g4 || st.zb_one);
    /* transposed: no correction at all (A's packed zero points and B's all 0), every row stored by the kernels */
    bool epit = pl->epit[0] && g4 && st.zb_one && st.zb[0] == 0;
    for (size_t ti = 0; epit && ti < i_end - i_beg; ti++) epit = st.za[ti] == 0;
    for (size_t i = i_beg; epi && i < i_end; i++) {
      size_t ti = i - i_beg;
      if (g4 && st.za[ti] != 0) {
        epi = false;
        break;
      }
      int32_t radd = g->out.bias ? g->out.bias[i] : 0;
      if (g4) radd = (int32_t)((uint32_t)radd - (uint32_t)st.zb[0] * (uint32_t)st.ra[ti]);
      radd_t[ti] = radd, scale_t[ti] = g->out.n_scale == 1 ? g->out.scale[0] : g->out.scale[i];
    }
    for (size_t p0 = 0; p0 < K; p0 += pl->kc) {
      size_t kc = K - p0 < pl->kc ? K - p0 : pl->kc, kgc = (kc + G - 1) / G, g0 = p0 / G;
      if (fill) {
        oxrt_qmat rm = g->b;
        size_t r_off = 0;
        if (rm.kp) { /* k-rows in place: packed straight from them */
          rm.kp += p0;
          r_off = j_beg;
        } else {
          g->bfill(g->bctx, p0, kc, j_beg, n_cols, raw, n_cols);
          rm.data = raw, rm.rs = 1, rm.ks = n_cols;
          if (rm.zp && rm.zp_per_row) rm.zp += j_beg;
        }
        size_t q = 0;
#ifdef QGEMM_X86
        if (pl->tile_pack && !pl->need_cb && kc <= Q_KC && n_cols >= nr) { /* the whole panels in one pass */
          const uint8_t *rows[Q_KC];
          const uint8_t *const *rp = rm.kp;
          if (!rp) {
            for (size_t kr = 0; kr < kc; kr++) rows[kr] = raw + kr * n_cols;
            rp = rows;
          }
          q = n_cols / nr;
          oxrt_qpack_panels32_avx512(rp, r_off, kc, q, q_shift(k, false, rm.is_signed) ? 0x80808080u : 0, bblk,
                                     kgc * nr * G);
        }
#endif
        for (; q < n_panels; q++) {
          size_t c0 = q * nr, n_eff = n_cols - c0 < nr ? n_cols - c0 : nr;
          pack_panel(k, false, &rm, r_off + c0, n_eff, 0, kc, nr, bblk + q * kgc * nr * G * es,
                     pl->need_cb ? cb + c0 : NULL);
        }
      }
      for (size_t q = 0; q < n_panels; q++) {
        const uint8_t *b = fill ? bblk + q * kgc * nr * G * es
                                : (const uint8_t *)pl->bp->data + ((j_beg / nr + q) * pl->bp->kg + g0) * nr * G * es;
        /* Packed B (constant weights, often larger than L2) with the AVX-512 VNNI kernel: the panel after this one
         * is prefetched into L2 by the kernels that read this one, a slice each, one line per k-group, so its first
         * reader does not wait on memory (ResNet-18's layer4 with cold caches 0.72 -> 0.64 ms; prefetched in bursts
         * between the calls instead, the bursts stalled for 4% of ResNet-18's time) */
        const uint8_t *pf = NULL;
        size_t pf_lines = 0;
        if (!fill && k->id == OXRT_QK_AVX512VNNI) {
          size_t lines = kgc * nr * G * es / 64, na = (i_end - i_beg + mr - 1) / mr;
          if (q + 1 < n_panels) pf = b + pl->bp->kg * nr * G * es;
          else if (p0 + kc < K)
            pf = (const uint8_t *)pl->bp->data + ((j_beg / nr) * pl->bp->kg + g0 + kgc) * nr * G * es;
          else if (j_end < g->N) pf = (const uint8_t *)pl->bp->data + (j_end / nr) * pl->bp->kg * nr * G * es;
          pf_lines = (lines + na - 1) / na;
          if (pf_lines > kgc) pf_lines = kgc;
        }
        for (size_t i0 = i_beg; i0 < i_end; i0 += mr, pf = pf ? pf + pf_lines * 64 : NULL) {
          const uint8_t *a = (const uint8_t *)pl->ap->data + ((i0 / mr) * pl->ap->kg + g0) * mr * G * es;
          size_t rows = i_end - i0; /* a short last panel: its zero rows not multiplied */
          if (epit && p0 + kc == K) {
            size_t n_eff = n_cols - q * nr < nr ? n_cols - q * nr : nr, j0 = j_beg + q * nr;
            const oxrt_qgemm_out *o = &g->out;
            oxrt_qepi_t e = {(uint8_t *)o->C + j0 * o->ldc + i0, o->ldc, o->bias ? o->bias + j0 : NULL,
                             o->n_scale == 1 ? o->scale : o->scale + j0, o->n_scale == 1, (float)(o->lo - o->zp),
                             (float)(o->hi - o->zp), o->zp, n_eff >= 16 ? 0xffffu : (1u << n_eff) - 1,
                             n_eff >= 32 ? 0xffffu : n_eff > 16 ? (1u << (n_eff - 16)) - 1 : 0,
                             (uint32_t)(rows < mr ? rows : mr), pf, pf ? pf_lines : 0};
            pl->epit[rows > 8 ? 0 : rows > 4 ? 1 : 2](kgc, a, b, acc + (i0 - i_beg) * ldacc + q * nr, ldacc, p0 > 0,
                                                      &e);
            continue;
          }
          if (epi && p0 + kc == K && (rows >= 12 || rows == 8 || rows == 4)) { /* it stores exactly its rows */
            size_t n_eff = n_cols - q * nr < nr ? n_cols - q * nr : nr, jp = j_beg + q * nr;
            uint8_t *yrow = (uint8_t *)g->out.C + i0 * g->out.ldc, *y1 = yrow + jp, *y2 = yrow;
            uint32_t b1 = n_eff >= 32 ? 0xffffffffu : (1u << n_eff) - 1, b2 = 0;
            const oxrt_qcols cl = g->out.cols;
            if (cl.seg) { /* seg >= 32: at most one pad gap in the panel; columns past it go through y2 */
              size_t in = jp % cl.seg, jb = jp - in + cl.seg, n1 = in < cl.keep ? cl.keep - in : 0;
              if (n1 > n_eff) n1 = n_eff;
              b1 = n1 >= 32 ? 0xffffffffu : (1u << n1) - 1;
              y1 = yrow + (jp / cl.seg) * cl.keep + in;
              if (jb < jp + n_eff) {
                size_t t0 = jb - jp, n2 = n_eff - t0 < cl.keep ? n_eff - t0 : cl.keep;
                b2 = (n2 >= 32 ? 0xffffffffu : (1u << n2) - 1) << t0;
                y2 = (uint8_t *)((uintptr_t)yrow + (jb / cl.seg) * cl.keep - t0); /* bits from t0 on land there */
              }
            }
            oxrt_qepi e = {y1, g->out.ldc, radd_t + (i0 - i_beg), scale_t + (i0 - i_beg),
                           (float)(g->out.lo - g->out.zp), (float)(g->out.hi - g->out.zp), g->out.zp, b1 & 0xffffu,
                           b1 >> 16, y2, b2 & 0xffffu, b2 >> 16};
            pl->epi[rows > 8 ? 0 : rows > 4 ? 1 : 2](kgc, a, b, acc + (i0 - i_beg) * ldacc + q * nr, ldacc, p0 > 0, &e);
            continue;
          }
#ifdef QGEMM_X86
          if (pf && rows >= 12) {
            oxrt_qukernel_avx512vnni_pf(kgc, a, b, acc + (i0 - i_beg) * ldacc + q * nr, ldacc, p0 > 0, pf, pf_lines);
            continue;
          }
#endif
          oxrt_qukernel run = rows > 8 || !k->run8 ? k->run : rows > 4 ? k->run8 : k->run4;
          run(kgc, a, b, acc + (i0 - i_beg) * ldacc + q * nr, ldacc, p0 > 0);
        }
      }
    }
    if (epit) continue; /* every row stored */
    size_t i_from = i_beg;
    if (epi) { /* stored by the kernels (the fused residual still to add), but for a last panel of other than 4 or
                * 8 rows */
      size_t tail = (i_end - i_beg) % mr, done = tail == 0 || tail == 4 || tail == 8 ? i_end : i_end - tail;
      size_t r_at = j_beg, r_n = n_cols; /* the tile's output columns (its kept ones, with dropped pad columns) */
      const oxrt_qcols cl = g->out.cols;
      if (cl.seg && g->out.res) {
        size_t jf = j_beg % cl.seg < cl.keep ? j_beg : j_beg - j_beg % cl.seg + cl.seg, jl = j_end - 1;
        if (jl % cl.seg >= cl.keep) jl = jl - jl % cl.seg + cl.keep - 1;
        r_n = 0;
        if (jf <= jl && jf < j_end) {
          r_at = (jf / cl.seg) * cl.keep + jf % cl.seg;
          r_n = (jl / cl.seg) * cl.keep + jl % cl.seg + 1 - r_at;
        }
      }
      for (size_t i = i_beg; g->out.res && r_n && i < done; i++) pl->res(&g->out, i * g->out.ldc + r_at, r_n);
      if (done == i_end) continue;
      i_from = done;
    }
    const oxrt_qcols cols = g->out.cols;
    for (size_t i = i_from; i < i_end; i++) {
      int32_t *s = acc + (i - i_beg) * ldacc;
      if (g->out.transposed) { /* the row, then its elements down column i of C */
        oxrt_qgemm_out row_out = g->out;
        size_t es = g->out.kind == OXRT_QOUT_I32 || g->out.kind == OXRT_QOUT_F32 ? 4 : 1;
        row_out.C = orow, row_out.ldc = 0, row_out.res = NULL;
        if (!g->out.per_row) { /* per-column vectors from column j_beg on, the row stored from orow[0] */
          if (row_out.bias) row_out.bias += j_beg;
          if (row_out.fbias) row_out.fbias += j_beg;
          if (row_out.scale && row_out.n_scale != 1) row_out.scale += j_beg;
        }
        oxrt_qstore rst = st;
        rst.o = &row_out, rst.cb = st.cb, rst.zb = st.zb;
        pl->store(&rst, i, i - i_beg, 0, n_cols, s);
        for (size_t j = 0; j < n_cols; j++)
          memcpy((uint8_t *)g->out.C + ((j_beg + j) * g->out.ldc + i) * es, (const uint8_t *)orow + j * es, es);
        continue;
      }
      if (!cols.seg) {
        pl->store(&st, i, i - i_beg, j_beg, n_cols, s);
        if (g->out.res) pl->res(&g->out, i * g->out.ldc + j_beg, n_cols);
        continue;
      }
      /* the whole row into orow, then the kept part of each segment to its place */
      oxrt_qgemm_out row_out = g->out;
      size_t es = g->out.kind == OXRT_QOUT_I32 || g->out.kind == OXRT_QOUT_F32 ? 4 : 1;
      row_out.C = orow, row_out.ldc = 0; /* row i lands at orow (per-row vectors still indexed by i) */
      oxrt_qstore rst = st;
      rst.o = &row_out;
      pl->store(&rst, i, i - i_beg, 0, n_cols, s);
      size_t res_at = 0, res_end = 0;
      for (size_t j = j_beg; j < j_end;) {
        size_t in_seg = j % cols.seg, seg_end = j - in_seg + cols.seg, stop = seg_end < j_end ? seg_end : j_end;
        if (in_seg < cols.keep) {
          size_t n = (cols.keep < stop - j + in_seg ? cols.keep - in_seg : stop - j);
          size_t at = i * g->out.ldc + (j / cols.seg) * cols.keep + in_seg;
          memcpy((uint8_t *)g->out.C + at * es, (const uint8_t *)orow + (j - j_beg) * es, n * es);
          if (res_end == 0) res_at = at;
          res_end = at + n; /* kept segments of one row land next to each other */
        }
        j = stop;
      }
      if (g->out.res && res_end > res_at) pl->res(&g->out, res_at, res_end - res_at);
    }
  }
}

bool oxrt_qgemm_run(const oxrt_qgemm_ex *g, oxrt_threadpool *pool) {
  if (g->M == 0 || g->N == 0) return true;
  const oxrt_qkernel *k = g->ap ? g->ap->kern : g->bp ? g->bp->kern : g->kern ? g->kern : oxrt_qgemm_kernel();
  oxrt_qpack apk = {0}, bpk = {0};
  const oxrt_qpack *ap = g->ap, *bp = g->bp;
  bool ok = true;
  if (!ap) { /* A's row sums count only where B has a packed zero point */
    bool sums = !g->bp || k->g != 4;
    for (size_t j = 0; !sums && j < g->N; j++) sums = g->bp->zp[j] != 0;
    ok = qpack_make(k, true, g->M, g->K, &g->a, &apk, sums);
    ap = &apk;
  }
  if (ok && !bp && !g->bfill && !g->b.kp) {
    ok = oxrt_qpack_make(k, false, g->N, g->K, &g->b, &bpk);
    bp = &bpk;
  }
  if (ok && (ap->kern != k || (bp && bp->kern != k))) ok = false; /* packed for another kernel: caller's bug */
  if (ok) {
    q_plan pl = {.g = g, .k = k, .ap = ap, .bp = bp};
    for (size_t i = 0; k->g == 4 && !bp && i < g->M && !pl.need_cb; i++) pl.need_cb = ap->zp[i] != 0;
    pl.zb_one = k->g == 4 && bp;
    for (size_t j = 1; pl.zb_one && j < g->N; j++) pl.zb_one = bp->zp[j] == bp->zp[0];
    pl.store = store_fn();
    pl.res = res_fn();
#ifdef QGEMM_X86
    pl.tile_pack = k->g == 4 && k->nr == 32 && oxrt_cpu_isa() >= OXRT_ISA_AVX512;
#endif
#ifdef QGEMM_X86
    const oxrt_qgemm_out *o = &g->out;
    if (k->id == OXRT_QK_AVX512VNNI_B && (o->kind == OXRT_QOUT_U8 || o->kind == OXRT_QOUT_S8) && o->per_row &&
        (!o->cols.seg || o->cols.seg >= k->nr) && !o->transposed && o->scale &&
        (o->n_scale == 1 || o->n_scale >= g->M) && oxrt_cpu_isa() >= OXRT_ISA_AVX512) {
      pl.epi[0] = oxrt_qukernel_avx512vnni_b_q12, pl.epi[1] = oxrt_qukernel_avx512vnni_b_q8;
      pl.epi[2] = oxrt_qukernel_avx512vnni_b_q4;
    }
    if (k->id == OXRT_QK_AVX512VNNI && (o->kind == OXRT_QOUT_U8 || o->kind == OXRT_QOUT_S8) && o->transposed &&
        !o->per_row && !o->res && o->scale && (o->n_scale == 1 || o->n_scale >= g->N) &&
        oxrt_cpu_isa() >= OXRT_ISA_AVX512) {
      pl.epit[0] = oxrt_qukernel_avx512vnni_t12, pl.epit[1] = oxrt_qukernel_avx512vnni_t8;
      pl.epit[2] = oxrt_qukernel_avx512vnni_t4;
    }
#endif
    pl.nc = Q_NC;
    size_t kcmax = bp ? Q_KC_PACKED : Q_KC;
    size_t kb = (g->K + kcmax - 1) / kcmax; /* K blocks of even size (a multiple of 4): no short last block */
    pl.kc = ((g->K + kb - 1) / kb + 3) / 4 * 4;
    pl.mc = (Q_MC / k->mr) * k->mr;
    size_t threads = pool ? (size_t)oxrt_threadpool_size(pool) : 1;
    /* Enough tiles for every thread: narrow the row blocks when the columns alone do not split enough. */
    size_t tn = (g->N + pl.nc - 1) / pl.nc;
    while (threads > 1 && tn * ((g->M + pl.mc - 1) / pl.mc) < 4 * threads && pl.mc > 2 * k->mr)
      pl.mc = ((pl.mc / 2 + k->mr - 1) / k->mr) * k->mr;
    if (pl.mc > ((g->M + k->mr - 1) / k->mr) * k->mr) pl.mc = ((g->M + k->mr - 1) / k->mr) * k->mr;
    pl.tiles_n = tn;
    size_t tiles = tn * ((g->M + pl.mc - 1) / pl.mc);
    double work = (double)g->M * (double)g->N * (double)g->K;
    if (work < 262144.0 || threads == 1) run_tiles(&pl, 0, tiles);
    else oxrt_parallel_for(pool, tiles, 1, run_tiles, &pl);
    ok = !pl.failed;
  }
  oxrt_qpack_free(&apk);
  oxrt_qpack_free(&bpk);
  return ok;
}
