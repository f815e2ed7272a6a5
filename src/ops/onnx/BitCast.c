/* BitCast.c - BitCast (opset 26): reinterpret the bits of each element as another type of equal width. */
#include "../op_util.h"
#include <string.h>

/* Width in bits of one element as ONNX defines it (sub-byte types are stored one per byte here). */
static int bit_width(oxrt_elem_type t) {
  switch (t) {
  case OXRT_INT4: case OXRT_UINT4: case OXRT_FLOAT4E2M1: return 4;
  case OXRT_INT2: case OXRT_UINT2: return 2;
  default: return (int)oxrt_elem_type_size(t) * 8;
  }
}

static oxrt_status *bitcast_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  int64_t to = oxrt_attr_int(ctx->node, "to", 0);
  if (!oxrt_dtype_is_valid((int)to) || to == OXRT_STRING || x->dtype == OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot bit-cast %s to type %lld (strings have no fixed width)",
                      oxrt_elem_type_name(x->dtype), (long long)to);
  oxrt_elem_type dt = (oxrt_elem_type)to;
  if (bit_width(dt) != bit_width(x->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "'to' type %s is %d bits wide but the input %s is %d bits",
                      oxrt_elem_type_name(dt), bit_width(dt), oxrt_elem_type_name(x->dtype), bit_width(x->dtype));
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, dt, x->rank, x->dims, &y));
  int bits = bit_width(dt);
  if (bits >= 8) {
    if (x->nbytes) memcpy(y->data, x->data, x->nbytes);
    return NULL;
  }
  /* Sub-byte values: keep the low `bits` bits, sign-extend for the signed integer targets. */
  const uint8_t *s = x->data;
  uint8_t *d = y->data, mask = (uint8_t)((1u << bits) - 1);
  bool sign = dt == OXRT_INT4 || dt == OXRT_INT2;
  for (size_t i = 0; i < x->count; i++) {
    uint8_t v = s[i] & mask;
    if (sign && (v & (1u << (bits - 1)))) v |= (uint8_t)~mask;
    d[i] = v;
  }
  return NULL;
}

static const oxrt_op_impl bitcast_impls[] = {{.since_version = 26, .run = bitcast_run}};
OXRT_REGISTER_OP(BitCast) = {"", "BitCast", OXRT_IMPLS(bitcast_impls)};
