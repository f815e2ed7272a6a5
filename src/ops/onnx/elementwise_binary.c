/* elementwise_binary.c - table-driven element-wise binary operators of ai.onnx
 * with numpy broadcasting (and the axis/broadcast attributes of opsets < 7).
 *
 * Each operator has one loop per element type. A loop handles a run of `n`
 * outputs where each input either advances (step 1) or stays (step 0); the
 * driver merges broadcast dimensions so these runs are as long as possible
 * and spreads the rows over the pool. float16/bfloat16 go through the
 * float32 loop in blocks. Integer arithmetic wraps (computed unsigned) and
 * never traps: integer division by zero gives 0, INT_MIN / -1 wraps.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("-fno-math-errno", "-fno-trapping-math")
#endif
#include "elementwise.h"
#include "f32_view.h"
#include "../infer_rules.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* X-macro lists of C types: (suffix, T, unsigned T). */
#define SINT_TYPES(X)                                                                                                  \
  X(i8, int8_t, uint8_t) X(i16, int16_t, uint16_t) X(i32, int32_t, uint32_t) X(i64, int64_t, uint64_t)
#define UINT_TYPES(X)                                                                                                  \
  X(u8, uint8_t, uint8_t) X(u16, uint16_t, uint16_t) X(u32, uint32_t, uint32_t) X(u64, uint64_t, uint64_t)
#define INT_TYPES(X) SINT_TYPES(X) UINT_TYPES(X)
#define FLOAT_TYPES(X) X(f32, float, float) X(f64, double, double)

/* Arithmetic: wrapping integer versions through the unsigned type. */
#define MAKE_ARITH(sfx, T, U)                                                                                          \
  BIN_LOOP(add_##sfx, T, T, (T)((U)x + (U)z))                                                                          \
  BIN_LOOP(sub_##sfx, T, T, (T)((U)x - (U)z))                                                                          \
  BIN_LOOP(mul_##sfx, T, T, (T)((U)x * (U)z))
INT_TYPES(MAKE_ARITH)
BIN_LOOP_FAST(add_f32, float, float, x + z)
BIN_LOOP_FAST(sub_f32, float, float, x - z)
BIN_LOOP_FAST(mul_f32, float, float, x * z)
BIN_LOOP_FAST(div_f32, float, float, x / z)
BIN_LOOP_FAST(add_f64, double, double, x + z)
BIN_LOOP_FAST(sub_f64, double, double, x - z)
BIN_LOOP_FAST(mul_f64, double, double, x * z)
BIN_LOOP_FAST(div_f64, double, double, x / z)

/* Integer division truncates toward zero; x/0 -> 0 and MIN/-1 wraps instead of trapping. */
#define MAKE_SDIV(sfx, T, U) BIN_LOOP(div_##sfx, T, T, z == 0 ? (T)0 : z == -1 ? (T)(0 - (U)x) : (T)(x / z))
#define MAKE_UDIV(sfx, T, U) BIN_LOOP(div_##sfx, T, T, z == 0 ? (T)0 : (T)(x / z))
SINT_TYPES(MAKE_SDIV)
UINT_TYPES(MAKE_UDIV)

/* Mod. fmod=1: sign of the dividend (C %); fmod=0: sign of the divisor (numpy/Python). */
#define MAKE_SMOD(sfx, T, U)                                                                                           \
  static inline T fmod_##sfx(T x, T z) { return z == 0 || z == -1 ? (T)0 : (T)(x % z); }                              \
  static inline T pmod_##sfx(T x, T z) {                                                                               \
    T r = fmod_##sfx(x, z);                                                                                            \
    return r != 0 && ((r < 0) != (z < 0)) ? (T)(r + z) : r;                                                            \
  }                                                                                                                    \
  BIN_LOOP(modf_##sfx, T, T, fmod_##sfx(x, z))                                                                         \
  BIN_LOOP(mod_##sfx, T, T, pmod_##sfx(x, z))
#define MAKE_UMOD(sfx, T, U)                                                                                           \
  BIN_LOOP(modf_##sfx, T, T, z == 0 ? (T)0 : (T)(x % z))                                                               \
  BIN_LOOP(mod_##sfx, T, T, z == 0 ? (T)0 : (T)(x % z))
SINT_TYPES(MAKE_SMOD)
UINT_TYPES(MAKE_UMOD)
static inline double pmod_d(double x, double z) {
  double r = fmod(x, z);
  if (r == 0) return copysign(0.0, z);
  return (r < 0) != (z < 0) ? r + z : r;
}
BIN_LOOP(modf_f32, float, float, fmodf(x, z))
BIN_LOOP(modf_f64, double, double, fmod(x, z))
BIN_LOOP(mod_f32, float, float, (float)pmod_d(x, z))
BIN_LOOP(mod_f64, double, double, pmod_d(x, z))

/* Comparisons -> bool (uint8). */
#define MAKE_CMP(sfx, T, U)                                                                                            \
  BIN_LOOP(eq_##sfx, T, uint8_t, x == z)                                                                               \
  BIN_LOOP(lt_##sfx, T, uint8_t, x < z)                                                                                \
  BIN_LOOP(gt_##sfx, T, uint8_t, x > z)                                                                                \
  BIN_LOOP(le_##sfx, T, uint8_t, x <= z)                                                                               \
  BIN_LOOP(ge_##sfx, T, uint8_t, x >= z)
INT_TYPES(MAKE_CMP)
#define MAKE_CMP_F(sfx, T, U)                                                                                          \
  BIN_LOOP_FAST(eq_##sfx, T, uint8_t, x == z)                                                                          \
  BIN_LOOP_FAST(lt_##sfx, T, uint8_t, x < z)                                                                           \
  BIN_LOOP_FAST(gt_##sfx, T, uint8_t, x > z)                                                                           \
  BIN_LOOP_FAST(le_##sfx, T, uint8_t, x <= z)                                                                          \
  BIN_LOOP_FAST(ge_##sfx, T, uint8_t, x >= z)
FLOAT_TYPES(MAKE_CMP_F)
BIN_LOOP(eq_bool, uint8_t, uint8_t, (x != 0) == (z != 0))
typedef char *str_t;
BIN_LOOP(eq_str, str_t, uint8_t, strcmp(x, z) == 0)

/* Logical on bool. */
BIN_LOOP(and_bool, uint8_t, uint8_t, (x != 0) & (z != 0))
BIN_LOOP(or_bool, uint8_t, uint8_t, (x != 0) | (z != 0))
BIN_LOOP(xor_bool, uint8_t, uint8_t, (x != 0) ^ (z != 0))

/* Bitwise on integers, and BitShift. A shift by a negative amount or by at
 * least the width gives 0, or -1 for a right shift of a negative value. */
#define MAKE_BITS(sfx, T, U)                                                                                           \
  BIN_LOOP(band_##sfx, T, T, (T)(x & z))                                                                               \
  BIN_LOOP(bor_##sfx, T, T, (T)(x | z))                                                                                \
  BIN_LOOP(bxor_##sfx, T, T, (T)(x ^ z))
INT_TYPES(MAKE_BITS)
#define MAKE_SSHIFT(sfx, T, U)                                                                                         \
  BIN_LOOP(shl_##sfx, T, T, (z < 0 || (uint64_t)z >= sizeof(T) * 8) ? (T)0 : (T)((U)x << z))                         \
  BIN_LOOP(shr_##sfx, T, T,                                                                                            \
           (z < 0 || (uint64_t)z >= sizeof(T) * 8) ? (T)(x < 0 ? -1 : 0) : (T)(x < 0 ? ~(~x >> z) : (x >> z)))
#define MAKE_USHIFT(sfx, T, U)                                                                                         \
  BIN_LOOP(shl_##sfx, T, T, (uint64_t)z >= sizeof(T) * 8 ? (T)0 : (T)(x << z))                                        \
  BIN_LOOP(shr_##sfx, T, T, (uint64_t)z >= sizeof(T) * 8 ? (T)0 : (T)(x >> z))
SINT_TYPES(MAKE_SSHIFT)
UINT_TYPES(MAKE_USHIFT)

/* PRelu: y = x < 0 ? slope * x : x. */
#define MAKE_PRELU(sfx, T, U) BIN_LOOP(prelu_##sfx, T, T, x < 0 ? (T)((U)z * (U)x) : x)
BIN_LOOP_FAST(prelu_f32, float, float, x < 0 ? z * x : x)
#define MAKE_UPRELU(sfx, T, U) BIN_LOOP(prelu_##sfx, T, T, ((void)z, x)) /* never negative */
MAKE_PRELU(f64, double, double)
SINT_TYPES(MAKE_PRELU)
UINT_TYPES(MAKE_UPRELU)

/* Pow. Same-type float fast paths; integers exactly by squaring; anything
 * else (mixed types) in double, stored with the output type's conversion. */
static inline int64_t ipow(int64_t x, int64_t e) {
  if (e < 0) return x == 1 ? 1 : x == -1 ? ((e & 1) ? -1 : 1) : 0;
  uint64_t r = 1, b = (uint64_t)x;
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return (int64_t)r;
}
OXRT_EW_CLONES
static void pow_f32(const void *pa, const void *pb, void *py, size_t n, int sa, int sb, const bparams *p) {
  (void)p;
  const float *restrict a = pa;
  const float *restrict b = pb;
  float *restrict y = py;
  if (sa && !sb && b[0] == 2.0f) { /* x^2: common in decomposed normalisations */
    for (size_t i = 0; i < n; i++) y[i] = a[i] * a[i];
    return;
  }
  if (sa && !sb && b[0] == 1.0f) {
    for (size_t i = 0; i < n; i++) y[i] = a[i];
    return;
  }
  for (size_t i = 0; i < n; i++) y[i] = powf(a[sa ? i : 0], b[sb ? i : 0]);
}
BIN_LOOP(pow_f64, double, double, pow(x, z))
static void pow_generic(const void *pa, const void *pb, void *py, size_t n, int sa, int sb, const bparams *p) {
  bool ia = oxrt_dtype_is_signed_int(p->ta) || oxrt_dtype_is_unsigned_int(p->ta);
  bool ib = oxrt_dtype_is_signed_int(p->tb) || oxrt_dtype_is_unsigned_int(p->tb);
  for (size_t i = 0; i < n; i++) {
    size_t ka = sa ? i : 0, kb = sb ? i : 0;
    if (ia && ib) {
      oxrt_store_i64(p->ty, py, i, ipow(oxrt_load_i64(p->ta, pa, ka), oxrt_load_i64(p->tb, pb, kb)));
    } else {
      double r = pow(oxrt_load_f64(p->ta, pa, ka), oxrt_load_f64(p->tb, pb, kb));
      if (ia) r = isnan(r) ? 0 : r; /* int base, float exponent: truncates like numpy's astype */
      oxrt_store_f64(p->ty, py, i, r);
    }
  }
}

/* ------------------------------------------------------------------ tables */

enum { K_SAME, K_BOOL }; /* output type: same as A, or bool */

typedef struct {
  const char *name;
  int out_kind;
  bin_loop loops[OXRT_ELEM_TYPE_COUNT];
} bin_desc;

#define T_INTS(pfx)                                                                                                    \
  [OXRT_INT8] = pfx##_i8, [OXRT_INT16] = pfx##_i16, [OXRT_INT32] = pfx##_i32, [OXRT_INT64] = pfx##_i64,               \
  [OXRT_UINT8] = pfx##_u8, [OXRT_UINT16] = pfx##_u16, [OXRT_UINT32] = pfx##_u32, [OXRT_UINT64] = pfx##_u64
#define T_FLOATS(pfx)                                                                                                  \
  [OXRT_FLOAT] = pfx##_f32, [OXRT_DOUBLE] = pfx##_f64, [OXRT_FLOAT16] = pfx##_f32, [OXRT_BFLOAT16] = pfx##_f32
#define T_NUM(pfx) T_INTS(pfx), T_FLOATS(pfx)

static const bin_desc d_add = {"Add", K_SAME, {T_NUM(add)}};
static const bin_desc d_sub = {"Sub", K_SAME, {T_NUM(sub)}};
static const bin_desc d_mul = {"Mul", K_SAME, {T_NUM(mul)}};
static const bin_desc d_div = {"Div", K_SAME, {T_NUM(div)}};
static const bin_desc d_mod = {"Mod", K_SAME, {T_NUM(mod)}};
static const bin_desc d_modf = {"Mod", K_SAME, {T_NUM(modf)}};
static const bin_desc d_pow = {"Pow", K_SAME, {T_FLOATS(pow)}};
static const bin_desc d_eq = {"Equal", K_BOOL, {T_NUM(eq), [OXRT_BOOL] = eq_bool, [OXRT_STRING] = eq_str}};
static const bin_desc d_lt = {"Less", K_BOOL, {T_NUM(lt)}};
static const bin_desc d_gt = {"Greater", K_BOOL, {T_NUM(gt)}};
static const bin_desc d_le = {"LessOrEqual", K_BOOL, {T_NUM(le)}};
static const bin_desc d_ge = {"GreaterOrEqual", K_BOOL, {T_NUM(ge)}};
static const bin_desc d_and = {"And", K_BOOL, {[OXRT_BOOL] = and_bool}};
static const bin_desc d_or = {"Or", K_BOOL, {[OXRT_BOOL] = or_bool}};
static const bin_desc d_xor = {"Xor", K_BOOL, {[OXRT_BOOL] = xor_bool}};
static const bin_desc d_band = {"BitwiseAnd", K_SAME, {T_INTS(band)}};
static const bin_desc d_bor = {"BitwiseOr", K_SAME, {T_INTS(bor)}};
static const bin_desc d_bxor = {"BitwiseXor", K_SAME, {T_INTS(bxor)}};
static const bin_desc d_shl = {"BitShift", K_SAME, {T_INTS(shl)}};
static const bin_desc d_shr = {"BitShift", K_SAME, {T_INTS(shr)}};
static const bin_desc d_prelu = {"PRelu", K_SAME, {T_NUM(prelu)}};

/* ------------------------------------------------------------------ driver */

#define HALF_BLOCK 512

typedef struct {
  bin_loop loop;
  bparams p;
  const char *a, *b;
  char *y;
  size_t ea, eb, ey; /* element sizes */
  bool half;         /* A/B are float16/bfloat16 run through the float32 loop */
  int rank;          /* merged outer dims (the last one is the run) */
  int64_t dims[OXRT_MAX_RANK], sa[OXRT_MAX_RANK], sb[OXRT_MAX_RANK];
  size_t inner;
} bin_job;

/* One run through the float32 loop for float16/bfloat16 inputs, widened and narrowed a block at a time. */
static void half_run(const bin_job *j, const char *a, const char *b, char *y, size_t n, int sa, int sb) {
  float fa[HALF_BLOCK], fb[HALF_BLOCK], fy[HALF_BLOCK];
  oxrt_elem_type t = j->p.ta;
  const uint16_t *ha = (const uint16_t *)a, *hb = (const uint16_t *)b;
  if (!sa) f32_widen(t, ha, fa, 1); /* a broadcast scalar is widened once for the whole run */
  if (!sb) f32_widen(t, hb, fb, 1);
  for (size_t s = 0; s < n; s += HALF_BLOCK) {
    size_t m = n - s < HALF_BLOCK ? n - s : HALF_BLOCK;
    if (sa) f32_widen(t, ha + s, fa, m);
    if (sb) f32_widen(t, hb + s, fb, m);
    if (j->p.ty == OXRT_BOOL) {
      j->loop(fa, fb, y + s, m, sa, sb, &j->p);
      continue;
    }
    j->loop(fa, fb, fy, m, sa, sb, &j->p);
    f32_narrow(t, fy, (uint16_t *)y + s, m);
  }
}

static void bin_rows(void *arg, size_t r0, size_t r1) {
  const bin_job *j = arg;
  int outer = j->rank - 1;
  int64_t idx[OXRT_MAX_RANK] = {0};
  size_t oa = 0, ob = 0;
  size_t r = r0;
  for (int d = outer - 1; d >= 0; d--) { /* unravel the first row */
    idx[d] = (int64_t)(r % (size_t)j->dims[d]);
    r /= (size_t)j->dims[d];
    oa += (size_t)(idx[d] * j->sa[d]);
    ob += (size_t)(idx[d] * j->sb[d]);
  }
  int isa = j->sa[outer] != 0, isb = j->sb[outer] != 0;
  for (size_t row = r0; row < r1; row++) {
    const char *pa = j->a + oa * j->ea, *pb = j->b + ob * j->eb;
    char *py = j->y + row * j->inner * j->ey;
    if (j->half) half_run(j, pa, pb, py, j->inner, isa, isb);
    else j->loop(pa, pb, py, j->inner, isa, isb, &j->p);
    for (int d = outer - 1; d >= 0; d--) {
      oa += (size_t)j->sa[d];
      ob += (size_t)j->sb[d];
      if (++idx[d] < j->dims[d]) break;
      oa -= (size_t)(j->sa[d] * j->dims[d]);
      ob -= (size_t)(j->sb[d] * j->dims[d]);
      idx[d] = 0;
    }
  }
}

/* Runs `loop` over A, B broadcast to (rank, dims) into y. */
void oxrt_ew_binary_exec(oxrt_kernel_ctx *ctx, bin_loop loop, const bparams *p, const oxrt_value *A,
                         const oxrt_value *B, oxrt_value *y) {
  if (y->count == 0) return;
  int64_t sa[OXRT_MAX_RANK], sb[OXRT_MAX_RANK];
  oxrt_broadcast_strides(A, y->rank, y->dims, sa);
  oxrt_broadcast_strides(B, y->rank, y->dims, sb);
  bin_job j = {.loop = loop, .p = *p, .a = A->data, .b = B->data, .y = y->data};
  j.ea = oxrt_elem_type_size(A->dtype);
  j.eb = oxrt_elem_type_size(B->dtype);
  j.ey = oxrt_elem_type_size(y->dtype);
  j.half = (A->dtype == OXRT_FLOAT16 || A->dtype == OXRT_BFLOAT16) && A->dtype == B->dtype;
  /* Merge dims: drop size-1 axes and fuse neighbours whose strides chain for both inputs. */
  int r = 0;
  for (int d = 0; d < y->rank; d++) {
    if (y->dims[d] == 1) continue;
    if (r > 0 && j.sa[r - 1] == sa[d] * y->dims[d] && j.sb[r - 1] == sb[d] * y->dims[d]) {
      j.dims[r - 1] *= y->dims[d];
      j.sa[r - 1] = sa[d];
      j.sb[r - 1] = sb[d];
      continue;
    }
    j.dims[r] = y->dims[d];
    j.sa[r] = sa[d];
    j.sb[r] = sb[d];
    r++;
  }
  if (r == 0) { /* a single element */
    j.dims[0] = 1;
    j.sa[0] = j.sb[0] = 0;
    r = 1;
  }
  j.rank = r;
  j.inner = (size_t)j.dims[r - 1];
  size_t rows = y->count / j.inner;
  size_t grain = j.inner >= 32768 ? 1 : 32768 / j.inner;
  if (rows == 1 && j.inner >= 65536) {
    /* Treat the run as rows of 16384 (steps stay 0 or 1, so rows are contiguous). */
    size_t block = 16384;
    size_t full = j.inner / block;
    int isa = j.sa[r - 1] != 0, isb = j.sb[r - 1] != 0;
    bin_job k = j;
    k.rank = 2;
    k.dims[0] = (int64_t)full;
    k.dims[1] = (int64_t)block;
    k.sa[0] = isa ? (int64_t)block : 0;
    k.sb[0] = isb ? (int64_t)block : 0;
    k.sa[1] = isa;
    k.sb[1] = isb;
    k.inner = block;
    oxrt_parallel(ctx, full, 2, bin_rows, &k);
    size_t done = full * block, rest = j.inner - done;
    if (rest) {
      const char *pa = j.a + (isa ? done : 0) * j.ea, *pb = j.b + (isb ? done : 0) * j.eb;
      char *py = j.y + done * j.ey;
      if (j.half) half_run(&j, pa, pb, py, rest, isa, isb);
      else j.loop(pa, pb, py, rest, isa, isb, &j.p);
    }
    return;
  }
  oxrt_parallel(ctx, rows, grain, bin_rows, &j);
}

/* Opsets < 7: B is broadcast to A only when broadcast=1, aligned at `axis`
 * (suffix when absent). Rewrites B's header into an equivalent numpy shape. */
static oxrt_status *legacy_broadcast(const oxrt_kernel_ctx *ctx, const oxrt_value *A, const oxrt_value *B,
                                     oxrt_value *bview) {
  *bview = *B;
  if (ctx->opset >= 7) return NULL;
  if (!oxrt_attr_int(ctx->node, "broadcast", 0)) {
    if (A->rank != B->rank || memcmp(A->dims, B->dims, sizeof(int64_t) * (size_t)A->rank) != 0) {
      char sa[200], sb[200];
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "shapes %s and %s differ and broadcast is not set",
                        oxrt_dims_str(A->dims, A->rank, sa, sizeof sa), oxrt_dims_str(B->dims, B->rank, sb, sizeof sb));
    }
    return NULL;
  }
  if (B->rank > A->rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 has rank %d, more than input 0's %d", B->rank, A->rank);
  if (B->count == 1) { /* a one-element B of any rank acts as a scalar: the output keeps A's shape */
    bview->rank = 0;
    return NULL;
  }
  const oxrt_attr *ax = oxrt_node_attr(ctx->node, "axis");
  if (!ax) return NULL; /* suffix matching is numpy's rule */
  int64_t axis = ax->i;
  if (axis < 0) axis += A->rank;
  if (axis < 0 || axis + B->rank > A->rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %lld does not fit input 1 of rank %d into rank %d",
                      (long long)ax->i, B->rank, A->rank);
  int rank = (int)(A->rank - axis);
  for (int d = 0; d < rank; d++) bview->dims[d] = d < B->rank ? B->dims[d] : 1;
  bview->rank = rank;
  return NULL;
}

static bool types_match(const oxrt_value *A, const oxrt_value *B) { return A->dtype == B->dtype; }

static oxrt_status *binary_run(oxrt_kernel_ctx *ctx, const bin_desc *d) {
  const oxrt_value *A = oxrt_input(ctx, 0), *B = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(A, 0, "A"));
  OXRT_TRY(oxrt_check_tensor(B, 1, "B"));
  if (!types_match(A, B))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "inputs 0 and 1 must have the same type, got %s and %s",
                      oxrt_elem_type_name(A->dtype), oxrt_elem_type_name(B->dtype));
  bin_loop loop = oxrt_dtype_is_valid((int)A->dtype) ? d->loops[A->dtype] : NULL;
  if (!loop)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input 0: element type %s is not supported",
                      oxrt_elem_type_name(A->dtype));
  oxrt_value bv;
  OXRT_TRY(legacy_broadcast(ctx, A, B, &bv));
  const oxrt_value *ins[2] = {A, &bv};
  int rank;
  int64_t dims[OXRT_MAX_RANK];
  OXRT_TRY(oxrt_broadcast_shapes(2, ins, &rank, dims));
  oxrt_elem_type ty = d->out_kind == K_BOOL ? OXRT_BOOL : A->dtype;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, ty, rank, dims, &y));
  bparams p = {A->dtype, B->dtype, ty};
  oxrt_ew_binary_exec(ctx, loop, &p, A, &bv, y);
  return NULL;
}

#define SIMPLE_RUN(fn, desc)                                                                                           \
  static oxrt_status *fn(oxrt_kernel_ctx *ctx) { return binary_run(ctx, &desc); }
SIMPLE_RUN(add_run, d_add)
SIMPLE_RUN(sub_run, d_sub)
SIMPLE_RUN(mul_run, d_mul)
SIMPLE_RUN(div_run, d_div)
SIMPLE_RUN(eq_run, d_eq)
SIMPLE_RUN(lt_run, d_lt)
SIMPLE_RUN(gt_run, d_gt)
SIMPLE_RUN(le_run, d_le)
SIMPLE_RUN(ge_run, d_ge)
SIMPLE_RUN(and_run, d_and)
SIMPLE_RUN(or_run, d_or)
SIMPLE_RUN(xor_run, d_xor)
SIMPLE_RUN(band_run, d_band)
SIMPLE_RUN(bor_run, d_bor)
SIMPLE_RUN(bxor_run, d_bxor)

static oxrt_status *mod_run(oxrt_kernel_ctx *ctx) {
  int64_t f = oxrt_attr_int(ctx->node, "fmod", 0);
  if (f != 0 && f != 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute fmod must be 0 or 1, got %lld", (long long)f);
  return binary_run(ctx, f ? &d_modf : &d_mod);
}

static oxrt_status *bitshift_run(oxrt_kernel_ctx *ctx) {
  const char *dir = oxrt_attr_string(ctx->node, "direction", "");
  if (strcmp(dir, "LEFT") == 0) return binary_run(ctx, &d_shl);
  if (strcmp(dir, "RIGHT") == 0) return binary_run(ctx, &d_shr);
  return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute direction must be \"LEFT\" or \"RIGHT\", got \"%s\"", dir);
}

/* PRelu: slope broadcasts to X (unidirectional); the output has X's shape. */
static oxrt_status *prelu_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *X = oxrt_input(ctx, 0), *S = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(X, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(S, 1, "slope"));
  if (!types_match(X, S))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "inputs 0 and 1 must have the same type, got %s and %s",
                      oxrt_elem_type_name(X->dtype), oxrt_elem_type_name(S->dtype));
  bin_loop loop = oxrt_dtype_is_valid((int)X->dtype) ? d_prelu.loops[X->dtype] : NULL;
  if (!loop)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input 0: element type %s is not supported",
                      oxrt_elem_type_name(X->dtype));
  oxrt_value sv = *S;
  /* Opsets < 7 allowed a 1-D slope matching the channel axis (dim 1). */
  if (ctx->opset < 7 && S->rank == 1 && X->rank >= 2 && S->dims[0] == X->dims[1] && S->dims[0] != 1 &&
      X->dims[X->rank - 1] != S->dims[0]) {
    sv.rank = X->rank - 1;
    sv.dims[0] = S->dims[0];
    for (int d = 1; d < sv.rank; d++) sv.dims[d] = 1;
  }
  const oxrt_value *ins[2] = {X, &sv};
  int rank;
  int64_t dims[OXRT_MAX_RANK];
  OXRT_TRY(oxrt_broadcast_shapes(2, ins, &rank, dims));
  if (rank != X->rank || memcmp(dims, X->dims, sizeof(int64_t) * (size_t)rank) != 0) {
    char a[200], b[200];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "slope of shape %s does not broadcast to X of shape %s",
                      oxrt_dims_str(S->dims, S->rank, a, sizeof a), oxrt_dims_str(X->dims, X->rank, b, sizeof b));
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, X->dtype, X->rank, X->dims, &y));
  bparams p = {X->dtype, S->dtype, X->dtype};
  oxrt_ew_binary_exec(ctx, loop, &p, X, &sv, y);
  return NULL;
}

/* Pow: base type T, exponent type T1 (may differ from opset 12). */
static oxrt_status *pow_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *A = oxrt_input(ctx, 0), *B = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(A, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(B, 1, "Y"));
  bool num_a = oxrt_dtype_is_valid((int)A->dtype) && (OXRT_TBIT(A->dtype) & OXRT_TMASK_NUMERIC);
  bool num_b = oxrt_dtype_is_valid((int)B->dtype) && (OXRT_TBIT(B->dtype) & OXRT_TMASK_NUMERIC);
  if (!num_a || !num_b)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "element types %s and %s are not supported",
                      oxrt_elem_type_name(A->dtype), oxrt_elem_type_name(B->dtype));
  bin_loop loop = A->dtype == B->dtype ? d_pow.loops[A->dtype] : NULL;
  if (!loop) loop = pow_generic;
  oxrt_value bv;
  OXRT_TRY(legacy_broadcast(ctx, A, B, &bv));
  const oxrt_value *ins[2] = {A, &bv};
  int rank;
  int64_t dims[OXRT_MAX_RANK];
  OXRT_TRY(oxrt_broadcast_shapes(2, ins, &rank, dims));
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, A->dtype, rank, dims, &y));
  bparams p = {A->dtype, B->dtype, A->dtype};
  oxrt_ew_binary_exec(ctx, loop, &p, A, &bv, y);
  return NULL;
}

/* ------------------------------------------------------------------ registration */

#define NUM OXRT_TMASK_NUMERIC
#define BOOLM OXRT_TBIT(OXRT_BOOL)
/* Later versions only widen types or switch from the legacy broadcast
 * attributes (handled by opset in the run) to numpy broadcasting. */
#define IMPL1(name, v, mask)                                                                                           \
  static const oxrt_op_impl name##_impls[] = {{.since_version = v, .type_mask = mask, .run = name##_run}};
IMPL1(add, 1, NUM)
IMPL1(sub, 1, NUM)
IMPL1(mul, 1, NUM)
IMPL1(div, 1, NUM)
IMPL1(pow, 1, NUM)
IMPL1(mod, 10, NUM)
IMPL1(and, 1, BOOLM)
IMPL1(or, 1, BOOLM)
IMPL1(xor, 1, BOOLM)
IMPL1(eq, 1, NUM | BOOLM | OXRT_TBIT(OXRT_STRING))
IMPL1(lt, 1, NUM)
IMPL1(gt, 1, NUM)
IMPL1(le, 12, NUM)
IMPL1(ge, 12, NUM)
IMPL1(band, 18, OXRT_TMASK_INTS)
IMPL1(bor, 18, OXRT_TMASK_INTS)
IMPL1(bxor, 18, OXRT_TMASK_INTS)
IMPL1(prelu, 1, NUM)
/* BitShift: unsigned only until opset 28 defined the signed semantics. */
static const oxrt_op_impl bitshift_impls[] = {
    {.since_version = 11, .type_mask = OXRT_TMASK_UINTS, .run = bitshift_run},
    {.since_version = 28, .type_mask = OXRT_TMASK_INTS, .run = bitshift_run},
};

OXRT_REGISTER_OP(Add) = {"", "Add", OXRT_IMPLS(add_impls), .infer = oxrt_infer_add,
                         .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};
OXRT_REGISTER_OP(Sub) = {"", "Sub", OXRT_IMPLS(sub_impls), .infer = oxrt_infer_sub,
                         .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};
OXRT_REGISTER_OP(Mul) = {"", "Mul", OXRT_IMPLS(mul_impls), .infer = oxrt_infer_mul,
                         .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};
OXRT_REGISTER_OP(Div) = {"", "Div", OXRT_IMPLS(div_impls), .infer = oxrt_infer_div,
                         .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};
OXRT_REGISTER_OP(Pow) = {"", "Pow", OXRT_IMPLS(pow_impls), .infer = oxrt_infer_broadcast,
                         .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(Mod) = {"", "Mod", OXRT_IMPLS(mod_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(And) = {"", "And", OXRT_IMPLS(and_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(Or) = {"", "Or", OXRT_IMPLS(or_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(Xor) = {"", "Xor", OXRT_IMPLS(xor_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(Equal) = {"", "Equal", OXRT_IMPLS(eq_impls), .infer = oxrt_infer_compare};
OXRT_REGISTER_OP(Less) = {"", "Less", OXRT_IMPLS(lt_impls), .infer = oxrt_infer_compare};
OXRT_REGISTER_OP(Greater) = {"", "Greater", OXRT_IMPLS(gt_impls), .infer = oxrt_infer_compare};
OXRT_REGISTER_OP(LessOrEqual) = {"", "LessOrEqual", OXRT_IMPLS(le_impls), .infer = oxrt_infer_compare};
OXRT_REGISTER_OP(GreaterOrEqual) = {"", "GreaterOrEqual", OXRT_IMPLS(ge_impls), .infer = oxrt_infer_compare};
OXRT_REGISTER_OP(BitwiseAnd) = {"", "BitwiseAnd", OXRT_IMPLS(band_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(BitwiseOr) = {"", "BitwiseOr", OXRT_IMPLS(bor_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(BitwiseXor) = {"", "BitwiseXor", OXRT_IMPLS(bxor_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(BitShift) = {"", "BitShift", OXRT_IMPLS(bitshift_impls), .infer = oxrt_infer_broadcast};
OXRT_REGISTER_OP(PRelu) = {"", "PRelu", OXRT_IMPLS(prelu_impls), .infer = oxrt_infer_same};
