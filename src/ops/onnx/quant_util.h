/* quant_util.h - private to the quantization family (QuantizeLinear, DequantizeLinear, QLinear*): where the
 * scale / zero point of each element comes from (per tensor, per axis, or blocked along an axis), and the
 * ranges of the integer quantized types. */
#ifndef OXRT_OPS_QUANT_UTIL_H
#define OXRT_OPS_QUANT_UTIL_H
#include "../op_util.h"
#include "../infer_rules.h"
#include "../../core/cpu.h"
#include "../../kernels/qdynamic.h"
#include <math.h>
#include <stdlib.h>

/* Element (o, a, i) of x viewed as [outer, dim, inner] uses parameter o*s_o + (a/blk)*s_a + i*s_in. */
typedef struct {
  size_t outer, dim, inner, blk, s_o, s_a, s_in;
} q_layout;

static inline bool q_same_shape(const oxrt_value *a, const oxrt_value *b) {
  if (a->rank != b->rank) return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d]) return false;
  return true;
}

/* Layout of `scale` (input index si) over x; `zp` (may be NULL) must have the scale's shape. */
static inline oxrt_status *q_layout_of(const oxrt_value *x, const oxrt_value *scale, const oxrt_value *zp, int si,
                                       int64_t axis, int64_t block, q_layout *L) {
  *L = (q_layout){1, 1, x->count, 1, 0, 0, 0};
  if (zp && zp->count != scale->count && !(zp->count == 1 && scale->count == 1))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "zero point has %zu elements but scale has %zu", zp->count,
                      scale->count);
  if (zp && scale->count > 1 && !q_same_shape(zp, scale))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "zero point and scale (input %d) must have the same shape", si);
  if (block == 0 && scale->count == 1) return NULL; /* per tensor */
  if (block < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute block_size = %lld, must be >= 0", (long long)block);
  int64_t ax;
  OXRT_TRY(oxrt_norm_axis(axis, x->rank, false, &ax));
  size_t dim = (size_t)x->dims[ax], inner = 1, outer = 1;
  for (int d = 0; d < ax; d++) outer *= (size_t)x->dims[d];
  for (int d = (int)ax + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
  if (block == 0) {
    if (scale->rank != 1 || (size_t)scale->dims[0] != dim)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                        "input %d (scale): per-axis quantization along axis %lld needs shape [%zu], got rank %d with %zu elements",
                        si, (long long)ax, dim, scale->rank, scale->count);
    *L = (q_layout){outer, dim, inner, 1, 0, 1, 0};
    return NULL;
  }
  bool ok = scale->rank == x->rank;
  for (int d = 0; ok && d < x->rank; d++) {
    int64_t want = d == ax ? (x->dims[d] + block - 1) / block : x->dims[d];
    if (scale->dims[d] != want && !(d == ax && x->dims[d] == 0)) ok = false;
  }
  if (!ok)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                      "input %d (scale): blocked quantization (block_size %lld, axis %lld) needs x's shape with dim %lld "
                      "divided by the block size (rounded up)", si, (long long)block, (long long)ax, (long long)ax);
  size_t sdim = (size_t)scale->dims[ax];
  *L = (q_layout){outer, dim, inner, (size_t)block, sdim * inner, inner, 1};
  return NULL;
}

/* Range of an integer quantized type; false for the float types. */
static inline bool q_int_range(oxrt_elem_type t, int64_t *lo, int64_t *hi) {
  switch (t) {
  case OXRT_UINT8: *lo = 0, *hi = 255; return true;
  case OXRT_INT8: *lo = -128, *hi = 127; return true;
  case OXRT_UINT16: *lo = 0, *hi = 65535; return true;
  case OXRT_INT16: *lo = -32768, *hi = 32767; return true;
  case OXRT_UINT4: *lo = 0, *hi = 15; return true;
  case OXRT_INT4: *lo = -8, *hi = 7; return true;
  case OXRT_UINT2: *lo = 0, *hi = 3; return true;
  case OXRT_INT2: *lo = -2, *hi = 1; return true;
  case OXRT_INT32: *lo = INT32_MIN, *hi = INT32_MAX; return true;
  default: return false;
  }
}

/* All elements of a small numeric tensor as float (scales) or double. */
static inline oxrt_status *q_load_f32(const oxrt_value *v, float **out) {
  float *b = malloc(sizeof(float) * (v->count ? v->count : 1));
  if (!b) return OXRT_OOM();
  for (size_t i = 0; i < v->count; i++)
    b[i] = v->dtype == OXRT_FLOAT ? ((const float *)v->data)[i] : (float)oxrt_load_f64(v->dtype, v->data, i);
  *out = b;
  return NULL;
}

/* Round half to even, saturate to [lo, hi]. */
static inline int64_t q_round_clamp(double v, int64_t lo, int64_t hi) {
  if (v != v) return 0;
  double r = nearbyint(v);
  if (r < (double)lo) return lo;
  if (r > (double)hi) return hi;
  return (int64_t)r;
}

/* round_half_even(v) + z saturated to [lo, hi] (z, lo, hi integral; NaN gives 0) without a libm call, so loops
 * over it vectorize: clamping to [lo - z, hi - z] first keeps |v| small enough for the 1.5 * 2^23 trick, which
 * rounds in the default (nearest-even) mode; IEEE arithmetic keeps (v + magic) - magic unfolded. */
static inline float q_rne_sat(float v, float z, float lo, float hi) {
  v = v != v ? -z : v;
  float a = lo - z, b = hi - z;
  v = v > a ? v : a;
  v = v < b ? v : b;
  return ((v + 12582912.0f) - 12582912.0f) + z;
}

/* DynamicQuantizeLinear's uint8 parameters for data in [lo, hi] (the range already stretched to contain 0):
 * scale = (hi - lo) / 255 (1/255 for an empty range), zero point = saturate(round(-lo / scale)). */
static inline void q_dynamic_params(float lo, float hi, float *scale, float *zp) {
  float s = (hi == lo ? 1.0f : hi - lo) / 255.0f;
  float z = 0.0f - lo / s;
  z = z >= 0 ? (z > 255 ? 255 : z) : 0; /* NaN (infinite input) -> 0 */
  *scale = s;
  *zp = nearbyintf(z);
}

/* x quantized to uint8 with DynamicQuantizeLinear's parameters, returned in *scale / *zp. */
static inline void q_dynamic_u8(const float *x, size_t n, uint8_t *y, float *scale, int32_t *zp) {
  float lo = 0, hi = 0, s, z;
#if defined(__x86_64__) && defined(__GNUC__)
  if (oxrt_cpu_isa() >= OXRT_ISA_AVX512) { /* the same values (min / max here do not depend on the order) */
    oxrt_qdyn_minmax_avx512(x, n, &lo, &hi);
    q_dynamic_params(lo, hi, &s, &z);
    oxrt_qdyn_quant_avx512(x, y, n, s, z);
    *scale = s;
    *zp = (int32_t)z;
    return;
  }
#endif
  for (size_t i = 0; i < n; i++) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  q_dynamic_params(lo, hi, &s, &z);
  for (size_t i = 0; i < n; i++) {
    y[i] = (uint8_t)(int32_t)q_rne_sat(x[i] / s, z, 0.0f, 255.0f);
  }
  *scale = s;
  *zp = (int32_t)z;
}

/* Static inference (kernel.h's infer hooks) of the quantized operators. */

/* Output 0 = numpy matmul of inputs ia and ib (oxrt_infer_matmul_shape), element type `elem`; only the type when
 * either shape is unknown. */
static inline oxrt_status *q_infer_matmul(oxrt_infer_ctx *ctx, int ia, int ib, oxrt_elem_type elem) {
  oxrt_status *st;
  if (oxrt_infer_matmul_shape(ctx, ia, ib, elem, &st)) return st;
  oxrt_tshape out;
  oxrt_tshape_clear(&out);
  out.elem = elem;
  return oxrt_infer_output(ctx, 0, &out);
}

/* The element type of input i when known, else `dflt`. */
static inline oxrt_elem_type q_infer_elem(const oxrt_infer_ctx *ctx, int i, oxrt_elem_type dflt) {
  oxrt_tshape t;
  return oxrt_infer_input(ctx, i, &t) && t.elem != OXRT_UNDEFINED ? t.elem : dflt;
}

/* Output 0 with input 0's shape and element type `elem`. */
static inline oxrt_status *q_infer_same_shape(oxrt_infer_ctx *ctx, oxrt_elem_type elem) {
  oxrt_tshape x;
  if (!oxrt_infer_input(ctx, 0, &x)) oxrt_tshape_clear(&x);
  x.elem = elem;
  return oxrt_infer_output(ctx, 0, &x);
}

#endif
