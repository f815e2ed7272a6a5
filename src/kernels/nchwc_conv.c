/* nchwc_conv.c - general (group 1) convolution in the NCHWc layout (nchwc.h): weight packing, the work split and
 * the portable row kernel (nchwc_conv_body.h over GCC vector types, 8 lanes). */
#include "nchwc_conv.h"
#include "../core/dtype.h"
#include "scratch.h"
#include <stdlib.h>
#include <string.h>

size_t oxrt_nchwc_conv_packed_floats(const oxrt_nchwc_geom *g) { return g->M * g->C * (size_t)(g->kh * g->kw); }

/* One B x B block of (output, input) channels at a time, written in pack order (whole cache lines of B output
 * channels) from B source rows. Looping over whole output channels instead (before) spread the writes over every
 * input block and came back to each written cache line B times: resnet50's pack took 23% of its load time, with
 * the memset of the whole pack before it another 30% (Zen 4, a 512 x 512 x 3x3 pack from DRAM: 4.7-8.5 -> 2.5-3.1
 * ms; copying the block's rows to a buffer first measured no better), except for 1x1 weights whose rows are a
 * multiple of 4 KiB apart: the B rows then share one L1 set, and reading one value of each per output line missed
 * L1 (a 256 x 1024 1x1 pack, warm: 0.25 -> 0.14 ms; with rows 2 KiB apart the copy costs more than it saves,
 * 2048 x 512: 0.39 -> 0.56). Pad channels are written as zeros here. */
typedef struct {
  const float *src; /* the block's weight for (output mi, input ci, tap t) at src[mi * ld + ci * T + t] */
  size_t ld, mn, cn; /* real output and input channels of the block (the rest are pad) */
} pack_block;

/* Where block (mb, cb) of weights w reads from; 1x1 rows a multiple of 4 KiB apart are first copied side by side
 * into tmp (B x B floats). */
static pack_block block_source(const oxrt_nchwc_geom *g, size_t M_real, size_t C_real, const float *w, size_t mb,
                               size_t cb, float *tmp) {
  const size_t B = (size_t)g->B, T = (size_t)(g->kh * g->kw), rs = C_real * T;
  pack_block b = {w + (mb * B * C_real + cb * B) * T, rs, 0, 0};
  b.mn = M_real > mb * B ? (M_real - mb * B < B ? M_real - mb * B : B) : 0;
  b.cn = C_real > cb * B ? (C_real - cb * B < B ? C_real - cb * B : B) : 0;
  if (T == 1 && rs % 1024 == 0 && B <= 16) {
    for (size_t mi = 0; mi < b.mn; mi++) memcpy(tmp + mi * B, b.src + mi * rs, sizeof(float) * b.cn);
    b.src = tmp, b.ld = B;
  }
  return b;
}

void oxrt_nchwc_conv_pack(const oxrt_nchwc_geom *g, size_t M_real, size_t C_real, const float *w, float *packed) {
  const size_t B = (size_t)g->B, T = (size_t)(g->kh * g->kw), Cb = g->C / B, Mb = g->M / B;
  float tmp[16 * 16];
  for (size_t mb = 0; mb < Mb; mb++)
    for (size_t cb = 0; cb < Cb; cb++) {
      float *dst = packed + (mb * Cb + cb) * T * B * B;
      const pack_block b = block_source(g, M_real, C_real, w, mb, cb, tmp);
      const float *src = b.src;
      const size_t ld = b.ld, mn = b.mn, cn = b.cn;
      for (size_t t = 0; t < T; t++)
        for (size_t ci = 0; ci < B; ci++, dst += B) {
          size_t mi = 0;
          if (ci < cn)
            for (; mi < mn; mi++) dst[mi] = src[mi * ld + ci * T + t];
          for (; mi < B; mi++) dst[mi] = 0.0f;
        }
    }
}

/* float to bfloat16, round to nearest even (NaN stays NaN), as VCVTNEPS2BF16 and Cast do */
static uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* Each input-channel pair swapped, as oxrt_nchwc_to_bf16 stores X: VDPBF16PS adds a pair's second product first,
 * so the sums then equal the float kernel's on rounded inputs. Written in pack order one B x B block at a time,
 * pad channels as zeros, as the float pack (no memset of the whole pack, no scattered stores). */
void oxrt_nchwc_conv_pack_bf16(const oxrt_nchwc_geom *g, size_t M_real, size_t C_real, const float *w,
                               uint16_t *packed) {
  const size_t B = (size_t)g->B, T = (size_t)(g->kh * g->kw), Cb = g->C / B, Mb = g->M / B;
  float tmp[16 * 16];
  for (size_t mb = 0; mb < Mb; mb++)
    for (size_t cb = 0; cb < Cb; cb++) {
      uint16_t *dst = packed + (mb * Cb + cb) * T * B * B;
      const pack_block b = block_source(g, M_real, C_real, w, mb, cb, tmp);
      const float *src = b.src;
      const size_t ld = b.ld, mn = b.mn, cn = b.cn;
      for (size_t t = 0; t < T; t++)
        for (size_t ci = 0; ci < B; ci += 2) /* the pair (ci, ci + 1), stored as (ci + 1, ci) */
          for (size_t mi = 0; mi < B; mi++, dst += 2) {
            const float *s = src + mi * ld + ci * T + t;
            dst[0] = mi < mn && ci + 1 < cn ? to_bf16(s[T]) : 0;
            dst[1] = mi < mn && ci < cn ? to_bf16(s[0]) : 0;
          }
    }
}

/* ---- portable row kernel: 8-lane GCC vectors (lowered to whatever the target has) */
/* Macros, not functions: 32-byte vectors as arguments change the ABI where AVX is not enabled. */
typedef float nc_v8 __attribute__((vector_size(32)));
typedef float nc_v8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t nc_m8 __attribute__((vector_size(32)));
#define NC_SET1(a) ((nc_v8){(a), (a), (a), (a), (a), (a), (a), (a)})
#define NC_LOAD(p) ((nc_v8) * (const nc_v8u *)(p))
#define NC_STORE(p, v) (*(nc_v8u *)(p) = (v))
/* like the x86 min/max: the second operand when either is NaN */
#define NC_SEL(m, a, b) ((nc_v8)(((nc_m8)(a) & (m)) | ((nc_m8)(b) & ~(m))))
#define NC_MAX(a, b) NC_SEL((a) > (b), a, b)
#define NC_MIN(a, b) NC_SEL((a) < (b), a, b)
#define NC_ROWS oxrt_nchwc_conv_rows_portable
#define NC_B 8
#define NC_V nc_v8
#define NC_FMA(a, b, c) ((a) * (b) + (c))
#define NC_ADD(a, b) ((a) + (b))
#define NC_MUL(a, b) ((a) * (b))
#define NC_MBMAX 2
#define NC_NPMAX(mb) ((mb) == 1 ? 8 : 4)
#include "nchwc_conv_body.h"

static void conv_range(void *arg, size_t begin, size_t end) {
  const oxrt_nchwc_conv_job *j = arg;
#if defined(__x86_64__) && defined(__GNUC__)
  if (j->wh) return oxrt_nchwc_conv_rows_avx512bf16(j, begin, end);
  if (j->isa == OXRT_ISA_AVX512) return oxrt_nchwc_conv_rows_avx512(j, begin, end);
  if (j->isa == OXRT_ISA_AVX2) return oxrt_nchwc_conv_rows_avx2(j, begin, end);
#endif
  oxrt_nchwc_conv_rows_portable(j, begin, end);
}

static void conv_run(const oxrt_nchwc_geom *g, int nchw_c, const float *x, const float *wpacked, const uint16_t *xh,
                     const uint16_t *wh, const float *bias, const float *z, oxrt_activation act, const float *post,
                     float *y, oxrt_isa isa, oxrt_threadpool *pool) {
#if !(defined(__x86_64__) && defined(__GNUC__))
  isa = OXRT_ISA_PORTABLE;
#endif
  oxrt_nchwc_conv_job j = {.g = *g, .x = x, .w = wpacked, .xh = xh, .wh = wh, .bias = bias, .z = z, .y = y,
                           .act = act, .isa = isa, .nchw = nchw_c > 0, .nic = nchw_c};
  j.clamp = oxrt_act_is_clamp(act, &j.lo, &j.hi);
  if (post) j.post = true, j.pa = post[0], j.pb = post[1];
  j.mbmax = isa == OXRT_ISA_AVX512 || wh ? 4 : 2;
  /* a 1x1 stride-1 unpadded conv is one flat row: tiles run across image rows */
  if (g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 && g->pb == 0 && g->pr == 0 &&
      g->OH == g->H && g->OW == g->W) {
    j.g.W = j.g.OW = g->H * g->W;
    j.g.H = j.g.OH = 1;
  }
  const oxrt_nchwc_geom *f = &j.g;
  /* interior columns: ow * sw - pl >= 0 and ow * sw - pl + (kw - 1) * dw <= W - 1 */
  int64_t lo = (f->pl + f->sw - 1) / f->sw, last = f->W - 1 - (f->kw - 1) * f->dw + f->pl;
  int64_t hi = last < 0 ? 0 : last / f->sw + 1;
  j.ow_lo = lo < f->OW ? lo : f->OW;
  j.ow_hi = hi < j.ow_lo ? j.ow_lo : hi < f->OW ? hi : f->OW;
  j.chunk = f->OW <= 96 ? f->OW : 48;
  if (j.chunk < 1) j.chunk = 1;
  const size_t Mb = f->M / (size_t)f->B;
  j.nmg = (Mb + (size_t)j.mbmax - 1) / (size_t)j.mbmax;
  /* With several threads, a layer of few rows and output blocks (a 7x7 plane flattened into one 49-pixel row, 160
   * output channels: 3 items) would leave a thread idle for a third of it: its rows are cut into chunks of whole
   * tiles until each thread has about four items to claim. */
  const int nthr = oxrt_threadpool_size(pool), npmax = isa == OXRT_ISA_PORTABLE && !wh ? 4 : 6;
  const size_t rows = f->N * j.nmg * (size_t)f->OH;
  if (nthr > 1 && !j.nchw)
    while (rows * (size_t)((f->OW + j.chunk - 1) / j.chunk) < 4 * (size_t)nthr && j.chunk > 2 * npmax)
      j.chunk = (j.chunk / 2 + npmax - 1) / npmax * npmax;
  j.nchunk = (size_t)((f->OW + j.chunk - 1) / j.chunk);
  const size_t items = rows * j.nchunk;
  if (!items) return;
  /* about 256k multiply-adds per chunk of work */
  const double per_item = (double)j.chunk * (double)(j.mbmax * f->B) * (double)f->C * (double)(f->kh * f->kw);
  const size_t grain = per_item >= 262144.0 ? 1 : (size_t)(262144.0 / (per_item + 1.0)) + 1;
  oxrt_parallel_for(pool, items, grain, conv_range, &j);
}

void oxrt_nchwc_conv(const oxrt_nchwc_geom *g, const float *x, const float *wpacked, const float *bias,
                     const float *z, oxrt_activation act, float *y, oxrt_isa isa, oxrt_threadpool *pool) {
  conv_run(g, 0, x, wpacked, NULL, NULL, bias, z, act, NULL, y, isa, pool);
}

void oxrt_nchwc_conv_post(const oxrt_nchwc_geom *g, const float *x, const float *wpacked, const float *bias,
                          const float *z, oxrt_activation act, const float *post, float *y, oxrt_isa isa,
                          oxrt_threadpool *pool) {
  conv_run(g, 0, x, wpacked, NULL, NULL, bias, z, act, post, y, isa, pool);
}

typedef struct {
  const float *x;
  uint16_t *xh;
  size_t W, pl, pr; /* pixels per row and zero pixels written around it (pl + pr > 0: rows of the padded copy) */
} to_bf16_job;

static void to_bf16_range(void *arg, size_t b, size_t e) {
  const to_bf16_job *t = arg;
#if defined(__x86_64__) && defined(__GNUC__)
  if (t->pl + t->pr)
    oxrt_nchwc_to_bf16_rows(t->x + b * t->W * 16, t->xh + b * (t->W + t->pl + t->pr) * 16, e - b, t->W, t->pl, t->pr);
  else /* whole pixels: the conversion swaps channel pairs */
    oxrt_nchwc_to_bf16(t->x + b * 16, t->xh + b * 16, (e - b) * 16);
#else
  oxrt_convert(OXRT_BFLOAT16, t->xh + b * 16, OXRT_FLOAT, t->x + b * 16, (e - b) * 16, false); /* never runs */
#endif
}

/* The bfloat16 copy of X lives in the calling thread's GEMM scratch (no GEMM runs inside this conv): a fresh
 * buffer per call cost page faults every time. */
bool oxrt_nchwc_conv_bf16(const oxrt_nchwc_geom *g, const float *x, const uint16_t *wpacked, const float *bias,
                          const float *z, oxrt_activation act, float *y, oxrt_threadpool *pool) {
  return oxrt_nchwc_conv_bf16_post(g, x, wpacked, bias, z, act, NULL, y, pool);
}

bool oxrt_nchwc_conv_bf16_post(const oxrt_nchwc_geom *g, const float *x, const uint16_t *wpacked, const float *bias,
                               const float *z, oxrt_activation act, const float *post, float *y,
                               oxrt_threadpool *pool) {
#if defined(__x86_64__) && defined(__GNUC__)
  /* 1x1 convs over planes larger than L2: the input converted a band at a time instead of whole */
  if (oxrt_nchwc_conv1x1_bf16(g, x, wpacked, bias, z, act, post, y, pool)) return true;
#endif
  /* column padding goes into the copy (zero pixels), so that border pixels run in full tiles */
  oxrt_nchwc_geom gp = *g;
  const size_t pad = (size_t)(g->pl + g->pr), rows = g->N * (g->C / (size_t)g->B) * (size_t)g->H;
  gp.W += g->pl + g->pr, gp.pl = gp.pr = 0;
  size_t n = g->N * g->C * (size_t)(gp.H * gp.W);
  uint16_t *xh = oxrt_scratch_get(OXRT_SCRATCH_GEMM, sizeof *xh * (n ? n : 1));
  if (!xh) return false;
  to_bf16_job t = {x, xh, (size_t)g->W, (size_t)g->pl, (size_t)g->pr};
  if (pad)
    oxrt_parallel_for(pool, rows, 65536 / ((size_t)gp.W * 16) + 1, to_bf16_range, &t);
  else
    oxrt_parallel_for(pool, n / 16, 4096, to_bf16_range, &t);
  conv_run(&gp, 0, NULL, NULL, xh, wpacked, bias, z, act, post, y, OXRT_ISA_AVX512, pool);
  return true;
}

/* The bfloat16 stem: X as planes of channel pairs in the calling thread's GEMM scratch. */
bool oxrt_nchwc_conv_nchw_input_bf16(const oxrt_nchwc_geom *g, size_t C_real, const float *x, const uint16_t *wpacked,
                                     const float *bias, const float *z, oxrt_activation act, float *y,
                                     oxrt_threadpool *pool) {
#if defined(__x86_64__) && defined(__GNUC__)
  const size_t P = (C_real + 1) / 2, HW = (size_t)(g->H * g->W);
  uint16_t *xh = oxrt_scratch_get(OXRT_SCRATCH_GEMM, sizeof *xh * (g->N * P * 2 * HW + 1));
  if (!xh) return false;
  oxrt_nchw_to_bf16_pairs(x, xh, g->N, C_real, HW);
  conv_run(g, (int)(2 * P), NULL, NULL, xh, wpacked, bias, z, act, NULL, y, OXRT_ISA_AVX512, pool);
  return true;
#else
  (void)g, (void)C_real, (void)x, (void)wpacked, (void)bias, (void)z, (void)act, (void)y, (void)pool;
  return false;
#endif
}

void oxrt_nchwc_conv_nchw_input(const oxrt_nchwc_geom *g, size_t C_real, const float *x, const float *wpacked,
                                const float *bias, const float *z, oxrt_activation act, float *y, oxrt_isa isa,
                                oxrt_threadpool *pool) {
  conv_run(g, (int)C_real, x, wpacked, NULL, NULL, bias, z, act, NULL, y, isa, pool);
}
