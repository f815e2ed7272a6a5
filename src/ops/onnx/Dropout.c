/* Dropout.c - Dropout. In inference (the default, and always before opset 12 unless is_test=0 in
 * opset < 7) the output is a copy of the input and the mask is all true. In training mode (opset >= 12:
 * input 2 true; ratio from input 1, default 0.5) each element is kept with probability 1 - ratio and
 * scaled by 1 / (1 - ratio). The mask is bool from opset 10, of the input type before. Random bits come
 * from a splitmix64 stream seeded by the `seed` attribute (or a per-run counter when absent). */
#include "f32_view.h"
#include "../infer_rules.h"
#include <stdatomic.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static oxrt_status *dropout_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  double ratio = oxrt_attr_float(ctx->node, "ratio", 0.5f);
  bool training = false;
  if (ctx->opset >= 12) {
    const oxrt_value *rv = oxrt_input(ctx, 1), *tv = oxrt_input(ctx, 2);
    if (rv) OXRT_TRY(oxrt_read_scalar_f64(rv, 1, &ratio));
    if (tv) {
      int64_t t;
      OXRT_TRY(oxrt_read_scalar_i64(tv, 2, &t));
      training = t != 0;
    }
  } else if (ctx->opset < 7) {
    training = oxrt_attr_int(ctx->node, "is_test", 0) == 0 && oxrt_output_wanted(ctx, 1);
  }
  if (training && !(ratio >= 0 && ratio < 1))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "ratio must be in [0, 1), got %g", ratio);
  if (training && ratio == 0) training = false;
  const oxrt_elem_type mt = ctx->opset >= 10 ? OXRT_BOOL : x->dtype;
  oxrt_value *mask = NULL;
  if (oxrt_output_wanted(ctx, 1)) OXRT_TRY(oxrt_output_tensor(ctx, 1, mt, x->rank, x->dims, &mask));
  if (!training) {
    if (mask) {
      if (mt == OXRT_BOOL) memset(mask->data, 1, mask->count);
      else
        for (size_t i = 0; i < mask->count; i++) oxrt_store_f64(mt, mask->data, i, 1.0);
    }
    return oxrt_output_copy(ctx, 0, x, x->rank, x->dims);
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  static _Atomic uint64_t counter = 0x1234567;
  const oxrt_attr *sa = oxrt_node_attr(ctx->node, "seed");
  uint64_t state = sa ? (uint64_t)sa->i : atomic_fetch_add(&counter, 0x9E3779B97F4A7C15ull);
  const double scale = 1.0 / (1.0 - ratio);
  const uint64_t thresh = (uint64_t)(ratio * 18446744073709551616.0);
  for (size_t i = 0; i < x->count; i++) {
    const bool keep = splitmix64(&state) >= thresh;
    const double v = keep ? oxrt_load_f64(x->dtype, x->data, i) * scale : 0.0;
    oxrt_store_f64(x->dtype, y->data, i, v);
    if (mask) oxrt_store_f64(mt, mask->data, i, keep ? 1.0 : 0.0);
  }
  return NULL;
}

static const oxrt_op_impl dropout_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = dropout_run},
    {.since_version = 6, .type_mask = OXRT_TMASK_FLOATS, .run = dropout_run},
    {.since_version = 7, .type_mask = OXRT_TMASK_FLOATS, .run = dropout_run},
    {.since_version = 10, .type_mask = OXRT_TMASK_FLOATS, .run = dropout_run}, /* bool mask */
    {.since_version = 12, .type_mask = OXRT_TMASK_FLOATS | OXRT_TMASK_FLOAT8, .run = dropout_run},
    {.since_version = 13, .type_mask = OXRT_TMASK_FLOATS | OXRT_TMASK_FLOAT8, .run = dropout_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS | OXRT_TMASK_FLOAT8, .run = dropout_run},
};
OXRT_REGISTER_OP(Dropout) = {"", "Dropout", OXRT_IMPLS(dropout_impls), .infer = oxrt_infer_same_content,
                             .flags = OXRT_OP_NONDETERMINISTIC | OXRT_OP_SAME_ELEM_TYPE};
