/* test_f16.c - the bulk float16 <-> float32 conversions (F16C where present) against the scalar ones, both ways
 * in one process: every half value, and float32 values around every rounding boundary (ties to even,
 * overflow to infinity, subnormal halves, NaN), at lengths that leave every tail size. */
#include "core/dtype.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int g_bad;

static void check_level(void) {
  enum { NH = 65536 };
  uint16_t *h = malloc(sizeof(uint16_t) * NH), *h2 = malloc(sizeof(uint16_t) * 4 * NH);
  float *f = malloc(sizeof(float) * NH), *g = malloc(sizeof(float) * 4 * NH);
  CHECK(h && h2 && f && g);
  for (size_t i = 0; i < NH; i++) h[i] = (uint16_t)i;
  for (size_t n = NH - 15; n <= NH && !g_bad; n++) { /* every tail length */
    oxrt_f16_to_f32_n(h, f, n);
    for (size_t i = 0; i < n; i++) {
      float want = oxrt_f16_to_f32(h[i]);
      if (!(f[i] == want || (isnan(f[i]) && isnan(want))) || signbit(f[i]) != signbit(want)) {
        fprintf(stderr, "  f16->f32 %s: h=0x%04x got %g want %g\n", "bulk", h[i], f[i], want);
        g_bad = 1;
        break;
      }
    }
  }
  /* float32: each half, the midpoints to its neighbours, and one ulp either side of them */
  size_t m = 0;
  for (size_t i = 0; i < NH; i++) {
    float a = oxrt_f16_to_f32((uint16_t)i), b = oxrt_f16_to_f32((uint16_t)(i + 1));
    if (isnan(a) || isnan(b) || isinf(a) || (i & 0x7fff) == 0x7fff) continue;
    float mid = (float)(((double)a + (double)b) / 2);
    g[m++] = a, g[m++] = mid, g[m++] = nextafterf(mid, -INFINITY), g[m++] = nextafterf(mid, INFINITY);
  }
  g[m++] = 65520.0f, g[m++] = 1e9f, g[m++] = -INFINITY, g[m++] = NAN;
  oxrt_f32_to_f16_n(g, h2, m);
  for (size_t i = 0; i < m && !g_bad; i++) {
    uint16_t want = oxrt_f32_to_f16(g[i]);
    bool nan = (want & 0x7c00) == 0x7c00 && (want & 0x3ff);
    if (nan ? !((h2[i] & 0x7c00) == 0x7c00 && (h2[i] & 0x3ff)) : h2[i] != want) {
      fprintf(stderr, "  f32->f16 %s: %.9g got 0x%04x want 0x%04x\n", "bulk", g[i], h2[i], want);
      g_bad = 1;
    }
  }
  /* through oxrt_convert, as Cast and the float32 views call it */
  CHECK(oxrt_convert(OXRT_FLOAT, f, OXRT_FLOAT16, h, 1000, false) && f[1000 - 1] == oxrt_f16_to_f32(999));
  free(h), free(h2), free(f), free(g);
}

void test_kernel_f16_convert(void) {
  g_bad = 0;
  for (int on = 0; on <= 1; on++) { /* the scalar loops, then F16C where the CPU has it */
    oxrt_dtype_use_f16c(on);
    check_level();
  }
  oxrt_dtype_use_f16c(-1);
  CHECK(g_bad == 0);
}

/* bfloat16: every bfloat16 widened, and float32 values at every rounding boundary of bfloat16 (each value, the
 * midpoints to its neighbours and one ulp either side, NaNs with payloads, subnormals), at every tail length. */
static void check_bf16_level(void) {
  enum { NH = 65536 };
  uint16_t *h = malloc(sizeof(uint16_t) * NH), *h2 = malloc(sizeof(uint16_t) * 4 * NH);
  float *f = malloc(sizeof(float) * NH), *g = malloc(sizeof(float) * 4 * NH);
  CHECK(h && h2 && f && g);
  for (size_t i = 0; i < NH; i++) h[i] = (uint16_t)i;
  for (size_t n = NH - 17; n <= NH && !g_bad; n++) {
    oxrt_bf16_to_f32_n(h, f, n);
    for (size_t i = 0; i < n; i++)
      if (memcmp(&f[i], &(float){oxrt_bf16_to_f32(h[i])}, 4)) {
        fprintf(stderr, "  bf16->f32: h=0x%04x got %g\n", h[i], f[i]);
        g_bad = 1;
        break;
      }
  }
  size_t m = 0;
  for (size_t i = 0; i < NH; i++) {
    uint32_t a = (uint32_t)i << 16, mid = a + 0x8000u;
    float x[4];
    uint32_t u[4] = {a, mid, mid - 1, mid + 1};
    for (int k = 0; k < 4; k++) memcpy(&x[k], &u[k], 4); /* bit patterns: NaN payloads and -0 included */
    for (int k = 0; k < 4; k++) g[m++] = x[k];
  }
  for (size_t n = m - 17; n <= m && !g_bad; n++) {
    oxrt_f32_to_bf16_n(g, h2, n);
    for (size_t i = 0; i < n; i++)
      if (h2[i] != oxrt_f32_to_bf16(g[i])) {
        uint32_t u;
        memcpy(&u, &g[i], 4);
        fprintf(stderr, "  f32->bf16: 0x%08x got 0x%04x want 0x%04x\n", u, h2[i], oxrt_f32_to_bf16(g[i]));
        g_bad = 1;
        break;
      }
  }
  /* short lengths (the masked tails alone) and through oxrt_convert, as Cast calls it */
  for (size_t n = 0; n <= 33 && !g_bad; n++) {
    memset(h2, 0, sizeof(uint16_t) * 40);
    CHECK(oxrt_convert(OXRT_BFLOAT16, h2, OXRT_FLOAT, g + 4 * 0x3f80, n, false));
    for (size_t i = 0; i < 40; i++)
      if (h2[i] != (i < n ? oxrt_f32_to_bf16(g[4 * 0x3f80 + i]) : 0)) g_bad = 1; /* and nothing past n */
  }
  free(h), free(h2), free(f), free(g);
}

void test_dtype_bf16_convert(void) {
  g_bad = 0;
  for (int on = 0; on <= 1; on++) { /* the portable loops, then AVX-512 where the CPU has it */
    oxrt_dtype_use_bf16_avx512(on);
    check_bf16_level();
  }
  oxrt_dtype_use_bf16_avx512(-1);
  CHECK(g_bad == 0);
}

/* double -> float16 / bfloat16 rounds once (not through a float32 tie): 1 + 2^-11 + 2^-40 is above the half-way
 * point between 1 and the next half, 1 + 2^-8 + 2^-40 between 1 and the next bfloat16. */
void test_dtype_f64_to_16bit_rounds_once(void) {
  double d[4] = {1 + 0x1p-11 + 0x1p-40, -(1 + 0x1p-11 + 0x1p-40), 1 + 0x1p-8 + 0x1p-40, 1 + 0x1p-11};
  uint16_t h[4], b[4];
  CHECK(oxrt_convert(OXRT_FLOAT16, h, OXRT_DOUBLE, d, 4, false));
  CHECK(oxrt_convert(OXRT_BFLOAT16, b, OXRT_DOUBLE, d, 4, false));
  CHECK(h[0] == 0x3c01 && h[1] == 0xbc01 && h[3] == 0x3c00); /* the exact tie still goes to even */
  CHECK(b[2] == 0x3f81 && b[0] == 0x3f80);
}
