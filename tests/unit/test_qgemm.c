/* test_qgemm.c - the 8-bit GEMM against plain int64 loops, for every kernel this machine can run (in one
 * process, at every ISA level: the portable int16 and byte kernels always, AVX2 / AVX-VNNI / AVX-512 ones where
 * present, with the output stage of that level), over
 * random shapes with odd tails (7-bit weights for the VPMADDUBSW ones), all signedness mixes, per-tensor / per-row / per-column zero points, packed
 * and on-the-fly operands, an implicit-fill B, and each output stage, row-major or transposed. */
#include "kernels/gemm.h"
#include "kernels/qdynamic.h"
#include "kernels/qgemm.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static unsigned qseed = 7;
static unsigned qrnd(void) {
  qseed = qseed * 1103515245u + 12345u;
  return (qseed >> 8) & 0xffffff;
}
static size_t qpick(size_t lo, size_t hi) { return lo + qrnd() % (hi - lo + 1); }

/* B filled from a row-major [K, N] matrix, the way an implicit im2col would hand it over. */
typedef struct {
  const uint8_t *B;
  size_t N;
} fill_ctx;
static void fill_b(const void *ctx, size_t k0, size_t kc, size_t j0, size_t n, uint8_t *dst, size_t ld) {
  const fill_ctx *f = ctx;
  for (size_t k = 0; k < kc; k++) memcpy(dst + k * ld, f->B + (k0 + k) * f->N + j0, n);
}

static int32_t val(const uint8_t *p, bool s) { return s ? (int32_t)(int8_t)*p : (int32_t)*p; }

static void check_kernel(const oxrt_qkernel *kern, oxrt_threadpool *pool, int *bad) {
  for (int t = 0; t < 60 && !*bad; t++) {
    size_t M = qpick(1, 40), N = qpick(1, 300), K = qpick(1, 600);
    if (t % 10 == 0) M = qpick(100, 700); /* several row tiles */
    if (t % 10 == 5) K = qpick(1153, 2400); /* several K blocks with B packed beforehand too */
    bool as = qrnd() & 1, bs = qrnd() & 1, zrow = qrnd() & 1, zcol = qrnd() & 1, packa = qrnd() & 1;
    int bmode = (int)(qrnd() % 3); /* 0 packed, 1 on the fly, 2 filled */
    oxrt_qout_kind kind = (oxrt_qout_kind)(t % 4);
    bool per_row = qrnd() & 1, use_bias = qrnd() & 1, vscale = qrnd() & 1;
    uint8_t *A = malloc(M * K), *B = malloc(K * N);
    for (size_t i = 0; i < M * K; i++) A[i] = (uint8_t)qrnd();
    for (size_t i = 0; i < K * N; i++) B[i] = (uint8_t)qrnd();
    if (t % 7 == 3) memset(A, as ? 0x80 : 0xff, M * K); /* extremes: the largest products everywhere */
    if (t % 7 == 3) memset(B, bs ? 0x80 : 0xff, K * N);
    if (kern->pairs7) { /* VPMADDUBSW kernels take int8-side values of 7 bits only (the driver checks) */
      bool a_side = kern->b_u8, sg = a_side ? as : bs;
      uint8_t *w = a_side ? A : B;
      for (size_t i = 0; i < (a_side ? M * K : K * N); i++) w[i] = (uint8_t)((qrnd() % 128) + (sg ? 192 : 64));
      if (t % 7 == 3) memset(w, sg ? 0xc0 : 0x40, a_side ? M * K : K * N); /* -64 in the packed domain */
    }
    int32_t *za = malloc(sizeof(int32_t) * M), *zb = malloc(sizeof(int32_t) * N), *bias = malloc(sizeof(int32_t) * (M + N));
    for (size_t i = 0; i < M; i++) za[i] = as ? (int32_t)(qrnd() % 256) - 128 : (int32_t)(qrnd() % 256);
    /* A already in the kernel's A type with zero point 0: B's column sums are skipped (symmetric conv weights) */
    if (t % 5 == 1 && kern->g == 4 && !kern->pairs7) {
      as = kern->b_u8;
      memset(za, 0, sizeof(int32_t) * M);
    }
    if (t % 5 == 2 && kern->g == 4 && !kern->pairs7) { /* B's packed zero points all 0: A's row sums skipped */
      bs = !kern->b_u8; /* (zb zeroed below) */
      bmode = 0;
    }
    for (size_t i = 0; i < N; i++) zb[i] = bs ? (int32_t)(qrnd() % 256) - 128 : (int32_t)(qrnd() % 256);
    if (t % 5 == 2 && kern->g == 4 && !kern->pairs7) memset(zb, 0, sizeof(int32_t) * N);
    if (t % 5 == 2 && kern->g == 4 && !kern->pairs7 && (qrnd() & 1)) { /* and A's: no correction at all */
      as = kern->b_u8;
      memset(za, 0, sizeof(int32_t) * M);
    }
    bool tr = qrnd() % 3 == 0; /* C transposed: element (i, j) at C[j * ldc + i] */
    for (size_t i = 0; i < M + N; i++) bias[i] = (int32_t)(qrnd() % 20001) - 10000;
    float *scale = malloc(sizeof(float) * (M + N)), *fbias = malloc(sizeof(float) * (M + N));
    for (size_t i = 0; i < M + N; i++) scale[i] = 1e-5f * (float)(1 + qrnd() % 1000), fbias[i] = (float)(qrnd() % 100) - 50;
    size_t es = kind == OXRT_QOUT_I32 || kind == OXRT_QOUT_F32 ? 4 : 1, ldc = (tr ? M : N) + (size_t)(t % 3);
    uint8_t *C = malloc(es * (tr ? N : M) * ldc);
    oxrt_qmat am = {A, as, K, 1, za, zrow, NULL}, bm = {B, bs, 1, N, zb, zcol, NULL};
    oxrt_qpack ap = {0}, bp = {0};
    if (packa) CHECK(oxrt_qpack_make(kern, true, M, K, &am, &ap));
    if (bmode == 0) CHECK(oxrt_qpack_make(kern, false, N, K, &bm, &bp));
    fill_ctx fc = {B, N};
    oxrt_qgemm_ex g = {.M = M, .N = N, .K = K, .kern = kern, .ap = packa ? &ap : NULL, .a = am,
                       .bp = bmode == 0 ? &bp : NULL, .bfill = bmode == 2 ? fill_b : NULL, .bctx = &fc, .b = bm};
    int32_t lo = kind == OXRT_QOUT_S8 ? -128 : 0, hi = kind == OXRT_QOUT_S8 ? 127 : 255, ozp = kind == OXRT_QOUT_S8 ? -3 : 131;
    if (t % 5 == 1) lo = ozp; /* a fused Relu */
    g.out = (oxrt_qgemm_out){.kind = kind, .C = C, .ldc = ldc, .per_row = per_row, .bias = use_bias ? bias : NULL,
                             .scale = scale, .n_scale = vscale ? (per_row ? M : N) : 1,
                             .fbias = use_bias ? fbias : NULL, .zp = ozp, .lo = lo, .hi = hi, .transposed = tr};
    CHECK(oxrt_qgemm_run(&g, pool));
    for (size_t i = 0; i < M && !*bad; i++)
      for (size_t j = 0; j < N; j++) {
        int64_t s = 0;
        for (size_t k = 0; k < K; k++)
          s += (int64_t)(val(A + i * K + k, as) - za[zrow ? i : 0]) * (val(B + k * N + j, bs) - zb[zcol ? j : 0]);
        size_t v = per_row ? i : j;
        if (use_bias) s += bias[v];
        float sc = g.out.n_scale == 1 ? scale[0] : scale[v];
        bool ok;
        double got, want;
        size_t at = tr ? j * ldc + i : i * ldc + j;
        if (kind == OXRT_QOUT_I32) {
          got = ((int32_t *)C)[at], want = (double)s;
          ok = got == want;
        } else if (kind == OXRT_QOUT_F32) {
          got = ((float *)C)[at], want = (double)((float)s * sc) + (use_bias ? fbias[v] : 0);
          ok = fabs(got - want) <= 1e-5 * (1 + fabs(want));
        } else {
          float f = (float)s * sc;
          f = f > (float)(lo - ozp) ? f : (float)(lo - ozp);
          f = f < (float)(hi - ozp) ? f : (float)(hi - ozp);
          want = nearbyintf(f) + ozp;
          got = kind == OXRT_QOUT_U8 ? (double)C[at] : (double)(int8_t)C[at];
          ok = got == want;
        }
        if (!ok) {
          fprintf(stderr, "  qgemm %s M=%zu N=%zu K=%zu as=%d bs=%d zrow=%d zcol=%d packa=%d bmode=%d kind=%d tr=%d: "
                          "C[%zu,%zu] = %.17g, expected %.17g\n",
                  kern->name, M, N, K, as, bs, zrow, zcol, packa, bmode, (int)kind, tr, i, j, got, want);
          (*bad)++;
          break;
        }
      }
    oxrt_qpack_free(&ap);
    oxrt_qpack_free(&bp);
    free(A), free(B), free(C), free(za), free(zb), free(bias), free(scale), free(fbias);
  }
}

void unit_each_isa(void (*fn)(void));
static oxrt_threadpool *q_pool;

/* Every kernel the current ISA level allows; the output stage follows the level too (qgemm_store_body.h). */
static void check_level(void) {
  int ran = 0;
  for (int id = 0; id < OXRT_QK_COUNT; id++) {
    const oxrt_qkernel *k = oxrt_qgemm_kernel_at((oxrt_qkernel_id)id);
    if (!k) continue;
    int bad = 0;
    check_kernel(k, q_pool, &bad);
    CHECK(bad == 0);
    ran++;
  }
  CHECK(ran >= 2);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The AVX-512 tile packer against the plain definition of a k-group-4 B panel: column j of panel p, k-group kk holds
 * rows 4kk .. 4kk+3 at column 32p + j (xor flip; rows past kc zero), for odd and even panel counts and ragged kc. */
static void check_panels32(void) {
  if (oxrt_cpu_isa() < OXRT_ISA_AVX512) return;
  static uint8_t src[67][256], out[17 * 4 * 32 * 5 + 64];
  const uint8_t *rows[67];
  unsigned seed = 5;
  for (size_t k = 0; k < 67; k++) {
    rows[k] = src[k];
    for (size_t j = 0; j < 256; j++) seed = seed * 1103515245u + 12345u, src[k][j] = (uint8_t)(seed >> 16);
  }
  int bad = 0;
  for (size_t kc = 1; kc <= 67; kc += 11)
    for (size_t panels = 1; panels <= 5; panels++)
      for (int f = 0; f < 2; f++) {
        uint32_t flip = f ? 0x80808080u : 0;
        size_t kg = (kc + 3) / 4, off = 3 + kc % 5, pstride = kg * 128;
        memset(out, 0xcd, sizeof out);
        oxrt_qpack_panels32_avx512(rows, off, kc, panels, flip, out, pstride);
        for (size_t p = 0; p < panels; p++)
          for (size_t kk = 0; kk < kg; kk++)
            for (size_t j = 0; j < 32; j++)
              for (size_t t = 0; t < 4; t++) {
                size_t k = 4 * kk + t;
                uint8_t want = k < kc ? (uint8_t)(src[k][off + 32 * p + j] ^ (f ? 0x80 : 0)) : 0;
                bad += out[p * pstride + kk * 128 + 4 * j + t] != want;
              }
      }
  CHECK(bad == 0);
}

/* DynamicQuantizeLinear's AVX-512 passes against its scalar definition (quant_util.h): range with NaN, infinities
 * and signed zeros among the values, ragged lengths; quantization on values near every rounding tie. */
static void check_qdynamic(void) {
  if (oxrt_cpu_isa() < OXRT_ISA_AVX512) return;
  enum { NX = 1000 };
  static float x[NX];
  static uint8_t y[NX + 16];
  unsigned seed = 7;
  int bad = 0;
  for (int rep = 0; rep < 40; rep++) {
    size_t n = rep < 20 ? (size_t)rep : 37 + (size_t)rep * 23;
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      float v = ((float)(seed >> 8) / 16777216.0f - 0.5f) * (float)(1 + rep % 7) * 10.0f;
      x[i] = (seed & 0x70) == 0x70 ? -0.0f : (seed & 0x3f0) == 0x3f0 ? NAN : v;
    }
    if (rep == 30) x[5] = INFINITY, x[9] = -3.5f;
    for (size_t i = 0; rep % 3 == 1 && i < n; i++) /* a range whose minimum is a zero: +0 must stay, -0 not enter */
      x[i] = x[i] > 0 ? x[i] : x[i] < 0 ? -x[i] : x[i];
    for (size_t i = n > 40 ? n - 40 : 0; rep % 2 && i < n; i += 3) x[i] = NAN; /* NaN last in its lane */
    float lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
      lo = x[i] < lo ? x[i] : lo;
      hi = x[i] > hi ? x[i] : hi;
    }
    float vlo = 1, vhi = -1;
    oxrt_qdyn_minmax_avx512(x, n, &vlo, &vhi);
    bad += memcmp(&vlo, &lo, 4) != 0 || memcmp(&vhi, &hi, 4) != 0;
    float scale = (hi == lo ? 1.0f : hi - lo) / 255.0f, zp = (float)(rep * 6 % 256);
    if (rep % 5 == 0) /* values k/2 * scale: halfway cases of the rounding */
      for (size_t i = 0; i < n; i++) x[i] = (float)((int)i % 600 - 300) * 0.5f * scale;
    memset(y, 0xcd, sizeof y);
    oxrt_qdyn_quant_avx512(x, y, n, scale, zp);
    for (size_t i = 0; i < n; i++) {
      float v = x[i] / scale;
      v = v != v ? -zp : v;
      float a = 0.0f - zp, b = 255.0f - zp;
      v = v > a ? v : a;
      v = v < b ? v : b;
      bad += y[i] != (uint8_t)(int32_t)(((v + 12582912.0f) - 12582912.0f) + zp);
    }
    bad += y[n] != 0xcd;
  }
  CHECK(bad == 0);
}
#endif

void test_kernel_qgemm_random(void) {
  oxrt_threadpool *pool = q_pool = oxrt_threadpool_create(2);
  unit_each_isa(check_level);
#if defined(__x86_64__) && defined(__GNUC__)
  check_panels32();
  check_qdynamic();
#endif
  /* Weights go to the VPMADDUBSW kernel only when every pair fits (7-bit weights), else to the default one. */
  if (oxrt_qgemm_kernel()->id == OXRT_QK_AVX2) {
    int8_t w7[64], w8[64];
    for (int i = 0; i < 64; i++) w7[i] = (int8_t)(i % 2 ? -64 : 63), w8[i] = (int8_t)(i % 2 ? -65 : 64);
    oxrt_qmat m7 = {w7, true, 16, 1, NULL, false, NULL}, m8 = {w8, true, 16, 1, NULL, false, NULL};
    oxrt_qpack p7, p8;
    CHECK(oxrt_qpack_make_weight(true, 4, 16, &m7, &p7) && p7.kern->id == OXRT_QK_AVX2_BYTES_B);
    CHECK(oxrt_qpack_make_weight(false, 4, 16, &m8, &p8) && p8.kern->id == OXRT_QK_AVX2);
    oxrt_qpack_free(&p7);
    oxrt_qpack_free(&p8);
  }
  /* Weights as A (convolution) go to the B-unsigned variant of a VNNI kernel. */
  oxrt_qkernel_id bid = oxrt_qgemm_kernel()->id;
  if (bid == OXRT_QK_AVX512VNNI || bid == OXRT_QK_AVXVNNI) {
    int8_t w[64];
    for (int i = 0; i < 64; i++) w[i] = (int8_t)(i * 37);
    oxrt_qmat m = {w, true, 16, 1, NULL, false, NULL};
    oxrt_qpack p;
    CHECK(oxrt_qpack_make_weight(true, 4, 16, &m, &p) && p.kern->b_u8 && p.kern->g == 4);
    oxrt_qpack_free(&p);
  }
  /* The process-wide choice is one of the runnable kernels and follows the float kernels' ISA cap. */
  const oxrt_qkernel *best = oxrt_qgemm_kernel();
  CHECK(best && oxrt_qgemm_kernel_at(best->id) == best);
  if (oxrt_cpu_isa() == OXRT_ISA_PORTABLE) CHECK(best->id == OXRT_QK_PORTABLE);
  oxrt_threadpool_free(pool);
}
