/* vmath.c - array transcendental functions (see vmath.h). Portable reference loops; vectorised variants
 * are picked per ISA. */
#include "vmath.h"
#include <float.h>
#include <math.h>

static inline float flush_tiny(float v) { return fabsf(v) < FLT_MIN ? 0.0f : v; }

void oxrt_vexp_f32(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = flush_tiny(expf(x[i]));
}
void oxrt_vsigmoid_f32(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    y[i] = flush_tiny(v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v)));
  }
}
void oxrt_vtanh_f32(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}
void oxrt_verf_f32(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = erff(x[i]);
}
void oxrt_vsilu_f32(const float *x, float *y, size_t n, float alpha) {
  for (size_t i = 0; i < n; i++) {
    float v = x[i], a = alpha * v;
    float s = a >= 0 ? 1.0f / (1.0f + expf(-a)) : expf(a) / (1.0f + expf(a));
    y[i] = flush_tiny(v * s);
  }
}
void oxrt_vgelu_f32(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    y[i] = flush_tiny(0.5f * v * (1.0f + erff(v * 0.70710678118654752f)));
  }
}
void oxrt_vgelu_tanh_f32(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    y[i] = flush_tiny(0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v))));
  }
}
float oxrt_vexp_shift_sum_f32(const float *x, float *y, size_t n, float shift) {
  double s = 0;
  for (size_t i = 0; i < n; i++) {
    y[i] = flush_tiny(expf(x[i] - shift));
    s += y[i];
  }
  return (float)s;
}
