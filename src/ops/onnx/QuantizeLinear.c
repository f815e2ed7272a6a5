/* QuantizeLinear.c - y = saturate(round_half_even(x / scale) + zero_point), per tensor, per axis (opset 13)
 * or blocked (opset 21), into any quantized type: 8/16/4/2-bit integers, float8 (opset 19, with `saturate`)
 * and float4e2m1 (opset 23). The output type comes from the zero point, else `output_dtype`, else uint8. */
#include "quant_util.h"
#include "../infer_rules.h"
#include <string.h>

typedef struct {
  const oxrt_value *x;
  oxrt_value *y;
  q_layout L;
  const float *scale;
  const double *zp; /* NULL: zero */
  oxrt_elem_type qt, prec;
  bool saturate, is_int;
  int64_t lo, hi;
} quant_job;

/* x / scale in the computation precision (numpy divides float16 by float16 in float16). */
static inline double q_div(oxrt_elem_type prec, float x, float s) {
  switch (prec) {
  case OXRT_DOUBLE: return (double)x / (double)s;
  case OXRT_FLOAT16: return oxrt_f16_to_f32(oxrt_f32_to_f16(x / s));
  case OXRT_BFLOAT16: return oxrt_bf16_to_f32(oxrt_f32_to_bf16(x / s));
  default: return x / s;
  }
}

/* The hot path's loops (float to 8-bit, one scale for the run): branch-free, so they vectorize (per ISA clone). */
#if defined(__GNUC__) && !defined(__clang__)
#define QUANT_VEC __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define QUANT_VEC
#endif
#define QUANT8(name, T)                                                                                                \
  OXRT_SIMD_CLONES QUANT_VEC static void name(const float *restrict x, T *restrict y, size_t n, float s, float z,     \
                                              float lo, float hi) {                                                   \
    for (size_t i = 0; i < n; i++) y[i] = (T)(int32_t)q_rne_sat(x[i] / s, z, lo, hi);                                  \
  }
QUANT8(quant_u8, uint8_t)
QUANT8(quant_s8, int8_t)

/* Elements [i0, i1) of run (o, a): `inner` elements sharing a scale when s_in is 0. */
static void quant_span(const quant_job *j, size_t o, size_t a, size_t i0, size_t i1) {
  const q_layout *L = &j->L;
  const oxrt_value *x = j->x;
  size_t pb = o * L->s_o + (a / L->blk) * L->s_a, xb = (o * L->dim + a) * L->inner;
  if (x->dtype == OXRT_FLOAT && L->s_in == 0 && j->prec == OXRT_FLOAT && (j->qt == OXRT_UINT8 || j->qt == OXRT_INT8)) {
    /* Hot path: float to 8-bit with one scale for the whole run. */
    const float *xs = (const float *)x->data + xb + i0;
    float s = j->scale[pb], z = j->zp ? (float)j->zp[pb] : 0.0f, lo = (float)j->lo, hi = (float)j->hi;
    if (j->qt == OXRT_UINT8) quant_u8(xs, (uint8_t *)j->y->data + xb + i0, i1 - i0, s, z, lo, hi);
    else quant_s8(xs, (int8_t *)j->y->data + xb + i0, i1 - i0, s, z, lo, hi);
    return;
  }
  for (size_t i = i0; i < i1; i++) {
    size_t p = pb + i * L->s_in, xi = xb + i;
    float xv = x->dtype == OXRT_FLOAT ? ((const float *)x->data)[xi] : (float)oxrt_load_f64(x->dtype, x->data, xi);
    double v = q_div(j->prec, xv, j->scale[p]);
    double z = j->zp ? j->zp[p] : 0.0;
    if (j->is_int) {
      double r = v != v ? 0.0 : nearbyint(v);
      if (r < INT32_MIN) r = INT32_MIN;
      if (r > INT32_MAX) r = INT32_MAX;
      oxrt_store_i64(j->qt, j->y->data, xi, q_round_clamp(r + z, j->lo, j->hi));
    } else if (j->qt == OXRT_FLOAT4E2M1) {
      ((uint8_t *)j->y->data)[xi] = oxrt_f32_to_f8(j->qt, (float)(v + z), true);
    } else {
      ((uint8_t *)j->y->data)[xi] = oxrt_f32_to_f8(j->qt, (float)v, j->saturate);
    }
  }
}

static void quant_outer(void *arg, size_t o0, size_t o1) {
  const quant_job *j = arg;
  for (size_t o = o0; o < o1; o++)
    for (size_t a = 0; a < j->L.dim; a++) quant_span(j, o, a, 0, j->L.inner);
}

/* Per tensor (one run of `inner` elements): chunks of QUANT_CHUNK, so that a network's input (150K floats, ~30 us)
 * is not one thread's work while the others wait. */
#define QUANT_CHUNK 16384
static void quant_chunks(void *arg, size_t c0, size_t c1) {
  const quant_job *j = arg;
  size_t i1 = c1 * QUANT_CHUNK;
  quant_span(j, 0, 0, c0 * QUANT_CHUNK, i1 < j->L.inner ? i1 : j->L.inner);
}

static oxrt_status *quant_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *scale = oxrt_input(ctx, 1), *zp = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x, 0, "x"));
  OXRT_TRY(oxrt_check_tensor(scale, 1, "y_scale"));
  if (zp) OXRT_TRY(oxrt_check_tensor(zp, 2, "y_zero_point"));
  if (!oxrt_dtype_is_float(scale->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (y_scale) must be a float type, got %s",
                      oxrt_elem_type_name(scale->dtype));
  if (ctx->opset < 19 && scale->rank > 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (y_scale) must be a scalar or 1-D before opset 21");
  int64_t axis = ctx->opset >= 13 ? oxrt_attr_int(ctx->node, "axis", 1) : 1;
  int64_t block = ctx->opset >= 21 ? oxrt_attr_int(ctx->node, "block_size", 0) : 0;
  int64_t odt = ctx->opset >= 21 ? oxrt_attr_int(ctx->node, "output_dtype", 0) : 0;
  int64_t prec = ctx->opset >= 23 ? oxrt_attr_int(ctx->node, "precision", 0) : 0;
  quant_job j = {.x = x, .saturate = ctx->opset >= 19 ? oxrt_attr_int(ctx->node, "saturate", 1) != 0 : true};
  if (odt && !oxrt_dtype_is_valid((int)odt))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute output_dtype = %lld is not a type", (long long)odt);
  if (zp && odt && zp->dtype != (oxrt_elem_type)odt)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output_dtype %s differs from the zero point's type %s",
                      oxrt_elem_type_name((oxrt_elem_type)odt), oxrt_elem_type_name(zp->dtype));
  j.qt = zp ? zp->dtype : odt ? (oxrt_elem_type)odt : OXRT_UINT8;
  j.is_int = q_int_range(j.qt, &j.lo, &j.hi) && j.qt != OXRT_INT32;
  bool is_f8 = j.qt == OXRT_FLOAT8E4M3FN || j.qt == OXRT_FLOAT8E4M3FNUZ || j.qt == OXRT_FLOAT8E5M2 ||
               j.qt == OXRT_FLOAT8E5M2FNUZ || j.qt == OXRT_FLOAT4E2M1;
  if (!j.is_int && !is_f8)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%s is not a quantized type", oxrt_elem_type_name(j.qt));
  if (prec && prec != OXRT_FLOAT && prec != OXRT_DOUBLE && prec != OXRT_FLOAT16 && prec != OXRT_BFLOAT16)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute precision = %lld is not a float type", (long long)prec);
  j.prec = prec ? (oxrt_elem_type)prec
           : (x->dtype == scale->dtype && (x->dtype == OXRT_FLOAT16 || x->dtype == OXRT_BFLOAT16)) ? x->dtype
                                                                                                 : OXRT_FLOAT;
  OXRT_TRY(q_layout_of(x, scale, zp, 1, axis, block, &j.L));
  OXRT_TRY(oxrt_output_tensor(ctx, 0, j.qt, x->rank, x->dims, &j.y));
  if (x->count == 0) return NULL;
  float *sc = NULL;
  OXRT_TRY(q_load_f32(scale, &sc));
  double *z = NULL;
  if (zp) {
    z = malloc(sizeof(double) * zp->count);
    if (!z) {
      free(sc);
      return OXRT_OOM();
    }
    for (size_t i = 0; i < zp->count; i++) z[i] = oxrt_load_f64(zp->dtype, zp->data, i);
    if (is_f8 && j.qt != OXRT_FLOAT4E2M1) { /* float8 zero points must be 0 and are not added */
      free(z);
      z = NULL;
    }
  }
  j.scale = sc;
  j.zp = z;
  if (j.L.outer == 1 && j.L.dim == 1 && j.L.inner > QUANT_CHUNK)
    oxrt_parallel(ctx, (j.L.inner + QUANT_CHUNK - 1) / QUANT_CHUNK, 1, quant_chunks, &j);
  else
    oxrt_parallel(ctx, j.L.outer, 1 + 65536 / (j.L.dim * j.L.inner + 1), quant_outer, &j);
  free(sc);
  free(z);
  return NULL;
}

#define QL_X10 (OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_INT32))
#define QL_X19 (QL_X10 | OXRT_TBIT(OXRT_FLOAT16) | OXRT_TBIT(OXRT_BFLOAT16))
static const oxrt_op_impl quant_impls[] = {
    {.since_version = 10, .type_mask = QL_X10, .run = quant_run},
    {.since_version = 13, .type_mask = QL_X10, .run = quant_run},
    {.since_version = 19, .type_mask = QL_X19, .run = quant_run},
    {.since_version = 21, .type_mask = QL_X19, .run = quant_run},
    {.since_version = 23, .type_mask = QL_X19, .run = quant_run},
};
/* y in x's shape, typed like the zero point, else `output_dtype` (opset 21), else uint8 (as quant_run) */
static oxrt_status *infer_quant(oxrt_infer_ctx *ctx) {
  int64_t odt = ctx->opset >= 21 ? oxrt_attr_int(ctx->node, "output_dtype", 0) : 0;
  oxrt_elem_type dflt = odt && oxrt_dtype_is_valid((int)odt) ? (oxrt_elem_type)odt : OXRT_UINT8;
  return q_infer_same_shape(ctx, q_infer_elem(ctx, 2, dflt));
}

OXRT_REGISTER_OP(QuantizeLinear) = {"", "QuantizeLinear", OXRT_IMPLS(quant_impls), .infer = infer_quant,
                                    .flags = OXRT_OP_NO_FOLD};

/* com.microsoft QuantizeLinear (ONNX Runtime's quantizer writes it for 16-bit and 4-bit types): opset 13's semantics,
 * per tensor or per axis. */
static oxrt_status *ms_quant_run(oxrt_kernel_ctx *ctx) {
  oxrt_kernel_ctx c = *ctx;
  c.opset = 13;
  return quant_run(&c);
}
static const oxrt_op_impl ms_quant_impls[] = {{.since_version = 1, .run = ms_quant_run}};
static oxrt_status *infer_ms_quant(oxrt_infer_ctx *ctx) {
  return q_infer_same_shape(ctx, q_infer_elem(ctx, 2, OXRT_UINT8));
}
OXRT_REGISTER_OP(ms_QuantizeLinear) = {"com.microsoft", "QuantizeLinear", OXRT_IMPLS(ms_quant_impls),
                                       .infer = infer_ms_quant};
