/* Clip.c - Clip: y = min(max(x, min), max). Bounds are attributes before
 * opset 11 and optional scalar inputs from 11; when min > max every output is
 * max (numpy's clip order). NaN inputs stay NaN. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("-fno-trapping-math")
#endif
#include "../op_util.h"
#include "../infer_rules.h"
#include <float.h>
#include <math.h>

typedef struct {
  const oxrt_value *x;
  oxrt_value *y;
  double lo, hi;         /* float bounds (also used for float16/bfloat16) */
  int64_t ilo, ihi;      /* signed integer bounds */
  uint64_t ulo, uhi;     /* unsigned integer bounds */
  bool has_lo, has_hi;
} clip_job;

static void clip_range(void *arg, size_t b, size_t e) {
  const clip_job *j = arg;
  oxrt_elem_type t = j->x->dtype;
  if (t == OXRT_FLOAT) {
    const float *restrict x = j->x->data;
    float *restrict y = j->y->data;
    const float lo = j->has_lo ? (float)j->lo : -INFINITY, hi = j->has_hi ? (float)j->hi : INFINITY;
    for (size_t i = b; i < e; i++) {
      float v = x[i];
      v = v < lo ? lo : v;
      y[i] = v > hi ? hi : v;
    }
  } else if (t == OXRT_FLOAT16) { /* through float32 in blocks, with the bulk (F16C) conversions */
    const float lo = j->has_lo ? (float)j->lo : -INFINITY, hi = j->has_hi ? (float)j->hi : INFINITY;
    float buf[256];
    for (size_t i = b; i < e; i += 256) {
      size_t n = e - i < 256 ? e - i : 256;
      oxrt_f16_to_f32_n((const uint16_t *)j->x->data + i, buf, n);
      for (size_t k = 0; k < n; k++) {
        float v = buf[k] < lo ? lo : buf[k];
        buf[k] = v > hi ? hi : v;
      }
      oxrt_f32_to_f16_n(buf, (uint16_t *)j->y->data + i, n);
    }
  } else if (t == OXRT_DOUBLE || t == OXRT_BFLOAT16) {
    for (size_t i = b; i < e; i++) {
      double v = oxrt_load_f64(t, j->x->data, i);
      if (j->has_lo && v < j->lo) v = j->lo;
      if (j->has_hi && v > j->hi) v = j->hi;
      oxrt_store_f64(t, j->y->data, i, v);
    }
  } else if (oxrt_dtype_is_unsigned_int(t)) {
    for (size_t i = b; i < e; i++) {
      uint64_t v = (uint64_t)oxrt_load_i64(t, j->x->data, i);
      if (j->has_lo && v < j->ulo) v = j->ulo;
      if (j->has_hi && v > j->uhi) v = j->uhi;
      oxrt_store_i64(t, j->y->data, i, (int64_t)v);
    }
  } else {
    for (size_t i = b; i < e; i++) {
      int64_t v = oxrt_load_i64(t, j->x->data, i);
      if (j->has_lo && v < j->ilo) v = j->ilo;
      if (j->has_hi && v > j->ihi) v = j->ihi;
      oxrt_store_i64(t, j->y->data, i, v);
    }
  }
}

static oxrt_status *read_bound(const oxrt_value *x, const oxrt_value *b, int index, clip_job *j, bool hi) {
  if (!b) return NULL;
  OXRT_TRY(oxrt_check_tensor(b, index, hi ? "max" : "min"));
  if (b->dtype != x->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d has type %s, input 0 has %s", index,
                      oxrt_elem_type_name(b->dtype), oxrt_elem_type_name(x->dtype));
  if (b->count != 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d must be a scalar, has %zu elements", index, b->count);
  if (hi) {
    j->has_hi = true;
    j->hi = oxrt_load_f64(b->dtype, b->data, 0);
    j->ihi = oxrt_load_i64(b->dtype, b->data, 0);
    j->uhi = (uint64_t)j->ihi;
  } else {
    j->has_lo = true;
    j->lo = oxrt_load_f64(b->dtype, b->data, 0);
    j->ilo = oxrt_load_i64(b->dtype, b->data, 0);
    j->ulo = (uint64_t)j->ilo;
  }
  return NULL;
}

static oxrt_status *clip_exec(oxrt_kernel_ctx *ctx, clip_job *j) {
  const oxrt_value *x = j->x;
  if (!(OXRT_TBIT(x->dtype) & OXRT_TMASK_NUMERIC))
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "input 0: element type %s is not supported",
                      oxrt_elem_type_name(x->dtype));
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &j->y));
  if (x->count) oxrt_parallel(ctx, x->count, 16384, clip_range, j);
  return NULL;
}

static oxrt_status *clip11_run(oxrt_kernel_ctx *ctx) {
  clip_job j = {.x = oxrt_input(ctx, 0)};
  OXRT_TRY(oxrt_check_tensor(j.x, 0, "input"));
  OXRT_TRY(read_bound(j.x, oxrt_input(ctx, 1), 1, &j, false));
  OXRT_TRY(read_bound(j.x, oxrt_input(ctx, 2), 2, &j, true));
  return clip_exec(ctx, &j);
}

/* Opsets 1 and 6: float attributes (defaulting to the float range). */
static oxrt_status *clip1_run(oxrt_kernel_ctx *ctx) {
  clip_job j = {.x = oxrt_input(ctx, 0)};
  OXRT_TRY(oxrt_check_tensor(j.x, 0, "input"));
  if (!oxrt_dtype_is_float(j.x->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected a float type, got %s",
                      oxrt_elem_type_name(j.x->dtype));
  j.has_lo = oxrt_node_attr(ctx->node, "min") != NULL;
  j.has_hi = oxrt_node_attr(ctx->node, "max") != NULL;
  j.lo = oxrt_attr_float(ctx->node, "min", -FLT_MAX);
  j.hi = oxrt_attr_float(ctx->node, "max", FLT_MAX);
  return clip_exec(ctx, &j);
}

static const oxrt_op_impl clip_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = clip1_run},
    {.since_version = 11, .type_mask = OXRT_TMASK_FLOATS, .run = clip11_run},
    {.since_version = 12, .type_mask = OXRT_TMASK_NUMERIC, .run = clip11_run},
};
OXRT_REGISTER_OP(Clip) = {"", "Clip", OXRT_IMPLS(clip_impls), .infer = oxrt_infer_same,
                          .flags = OXRT_OP_SAME_ELEM_TYPE};
