/* dtype.c - element type table and scalar conversions. */
#include "cpu.h"
#include "dtype.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name;
  size_t size;
} type_table[OXRT_ELEM_TYPE_COUNT] = {
    [OXRT_UNDEFINED] = {"undefined", 0},  [OXRT_FLOAT] = {"float", 4},
    [OXRT_UINT8] = {"uint8", 1},          [OXRT_INT8] = {"int8", 1},
    [OXRT_UINT16] = {"uint16", 2},        [OXRT_INT16] = {"int16", 2},
    [OXRT_INT32] = {"int32", 4},          [OXRT_INT64] = {"int64", 8},
    [OXRT_STRING] = {"string", sizeof(char *)}, [OXRT_BOOL] = {"bool", 1},
    [OXRT_FLOAT16] = {"float16", 2},      [OXRT_DOUBLE] = {"double", 8},
    [OXRT_UINT32] = {"uint32", 4},        [OXRT_UINT64] = {"uint64", 8},
    [OXRT_COMPLEX64] = {"complex64", 8},  [OXRT_COMPLEX128] = {"complex128", 16},
    [OXRT_BFLOAT16] = {"bfloat16", 2},    [OXRT_FLOAT8E4M3FN] = {"float8e4m3fn", 1},
    [OXRT_FLOAT8E4M3FNUZ] = {"float8e4m3fnuz", 1}, [OXRT_FLOAT8E5M2] = {"float8e5m2", 1},
    [OXRT_FLOAT8E5M2FNUZ] = {"float8e5m2fnuz", 1}, [OXRT_UINT4] = {"uint4", 1},
    [OXRT_INT4] = {"int4", 1},            [OXRT_FLOAT4E2M1] = {"float4e2m1", 1},
    [OXRT_FLOAT8E8M0] = {"float8e8m0", 1}, [OXRT_UINT2] = {"uint2", 1},
    [OXRT_INT2] = {"int2", 1},
};

bool oxrt_dtype_is_valid(int t) { return t > 0 && t < OXRT_ELEM_TYPE_COUNT; }
const char *oxrt_elem_type_name(oxrt_elem_type t) {
  return oxrt_dtype_is_valid((int)t) || t == OXRT_UNDEFINED ? type_table[t].name : "invalid";
}
size_t oxrt_elem_type_size(oxrt_elem_type t) { return oxrt_dtype_is_valid((int)t) ? type_table[t].size : 0; }

bool oxrt_dtype_is_float(oxrt_elem_type t) {
  switch (t) {
  case OXRT_FLOAT: case OXRT_DOUBLE: case OXRT_FLOAT16: case OXRT_BFLOAT16: case OXRT_FLOAT8E4M3FN:
  case OXRT_FLOAT8E4M3FNUZ: case OXRT_FLOAT8E5M2: case OXRT_FLOAT8E5M2FNUZ: case OXRT_FLOAT4E2M1:
  case OXRT_FLOAT8E8M0:
    return true;
  default: return false;
  }
}
bool oxrt_dtype_is_signed_int(oxrt_elem_type t) {
  return t == OXRT_INT8 || t == OXRT_INT16 || t == OXRT_INT32 || t == OXRT_INT64 || t == OXRT_INT4 || t == OXRT_INT2;
}
bool oxrt_dtype_is_unsigned_int(oxrt_elem_type t) {
  return t == OXRT_UINT8 || t == OXRT_UINT16 || t == OXRT_UINT32 || t == OXRT_UINT64 || t == OXRT_UINT4 ||
         t == OXRT_UINT2;
}

/* ---- half precision ---- */
static inline uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float oxrt_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return u2f(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    float v = ldexpf((float)man, -24);
    return sign ? -v : v;
  }
  return u2f(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t oxrt_f32_to_f16(float f) {
  uint32_t u = f2u(f), sign = (u >> 16) & 0x8000;
  uint32_t au = u & 0x7fffffffu;
  if (au > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((au >> 13) & 0x3ff)); /* NaN */
  if (au >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);                       /* overflow -> inf */
  if (au < 0x38800000u) { /* subnormal or zero: units of 2^-24, rounded half to even in integers (no libm call) */
    if (au < 0x33000000u) return (uint16_t)sign; /* below 2^-25 (and 2^-25 itself ties to 0) */
    uint32_t mant = (au & 0x7fffff) | 0x800000, sh = 126 - (au >> 23); /* 14..24 */
    uint32_t r = mant >> sh, rem = mant & ((1u << sh) - 1), half = 1u << (sh - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t mant = au & 0x7fffff, exp = (au >> 23) - 112;
  uint32_t r = (exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
  return (uint16_t)(sign | r);
}

/* F16C at run time: the CPU has it and OXRT_ISA (the kernels' cap, read here too: core sits below the kernels)
 * does not ask for portable code; oxrt_dtype_use_f16c overrides for tests. */
static int g_f16c_override = -1;

int oxrt_dtype_use_f16c(int on) {
  int was = g_f16c_override;
  g_f16c_override = on < 0 ? -1 : on != 0;
  return was;
}

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
static bool use_f16c(void) {
  bool hw = oxrt_cpu_usable(OXRT_CPU_F16C);
  return g_f16c_override >= 0 ? g_f16c_override && hw : hw;
}
#else
static bool use_f16c(void) { return false; }
#define oxrt_f16_to_f32_f16c(s, d, n) ((void)0)
#define oxrt_f32_to_f16_f16c(s, d, n) ((void)0)
#endif

void oxrt_f16_to_f32_n(const uint16_t *src, float *dst, size_t n) {
  if (use_f16c()) oxrt_f16_to_f32_f16c(src, dst, n);
  else
    for (size_t i = 0; i < n; i++) dst[i] = oxrt_f16_to_f32(src[i]);
}

void oxrt_f32_to_f16_n(const float *src, uint16_t *dst, size_t n) {
  if (use_f16c()) oxrt_f32_to_f16_f16c(src, dst, n);
  else
    for (size_t i = 0; i < n; i++) dst[i] = oxrt_f32_to_f16(src[i]);
}

float oxrt_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }
uint16_t oxrt_f32_to_bf16(float f) {
  uint32_t u = f2u(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}

/* AVX-512 bfloat16 loops at run time: the AVX-512 level usable (cpu.h: present, not capped by OXRT_ISA). */
static int g_bf16_override = -1;

int oxrt_dtype_use_bf16_avx512(int on) {
  int was = g_bf16_override;
  g_bf16_override = on < 0 ? -1 : on != 0;
  return was;
}

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
static bool use_bf16_avx512(void) {
  bool hw = oxrt_cpu_usable(OXRT_CPU_AVX512F); /* the AVX-512 level: F, BW, DQ, VL */
  return g_bf16_override >= 0 ? g_bf16_override && hw : hw;
}
#else
static bool use_bf16_avx512(void) { return false; }
#define oxrt_bf16_to_f32_avx512(s, d, n) ((void)0)
#define oxrt_f32_to_bf16_avx512(s, d, n) ((void)0)
#endif

void oxrt_bf16_to_f32_n(const uint16_t *src, float *dst, size_t n) {
  if (use_bf16_avx512()) oxrt_bf16_to_f32_avx512(src, dst, n);
  else
    for (size_t i = 0; i < n; i++) dst[i] = u2f((uint32_t)src[i] << 16);
}

void oxrt_f32_to_bf16_n(const float *src, uint16_t *dst, size_t n) {
  if (use_bf16_avx512()) {
    oxrt_f32_to_bf16_avx512(src, dst, n);
    return;
  }
  for (size_t i = 0; i < n; i++) { /* oxrt_f32_to_bf16 without branches, so that it vectorises */
    uint32_t u = f2u(src[i]);
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, quiet = (u >> 16) | 0x40u;
    dst[i] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded);
  }
}

/* double -> float rounded to odd (truncated, the last bit set when inexact): rounding that to a 16-bit float
 * (nearest even) gives the double's own nearest 16-bit value, where (float)v first could round twice
 * (1 + 2^-11 + 2^-40: a float32 tie, then 1.0 instead of 1 + 2^-10). float keeps 13 bits more than
 * float16 and 16 more than bfloat16, the 2 that round-to-odd needs. */
static float f64_to_f32_odd(double v) {
  float f = (float)v;
  if (!isfinite(f) || (double)f == v) return f;
  if (fabs((double)f) > fabs(v)) f = nextafterf(f, 0.0f);
  uint32_t u = f2u(f) | 1u;
  return u2f(u);
}

/* ---- float8 / float4: decode by format description ---- */
typedef struct {
  int ebits, mbits, bias;
  bool has_inf, has_neg_zero; /* fnuz types: 0x80 is NaN */
} f8fmt;

static f8fmt fmt_of(oxrt_elem_type t) {
  switch (t) {
  case OXRT_FLOAT8E4M3FN: return (f8fmt){4, 3, 7, false, true};
  case OXRT_FLOAT8E4M3FNUZ: return (f8fmt){4, 3, 8, false, false};
  case OXRT_FLOAT8E5M2: return (f8fmt){5, 2, 15, true, true};
  case OXRT_FLOAT8E5M2FNUZ: return (f8fmt){5, 2, 16, false, false};
  case OXRT_FLOAT4E2M1: return (f8fmt){2, 1, 1, false, true};
  default: return (f8fmt){0, 0, 0, false, false};
  }
}

float oxrt_f8_to_f32(oxrt_elem_type t, uint8_t v) {
  if (t == OXRT_FLOAT8E8M0) return v == 0xff ? NAN : ldexpf(1.0f, (int)v - 127);
  f8fmt f = fmt_of(t);
  int bits = 1 + f.ebits + f.mbits;
  v &= (uint8_t)((1u << bits) - 1);
  unsigned sign = (v >> (bits - 1)) & 1, exp = (v >> f.mbits) & ((1u << f.ebits) - 1), man = v & ((1u << f.mbits) - 1);
  if (!f.has_neg_zero && v == (1u << (bits - 1))) return NAN;
  if (t == OXRT_FLOAT8E4M3FN && exp == 15 && man == 7) return NAN;
  if (f.has_inf && exp == (1u << f.ebits) - 1) return man ? NAN : (sign ? -INFINITY : INFINITY);
  float val = exp == 0 ? ldexpf((float)man, 1 - f.bias - f.mbits) : ldexpf((float)(man | (1u << f.mbits)), (int)exp - f.bias - f.mbits);
  return sign ? -val : val;
}

static bool signbit_f(float x) { return signbit(x) != 0; }

static uint8_t nan_code(oxrt_elem_type t) {
  switch (t) {
  case OXRT_FLOAT8E4M3FN: return 0x7f;
  case OXRT_FLOAT8E5M2: return 0x7f;
  case OXRT_FLOAT4E2M1: return 0x8; /* no NaN: the reference (ml_dtypes) gives -0 */
  default: return 0x80;
  }
}

uint8_t oxrt_f32_to_f8(oxrt_elem_type t, float x, bool saturate) {
  if (t == OXRT_FLOAT8E8M0) {
    /* The exponent field of x as float32, rounded up when any fraction bit is
     * set (Cast's default round_mode "up"); NaN and inf give 0xff. The sign is ignored. */
    uint32_t u = f2u(x), e = (u >> 23) & 0xff;
    if (e == 0xff) return 0xff;
    bool up = (u & 0x7fffff) != 0;
    if (up && saturate && e == 0xfe) up = false;
    return (uint8_t)(e + up);
  }
  /* Nearest representable value by search over the positive codes (ties to
   * the even code), then overflow handling as in ONNX Cast. */
  f8fmt f = fmt_of(t);
  int bits = 1 + f.ebits + f.mbits;
  unsigned signbit = 1u << (bits - 1);
  if (isnan(x)) return nan_code(t);
  bool neg = signbit_f(x);
  float a = fabsf(x);
  unsigned best = 0, maxcode = 0;
  float maxval = 0;
  for (unsigned c = 0; c < signbit; c++) {
    float v = oxrt_f8_to_f32(t, (uint8_t)c);
    if (isnan(v) || isinf(v)) continue;
    if (v > maxval) { maxval = v; maxcode = c; }
  }
  if (isinf(a) || a > maxval) {
    float ulp = maxval - oxrt_f8_to_f32(t, (uint8_t)(maxcode - 1));
    bool overflow = isinf(a) || a >= maxval + ulp / 2;
    if (saturate || t == OXRT_FLOAT4E2M1 || !overflow) best = maxcode;
    else if (f.has_inf) best = ((1u << f.ebits) - 1) << f.mbits; /* inf */
    else return nan_code(t) | (uint8_t)(neg && f.has_neg_zero ? signbit : 0);
  } else {
    float bestd = INFINITY;
    for (unsigned c = 0; c <= maxcode; c++) {
      float v = oxrt_f8_to_f32(t, (uint8_t)c);
      if (isnan(v)) continue;
      float d = fabsf(v - a);
      if (d < bestd || (d == bestd && (c & 1) == 0)) { bestd = d; best = c; }
    }
  }
  if (neg && (best != 0 || f.has_neg_zero)) best |= signbit;
  return (uint8_t)best;
}

/* ---- generic access ---- */
double oxrt_load_f64(oxrt_elem_type t, const void *base, size_t i) {
  switch (t) {
  case OXRT_FLOAT: return ((const float *)base)[i];
  case OXRT_DOUBLE: return ((const double *)base)[i];
  case OXRT_FLOAT16: return oxrt_f16_to_f32(((const uint16_t *)base)[i]);
  case OXRT_BFLOAT16: return oxrt_bf16_to_f32(((const uint16_t *)base)[i]);
  case OXRT_INT8: return ((const int8_t *)base)[i];
  case OXRT_INT16: return ((const int16_t *)base)[i];
  case OXRT_INT32: return ((const int32_t *)base)[i];
  case OXRT_INT64: return (double)((const int64_t *)base)[i];
  case OXRT_UINT8: return ((const uint8_t *)base)[i];
  case OXRT_UINT16: return ((const uint16_t *)base)[i];
  case OXRT_UINT32: return ((const uint32_t *)base)[i];
  case OXRT_UINT64: return (double)((const uint64_t *)base)[i];
  case OXRT_BOOL: return ((const uint8_t *)base)[i] ? 1.0 : 0.0;
  case OXRT_INT4: case OXRT_INT2: return ((const int8_t *)base)[i];
  case OXRT_UINT4: case OXRT_UINT2: return ((const uint8_t *)base)[i];
  case OXRT_FLOAT8E4M3FN: case OXRT_FLOAT8E4M3FNUZ: case OXRT_FLOAT8E5M2: case OXRT_FLOAT8E5M2FNUZ:
  case OXRT_FLOAT4E2M1: case OXRT_FLOAT8E8M0:
    return oxrt_f8_to_f32(t, ((const uint8_t *)base)[i]);
  default: return 0;
  }
}

static int64_t clamp_i(double v, double lo, double hi) {
  if (isnan(v)) return 0;
  return (int64_t)(v < lo ? lo : v > hi ? hi : v);
}

void oxrt_store_f64(oxrt_elem_type t, void *base, size_t i, double v) {
  switch (t) {
  case OXRT_FLOAT: ((float *)base)[i] = (float)v; break;
  case OXRT_DOUBLE: ((double *)base)[i] = v; break;
  case OXRT_FLOAT16: ((uint16_t *)base)[i] = oxrt_f32_to_f16(f64_to_f32_odd(v)); break;
  case OXRT_BFLOAT16: ((uint16_t *)base)[i] = oxrt_f32_to_bf16(f64_to_f32_odd(v)); break;
  /* Integer stores truncate toward zero like a C cast, saturating instead of UB. */
  case OXRT_INT8: ((int8_t *)base)[i] = (int8_t)clamp_i(v, -128, 127); break;
  case OXRT_INT16: ((int16_t *)base)[i] = (int16_t)clamp_i(v, -32768, 32767); break;
  case OXRT_INT32: ((int32_t *)base)[i] = (int32_t)clamp_i(v, -2147483648.0, 2147483647.0); break;
  case OXRT_INT64: ((int64_t *)base)[i] = clamp_i(v, -9223372036854775808.0, 9223372036854774784.0); break;
  case OXRT_UINT8: ((uint8_t *)base)[i] = (uint8_t)clamp_i(v, 0, 255); break;
  case OXRT_UINT16: ((uint16_t *)base)[i] = (uint16_t)clamp_i(v, 0, 65535); break;
  case OXRT_UINT32: ((uint32_t *)base)[i] = (uint32_t)clamp_i(v, 0, 4294967295.0); break;
  case OXRT_UINT64:
    ((uint64_t *)base)[i] = isnan(v) || v <= 0 ? 0 : v >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)v;
    break;
  case OXRT_BOOL: ((uint8_t *)base)[i] = v != 0; break;
  case OXRT_INT4: ((int8_t *)base)[i] = (int8_t)clamp_i(v, -8, 7); break;
  case OXRT_UINT4: ((uint8_t *)base)[i] = (uint8_t)clamp_i(v, 0, 15); break;
  case OXRT_INT2: ((int8_t *)base)[i] = (int8_t)clamp_i(v, -2, 1); break;
  case OXRT_UINT2: ((uint8_t *)base)[i] = (uint8_t)clamp_i(v, 0, 3); break;
  case OXRT_FLOAT8E4M3FN: case OXRT_FLOAT8E4M3FNUZ: case OXRT_FLOAT8E5M2: case OXRT_FLOAT8E5M2FNUZ:
  case OXRT_FLOAT4E2M1: case OXRT_FLOAT8E8M0:
    ((uint8_t *)base)[i] = oxrt_f32_to_f8(t, (float)v, true);
    break;
  default: break;
  }
}

int64_t oxrt_load_i64(oxrt_elem_type t, const void *base, size_t i) {
  switch (t) {
  case OXRT_INT8: case OXRT_INT4: case OXRT_INT2: return ((const int8_t *)base)[i];
  case OXRT_INT16: return ((const int16_t *)base)[i];
  case OXRT_INT32: return ((const int32_t *)base)[i];
  case OXRT_INT64: return ((const int64_t *)base)[i];
  case OXRT_UINT8: case OXRT_UINT4: case OXRT_UINT2: return ((const uint8_t *)base)[i];
  case OXRT_BOOL: return ((const uint8_t *)base)[i] != 0;
  case OXRT_UINT16: return ((const uint16_t *)base)[i];
  case OXRT_UINT32: return ((const uint32_t *)base)[i];
  case OXRT_UINT64: return (int64_t)((const uint64_t *)base)[i];
  default: {
    /* a float outside int64's range (or NaN) has no int64 value: converting it is UB, so saturate (NaN: 0) */
    double d = oxrt_load_f64(t, base, i);
    if (!(d == d)) return 0;
    if (d >= 9223372036854775808.0) return INT64_MAX;
    if (d < -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
  }
  }
}

void oxrt_store_i64(oxrt_elem_type t, void *base, size_t i, int64_t v) {
  switch (t) {
  case OXRT_INT8: ((int8_t *)base)[i] = (int8_t)v; break;
  /* Sub-byte integers keep their low bits, sign-extended for the signed ones (like any narrowing cast). */
  case OXRT_INT4: ((int8_t *)base)[i] = (int8_t)((v & 0xf) >= 8 ? (v & 0xf) - 16 : (v & 0xf)); break;
  case OXRT_INT2: ((int8_t *)base)[i] = (int8_t)((v & 0x3) >= 2 ? (v & 0x3) - 4 : (v & 0x3)); break;
  case OXRT_UINT4: ((uint8_t *)base)[i] = (uint8_t)(v & 0xf); break;
  case OXRT_UINT2: ((uint8_t *)base)[i] = (uint8_t)(v & 0x3); break;
  case OXRT_INT16: ((int16_t *)base)[i] = (int16_t)v; break;
  case OXRT_INT32: ((int32_t *)base)[i] = (int32_t)v; break;
  case OXRT_INT64: ((int64_t *)base)[i] = v; break;
  case OXRT_UINT8: ((uint8_t *)base)[i] = (uint8_t)v; break;
  case OXRT_BOOL: ((uint8_t *)base)[i] = v != 0; break;
  case OXRT_UINT16: ((uint16_t *)base)[i] = (uint16_t)v; break;
  case OXRT_UINT32: ((uint32_t *)base)[i] = (uint32_t)v; break;
  case OXRT_UINT64: ((uint64_t *)base)[i] = (uint64_t)v; break;
  default: oxrt_store_f64(t, base, i, (double)v); break;
  }
}

static bool is_int_like(oxrt_elem_type t) {
  return oxrt_dtype_is_signed_int(t) || oxrt_dtype_is_unsigned_int(t) || t == OXRT_BOOL;
}

/* Prints `v` (a value of type t) as numpy's str() does: the fewest digits that
 * read back to the same value of type t; positional for exponents in [-4, 16)
 * with at least one fractional digit ("100.0"), otherwise "1.5e+20"/"1e-05". */
static void format_shortest(oxrt_elem_type t, double v, char *buf, size_t cap) {
  if (isnan(v)) { snprintf(buf, cap, "nan"); return; }
  if (isinf(v)) { snprintf(buf, cap, v > 0 ? "inf" : "-inf"); return; }
  char e[40];
  for (int p = 1; p <= 17; p++) {
    snprintf(e, sizeof e, "%.*e", p - 1, v);
    double back = strtod(e, NULL);
    uint64_t tmp = 0;
    oxrt_store_f64(t, &tmp, 0, back);
    if (oxrt_load_f64(t, &tmp, 0) == v) break;
  }
  /* e is "[-]d[.ddd]e[+-]XX": split into sign, digits and exponent. */
  const char *s = e;
  bool neg = *s == '-';
  if (neg) s++;
  char digits[24];
  int nd = 0;
  for (; *s && *s != 'e'; s++)
    if (*s >= '0' && *s <= '9' && nd < 23) digits[nd++] = *s;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  int exp10 = *s == 'e' ? atoi(s + 1) : 0;
  char *o = buf;
  size_t left = cap;
#define PUT(...)                                                                                                       \
  do {                                                                                                                 \
    int k_ = snprintf(o, left, __VA_ARGS__);                                                                           \
    if (k_ < 0 || (size_t)k_ >= left) return;                                                                          \
    o += k_, left -= (size_t)k_;                                                                                       \
  } while (0)
  if (neg) PUT("-");
  if (exp10 < -4 || exp10 >= 16) {
    PUT("%c", digits[0]);
    if (nd > 1) PUT(".%s", digits + 1);
    PUT("e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
  } else if (exp10 < 0) {
    PUT("0.");
    for (int k = 0; k < -exp10 - 1; k++) PUT("0");
    PUT("%s", digits);
  } else {
    for (int k = 0; k <= exp10; k++) PUT("%c", k < nd ? digits[k] : '0');
    PUT(".");
    if (nd > exp10 + 1) PUT("%s", digits + exp10 + 1);
    else PUT("0");
  }
#undef PUT
}

bool oxrt_convert(oxrt_elem_type dt, void *dst, oxrt_elem_type st, const void *src, size_t n, bool saturate) {
  if (dt == st) {
    if (dt == OXRT_STRING) {
      char **d = dst;
      char *const *s = src;
      for (size_t i = 0; i < n; i++) {
        size_t len = strlen(s[i]);
        char *c = malloc(len + 1);
        if (!c) return false;
        memcpy(c, s[i], len + 1);
        free(d[i]);
        d[i] = c;
      }
    } else {
      memcpy(dst, src, n * oxrt_elem_type_size(dt));
    }
    return true;
  }
  if (st == OXRT_STRING) {
    char *const *s = src;
    for (size_t i = 0; i < n; i++) {
      if (dt == OXRT_BOOL) {
        ((uint8_t *)dst)[i] = strtod(s[i], NULL) != 0;
      } else if (is_int_like(dt) && dt != OXRT_UINT64) {
        oxrt_store_i64(dt, dst, i, strtoll(s[i], NULL, 10));
      } else if (dt == OXRT_UINT64) {
        ((uint64_t *)dst)[i] = strtoull(s[i], NULL, 10);
      } else {
        double v = strtod(s[i], NULL);
        if (oxrt_dtype_is_float(dt) && dt != OXRT_FLOAT && dt != OXRT_DOUBLE && dt != OXRT_FLOAT16 &&
            dt != OXRT_BFLOAT16)
          ((uint8_t *)dst)[i] = oxrt_f32_to_f8(dt, (float)v, saturate);
        else
          oxrt_store_f64(dt, dst, i, v);
      }
    }
    return true;
  }
  if (dt == OXRT_STRING) {
    char **d = dst;
    for (size_t i = 0; i < n; i++) {
      char buf[64];
      if (is_int_like(st)) {
        if (st == OXRT_UINT64) snprintf(buf, sizeof buf, "%llu", (unsigned long long)((const uint64_t *)src)[i]);
        else snprintf(buf, sizeof buf, "%lld", (long long)oxrt_load_i64(st, src, i));
      } else {
        format_shortest(st, oxrt_load_f64(st, src, i), buf, sizeof buf);
      }
      size_t len = strlen(buf);
      char *c = malloc(len + 1);
      if (!c) return false;
      memcpy(c, buf, len + 1);
      free(d[i]);
      d[i] = c;
    }
    return true;
  }
  if (st == OXRT_COMPLEX64 || st == OXRT_COMPLEX128 || dt == OXRT_COMPLEX64 || dt == OXRT_COMPLEX128) return false;
  /* the 16-bit float <-> float32 pairs fp16 / bf16 models hit at every Cast and float32-computed op */
  if (st == OXRT_FLOAT16 && dt == OXRT_FLOAT) {
    oxrt_f16_to_f32_n(src, dst, n);
    return true;
  }
  if (st == OXRT_FLOAT && dt == OXRT_FLOAT16) {
    oxrt_f32_to_f16_n(src, dst, n);
    return true;
  }
  if (st == OXRT_BFLOAT16 && dt == OXRT_FLOAT) {
    oxrt_bf16_to_f32_n(src, dst, n);
    return true;
  }
  if (st == OXRT_FLOAT && dt == OXRT_BFLOAT16) {
    oxrt_f32_to_bf16_n(src, dst, n);
    return true;
  }
  bool dst_f8 = dt == OXRT_FLOAT8E4M3FN || dt == OXRT_FLOAT8E4M3FNUZ || dt == OXRT_FLOAT8E5M2 ||
                dt == OXRT_FLOAT8E5M2FNUZ || dt == OXRT_FLOAT4E2M1 || dt == OXRT_FLOAT8E8M0;
  for (size_t i = 0; i < n; i++) {
    if (is_int_like(st) && is_int_like(dt)) {
      if (dt == OXRT_BOOL) ((uint8_t *)dst)[i] = oxrt_load_i64(st, src, i) != 0;
      else oxrt_store_i64(dt, dst, i, oxrt_load_i64(st, src, i)); /* wraps like C */
    } else if (dst_f8) {
      ((uint8_t *)dst)[i] = oxrt_f32_to_f8(dt, (float)oxrt_load_f64(st, src, i), saturate);
    } else if (is_int_like(dt) && dt != OXRT_BOOL && oxrt_elem_type_size(dt) < 8) {
      /* float -> narrow int: truncate through int64 then wrap, as C/numpy do on x86 */
      double v = oxrt_load_f64(st, src, i);
      oxrt_store_i64(dt, dst, i, isnan(v) ? 0 : (int64_t)clamp_i(v, -9223372036854775808.0, 9223372036854774784.0));
    } else {
      oxrt_store_f64(dt, dst, i, oxrt_load_f64(st, src, i));
    }
  }
  return true;
}
