/* gemm_act.c - the activations of output passes (gemm.h's oxrt_act), applied in place over a run of floats.
 * Called on a freshly stored GEMM tile or convolution row, so the data is in L1; the piecewise-linear kinds are
 * plain loops the compiler vectorises, the transcendental ones go through vmath.h. */
#include "gemm.h"
#include "vmath.h"
#include <math.h>

/* The cost model at -O2 leaves these loops scalar; restrict and the vectorizer make them SIMD. */
#if defined(__GNUC__) && !defined(__clang__)
#define ACT_VEC __attribute__((optimize("tree-vectorize")))
#else
#define ACT_VEC
#endif

bool oxrt_act_is_clamp(oxrt_activation act, float *lo, float *hi) {
  switch (act.kind) {
  case OXRT_ACT_NONE: *lo = -INFINITY, *hi = INFINITY; return true;
  case OXRT_ACT_RELU: *lo = 0.0f, *hi = INFINITY; return true;
  case OXRT_ACT_CLIP: *lo = act.a, *hi = act.b; return true;
  default: return false;
  }
}

/* max/min written so that NaN passes (the comparison is false for NaN, leaving v). */
ACT_VEC static void clamp_run(float *restrict y, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) {
    float v = y[i];
    v = v < lo ? lo : v;
    y[i] = v > hi ? hi : v;
  }
}

ACT_VEC static void leaky_run(float *restrict y, size_t n, float a) {
  for (size_t i = 0; i < n; i++) y[i] = y[i] < 0 ? a * y[i] : y[i];
}

ACT_VEC static void hard_sigmoid_run(float *restrict y, size_t n, float a, float b) {
  for (size_t i = 0; i < n; i++) {
    float v = a * y[i] + b;
    v = v < 0 ? 0.0f : v;
    y[i] = v > 1 ? 1.0f : v;
  }
}

ACT_VEC static void hard_swish_run(float *restrict y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float x = y[i], v = x * (1.0f / 6.0f) + 0.5f;
    v = v < 0 ? 0.0f : v;
    v = v > 1 ? 1.0f : v;
    y[i] = x * v;
  }
}

bool oxrt_act_piecewise_avx2(oxrt_activation act, float *y, size_t n);   /* gemm_act_avx2.c */
bool oxrt_act_piecewise_avx512(oxrt_activation act, float *y, size_t n); /* gemm_act_avx512.c */

void oxrt_act_apply(oxrt_activation act, float *y, size_t n) {
  if (act.kind == OXRT_ACT_NONE) return;
#if defined(__x86_64__) && defined(__GNUC__)
  oxrt_isa isa = oxrt_cpu_isa();
  if (isa == OXRT_ISA_AVX512 && oxrt_act_piecewise_avx512(act, y, n)) return;
  if (isa == OXRT_ISA_AVX2 && oxrt_act_piecewise_avx2(act, y, n)) return;
#endif
  switch (act.kind) {
  case OXRT_ACT_RELU: clamp_run(y, n, 0.0f, INFINITY); break;
  case OXRT_ACT_CLIP: clamp_run(y, n, act.a, act.b); break;
  case OXRT_ACT_LEAKY_RELU: leaky_run(y, n, act.a); break;
  case OXRT_ACT_HARD_SIGMOID: hard_sigmoid_run(y, n, act.a, act.b); break;
  case OXRT_ACT_HARD_SWISH: hard_swish_run(y, n); break;
  case OXRT_ACT_SIGMOID: oxrt_vsigmoid_f32(y, y, n); break;
  case OXRT_ACT_TANH: oxrt_vtanh_f32(y, y, n); break;
  case OXRT_ACT_SILU: oxrt_vsilu_fast_f32(y, y, n); break;
  case OXRT_ACT_GELU: oxrt_vgelu_f32(y, y, n); break;
  case OXRT_ACT_GELU_TANH: oxrt_vgelu_tanh_f32(y, y, n); break;
  default: break;
  }
}
