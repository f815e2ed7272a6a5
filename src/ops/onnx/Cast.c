/* Cast.c - Cast and CastLike: element type conversion with ONNX rules
 * (oxrt_convert: strings, float8 with `saturate`, int4/int2 wrapping) and
 * the `round_mode` of conversions to float8e8m0 (opset 24+). */
#include "../op_util.h"
#include "../infer_rules.h"
#include <string.h>
#include <strings.h>

/* Cast-1 names the target type with a string. */
static int type_from_name(const char *s) {
  static const struct {
    const char *name;
    oxrt_elem_type t;
  } names[] = {{"FLOAT", OXRT_FLOAT},   {"UINT8", OXRT_UINT8},   {"INT8", OXRT_INT8},     {"UINT16", OXRT_UINT16},
               {"INT16", OXRT_INT16},   {"INT32", OXRT_INT32},   {"INT64", OXRT_INT64},   {"STRING", OXRT_STRING},
               {"BOOL", OXRT_BOOL},     {"FLOAT16", OXRT_FLOAT16}, {"DOUBLE", OXRT_DOUBLE}, {"UINT32", OXRT_UINT32},
               {"UINT64", OXRT_UINT64}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcasecmp(s, names[i].name) == 0) return names[i].t;
  return -1;
}

enum { ROUND_UP, ROUND_DOWN, ROUND_NEAREST };

/* float32 bits -> float8e8m0 (an exponent only), following the reference's bit rules. */
static uint8_t to_e8m0(float f, bool saturate, int mode) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t e = (u >> 23) & 0xff;
  if (e == 0xff) return 0xff; /* NaN and inf */
  bool up = false;
  if (mode == ROUND_UP) {
    up = (u & 0x7fffff) != 0;
  } else if (mode == ROUND_NEAREST) {
    bool g = (u & 0x400000) != 0, r = (u & 0x200000) != 0, s = (u & 0x1fffff) != 0;
    up = g && (r || s || e > 0);
  }
  if (up && saturate && e == 0xfe) up = false;
  return (uint8_t)(e + up);
}

static oxrt_status *cast_exec(oxrt_kernel_ctx *ctx, const oxrt_value *x, oxrt_elem_type to) {
  int64_t sat = oxrt_attr_int(ctx->node, "saturate", 1);
  const char *rm = oxrt_attr_string(ctx->node, "round_mode", "up");
  int mode;
  if (strcmp(rm, "up") == 0) mode = ROUND_UP;
  else if (strcmp(rm, "down") == 0) mode = ROUND_DOWN;
  else if (strcmp(rm, "nearest") == 0) mode = ROUND_NEAREST;
  else
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute round_mode: expected up, down or nearest, got \"%s\"", rm);
  if (!oxrt_dtype_is_valid((int)to) || to == OXRT_UNDEFINED)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "target type %d is not a valid element type", (int)to);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, to, x->rank, x->dims, &y));
  if (to == OXRT_FLOAT8E8M0 && x->dtype != OXRT_FLOAT8E8M0 && x->dtype != OXRT_STRING) {
    uint8_t *o = y->data;
    for (size_t i = 0; i < x->count; i++) {
      float f = x->dtype == OXRT_FLOAT ? ((const float *)x->data)[i] : (float)oxrt_load_f64(x->dtype, x->data, i);
      o[i] = to_e8m0(f, sat != 0, mode);
    }
    return NULL;
  }
  if (!oxrt_convert(to, y->data, x->dtype, x->data, x->count, sat != 0)) {
    if (x->dtype == OXRT_STRING || to == OXRT_STRING) return OXRT_OOM();
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "cast from %s to %s is not supported", oxrt_elem_type_name(x->dtype),
                      oxrt_elem_type_name(to));
  }
  return NULL;
}

static oxrt_status *cast_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  const oxrt_attr *a = oxrt_node_attr(ctx->node, "to");
  if (!a) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute 'to' is missing");
  int to;
  if (a->s && a->type == OXRT_ATTR_STRING) {
    to = type_from_name(a->s);
    if (to < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute to: unknown type name \"%s\"", a->s);
  } else {
    to = (int)a->i;
  }
  return cast_exec(ctx, x, (oxrt_elem_type)to);
}

static oxrt_status *castlike_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *t = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  OXRT_TRY(oxrt_check_tensor(t, 1, "target_type"));
  return cast_exec(ctx, x, t->dtype);
}

/* Later versions add types (strings 9, bfloat16 13, float8 19, int4 21, float4/e8m0 24, int2 25), `saturate`
 * (19) and `round_mode` (24); an attribute absent from older models keeps its default. */
static const oxrt_op_impl cast_impls[] = {{.since_version = 1, .run = cast_run}};
static const oxrt_op_impl castlike_impls[] = {{.since_version = 15, .run = castlike_run}};

/* The shape of input 0 with the element type `to` (Cast) or of input 1 (CastLike); integer contents pass. */
static oxrt_status *infer_cast(oxrt_infer_ctx *ctx) {
  oxrt_tshape x;
  if (!oxrt_infer_input(ctx, 0, &x)) return NULL;
  x.elem = (oxrt_elem_type)oxrt_attr_int(ctx->node, "to", 0);
  const oxrt_known_ints *k = oxrt_infer_known(ctx, 0);
  if (k && (x.elem == OXRT_INT64 || x.elem == OXRT_INT32)) oxrt_infer_set_known(ctx, 0, k);
  return oxrt_infer_output(ctx, 0, &x);
}

static oxrt_status *infer_cast_like(oxrt_infer_ctx *ctx) {
  oxrt_tshape x, like;
  if (!oxrt_infer_input(ctx, 0, &x) || !oxrt_infer_input(ctx, 1, &like)) return NULL;
  x.elem = like.elem;
  return oxrt_infer_output(ctx, 0, &x);
}

OXRT_REGISTER_OP(Cast) = {"", "Cast", OXRT_IMPLS(cast_impls), .infer = infer_cast};
OXRT_REGISTER_OP(CastLike) = {"", "CastLike", OXRT_IMPLS(castlike_impls), .infer = infer_cast_like};
