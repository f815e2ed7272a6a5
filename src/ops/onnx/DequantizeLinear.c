/* DequantizeLinear.c - y = (x - zero_point) * scale, per tensor, per axis (opset 13) or blocked (opset 21),
 * from 8/16/32/4/2-bit integers, float8 (opset 19) and float4e2m1 (opset 23; float zero points are ignored).
 * Computed in float32; the output type is the scale's, or `output_dtype` (opset 23). */
#include "quant_util.h"
#include "../infer_rules.h"

typedef struct {
  const oxrt_value *x;
  oxrt_value *y;
  q_layout L;
  const float *scale, *zp;
  float *yf; /* float32 output buffer (y's data when y is float) */
} dequant_job;

static void dequant_outer(void *arg, size_t o0, size_t o1) {
  const dequant_job *j = arg;
  const q_layout *L = &j->L;
  const oxrt_value *x = j->x;
  for (size_t o = o0; o < o1; o++)
    for (size_t a = 0; a < L->dim; a++) {
      size_t pb = o * L->s_o + (a / L->blk) * L->s_a, xb = (o * L->dim + a) * L->inner;
      float *ys = j->yf + xb;
      if (L->s_in == 0 && (x->dtype == OXRT_UINT8 || x->dtype == OXRT_INT8)) {
        float s = j->scale[pb], z = j->zp ? j->zp[pb] : 0.0f;
        if (x->dtype == OXRT_UINT8) {
          const uint8_t *xs = (const uint8_t *)x->data + xb;
          for (size_t i = 0; i < L->inner; i++) ys[i] = ((float)xs[i] - z) * s;
        } else {
          const int8_t *xs = (const int8_t *)x->data + xb;
          for (size_t i = 0; i < L->inner; i++) ys[i] = ((float)xs[i] - z) * s;
        }
        continue;
      }
      for (size_t i = 0; i < L->inner; i++) {
        size_t p = pb + i * L->s_in;
        float xv = (float)oxrt_load_f64(x->dtype, x->data, xb + i);
        ys[i] = (xv - (j->zp ? j->zp[p] : 0.0f)) * j->scale[p];
      }
    }
}

static oxrt_status *dequant_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *scale = oxrt_input(ctx, 1), *zp = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x, 0, "x"));
  OXRT_TRY(oxrt_check_tensor(scale, 1, "x_scale"));
  if (zp) OXRT_TRY(oxrt_check_tensor(zp, 2, "x_zero_point"));
  if (!oxrt_dtype_is_float(scale->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (x_scale) must be a float type, got %s",
                      oxrt_elem_type_name(scale->dtype));
  bool fx = oxrt_dtype_is_float(x->dtype); /* float8 / float4: no zero point arithmetic */
  if (zp && !fx && zp->dtype != x->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "x is %s but x_zero_point is %s", oxrt_elem_type_name(x->dtype),
                      oxrt_elem_type_name(zp->dtype));
  int64_t axis = ctx->opset >= 13 ? oxrt_attr_int(ctx->node, "axis", 1) : 1;
  int64_t block = ctx->opset >= 21 ? oxrt_attr_int(ctx->node, "block_size", 0) : 0;
  int64_t odt = ctx->opset >= 23 ? oxrt_attr_int(ctx->node, "output_dtype", 0) : 0;
  oxrt_elem_type ot = odt ? (oxrt_elem_type)odt : scale->dtype;
  if (ot != OXRT_FLOAT && ot != OXRT_FLOAT16 && ot != OXRT_BFLOAT16 && ot != OXRT_DOUBLE)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output type %s is not a float type",
                      oxrt_dtype_is_valid((int)ot) ? oxrt_elem_type_name(ot) : "(invalid)");
  dequant_job j = {.x = x};
  OXRT_TRY(q_layout_of(x, scale, zp, 1, axis, block, &j.L));
  OXRT_TRY(oxrt_output_tensor(ctx, 0, ot, x->rank, x->dims, &j.y));
  if (x->count == 0) return NULL;
  float *sc = NULL, *z = NULL;
  OXRT_TRY(q_load_f32(scale, &sc));
  if (zp && !fx) {
    oxrt_status *st = q_load_f32(zp, &z);
    if (st) {
      free(sc);
      return st;
    }
  }
  j.scale = sc;
  j.zp = z;
  j.yf = ot == OXRT_FLOAT ? (float *)j.y->data : malloc(sizeof(float) * x->count);
  if (!j.yf) {
    free(sc);
    free(z);
    return OXRT_OOM();
  }
  oxrt_parallel(ctx, j.L.outer, 1 + 65536 / (j.L.dim * j.L.inner + 1), dequant_outer, &j);
  if (ot != OXRT_FLOAT) {
    oxrt_convert(ot, j.y->data, OXRT_FLOAT, j.yf, x->count, false);
    free(j.yf);
  }
  free(sc);
  free(z);
  return NULL;
}

static const oxrt_op_impl dequant_impls[] = {
    {.since_version = 10, .run = dequant_run},
    {.since_version = 13, .run = dequant_run},
    {.since_version = 19, .run = dequant_run},
    {.since_version = 21, .run = dequant_run},
    {.since_version = 23, .run = dequant_run},
};
/* y in x's shape, typed like the scale, or `output_dtype` (opset 23), as dequant_run */
static oxrt_status *infer_dequant(oxrt_infer_ctx *ctx) {
  int64_t odt = ctx->opset >= 23 ? oxrt_attr_int(ctx->node, "output_dtype", 0) : 0;
  if (odt) return q_infer_same_shape(ctx, oxrt_dtype_is_valid((int)odt) ? (oxrt_elem_type)odt : OXRT_UNDEFINED);
  return q_infer_same_shape(ctx, q_infer_elem(ctx, 1, OXRT_UNDEFINED));
}

OXRT_REGISTER_OP(DequantizeLinear) = {"", "DequantizeLinear", OXRT_IMPLS(dequant_impls), .infer = infer_dequant,
                                      .flags = OXRT_OP_NO_FOLD};

/* com.microsoft DequantizeLinear (ONNX Runtime's quantizer writes it for 16-bit and 4-bit types): opset 13's semantics,
 * per tensor or per axis. */
static oxrt_status *ms_dequant_run(oxrt_kernel_ctx *ctx) {
  oxrt_kernel_ctx c = *ctx;
  c.opset = 13;
  return dequant_run(&c);
}
static const oxrt_op_impl ms_dequant_impls[] = {{.since_version = 1, .run = ms_dequant_run}};
static oxrt_status *infer_ms_dequant(oxrt_infer_ctx *ctx) {
  return q_infer_same_shape(ctx, q_infer_elem(ctx, 1, OXRT_UNDEFINED));
}
OXRT_REGISTER_OP(ms_DequantizeLinear) = {"com.microsoft", "DequantizeLinear", OXRT_IMPLS(ms_dequant_impls),
                                         .infer = infer_ms_dequant};
