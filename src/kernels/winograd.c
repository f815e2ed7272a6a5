/* winograd.c - F(4x4, 3x3) convolution driver (winograd.h): weight transform at pack time, tile blocks, the three
 * phases split across the pool, and the portable transforms (winograd_body.h). */
#include "winograd.h"
#include "../core/value.h"
#include <stdlib.h>
#include <string.h>

#define WINO_SFX portable
#include "winograd_body.h"
#undef WINO_SFX

bool oxrt_wino_shape_ok(const oxrt_conv_shape *s) {
  return s->nd == 2 && s->group == 1 && s->k[0] == 3 && s->k[1] == 3 && s->stride[0] == 1 && s->stride[1] == 1 &&
         s->dil[0] == 1 && s->dil[1] == 1 && s->C > 0 && s->M > 0 && s->pad[0] >= 0 && s->pad[1] >= 0 &&
         s->pad[0] <= 2 && s->pad[1] <= 2 && s->out[0] > 0 && s->out[1] > 0;
}

/* Measured against the implicit-im2col GEMM (bench/KERNELS.md, Xeon AVX-512): 0.52-0.6x the time from 16x16
 * channels at 80x80 up to 512 at 28x28; at 14x14 (16 tiles) the products' 16 columns waste half of each 32-wide
 * panel and Winograd loses (0.9-1.2x), at 7x7 it loses 2.9x. */
bool oxrt_wino_pays(const oxrt_conv_shape *s) {
  if (!oxrt_wino_shape_ok(s) || s->C < 16 || s->M < 16) return false;
  int64_t tiles = ((s->out[0] + 3) / 4) * ((s->out[1] + 3) / 4);
  return tiles >= 20;
}

size_t oxrt_wino_scratch(int64_t TW) {
  size_t twp = (size_t)((TW + 15) & ~(int64_t)15);
  size_t in = 12 * (4 * twp + 8), out = 28 * twp;
  return (in > out ? in : out) + 64; /* input: 6 padded rows + 6 transformed rows; output: q[24] + a row */
}

/* G a for one column a = (a0, a1, a2) of 3 values, G's rows (1/4, 0, 0), -(1, 1, 1)/6, -(1, -1, 1)/6,
 * (1/24, 1/12, 1/6), (1/24, -1/12, 1/6), (0, 0, 1) taken apart: 11 operations instead of 18 multiply-adds. */
static inline void wino_g3(double a0, double a1, double a2, double *r, int rs) {
  const double s = a0 + a2, h = a0 * (1.0 / 24) + a2 * (1.0 / 6), q = a1 * (1.0 / 12);
  r[0] = a0 * 0.25;
  r[rs] = (s + a1) * (-1.0 / 6);
  r[2 * rs] = (s - a1) * (-1.0 / 6);
  r[3 * rs] = h + q;
  r[4 * rs] = h - q;
  r[5 * rs] = a2;
}

/* G g G^T for one 3x3 kernel g (row-major) into u[36]: G down the three columns, then along the six rows (in double;
 * this is most of a Winograd pack's time: 4x fewer operations than the plain products). */
void oxrt_wino_weight(const float *g, float *u) {
  double t[6][3], r[6][6];
  for (int j = 0; j < 3; j++) wino_g3(g[j], g[3 + j], g[6 + j], &t[0][j], 3);
  for (int a = 0; a < 6; a++) wino_g3(t[a][0], t[a][1], t[a][2], &r[a][0], 1);
  for (int a = 0; a < 6; a++)
    for (int b = 0; b < 6; b++) u[a * 6 + b] = (float)r[a][b];
}

/* The bfloat16 pack: the transformed weights go to t[c][p][m], so that position p's matrix is A^T at t + p * Mp with
 * lda 36 * Mp, then each position is packed by oxrt_sgemm_pack_a_bf16: the writes of one input channel stay within
 * 36 * Mp floats (L1/L2) while the output channels run. Mp is M plus a cache line: with M a multiple of 256 the 36
 * rows of a kernel's values otherwise fall in 4 of L1's sets. */
static bool wino_pack_bf16(const oxrt_conv_shape *s, const float *w, oxrt_sgemm_apack *u) {
  size_t M = s->M, C = s->C, Mp = M + 16;
  float *t = oxrt_aligned_alloc(sizeof(float) * OXRT_WINO_POS * Mp * C);
  if (!t) return false;
  float tile[16][36];
  /* 16 output channels at a time: their 16 kernels transformed first, then one cache line of each of the 36 rows
   * written (loads and stores interleaved kernel by kernel ran 3x slower) */
  for (size_t m0 = 0; m0 < M; m0 += 16) {
    const size_t mn = M - m0 < 16 ? M - m0 : 16;
    for (size_t c = 0; c < C; c++) {
      float *tc = t + c * OXRT_WINO_POS * Mp + m0;
      for (size_t i = 0; i < mn; i++) oxrt_wino_weight(w + ((m0 + i) * C + c) * 9, tile[i]);
      for (int p = 0; p < OXRT_WINO_POS; p++)
        for (size_t i = 0; i < mn; i++) tc[(size_t)p * Mp + i] = tile[i][p];
    }
  }
  bool ok = true;
  for (int p = 0; p < OXRT_WINO_POS && ok; p++)
    ok = oxrt_sgemm_pack_a_bf16(true, M, C, t + (size_t)p * Mp, OXRT_WINO_POS * Mp, &u[p]);
  oxrt_aligned_free(t);
  return ok;
}

/* Rows per panel of the float A packs at the current ISA level (gemm.h): learnt from a 1 x 1 pack. */
static size_t apack_mr(void) {
  const float one = 1.0f;
  oxrt_sgemm_apack a;
  if (!oxrt_sgemm_pack_a(false, 1, 1, &one, 1, &a)) return 0;
  const size_t mr = a.mr;
  oxrt_sgemm_apack_free(&a);
  return mr;
}

/* The float pack writes each transformed kernel straight into the 36 packed matrices (gemm.h's layout: panel rows
 * [i0, i1) at data + i0 * C, interleaved per input channel), one panel of output channels at a time: the mn kernels of
 * input channel c are transformed, then each position's mn values are stored next to channel c - 1's, so the 36
 * outputs are written as 36 sequential streams. Going through a [C][36][M] matrix and oxrt_sgemm_pack_a instead
 * wrote and read the weights' size four times more (resnet18: the second pass was 11% of its load time). The
 * packs are the same bytes. */
bool oxrt_wino_pack(const oxrt_conv_shape *s, const float *w, bool bf16, oxrt_sgemm_apack *u) {
  const size_t M = s->M, C = s->C, mr = bf16 ? 0 : apack_mr();
  memset(u, 0, sizeof *u * OXRT_WINO_POS);
  bool ok = true;
  if (bf16 || mr == 0 || mr > 16) {
    ok = bf16 && wino_pack_bf16(s, w, u);
  } else {
    for (int p = 0; p < OXRT_WINO_POS && ok; p++) {
      u[p] = (oxrt_sgemm_apack){.M = M, .K = C, .mr = mr};
      ok = (u[p].data = oxrt_aligned_alloc(sizeof(float) * (M * C + 1))) != NULL;
    }
    const size_t P = ok ? oxrt_sgemm_apack_panels(&u[0]) : 0;
    float tile[16][36];
    for (size_t pn = 0; pn < P; pn++) {
      const size_t i0 = oxrt_sgemm_apack_row(&u[0], pn), mn = oxrt_sgemm_apack_row(&u[0], pn + 1) - i0;
      for (size_t c = 0; c < C; c++) {
        for (size_t i = 0; i < mn; i++) oxrt_wino_weight(w + ((i0 + i) * C + c) * 9, tile[i]);
        const size_t off = i0 * C + c * mn;
        for (int p = 0; p < OXRT_WINO_POS; p++)
          for (size_t i = 0; i < mn; i++) u[p].data[off + i] = tile[i][p];
      }
    }
  }
  if (!ok)
    for (int p = 0; p < OXRT_WINO_POS; p++) oxrt_sgemm_apack_free(&u[p]);
  return ok;
}

typedef struct {
  const oxrt_conv_shape *s;
  const float *x, *bias, *z;
  const oxrt_sgemm_apack *u;
  oxrt_activation act;
  float *y, *v, *o;
  size_t vstride; /* tiles of the block: distance between positions in v and o */
  int64_t TW, ty0, nty;
  int64_t blk; /* 0: NCHW planes; else the block of the layout [C/B, H, W, B], items of the phases whole blocks */
  oxrt_wino_in_fn in;
  oxrt_wino_out_fn out;
  int failed;
} wino_job;

static void wino_in_range(void *arg, size_t c0, size_t c1) {
  wino_job *j = arg;
  const oxrt_conv_shape *s = j->s;
  float *scratch = oxrt_aligned_alloc(sizeof(float) * oxrt_wino_scratch(j->TW));
  if (!scratch) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  size_t plane = (size_t)(s->in[0] * s->in[1]), B = (size_t)j->blk;
  if (B) c0 *= B, c1 = c1 * B < s->C ? c1 * B : s->C; /* items are blocks */
  for (size_t c = c0; c < c1; c++)
    j->in(B ? j->x + c / B * plane * B + c % B : j->x + c * plane, B ? (int64_t)B : 1, s->in[0], s->in[1],
          s->pad[0], s->pad[1], j->ty0, j->nty, j->TW, j->v + c * j->vstride, s->C * j->vstride, scratch);
  oxrt_aligned_free(scratch);
}

static void wino_gemm_range(void *arg, size_t p0, size_t p1) {
  wino_job *j = arg;
  size_t cols = (size_t)(j->nty * j->TW), M = j->s->M, C = j->s->C;
  for (size_t p = p0; p < p1; p++) {
    oxrt_sgemm_ex ge = {.M = M, .N = cols, .K = C, .alpha = 1, .beta = 0, .ap = &j->u[p],
                        .B = j->v + p * C * j->vstride, .ldb = j->vstride,
                        .C = j->o + p * M * j->vstride, .ldc = j->vstride};
    if (!oxrt_sgemm_run(&ge, NULL)) __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
  }
}

static void wino_out_range(void *arg, size_t m0, size_t m1) {
  wino_job *j = arg;
  const oxrt_conv_shape *s = j->s;
  float *scratch = oxrt_aligned_alloc(sizeof(float) * oxrt_wino_scratch(j->TW));
  if (!scratch) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  size_t plane = (size_t)(s->out[0] * s->out[1]), B = (size_t)j->blk;
  if (B) m0 *= B, m1 = m1 * B < s->M ? m1 * B : s->M; /* items are blocks: no cache line written by two threads */
  for (size_t m = m0; m < m1; m++) {
    const size_t off = B ? m / B * plane * B + m % B : m * plane;
    j->out(j->o + m * j->vstride, s->M * j->vstride, j->ty0, j->nty, j->TW, s->out[0], s->out[1],
           j->bias ? j->bias[m] : 0.0f, j->z ? j->z + off : NULL, j->act, j->y + off, B ? (int64_t)B : 1, scratch);
  }
  oxrt_aligned_free(scratch);
}

static bool wino_run(const oxrt_conv_shape *s, int64_t blk, const float *x, const oxrt_sgemm_apack *u,
                     const float *bias, const float *z, oxrt_activation act, float *y, oxrt_threadpool *pool) {
  const int64_t OH = s->out[0], OW = s->out[1], TH = (OH + 3) / 4, TW = (OW + 3) / 4;
  wino_job j = {.s = s, .bias = bias, .u = u, .act = act, .TW = TW, .blk = blk,
                .in = oxrt_wino_in_portable, .out = oxrt_wino_out_portable};
#if defined(__x86_64__) && defined(__GNUC__)
  oxrt_isa isa = oxrt_cpu_isa();
  if (isa == OXRT_ISA_AVX512) j.in = oxrt_wino_in_avx512, j.out = oxrt_wino_out_avx512;
  else if (isa == OXRT_ISA_AVX2) j.in = oxrt_wino_in_avx2, j.out = oxrt_wino_out_avx2;
#endif
  /* A block of whole tile rows: V and O together about 1.5 MiB, at least 64 tiles for the GEMM's columns. */
  size_t per_tile = sizeof(float) * OXRT_WINO_POS * (s->C + s->M);
  int64_t want = (int64_t)((size_t)(3 << 19) / per_tile);
  if (want < 64) want = 64;
  int64_t rows = (want + TW - 1) / TW;
  if (rows > TH) rows = TH;
  j.vstride = (size_t)(rows * TW);
  j.v = oxrt_aligned_alloc(sizeof(float) * OXRT_WINO_POS * (s->C + s->M) * j.vstride);
  if (!j.v) return false;
  j.o = j.v + OXRT_WINO_POS * s->C * j.vstride;
  /* blocked: images hold whole blocks, and the transforms' items are blocks */
  const size_t bs = blk ? (size_t)blk : 1, Ci = (s->C + bs - 1) / bs, Mi = (s->M + bs - 1) / bs;
  size_t in_img = Ci * bs * (size_t)(s->in[0] * s->in[1]), out_img = Mi * bs * (size_t)(OH * OW);
  for (size_t n = 0; n < s->N && !j.failed; n++) {
    j.x = x + n * in_img, j.y = y + n * out_img, j.z = z ? z + n * out_img : NULL;
    for (int64_t ty = 0; ty < TH && !j.failed; ty += rows) {
      j.ty0 = ty, j.nty = TH - ty < rows ? TH - ty : rows;
      oxrt_parallel_for(pool, Ci, 1, wino_in_range, &j);
      oxrt_parallel_for(pool, OXRT_WINO_POS, 1, wino_gemm_range, &j);
      oxrt_parallel_for(pool, Mi, 1, wino_out_range, &j);
    }
  }
  oxrt_aligned_free(j.v);
  return !j.failed;
}

bool oxrt_wino_run(const oxrt_conv_shape *s, const float *x, const oxrt_sgemm_apack *u, const float *bias,
                   const float *z, oxrt_activation act, float *y, oxrt_threadpool *pool) {
  return wino_run(s, 0, x, u, bias, z, act, y, pool);
}

bool oxrt_wino_run_blocked(const oxrt_conv_shape *s, int B, const float *x, const oxrt_sgemm_apack *u,
                           const float *bias, const float *z, oxrt_activation act, float *y, oxrt_threadpool *pool) {
  return B > 0 && wino_run(s, B, x, u, bias, z, act, y, pool);
}
