/* test_gemm.c - the extended GEMM (packed operands, row / column bias + residual + activation epilogue) and the
 * implicit-im2col float convolution against plain double-precision loops, over random shapes with odd tails,
 * strides, dilations and pads, at every ISA level the machine has (one process), so every micro-kernel and panel
 * fill runs. */
#include "kernels/im2col.h"
#include "unit.h"
#include <math.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static unsigned gseed = 11;
static float grnd(void) {
  gseed = gseed * 1103515245u + 12345u;
  return (float)((gseed >> 8) & 0xffff) / 32768.0f - 1.0f;
}
static size_t gpick(size_t lo, size_t hi) { return lo + (size_t)((grnd() + 1) * 0.5f * (float)(hi - lo + 1)) % (hi - lo + 1); }

static bool close_to(float got, double want) { return fabs((double)got - want) <= 1e-4 * (1.0 + fabs(want)); }

/* NaN must come out where the reference is NaN (Relu passes it), otherwise the value must be close. */
static bool close_or_nan(float got, double want) { return isnan(want) ? isnan(got) : close_to(got, want); }

double unit_act_ref(oxrt_activation a, double x); /* test_conv_paths.c */
void unit_each_isa(void (*fn)(void));

static void sgemm_epilogue_at_level(void) {
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  int bad = 0;
  for (int t = 0; t < 160 && !bad; t++) {
    size_t M = gpick(1, 70), N = gpick(1, 150), K = gpick(1, 300), ldc = N + (size_t)t % 3, ldz = N + (size_t)t % 2;
    bool packa = t % 2, packb = t % 3 == 0, use_z = t % 5 != 0, use_bias = t % 3 != 1, use_bc = t % 4 != 2;
    /* every activation kind, Relu (the common one) every other case */
    oxrt_activation act = {t % 2 ? OXRT_ACT_RELU : (oxrt_act)((t / 2) % OXRT_ACT_COUNT_), 0, 0};
    if (act.kind == OXRT_ACT_CLIP) act.a = -0.5f, act.b = 0.75f;
    if (act.kind == OXRT_ACT_LEAKY_RELU) act.a = 0.1f;
    if (act.kind == OXRT_ACT_HARD_SIGMOID) act.a = 0.2f, act.b = 0.5f;
    float alpha = t % 7 == 3 ? 0.5f : 1.0f, beta = t % 4 == 3 ? 0.75f : t % 8 == 5 ? 1.0f : 0.0f;
    bool nans = t % 6 == 5; /* a NaN in A (a whole row of C) and one in Z, through bias, z and Relu */
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N), *C = malloc(sizeof(float) * M * ldc);
    float *C0 = malloc(sizeof(float) * M * ldc);
    float *Z = malloc(sizeof(float) * M * ldz), *bias = malloc(sizeof(float) * M), *bc = malloc(sizeof(float) * N);
    for (size_t i = 0; i < M * K; i++) A[i] = grnd();
    for (size_t i = 0; i < K * N; i++) B[i] = grnd();
    for (size_t i = 0; i < M * ldz; i++) Z[i] = 4 * grnd();
    for (size_t i = 0; i < M; i++) bias[i] = grnd();
    for (size_t i = 0; i < N; i++) bc[i] = grnd();
    for (size_t i = 0; i < M * ldc; i++) C[i] = C0[i] = beta == 0 ? NAN : 2 * grnd();
    if (nans) A[(M / 2) * K + K / 3] = NAN, Z[(M - 1) * ldz + N - 1] = NAN;
    oxrt_sgemm_apack ap = {0};
    oxrt_sgemm_bpack bp = {0};
    if (packa) CHECK(oxrt_sgemm_pack_a(false, M, K, A, K, &ap));
    if (packb) CHECK(oxrt_sgemm_pack_b(false, K, N, B, N, &bp));
    oxrt_sgemm_ex g = {.M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .ap = packa ? &ap : NULL, .A = A,
                       .lda = K, .bp = packb ? &bp : NULL, .B = B, .ldb = N, .C = C, .ldc = ldc,
                       .bias = use_bias ? bias : NULL, .bias_col = use_bc ? bc : NULL, .Z = use_z ? Z : NULL,
                       .ldz = ldz, .act = act.kind, .act_a = act.a, .act_b = act.b};
    CHECK(oxrt_sgemm_run(&g, pool));
    for (size_t i = 0; i < M && !bad; i++)
      for (size_t n = 0; n < N; n++) {
        double s = 0;
        for (size_t k = 0; k < K; k++) s += (double)A[i * K + k] * B[k * N + n];
        s *= alpha;
        if (beta != 0) s += (double)beta * C0[i * ldc + n];
        if (use_bias) s += bias[i];
        if (use_bc) s += bc[n];
        if (use_z) s += Z[i * ldz + n];
        s = unit_act_ref(act, s);
        if (!close_or_nan(C[i * ldc + n], s)) {
          fprintf(stderr, "  sgemm_ex %s M=%zu N=%zu K=%zu packa=%d packb=%d alpha=%g beta=%g act=%d bias=%d "
                          "bias_col=%d z=%d: C[%zu,%zu] = %g, expected %g\n",
                  oxrt_isa_name(oxrt_cpu_isa()), M, N, K, packa, packb, alpha, beta, (int)act.kind, use_bias, use_bc,
                  use_z, i, n, C[i * ldc + n], s);
          bad++;
          break;
        }
      }
    oxrt_sgemm_apack_free(&ap);
    oxrt_sgemm_bpack_free(&bp);
    free(A), free(B), free(C), free(C0), free(Z), free(bias), free(bc);
  }
  CHECK(bad == 0);
  oxrt_threadpool_free(pool);
}

void test_kernel_sgemm_epilogue(void) { unit_each_isa(sgemm_epilogue_at_level); }

/* Every shape class the driver treats differently, with every operand form: small M (1..8 rows: GEMV, B read in
 * place, row-count kernels over packed B), small N (masked columns), a few rows and columns over a long K (K split
 * across threads: at least two threads' minimum work), blocks larger than KC/MC/NC, row counts whose last panel
 * shares a short tail (row and column splits); transposed A/B, packed A/B, alpha/beta, an epilogue, one and two
 * threads. C has padding columns with a sentinel that no path may touch. */
typedef struct {
  size_t M, N, K;
} mnk;

/* Epilogue variants of a class case: none, row bias + Relu (Conv), column bias + GELU (MatMul + BiasGelu), both
 * biases + GELU, column bias + Relu (the clamp after the column bias, in the micro-kernel). */
enum { EPI_NONE, EPI_ROW_RELU, EPI_COL_GELU, EPI_BOTH_GELU, EPI_COL_RELU, EPI_COUNT };

/* bf16: the packed operands are packed in bfloat16, so the reference multiplies both operands rounded to it. */
static int sgemm_case_ex(oxrt_threadpool *pool, mnk s, bool ta, bool tb, bool packa, bool packb, float alpha,
                         float beta, int epi, bool bf16) {
  size_t M = s.M, N = s.N, K = s.K, lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
  float *A = malloc(sizeof(float) * ((ta ? K : M) * lda + 1)), *B = malloc(sizeof(float) * ((tb ? N : K) * ldb + 1));
  float *C = malloc(sizeof(float) * M * ldc), *C0 = malloc(sizeof(float) * M * ldc), *bias = malloc(sizeof(float) * M);
  float *bc = malloc(sizeof(float) * N);
  for (size_t i = 0; i < (ta ? K : M) * lda; i++) A[i] = grnd();
  for (size_t i = 0; i < (tb ? N : K) * ldb; i++) B[i] = grnd();
  for (size_t i = 0; i < M; i++) bias[i] = grnd();
  for (size_t i = 0; i < N; i++) bc[i] = grnd();
  for (size_t i = 0; i < M * ldc; i++) C[i] = C0[i] = i % ldc >= N ? 12345.0f : beta == 0 ? NAN : grnd();
  oxrt_sgemm_apack ap = {0};
  oxrt_sgemm_bpack bp = {0};
  if (packa) CHECK(bf16 ? oxrt_sgemm_pack_a_bf16(ta, M, K, A, lda, &ap) : oxrt_sgemm_pack_a(ta, M, K, A, lda, &ap));
  if (packb) CHECK(bf16 ? oxrt_sgemm_pack_b_bf16(tb, K, N, B, ldb, &bp) : oxrt_sgemm_pack_b(tb, K, N, B, ldb, &bp));
  if (bf16) CHECK((!packa || ap.bf16) && (!packb || bp.bf16));
  float (*rd)(float) = bf16 ? unit_bf16_round : NULL;
  const bool row_bias = epi == EPI_ROW_RELU || epi == EPI_BOTH_GELU, col_bias = epi >= EPI_COL_GELU;
  oxrt_activation act = {epi == EPI_NONE                                ? OXRT_ACT_NONE
                         : epi == EPI_COL_GELU || epi == EPI_BOTH_GELU ? OXRT_ACT_GELU
                                                                        : OXRT_ACT_RELU,
                         0, 0};
  if (packa || packb || epi) {
    oxrt_sgemm_ex g = {.M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .ap = packa ? &ap : NULL, .trans_a = ta,
                       .A = A, .lda = lda, .bp = packb ? &bp : NULL, .trans_b = tb, .B = B, .ldb = ldb, .C = C,
                       .ldc = ldc, .bias = row_bias ? bias : NULL, .bias_col = col_bias ? bc : NULL, .act = act.kind};
    CHECK(oxrt_sgemm_run(&g, pool));
  } else {
    oxrt_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, pool);
  }
  int bad = 0;
  for (size_t i = 0; i < M && !bad; i++)
    for (size_t n = 0; n < ldc && !bad; n++) {
      double want = 12345.0;
      if (n < N) {
        double d = 0;
        for (size_t k = 0; k < K; k++)
        {
          float a = ta ? A[k * lda + i] : A[i * lda + k], b = tb ? B[n * ldb + k] : B[k * ldb + n];
          d += rd ? (double)rd(a) * rd(b) : (double)a * b;
        }
        want = alpha * d + (beta != 0 ? (double)beta * C0[i * ldc + n] : 0.0);
        if (row_bias) want += bias[i];
        if (col_bias) want += bc[n];
        if (epi) want = unit_act_ref(act, want);
      }
      if (!close_to(C[i * ldc + n], want)) {
        fprintf(stderr, "  sgemm class %s%s M=%zu N=%zu K=%zu ta=%d tb=%d packa=%d packb=%d alpha=%g beta=%g epi=%d "
                        "threads=%d: C[%zu,%zu] = %g, expected %g\n",
                oxrt_isa_name(oxrt_cpu_isa()), bf16 ? " bf16" : "", M, N, K, ta, tb, packa, packb, alpha, beta, epi,
                oxrt_threadpool_size(pool), i, n, C[i * ldc + n], want);
        bad++;
      }
    }
  oxrt_sgemm_apack_free(&ap);
  oxrt_sgemm_bpack_free(&bp);
  free(A), free(B), free(C), free(C0), free(bias), free(bc);
  return bad;
}

static int sgemm_case(oxrt_threadpool *pool, mnk s, bool ta, bool tb, bool packa, bool packb, float alpha, float beta,
                      int epi) {
  return sgemm_case_ex(pool, s, ta, tb, packa, packb, alpha, beta, epi, false);
}

/* Both operands packed need no scratch for panels: the first call on a fresh thread once failed there. */
static void *packed_on_fresh_thread(void *bad) {
  *(int *)bad = sgemm_case(NULL, (mnk){20, 40, 30}, false, true, true, true, 1.0f, 0.0f, EPI_NONE);
  return NULL;
}

/* A quarter of the cases with an epilogue, its variant changing with the shape so every shape meets every one. */
static int epi_variant(size_t si, int v) {
  return v % 4 == 3 ? 1 + (int)((si + (size_t)v / 4) % (EPI_COUNT - 1)) : EPI_NONE;
}

static void sgemm_classes_at_level(void) {
  static const mnk shapes[] = {
      {1, 1, 1},     {1, 37, 301},  {1, 768, 64},  {2, 50, 71},    {3, 33, 129},  {4, 16, 520},  {5, 100, 40},
      {6, 31, 257},  {7, 64, 17},   {8, 129, 300}, {12, 32, 64},   {13, 47, 90},  {40, 1, 300},  {70, 3, 50},
      {200, 5, 130}, {64, 9, 700},  {5, 20, 6000}, {3, 40, 4800},  {150, 300, 520}, {300, 1100, 40}, {61, 70, 1},
      {49, 64, 300}, {25, 40, 100}, {97, 40, 200},
  };
  oxrt_threadpool *pools[2] = {NULL, oxrt_threadpool_create(2)};
  int bad = 0;
  for (size_t si = 0; si < sizeof shapes / sizeof *shapes && !bad; si++)
    for (int v = 0; v < 16 && !bad; v++) {
      bool ta = v & 1, tb = v & 2, packa = v & 4, packb = v & 8;
      float alpha = v % 3 == 1 ? 0.5f : 1.0f, beta = v % 5 == 0 ? 0.0f : v % 5 == 1 ? 1.0f : 0.75f;
      bad += sgemm_case(pools[(v + si) % 2], shapes[si], ta, tb, packa, packb, alpha, beta, epi_variant(si, v));
    }
  /* bfloat16 packs (AVX512_BF16 machines at the AVX-512 level; elsewhere packing in bfloat16 is refused) */
  if (oxrt_sgemm_bf16_native()) {
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes && !bad; si++)
      for (int v = 4; v < 16 && !bad; v++) {
        bool ta = v & 1, tb = v & 2, packa = v & 4, packb = v & 8;
        float alpha = v % 3 == 1 ? 0.5f : 1.0f, beta = v % 5 == 0 ? 0.0f : v % 5 == 1 ? 1.0f : 0.75f;
        bad += sgemm_case_ex(pools[(v + si) % 2], shapes[si], ta, tb, packa, packb, alpha, beta, epi_variant(si, v),
                             true);
      }
  } else {
    float one = 1.0f;
    oxrt_sgemm_apack ap = {0};
    oxrt_sgemm_bpack bp = {0};
    CHECK(!oxrt_sgemm_pack_a_bf16(false, 1, 1, &one, 1, &ap) && !ap.data);
    CHECK(!oxrt_sgemm_pack_b_bf16(false, 1, 1, &one, 1, &bp) && !bp.data);
  }
  pthread_t th;
  int fresh_bad = 1;
  if (pthread_create(&th, NULL, packed_on_fresh_thread, &fresh_bad) == 0) pthread_join(th, NULL);
  CHECK(fresh_bad == 0);
  CHECK(bad == 0);
  oxrt_threadpool_free(pools[1]);
}

void test_kernel_sgemm_classes(void) { unit_each_isa(sgemm_classes_at_level); }

/* Plain N-D convolution (1-D and 2-D here) in double, with optional z and Relu. */
static void conv_ref(const oxrt_conv_shape *s, const float *x, const float *w, const float *b, const float *z,
                     bool relu, double *y) {
  size_t Cg = s->C / s->group, Mg = s->M / s->group;
  int64_t IH = s->nd == 2 ? s->in[0] : 1, IW = s->in[s->nd - 1], OH = s->nd == 2 ? s->out[0] : 1,
          OW = s->out[s->nd - 1], KH = s->nd == 2 ? s->k[0] : 1, KW = s->k[s->nd - 1];
  int L = s->nd - 1;
  for (size_t n = 0; n < s->N; n++)
    for (size_t m = 0; m < s->M; m++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          size_t g = m / Mg;
          double acc = b ? b[m] : 0;
          for (size_t c = 0; c < Cg; c++)
            for (int64_t kh = 0; kh < KH; kh++)
              for (int64_t kw = 0; kw < KW; kw++) {
                int64_t ih = s->nd == 2 ? oh * s->stride[0] + kh * s->dil[0] - s->pad[0] : 0;
                int64_t iw = ow * s->stride[L] + kw * s->dil[L] - s->pad[L];
                if (ih < 0 || ih >= IH || iw < 0 || iw >= IW) continue;
                acc += (double)x[((n * s->C + g * Cg + c) * (size_t)IH + (size_t)ih) * (size_t)IW + (size_t)iw] *
                       w[((m * Cg + c) * (size_t)KH + (size_t)kh) * (size_t)KW + (size_t)kw];
              }
          size_t o = ((n * s->M + m) * (size_t)OH + (size_t)oh) * (size_t)OW + (size_t)ow;
          if (z) acc += z[o];
          if (relu && acc < 0) acc = 0;
          y[o] = acc;
        }
}

static void conv_f32_random_at_level(void) {
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  int bad = 0;
  for (int t = 0; t < 80 && !bad; t++) {
    oxrt_conv_shape s = {.nd = t % 5 == 0 ? 1 : 2};
    s.N = t % 7 == 0 ? 2 : 1;
    s.group = t % 6 == 0 ? 2 : 1;
    s.C = s.group * gpick(1, 12);
    s.M = s.group * gpick(1, 40);
    for (int d = 0; d < s.nd; d++) {
      s.k[d] = (int64_t)gpick(1, t % 9 == 0 ? 7 : 3);
      s.stride[d] = (int64_t)gpick(1, t % 4 == 0 ? 3 : 2);
      s.dil[d] = t % 8 == 0 ? 2 : 1;
      s.pad[d] = (int64_t)gpick(0, (size_t)s.k[d] / 2 + 1);
      s.in[d] = (int64_t)gpick(1, t % 3 == 0 ? 40 : 15);
      int64_t span = s.in[d] + 2 * s.pad[d] - s.dil[d] * (s.k[d] - 1) - 1;
      if (span < 0) s.in[d] += -span, span = 0;
      s.out[d] = span / s.stride[d] + 1;
    }
    size_t in_sz = 1, out_sz = 1, kp = 1;
    for (int d = 0; d < s.nd; d++) in_sz *= (size_t)s.in[d], out_sz *= (size_t)s.out[d], kp *= (size_t)s.k[d];
    size_t nx = s.N * s.C * in_sz, nw = s.M * (s.C / s.group) * kp, ny = s.N * s.M * out_sz;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw), *b = malloc(sizeof(float) * s.M);
    float *z = malloc(sizeof(float) * ny), *y = malloc(sizeof(float) * ny);
    double *r = malloc(sizeof(double) * ny);
    for (size_t i = 0; i < nx; i++) x[i] = grnd();
    for (size_t i = 0; i < nw; i++) w[i] = grnd();
    for (size_t i = 0; i < s.M; i++) b[i] = grnd();
    for (size_t i = 0; i < ny; i++) z[i] = grnd(), y[i] = NAN;
    bool use_z = t % 2, relu = t % 3 != 0, packed = t % 4 != 1;
    oxrt_conv_wpack wp = {0};
    if (packed && oxrt_conv_f32_uses_pack(&s)) CHECK(oxrt_conv_f32_pack(&s, w, &wp));
    oxrt_activation act = {relu ? OXRT_ACT_RELU : OXRT_ACT_NONE, 0, 0};
    CHECK(oxrt_conv_f32_ex(&s, x, w, wp.g ? &wp : NULL, b, use_z ? z : NULL, act, y, t % 2 ? pool : NULL));
    conv_ref(&s, x, w, b, use_z ? z : NULL, relu, r);
    for (size_t i = 0; i < ny; i++)
      if (!close_to(y[i], r[i])) {
        fprintf(stderr, "  conv %s nd=%d N=%zu C=%zu M=%zu g=%zu in=%lld k=%lld s=%lld d=%lld p=%lld: y[%zu] = %g, "
                        "expected %g\n",
                oxrt_isa_name(oxrt_cpu_isa()), s.nd, s.N, s.C, s.M, s.group, (long long)s.in[s.nd - 1],
                (long long)s.k[s.nd - 1], (long long)s.stride[s.nd - 1], (long long)s.dil[s.nd - 1],
                (long long)s.pad[s.nd - 1], i, y[i], r[i]);
        bad++;
        break;
      }
    oxrt_conv_wpack_free(&wp);
    free(x), free(w), free(b), free(z), free(y), free(r);
  }
  CHECK(bad == 0);
  oxrt_threadpool_free(pool);
}

void test_kernel_conv_f32_random(void) { unit_each_isa(conv_f32_random_at_level); }

/* A stop check that answers true from its second question on (the first is parallel_for's, before any tile). */
static bool stop_after_first(void *arg) { return ++*(int *)arg > 1; }

/* Cancellation inside one tile: a single-tile product (one thread, N within one column block) asks the caller's stop
 * check between its row blocks, so a check that fires once the tile has started leaves C untouched past the point
 * where it stopped (parallel_for alone would only ask before the tile, then finish all of it). */
static void sgemm_stop_at_level(void) {
  enum { M = 1200, N = 64, K = 300 };
  float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N), *C = malloc(sizeof(float) * M * N);
  CHECK(A && B && C);
  if (!A || !B || !C) goto out;
  for (size_t i = 0; i < (size_t)M * K; i++) A[i] = grnd();
  for (size_t i = 0; i < (size_t)K * N; i++) B[i] = grnd();
  for (size_t i = 0; i < (size_t)M * N; i++) C[i] = NAN;
  int asked = 0;
  oxrt_stop_check chk = {stop_after_first, &asked};
  const oxrt_stop_check *prev = oxrt_parallel_stop_swap(&chk);
  oxrt_sgemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N, NULL);
  oxrt_parallel_stop_swap(prev);
  size_t untouched = 0;
  for (size_t i = 0; i < (size_t)M * N; i++) untouched += isnan(C[i]) != 0;
  CHECK(asked >= 2);
  CHECK(untouched > 0); /* stopped part-way: the last rows were never written */
  /* without a check the same product completes */
  oxrt_sgemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N, NULL);
  double want = 0;
  for (size_t k = 0; k < K; k++) want += (double)A[(M - 1) * K + k] * B[k * N + N - 1];
  CHECK(close_to(C[(size_t)M * N - 1], want));
out:
  free(A), free(B), free(C);
}

void test_kernel_sgemm_stop(void) { unit_each_isa(sgemm_stop_at_level); }
