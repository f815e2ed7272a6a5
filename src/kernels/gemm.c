/* gemm.c - packed, cache-blocked, threaded GEMM driver with run-time ISA selection.
 *
 * Layout of the float path (row-major C = A * B):
 *   Work is split into tiles of C (a grid of whole MR-row and NR-column panels); each tile walks K in blocks
 *   of KC, packs its B block (KC x tile columns) into NR-column panels Bp[panel][k][NR] that stay in L2, packs
 *   its rows MR at a time into A micro-panels Ap[k][m] (m = the panel's rows, no padding) kept in L1, and each
 *   A micro-panel streams over the B panels with the micro-kernel. Pre-packed A or B are read in place.
 * The micro-kernels take 1..MR rows and mask columns past n, so edge tiles need no scratch tile. */
#include "gemm.h"
#include "scratch.h"
#include "../core/value.h"
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define OXRT_GEMM_X86 1
#endif

/* ------------------------------------------------------------------ ISA selection */

/* The ISA level comes from core/cpu.c (oxrt_cpu_isa). */

/* ------------------------------------------------------------------ portable micro-kernel */

/* 6 x 8: twelve 4-wide sums and two B vectors leave one of SSE2's 16 registers (the x86-64 baseline) for the A
 * value. SSE2 has no broadcast load: a broadcast is a load and a shuffle, and six shuffles per twelve multiplies
 * and twelve adds held the kernel to 0.7x of a kernel without them. So with GCC and Clang the portable path is
 * gemm_body.h on generic 4-float vectors (SSE, NEON, ...) reading A pre-broadcast, each value stored P_VW times
 * (P_ADUP) by the packing of the A micro-panel, which every B micro-panel of the block then reuses; other
 * compilers get plain loops on a compact A. */
#define P_MR 6
#define P_NR 8

#if defined(__GNUC__)
#define P_VW 4
#define P_ADUP P_VW
typedef float pvec __attribute__((vector_size(16)));
typedef int32_t pveci __attribute__((vector_size(16)));
static inline pvec pv_load(const float *p) {
  pvec v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void pv_store(float *p, pvec v) { memcpy(p, &v, sizeof v); }
static inline pvec pv_splat(float x) { return (pvec){x, x, x, x}; }
/* the first n <= P_VW floats at p, zero above (rows that end inside a vector); nothing past them is touched */
static inline pvec pv_load_n(const float *p, size_t n) {
  float t[P_VW] = {0};
  memcpy(t, p, sizeof(float) * n);
  return pv_load(t);
}
static inline void pv_store_n(float *p, size_t n, pvec v) {
  float t[P_VW];
  pv_store(t, v);
  memcpy(p, t, sizeof(float) * n);
}
/* a where the mask is set, else b */
static inline pvec pv_select(pveci mask, pvec a, pvec b) { return (pvec)((mask & (pveci)a) | (~mask & (pveci)b)); }
static inline pvec pv_min(pvec a, pvec b) { return pv_select(a < b, a, b); } /* b when either is NaN, as x86 minps */
static inline pvec pv_max(pvec a, pvec b) { return pv_select(a > b, a, b); }
static inline float pv_hsum(pvec v) { return (v[0] + v[1]) + (v[2] + v[3]); }
static inline void gb_transpose(pvec r[P_VW]) {
  float t[P_VW][P_VW];
  for (int i = 0; i < P_VW; i++) pv_store(t[i], r[i]);
  for (int j = 0; j < P_VW; j++) r[j] = (pvec){t[0][j], t[1][j], t[2][j], t[3][j]};
}

#define GB_EXPORT static __attribute__((unused)) /* sgemv_n_portable is not called */
#define GB_UKERNEL ukernel_portable
#define GB_PACK pack_portable
#define GB_GEMV_T sgemv_t_portable
#define GB_GEMV_N sgemv_n_portable
#define GB_V pvec
#define GB_VW P_VW
#define GB_MR P_MR
#define GB_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define GB_KERNELS(X) X(1) X(2) X(3) X(4) X(5) X(6)
#define GB_M size_t
#define GB_MASK(n) ((size_t)(n) < P_VW ? (size_t)(n) : (size_t)P_VW)
#define GB_ZERO() ((pvec){0, 0, 0, 0})
#define GB_BCAST(p) pv_splat(*(p))
#define GB_ADUP P_ADUP
#define GB_ABCAST(p) pv_load(p) /* A is stored pre-broadcast */
#define GB_LOAD(p) pv_load(p)
#define GB_STORE(p, v) pv_store(p, v)
#define GB_LOAD_M(p, m) pv_load_n(p, m)
#define GB_STORE_M(p, m, v) pv_store_n(p, m, v)
#define GB_FMA(a, b, c) ((a) * (b) + (c))
#define GB_MUL(a, b) ((a) * (b))
#define GB_ADD(a, b) ((a) + (b))
#define GB_MIN pv_min
#define GB_MAX pv_max
#define GB_HSUM pv_hsum
#define GB_PREFETCH_B 0
#define GB_PREFETCH_C 0
#define GB_UNROLL _Pragma("GCC unroll 2")
#include "gemm_body.h"

/* A micro-panel pre-broadcast: dst[(k*rows + r)*P_VW + l] = src(r, k) for every lane l (src(r, k) as in the
 * packing contract of gemm.h). */
static void pack_a_bcast(bool contiguous, const float *src, size_t ld, size_t rows, size_t kc, float *dst) {
  for (size_t k = 0; k < kc; k++)
    for (size_t r = 0; r < rows; r++, dst += P_VW)
      pv_store(dst, pv_splat(contiguous ? src[k * ld + r] : src[r * ld + k]));
}
/* A pre-packed (compact) A micro-panel of n floats, pre-broadcast. */
static void expand_a_bcast(const float *src, size_t n, float *dst) {
  for (size_t e = 0; e < n; e++, dst += P_VW) pv_store(dst, pv_splat(src[e]));
}
#else
#define P_ADUP 1
static void ukernel_portable(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc, float alpha,
                             float beta, const oxrt_sgemm_epi *epi, size_t m, size_t n) {
  float acc[P_MR][P_NR];
  memset(acc, 0, sizeof acc);
  for (size_t k = 0; k < kc; k++, a += m, b += ldb)
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++) acc[i][j] += a[i] * b[j];
  for (size_t i = 0; i < m; i++) {
    float *ci = c + i * ldc;
    for (size_t j = 0; j < n; j++) {
      float v = beta == 0 ? alpha * acc[i][j] : alpha * acc[i][j] + beta * ci[j];
      if (epi) {
        if (epi->bias) v += epi->bias[i];
        if (epi->bias_col) v += epi->bias_col[j];
        if (epi->z) v += epi->z[i * epi->ldz + j];
        if (epi->clamp) v = v < epi->lo ? epi->lo : v > epi->hi ? epi->hi : v;
      }
      ci[j] = v;
    }
  }
}

/* Same contract as oxrt_sgemm_pack_avx512. */
static void pack_portable(bool contiguous, const float *src, size_t ld, size_t rows, size_t width, size_t kc,
                          float *dst) {
  if (contiguous) {
    for (size_t k = 0; k < kc; k++, src += ld, dst += width) {
      size_t r = 0;
      for (; r < rows; r++) dst[r] = src[r];
      for (; r < width; r++) dst[r] = 0;
    }
    return;
  }
  for (size_t r = 0; r < rows; r++)
    for (size_t k = 0; k < kc; k++) dst[k * width + r] = src[r * ld + k];
  for (size_t k = 0; k < kc; k++)
    for (size_t r = rows; r < width; r++) dst[k * width + r] = 0;
}
#endif

/* Blocking (Goto & van de Geijn; BLIS). Per tile and K block, a KC x NC block of B is packed once and stays in
 * L2; the tile's rows are packed MR at a time into an A micro-panel (MR x KC, in L1) that then meets every
 * KC x NR micro-panel of the B block, streamed from L2 with a software prefetch ahead of the loads. MC is only
 * the granularity of A packing. AVX-512 sizes for 48 KiB L1d / 2 MiB L2 per core (Sapphire Rapids): the A
 * micro-panel 12 x 256 floats is 12 KiB, the B block 256 x 1024 floats 1 MiB. AVX2 sizes for 32 KiB L1d /
 * 512 KiB L2 (Zen 2/3, Skylake): 6 x 256 (6 KiB) and 256 x 512 (512 KiB). At AVX-512, NC then shrinks so that the
 * B block is at most half of this core's L2 (oxrt_cpu_l2_bytes): Zen 4's 1 MiB L2 takes 512 columns (bfloat16
 * BERT FFN products 2-4% faster than with 1024, float level). */
typedef struct {
  oxrt_sgemm_ukernel kern;
  oxrt_sgemm_packer pack;
  size_t mr, nr, kc, mc, nc;
  size_t a_dup; /* floats per A value in the kernel's A micro-panel: 1, or P_ADUP (pre-broadcast, portable) */
  size_t kpack; /* k-steps per 32-bit unit of a panel: 1 (float), 2 (bfloat16 pairs; kc, mc in k-steps) */
} ukernel_desc;

bool oxrt_sgemm_bf16_native(void) {
#ifdef OXRT_GEMM_X86
  return oxrt_cpu_isa() == OXRT_ISA_AVX512 && oxrt_cpu_usable(OXRT_CPU_AVX512BF16);
#else
  return false;
#endif
}

/* Units of a panel row holding k k-steps. */
static inline size_t kunits(const ukernel_desc *uk, size_t k) { return (k + uk->kpack - 1) / uk->kpack; }

static ukernel_desc pick_kernel_for(bool bf16) {
  ukernel_desc d = {ukernel_portable, pack_portable, P_MR, P_NR, 256, 64, 512, P_ADUP, 1};
#ifdef OXRT_GEMM_X86
  switch (oxrt_cpu_isa()) {
  case OXRT_ISA_AVX512:
    d = (ukernel_desc){oxrt_sgemm_ukernel_avx512, oxrt_sgemm_pack_avx512, 12, 32, 256, 288, 1024, 1, 1};
    /* bfloat16: the same 12 x 32 tile over units of two k-steps. Its K block is the float kernel's 256 k-steps
     * (half the bytes), so partial sums are added into C at the same k as the float GEMM's and the result equals
     * it on bf16-rounded inputs for every K (512 measured no faster on BERT's shapes) */
    if (bf16 && oxrt_sgemm_bf16_native())
      d = (ukernel_desc){oxrt_sgemm_ukernel_avx512bf16, oxrt_sgemm_pack_avx512bf16, 12, 32, 256, 288, 1024, 1, 2};
    {
      size_t cols = oxrt_cpu_l2_bytes() / 2 / (kunits(&d, d.kc) * sizeof(float)) / d.nr * d.nr;
      if (cols >= 4 * d.nr && cols < d.nc) d.nc = cols;
    }
    break;
  case OXRT_ISA_AVX2: d = (ukernel_desc){oxrt_sgemm_ukernel_avx2, oxrt_sgemm_pack_avx2, 6, 16, 256, 120, 512, 1, 1};
    break;
  default: break;
  }
#endif
  (void)bf16;
  return d;
}

static ukernel_desc pick_kernel(void) { return pick_kernel_for(false); }

/* ------------------------------------------------------------------ packing */

/* First row of row panel p of P = ceil(M/mr) (p = P gives M). Panels are mr rows, except that a short last panel
 * (under mr/2 rows) shares the last 2*mr-ish rows evenly with the one before it: a kernel on one or two rows is
 * bound by the latency of its few sums (49 rows at mr 6: 8 x 6 + 1 ran the single row at a quarter of the speed;
 * now 7 x 6 + 4 + 3). Pre-packed A uses the same panels (each at data + first row * K). */
static size_t panel_row(size_t p, size_t P, size_t M, size_t mr) {
  if (p + 1 < P) return p * mr;
  if (p >= P) return M;
  size_t tail = M - (P - 1) * mr; /* rows of the last mr-aligned panel */
  if (P < 2 || 2 * tail >= mr) return p * mr;
  return (P - 2) * mr + (mr + tail + 1) / 2;
}

/* Rows [i0, i0+m) and K range [p0, p0+kc) of op(A) into one panel dst[k*m + i] (m <= mr: the last panel of a
 * matrix is as tall as its rows, with no padding, so the micro-kernel for m rows reads it directly); for the
 * kernel (bcast) in its own layout, pre-broadcast where a_dup > 1. */
static void pack_a_panel(const ukernel_desc *uk, bool bcast, bool ta, const float *A, size_t lda, size_t i0, size_t m,
                         size_t p0, size_t kc, float *dst) {
  const float *src = ta ? A + p0 * lda + i0 : A + i0 * lda + p0;
#if P_ADUP > 1
  if (bcast && uk->a_dup > 1) {
    pack_a_bcast(ta, src, lda, m, kc, dst);
    return;
  }
#endif
  (void)bcast;
  uk->pack(ta, src, lda, m, m, kc, dst);
}

/* Columns [j0, j0+n_eff) and rows [p0, p0+kc) of op(B) into dst[k*nr + j]; columns past n_eff are zero. */
static void pack_b_panel(const ukernel_desc *uk, bool tb, const float *B, size_t ldb, size_t p0, size_t kc, size_t j0,
                         size_t n_eff, float *dst) {
  if (tb) uk->pack(false, B + j0 * ldb + p0, ldb, n_eff, uk->nr, kc, dst);
  else uk->pack(true, B + p0 * ldb + j0, ldb, n_eff, uk->nr, kc, dst);
}

/* Columns [j_beg, j_end) and rows [p0, p0+kc) of a plain B into its NR-column panels dst[q][k][nr], a few rows of
 * B at a time across every panel: each B row is then read front to back (one sequential stream per row, which the
 * hardware prefetcher follows) instead of a 64-byte piece per row down all kc rows, panel by panel. */
static inline void copy_panel_rows(const float *src, size_t ld, size_t kn, size_t nr, float *dst) {
  for (size_t k = 0; k < kn; k++, src += ld, dst += nr) memcpy(dst, src, sizeof(float) * nr);
}

static void pack_b_block(const ukernel_desc *uk, const float *B, size_t ldb, size_t p0, size_t kc, size_t j_beg,
                         size_t j_end, float *dst) {
  const size_t nr = uk->nr, rows = 8;
  for (size_t k = 0; k < kc; k += rows) {
    size_t kn = kc - k < rows ? kc - k : rows;
    for (size_t j0 = j_beg, q = 0; j0 < j_end; j0 += nr, q++) {
      const float *src = B + (p0 + k) * ldb + j0;
      float *d = dst + q * kc * nr + k * nr;
      if (uk->kpack > 1) { /* bfloat16: converted (rows is even, so k stays on a unit boundary) */
        uk->pack(true, src, ldb, j_end - j0 < nr ? j_end - j0 : nr, nr, kn, dst + q * kunits(uk, kc) * nr + k / 2 * nr);
        continue;
      }
      switch (j_end - j0 >= nr ? nr : 0) { /* whole panels: fixed-size copies the compiler inlines */
      case 8: copy_panel_rows(src, ldb, kn, 8, d); break;
      case 16: copy_panel_rows(src, ldb, kn, 16, d); break;
      case 32: copy_panel_rows(src, ldb, kn, 32, d); break;
      default: uk->pack(true, src, ldb, j_end - j0 < nr ? j_end - j0 : nr, nr, kn, d);
      }
    }
  }
}

/* ------------------------------------------------------------------ driver */

/* Tiles of C form a tiles_m x tiles_n grid over the MR-row and NR-column panels, split as evenly as whole panels
 * allow (tile t covers panels [t*P/T, (t+1)*P/T)). */
typedef struct {
  ukernel_desc uk;
  const oxrt_sgemm_ex *g;
  size_t m_panels, n_panels, tiles_m, tiles_n;
  size_t kc_max;  /* K block */
  size_t k_parts; /* > 1: K split over threads, part p > 0 summed into parts + (p-1)*M*N, added to C afterwards */
  float *parts;
  bool b_direct;  /* B read in place (one row panel of A, B not transposed): packing it would not pay */
  atomic_int failed;
  /* The caller's stop check (oxrt_parallel_stop_swap), also asked between the row blocks of a tile: a tile of a
   * large product is seconds of work under a sanitizer (2048 x 512 x 4096), and parallel_for asks only between
   * tiles. Once it answers true the remaining work is skipped; the caller (the executor) reports the node
   * cancelled. */
  oxrt_stop_check stop;
  atomic_bool stopped;
} sgemm_plan;

static bool plan_stopped(sgemm_plan *pl) {
  if (atomic_load_explicit(&pl->stopped, memory_order_relaxed)) return true;
  if (!pl->stop.fn || !pl->stop.fn(pl->stop.arg)) return false;
  atomic_store_explicit(&pl->stopped, true, memory_order_relaxed);
  return true;
}

/* One row of the epilogue; restrict and the vectorizer forced on: the cost model at -O2 leaves these scalar. */
#if defined(__GNUC__) && !defined(__clang__)
#define EPI_VEC __attribute__((optimize("tree-vectorize")))
#else
#define EPI_VEC
#endif
EPI_VEC static void epi_row(float *restrict ci, const float *restrict bc, const float *restrict zi, size_t n, float b,
                            bool has_b) {
  if (bc) { /* the micro-kernel's order: row bias, column bias, residual */
    if (zi)
      for (size_t j = 0; j < n; j++) ci[j] = ((ci[j] + b) + bc[j]) + zi[j];
    else
      for (size_t j = 0; j < n; j++) ci[j] = (ci[j] + b) + bc[j];
  } else if (zi) {
    for (size_t j = 0; j < n; j++) ci[j] = (ci[j] + b) + zi[j];
  } else if (has_b) {
    for (size_t j = 0; j < n; j++) ci[j] += b;
  }
}

static oxrt_activation act_of(const oxrt_sgemm_ex *g) { return (oxrt_activation){g->act, g->act_a, g->act_b}; }

/* Bias, residual and activation over an m_eff x n_eff block of C that the micro-kernel has just finished. */
static void epilogue(float *c, size_t ldc, size_t m_eff, size_t n_eff, const float *bias, const float *bias_col,
                     const float *z, size_t ldz, oxrt_activation act) {
  for (size_t i = 0; i < m_eff; i++) {
    epi_row(c + i * ldc, bias_col, z ? z + i * ldz : NULL, n_eff, bias ? bias[i] : 0.0f, bias != NULL);
    if (act.kind != OXRT_ACT_NONE) oxrt_act_apply(act, c + i * ldc, n_eff);
  }
}

/* The epilogue over rows [i0, i0+m) and columns [j0, j0+n) of g's C, if g asks for one. */
static void epilogue_at(const oxrt_sgemm_ex *g, size_t i0, size_t j0, size_t m, size_t n) {
  if (!g->bias && !g->bias_col && !g->Z && g->act == OXRT_ACT_NONE) return;
  epilogue(g->C + i0 * g->ldc + j0, g->ldc, m, n, g->bias ? g->bias + i0 : NULL, g->bias_col ? g->bias_col + j0 : NULL,
           g->Z ? g->Z + i0 * g->ldz + j0 : NULL, g->ldz, act_of(g));
}

/* Out of memory for the B block with plain operands: the same tiles with dot products, which need no scratch. */
static void tile_range(size_t t, size_t tiles, size_t panels, size_t w, size_t limit, size_t *beg, size_t *end) {
  *beg = t * panels / tiles * w;
  *end = (t + 1) * panels / tiles * w;
  if (*end > limit) *end = limit;
}

/* Row panels [*pb, *pe) of row tile t. */
static void row_tile(const sgemm_plan *pl, size_t t, size_t *pb, size_t *pe) {
  *pb = t * pl->m_panels / pl->tiles_m;
  *pe = (t + 1) * pl->m_panels / pl->tiles_m;
}

static void tiles_unpacked(const sgemm_plan *pl, size_t t0, size_t t1) {
  const oxrt_sgemm_ex *g = pl->g;
  for (size_t t = t0; t < t1; t++) {
    size_t pb, pe, j_beg, j_end;
    row_tile(pl, t / pl->tiles_n, &pb, &pe);
    size_t i_beg = panel_row(pb, pl->m_panels, g->M, pl->uk.mr), i_end = panel_row(pe, pl->m_panels, g->M, pl->uk.mr);
    tile_range(t % pl->tiles_n, pl->tiles_n, pl->n_panels, pl->uk.nr, g->N, &j_beg, &j_end);
    for (size_t i = i_beg; i < i_end; i++) {
      for (size_t n = j_beg; n < j_end; n++) {
        float s = 0;
        for (size_t k = 0; k < g->K; k++)
          s += (g->trans_a ? g->A[k * g->lda + i] : g->A[i * g->lda + k]) *
               (g->trans_b ? g->B[n * g->ldb + k] : g->B[k * g->ldb + n]);
        float *c = g->C + i * g->ldc + n;
        *c = g->beta == 0 ? g->alpha * s : g->alpha * s + g->beta * *c;
      }
      epilogue_at(g, i, j_beg, 1, j_end - j_beg);
    }
  }
}

/* Per-thread B block, kept between calls (scratch.c: a fresh multi-100-KiB block per call costs page faults and
 * cold cache lines every time). */
static float *scratch_get(size_t n) { return oxrt_scratch_get(OXRT_SCRATCH_GEMM, sizeof(float) * n); }

static void run_tiles(void *arg, size_t t0, size_t t1) {
  sgemm_plan *pl = arg;
  const oxrt_sgemm_ex *g = pl->g;
  const ukernel_desc *uk = &pl->uk;
  const size_t mr = uk->mr, nr = uk->nr, KC = pl->kc_max, K = g->K, M = g->M, N = g->N, P = pl->m_panels;
  /* the B block of one tile and K block (none with B pre-packed or in place), then the A row block */
  size_t max_np = (pl->n_panels + pl->tiles_n - 1) / pl->tiles_n;
  size_t max_mp = (pl->m_panels + pl->tiles_m - 1) / pl->tiles_m;
  size_t mc_panels = uk->mc / mr < max_mp ? uk->mc / mr : max_mp;
  /* A pre-packed is read in place, unless the kernel wants it pre-broadcast (a_dup > 1): then it is expanded */
  const size_t ad = uk->a_dup;
  const bool a_in_place = g->ap && ad == 1;
  const size_t KU = kunits(uk, KC); /* units per panel row of a K block (KC k-steps) */
  size_t bfloats = g->bp || pl->b_direct ? 0 : KU * max_np * nr, afloats = a_in_place ? 0 : KU * mc_panels * mr * ad;
  /* bfloat16 with a gathered B (im2col): one float panel gathered, then converted */
  size_t ffloats = uk->kpack > 1 && g->bfill && !g->bp ? KC * nr : 0;
  float *bbuf = scratch_get(bfloats + afloats + ffloats + 16); /* never 0: a fresh thread has no buffer yet */
  if (!bbuf) {
    if (!g->ap && !g->bp && !g->bfill && pl->k_parts == 1) tiles_unpacked(pl, t0, t1);
    else atomic_store(&pl->failed, 1);
    return;
  }
  float *abuf = bbuf + bfloats, *fbuf = abuf + afloats;
  const size_t KUall = kunits(uk, K);
  const bool has_epi = g->bias || g->bias_col || g->Z || g->act != OXRT_ACT_NONE;
  const oxrt_activation act = act_of(g);
  float lo, hi;
  const bool clamp = oxrt_act_is_clamp(act, &lo, &hi), act_after = !clamp; /* transcendental: on the stored tile */
  const size_t act_panels = nr < 256 ? 256 / nr : 1;
  const size_t tiles = pl->tiles_m * pl->tiles_n, k_blocks = (K + KC - 1) / KC;
  for (size_t tt = t0; tt < t1; tt++) {
    size_t t = tt % tiles, part = tt / tiles, pb, pe, j_beg, j_end;
    row_tile(pl, t / pl->tiles_n, &pb, &pe);
    tile_range(t % pl->tiles_n, pl->tiles_n, pl->n_panels, nr, N, &j_beg, &j_end);
    size_t n_panels = (j_end - j_beg + nr - 1) / nr;
    /* this part's K blocks, and where its sums go (a K split finishes bias/activation after the reduction) */
    size_t k_lo = part * k_blocks / pl->k_parts * KC, k_hi = (part + 1) * k_blocks / pl->k_parts * KC;
    if (k_hi > K) k_hi = K;
    float *C = part ? pl->parts + (part - 1) * M * N : g->C;
    size_t ldc = part ? N : g->ldc;
    const bool fuse = pl->k_parts == 1;
    for (size_t p0 = k_lo; p0 < k_hi; p0 += KC) {
      size_t kc = k_hi - p0 < KC ? k_hi - p0 : KC, ku = kunits(uk, kc), pu = p0 / uk->kpack;
      float beta = p0 > k_lo ? 1.0f : part ? 0.0f : g->beta;
      bool last = p0 + kc == k_hi && fuse;
      /* The tile's B block, packed (or gathered, im2col) once for every row below. */
      const float *bblk;
      size_t bstride, bld;
      if (g->bp) {
        bblk = g->bp->data + (j_beg / nr) * KUall * nr + pu * nr, bstride = KUall * nr, bld = nr;
      } else if (pl->b_direct) {
        bblk = g->B + p0 * g->ldb + j_beg, bstride = nr, bld = g->ldb;
      } else {
        for (size_t q = 0; q < n_panels; q++) {
          size_t j0 = j_beg + q * nr, n_eff = j_end - j0 < nr ? j_end - j0 : nr;
          if (g->bfill && ffloats) {
            g->bfill(g->bctx, p0, kc, j0, n_eff, nr, fbuf);
            uk->pack(true, fbuf, nr, nr, nr, kc, bbuf + q * ku * nr);
          } else if (g->bfill) g->bfill(g->bctx, p0, kc, j0, n_eff, nr, bbuf + q * ku * nr);
          else if (g->trans_b) pack_b_panel(uk, true, g->B, g->ldb, p0, kc, j0, n_eff, bbuf + q * ku * nr);
        }
        if (!g->bfill && !g->trans_b) pack_b_block(uk, g->B, g->ldb, p0, kc, j_beg, j_end, bbuf);
        bblk = bbuf, bstride = ku * nr, bld = nr;
      }
      for (size_t qb = pb; qb < pe; qb += mc_panels) { /* row blocks of mc_panels panels */
        if (plan_stopped(pl)) return;
        size_t qe = pe - qb < mc_panels ? pe : qb + mc_panels, ib = panel_row(qb, P, M, mr);
        if (!a_in_place)
          for (size_t p = qb; p < qe; p++) {
            size_t i0 = panel_row(p, P, M, mr), m_eff = panel_row(p + 1, P, M, mr) - i0;
#if P_ADUP > 1
            if (g->ap) {
              expand_a_bcast(g->ap->data + i0 * K + p0 * m_eff, m_eff * kc, abuf + (i0 - ib) * kc * ad);
              continue;
            }
#endif
            pack_a_panel(uk, true, g->trans_a, g->A, g->lda, i0, m_eff, p0, kc, abuf + (i0 - ib) * ku * ad);
          }
        /* Each A micro-panel (L1) meets every B micro-panel of the block (L2). */
        for (size_t p = qb; p < qe; p++) {
          size_t i0 = panel_row(p, P, M, mr), m_eff = panel_row(p + 1, P, M, mr) - i0;
          const float *ap = a_in_place ? g->ap->data + i0 * KUall + pu * m_eff : abuf + (i0 - ib) * ku * ad;
          for (size_t q = 0; q < n_panels; q++) {
            size_t j0 = j_beg + q * nr, n_eff = j_end - j0 < nr ? j_end - j0 : nr;
            float *c = C + i0 * ldc + j0;
            /* biases, z and a clamp (Relu, Clip) in the micro-kernel's store of the last K block */
            oxrt_sgemm_epi epi = {g->bias ? g->bias + i0 : NULL, g->Z ? g->Z + i0 * g->ldz + j0 : NULL, g->ldz,
                                  clamp && act.kind != OXRT_ACT_NONE, lo, hi, g->bias_col ? g->bias_col + j0 : NULL};
            uk->kern(ku, ap, bblk + q * bstride, bld, c, ldc, g->alpha, beta, last && has_epi ? &epi : NULL, m_eff,
                     n_eff);
            /* the activation once per group of act_panels column panels (12 x 256 floats, still in L1): with a
             * call per tile row (32 floats), BERT's 128x3072x768 + GELU ran 0.1-0.2 ms slower than the GEMM and a
             * separate GELU pass; grouped, 0.05-0.15 ms faster */
            if (last && act_after && ((q + 1) % act_panels == 0 || q + 1 == n_panels)) {
              size_t js = j_beg + q / act_panels * act_panels * nr, je = j0 + n_eff;
              for (size_t i = 0; i < m_eff; i++) oxrt_act_apply(act, C + (i0 + i) * ldc + js, je - js);
            }
          }
        }
      }
    }
  }
}

size_t oxrt_sgemm_apack_panels(const oxrt_sgemm_apack *a) { return a->mr ? (a->M + a->mr - 1) / a->mr : 0; }
size_t oxrt_sgemm_apack_row(const oxrt_sgemm_apack *a, size_t p) {
  return panel_row(p, oxrt_sgemm_apack_panels(a), a->M, a->mr);
}

static bool pack_a_whole(bool bf16, bool trans_a, size_t M, size_t K, const float *A, size_t lda,
                         oxrt_sgemm_apack *out) {
  ukernel_desc uk = pick_kernel_for(bf16);
  size_t KU = kunits(&uk, K);
  out->M = M, out->K = K, out->mr = uk.mr, out->bf16 = uk.kpack > 1;
  out->data = bf16 && !out->bf16 ? NULL : oxrt_aligned_alloc(sizeof(float) * (M * KU + 1));
  if (!out->data) return false;
  /* panel p (rows [i0, i1) by panel_row) at data + i0*KU, its rows interleaved: data[i0*KU + u*(i1 - i0) + i] */
  size_t P = (M + uk.mr - 1) / uk.mr;
  for (size_t p = 0; p < P; p++) {
    size_t i0 = panel_row(p, P, M, uk.mr), i1 = panel_row(p + 1, P, M, uk.mr);
    pack_a_panel(&uk, false, trans_a, A, lda, i0, i1 - i0, 0, K, out->data + i0 * KU);
  }
  return true;
}

static bool pack_b_whole(bool bf16, bool trans_b, size_t K, size_t N, const float *B, size_t ldb,
                         oxrt_sgemm_bpack *out) {
  ukernel_desc uk = pick_kernel_for(bf16);
  size_t panels = (N + uk.nr - 1) / uk.nr, KU = kunits(&uk, K);
  out->K = K, out->N = N, out->nr = uk.nr, out->bf16 = uk.kpack > 1;
  out->data = bf16 && !out->bf16 ? NULL : oxrt_aligned_alloc(sizeof(float) * (panels * uk.nr * KU + 1));
  if (!out->data) return false;
  for (size_t q = 0; q < panels; q++) {
    size_t j0 = q * uk.nr, n_eff = N - j0 < uk.nr ? N - j0 : uk.nr;
    pack_b_panel(&uk, trans_b, B, ldb, 0, K, j0, n_eff, out->data + q * KU * uk.nr);
  }
  return true;
}

bool oxrt_sgemm_pack_a(bool trans_a, size_t M, size_t K, const float *A, size_t lda, oxrt_sgemm_apack *out) {
  return pack_a_whole(false, trans_a, M, K, A, lda, out);
}
bool oxrt_sgemm_pack_b(bool trans_b, size_t K, size_t N, const float *B, size_t ldb, oxrt_sgemm_bpack *out) {
  return pack_b_whole(false, trans_b, K, N, B, ldb, out);
}
bool oxrt_sgemm_pack_a_bf16(bool trans_a, size_t M, size_t K, const float *A, size_t lda, oxrt_sgemm_apack *out) {
  return pack_a_whole(true, trans_a, M, K, A, lda, out);
}
bool oxrt_sgemm_pack_b_bf16(bool trans_b, size_t K, size_t N, const float *B, size_t ldb, oxrt_sgemm_bpack *out) {
  return pack_b_whole(true, trans_b, K, N, B, ldb, out);
}

void oxrt_sgemm_apack_free(oxrt_sgemm_apack *p) {
  if (p) oxrt_aligned_free(p->data), p->data = NULL;
}
void oxrt_sgemm_bpack_free(oxrt_sgemm_bpack *p) {
  if (p) oxrt_aligned_free(p->data), p->data = NULL;
}

/* ------------------------------------------------------------------ simple paths */

/* Below this many multiply-adds per thread a share costs more to hand over than it saves (a wake-up is 1-10 us
 * and a column or row split packs an operand again in each tile; 2^18 take 2-4 us on one AVX-512 core): tiny
 * products (silero_vad's convolutions, small heads) run on fewer threads or the caller's alone. */
#define MIN_MACS_PER_THREAD 262144.0

typedef struct {
  bool ta, tb;
  size_t M, N, K;
  float alpha, beta;
  const float *A, *B;
  size_t lda, ldb, ldc;
  float *C;
} sgemm_job;

static inline void store_row(float *c, const float *acc, size_t n, float alpha, float beta) {
  if (beta == 0) {
    for (size_t j = 0; j < n; j++) c[j] = alpha * acc[j];
  } else {
    for (size_t j = 0; j < n; j++) c[j] = alpha * acc[j] + beta * c[j];
  }
}

/* Rows [r0, r1) of C with plain loops: small problems, where packing would cost more than it saves. */
static void sgemm_rows(void *arg, size_t r0, size_t r1) {
  const sgemm_job *j = arg;
  size_t N = j->N, K = j->K;
  float stack_acc[256];
  float *acc = N <= 256 ? stack_acc : malloc(sizeof(float) * N);
  for (size_t i = r0; i < r1; i++) {
    if (!acc) { /* out of memory for a row of N > 256 sums: one dot product at a time */
      for (size_t n = 0; n < N; n++) {
        float s = 0;
        for (size_t k = 0; k < K; k++)
          s += (j->ta ? j->A[k * j->lda + i] : j->A[i * j->lda + k]) *
               (j->tb ? j->B[n * j->ldb + k] : j->B[k * j->ldb + n]);
        float *c = j->C + i * j->ldc + n;
        *c = j->beta == 0 ? j->alpha * s : j->alpha * s + j->beta * *c;
      }
      continue;
    }
    if (!j->tb) {
      memset(acc, 0, sizeof(float) * N);
      for (size_t k = 0; k < K; k++) {
        float a = j->ta ? j->A[k * j->lda + i] : j->A[i * j->lda + k];
        const float *b = j->B + k * j->ldb;
        for (size_t n = 0; n < N; n++) acc[n] += a * b[n];
      }
    } else {
      for (size_t n = 0; n < N; n++) {
        const float *b = j->B + n * j->ldb;
        float s = 0;
        if (!j->ta) {
          const float *a = j->A + i * j->lda;
          for (size_t k = 0; k < K; k++) s += a[k] * b[k];
        } else {
          for (size_t k = 0; k < K; k++) s += j->A[k * j->lda + i] * b[k];
        }
        acc[n] = s;
      }
    }
    store_row(j->C + i * j->ldc, acc, N, j->alpha, j->beta);
  }
  if (acc && acc != stack_acc) free(acc);
}

/* Matrix-vector (M == 1): columns [n0, n1) of the single output row. A strided (transposed) A vector is
 * gathered first so the vector kernels see it contiguous. */
static void sgemv_cols(void *arg, size_t n0, size_t n1) {
  const sgemm_job *j = arg;
  size_t K = j->K;
  float acc[512];
  float a_stack[1024], *a_heap = NULL;
  const float *a = j->A;
  if (j->ta && j->lda != 1) {
    float *buf = K <= 1024 ? a_stack : (a_heap = malloc(sizeof(float) * K));
    if (buf) {
      for (size_t k = 0; k < K; k++) buf[k] = j->A[k * j->lda];
      a = buf;
    }
  }
  size_t astride = a == j->A && j->ta ? j->lda : 1;
  oxrt_isa isa = astride == 1 ? oxrt_cpu_isa() : OXRT_ISA_PORTABLE;
  for (size_t nb = n0; nb < n1; nb += 512) {
    size_t ne = n1 - nb < 512 ? n1 - nb : 512;
#ifdef OXRT_GEMM_X86
    if (isa == OXRT_ISA_AVX512) {
      if (j->tb) oxrt_sgemv_t_avx512(K, a, j->B + nb * j->ldb, j->ldb, ne, acc);
      else oxrt_sgemv_n_avx512(K, a, j->B + nb, j->ldb, ne, acc);
      store_row(j->C + nb, acc, ne, j->alpha, j->beta);
      continue;
    }
    if (isa == OXRT_ISA_AVX2) {
      if (j->tb) oxrt_sgemv_t_avx2(K, a, j->B + nb * j->ldb, j->ldb, ne, acc);
      else oxrt_sgemv_n_avx2(K, a, j->B + nb, j->ldb, ne, acc);
      store_row(j->C + nb, acc, ne, j->alpha, j->beta);
      continue;
    }
#endif
#if defined(__GNUC__)
    /* dot products on 4-float vectors (1x768x768: 12.5 -> 18.5 GFLOP/s); a B row at a time below is already
     * vectorised by the compiler over 512 columns, where sgemv_n_portable's 16-column passes were 8% slower */
    if (astride == 1 && j->tb) {
      sgemv_t_portable(K, a, j->B + nb * j->ldb, j->ldb, ne, acc);
      store_row(j->C + nb, acc, ne, j->alpha, j->beta);
      continue;
    }
#endif
    (void)isa;
    if (!j->tb) {
      memset(acc, 0, sizeof(float) * ne);
      for (size_t k = 0; k < K; k++) {
        float av = a[k * astride];
        const float *b = j->B + k * j->ldb + nb;
        for (size_t n = 0; n < ne; n++) acc[n] += av * b[n];
      }
    } else {
      for (size_t n = 0; n < ne; n++) {
        const float *b = j->B + (nb + n) * j->ldb;
        float s[4] = {0, 0, 0, 0}; /* four chains: a float sum does not vectorise by itself */
        size_t k = 0;
        if (astride == 1)
          for (; k + 4 <= K; k += 4)
            for (int l = 0; l < 4; l++) s[l] += a[k + l] * b[k + l];
        float r = (s[0] + s[1]) + (s[2] + s[3]);
        for (; k < K; k++) r += a[k * astride] * b[k];
        acc[n] = r;
      }
    }
    store_row(j->C + nb, acc, ne, j->alpha, j->beta);
  }
  free(a_heap);
}

static void scale_c(size_t M, size_t N, float beta, float *C, size_t ldc) {
  for (size_t i = 0; i < M; i++) {
    float *c = C + i * ldc;
    if (beta == 0) memset(c, 0, sizeof(float) * N);
    else if (beta != 1)
      for (size_t n = 0; n < N; n++) c[n] *= beta;
  }
}

bool oxrt_sgemm_run(const oxrt_sgemm_ex *g, oxrt_threadpool *pool) {
  size_t M = g->M, N = g->N, K = g->K;
  if (M == 0 || N == 0) return true;
  if (K == 0) {
    scale_c(M, N, g->beta, g->C, g->ldc);
    epilogue_at(g, 0, 0, M, N);
    return true;
  }
  /* an operand packed in bfloat16 makes the product bfloat16; the packs must agree */
  const bool bf16 = (g->ap && g->ap->bf16) || (g->bp && g->bp->bf16);
  if ((g->ap && g->ap->bf16 != bf16) || (g->bp && g->bp->bf16 != bf16)) return false;
  ukernel_desc uk = pick_kernel_for(bf16);
  if (bf16 && uk.kpack == 1) return false; /* packed for bfloat16 under a cap that no longer allows it */
  bool raw = !g->ap && !g->bp && !g->bfill; /* plain operands: the simple paths may serve */
  bool b_direct = false;
  if (raw) {
    sgemm_job j = {g->trans_a, g->trans_b, M, N, K, g->alpha, g->beta, g->A, g->B, g->lda, g->ldb, g->ldc, g->C};
    double flops = (double)M * (double)N * (double)K;
    /* One row (decoding, batch-1 recurrent steps), or a few rows against a transposed B: a matrix-vector product
     * per row beats packing B, which would cost as much as the multiply itself. */
    if (M == 1 || (M <= 4 && g->trans_b && N * K >= 4096)) {
      /* one equal share of columns per thread (multiples of 16), or one thread below 128K multiply-adds */
      size_t nth = (size_t)oxrt_threadpool_size(pool), share = ((N + nth - 1) / nth + 15) / 16 * 16;
      size_t grain = N * K < 131072 ? N : share;
      for (size_t i = 0; i < M; i++) {
        sgemm_job row = j;
        row.M = 1;
        row.A = g->trans_a ? g->A + i : g->A + i * g->lda;
        row.C = g->C + i * g->ldc;
        oxrt_parallel_for(pool, N, grain, sgemv_cols, &row);
      }
      epilogue_at(g, 0, 0, M, N);
      return true;
    }
    if (flops < 16384.0 || (N < uk.nr / 2 && !g->trans_b && M > uk.mr)) {
      size_t grain = (size_t)(MIN_MACS_PER_THREAD / (N * K)) + 1;
      oxrt_parallel_for(pool, M, grain, sgemm_rows, &j);
      epilogue_at(g, 0, 0, M, N);
      return true;
    }
    /* Up to MR rows: each B panel would serve one A panel only, so the micro-kernels read B where it is. */
    b_direct = M <= uk.mr && !g->trans_b;
  }
  if ((g->ap && (g->ap->mr != uk.mr || g->ap->M != M || g->ap->K != K)) ||
      (g->bp && (g->bp->nr != uk.nr || g->bp->N != N || g->bp->K != K)))
    return false; /* packed for another kernel or shape: a caller bug, reported as failure */

  sgemm_plan pl = {.uk = uk, .g = g, .b_direct = b_direct, .k_parts = 1};
  const oxrt_stop_check *stop = oxrt_parallel_stop_swap(NULL); /* read the caller's check, then put it back */
  oxrt_parallel_stop_swap(stop);
  if (stop) pl.stop = *stop;
  pl.m_panels = (M + uk.mr - 1) / uk.mr, pl.n_panels = (N + uk.nr - 1) / uk.nr;
  pl.kc_max = (K + (K + uk.kc - 1) / uk.kc - 1) / ((K + uk.kc - 1) / uk.kc); /* equal K blocks of at most kc */
  pl.kc_max += pl.kc_max % uk.kpack ? uk.kpack - pl.kc_max % uk.kpack : 0; /* whole units per block */
  /* One thread: column tiles of at most NC (the B block in L2). More: a grid with work for every thread. A column
   * split packs the A rows again in every column tile, a row split packs (or im2col-gathers) B again in every row
   * tile (with B pre-packed, streams it again), so the split goes along the cheaper operand: columns when A is
   * pre-packed or not the larger one; rows when there are too few column panels. */
  size_t nth = (size_t)oxrt_threadpool_size(pool), nc_panels = uk.nc / uk.nr;
  double macs = (double)M * (double)N * (double)K;
  if ((double)nth * MIN_MACS_PER_THREAD > macs)
    nth = macs < 2 * MIN_MACS_PER_THREAD ? 1 : (size_t)(macs / MIN_MACS_PER_THREAD);
  pl.tiles_m = 1, pl.tiles_n = (pl.n_panels + nc_panels - 1) / nc_panels;
  if (nth > 1) {
    bool cols = pl.n_panels >= nth && (g->ap || M <= N || pl.m_panels < nth);
    /* ...unless whole column panels share out badly (resnet's 7x7 convs: N = 49 is one full 32-column panel and
     * one of 17, so one thread does 65% of the work) and whole row panels share out clearly better. */
    if (cols && pl.m_panels >= nth) {
      double busiest_cols = (double)((pl.n_panels + nth - 1) / nth * uk.nr);
      double busiest_rows = (double)((pl.m_panels + nth - 1) / nth * uk.mr);
      double f_cols = (busiest_cols < (double)N ? busiest_cols : (double)N) * (double)nth / (double)N;
      double f_rows = (busiest_rows < (double)M ? busiest_rows : (double)M) * (double)nth / (double)M;
      if (f_cols > 1.15 * f_rows) cols = false;
    }
    if (cols) {
      size_t tn = (pl.tiles_n + nth - 1) / nth * nth; /* a multiple of the thread count */
      pl.tiles_n = tn < pl.n_panels ? tn : pl.n_panels;
    } else {
      pl.tiles_m = nth < pl.m_panels ? nth : pl.m_panels;
      if (pl.tiles_m * pl.tiles_n < nth && pl.n_panels >= nth) pl.tiles_n = nth;
    }
  }
  /* Too few tiles for the threads (a few rows and columns, long K): split K too, each extra part summing into a
   * scratch block that is added to C afterwards. */
  size_t tiles = pl.tiles_m * pl.tiles_n, k_blocks = (K + pl.kc_max - 1) / pl.kc_max;
  if (nth > 1 && tiles < nth && k_blocks >= 2) {
    size_t kp = (nth + tiles - 1) / tiles;
    kp = kp < k_blocks ? kp : k_blocks;
    pl.parts = oxrt_aligned_alloc(sizeof(float) * (kp - 1) * M * N);
    if (pl.parts) pl.k_parts = kp;
  }
  /* one thread: no pool (nothing to wake), still through parallel_for, which checks for a stop between tiles */
  oxrt_parallel_for(nth > 1 ? pool : NULL, tiles * pl.k_parts, 1, run_tiles, &pl);
  if (pl.k_parts > 1 && atomic_load(&pl.stopped)) { /* cancelled: some parts were never written */
    oxrt_aligned_free(pl.parts);
  } else if (pl.k_parts > 1) {
    for (size_t p = 1; p < pl.k_parts; p++)
      for (size_t i = 0; i < M; i++) {
        float *c = g->C + i * g->ldc;
        const float *s = pl.parts + (p - 1) * M * N + i * N;
        for (size_t j = 0; j < N; j++) c[j] += s[j];
      }
    oxrt_aligned_free(pl.parts);
    epilogue_at(g, 0, 0, M, N);
  }
  return !atomic_load(&pl.failed);
}

void oxrt_sgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                const float *B, size_t ldb, float beta, float *C, size_t ldc, oxrt_threadpool *pool) {
  oxrt_sgemm_ex g = {.M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .trans_a = trans_a, .A = A, .lda = lda,
                     .trans_b = trans_b, .B = B, .ldb = ldb, .C = C, .ldc = ldc};
  if (oxrt_sgemm_run(&g, pool)) return;
  /* Out of memory for packing: plain loops (they need a row of scratch only for N > 256). */
  sgemm_job j = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C};
  oxrt_parallel_for(pool, M, 1, sgemm_rows, &j);
}

/* ------------------------------------------------------------------ double */

typedef struct {
  bool ta, tb;
  size_t M, N, K;
  double alpha, beta;
  const double *A, *B;
  size_t lda, ldb, ldc;
  double *C;
} dgemm_job;

static void dgemm_rows(void *arg, size_t r0, size_t r1) {
  const dgemm_job *j = arg;
  for (size_t i = r0; i < r1; i++) {
    double *c = j->C + i * j->ldc;
    for (size_t n = 0; n < j->N; n++) {
      double s = 0;
      for (size_t k = 0; k < j->K; k++) {
        double a = j->ta ? j->A[k * j->lda + i] : j->A[i * j->lda + k];
        double b = j->tb ? j->B[n * j->ldb + k] : j->B[k * j->ldb + n];
        s += a * b;
      }
      c[n] = j->beta == 0 ? j->alpha * s : j->alpha * s + j->beta * c[n];
    }
  }
}

void oxrt_dgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, double alpha, const double *A, size_t lda,
                const double *B, size_t ldb, double beta, double *C, size_t ldc, oxrt_threadpool *pool) {
  dgemm_job j = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C};
  size_t work = N * K + 1;
  oxrt_parallel_for(pool, M, 65536 / work + 1, dgemm_rows, &j);
}
