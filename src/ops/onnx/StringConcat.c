/* StringConcat.c - StringConcat (opset 20): element-wise concatenation of two broadcast string tensors. */
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  const oxrt_value *x, *y;
  oxrt_value *z;
  bool oom;
} concat_args;

static void concat_run_fn(void *arg, size_t out, const size_t *in_off, const int64_t *in_step, size_t len) {
  concat_args *a = arg;
  char *const *xs = a->x->data, *const *ys = a->y->data;
  char **zs = a->z->data;
  for (size_t i = 0; i < len; i++) {
    const char *s = xs[in_off[0] + i * (size_t)in_step[0]], *t = ys[in_off[1] + i * (size_t)in_step[1]];
    size_t ls = strlen(s), lt = strlen(t);
    char *c = malloc(ls + lt + 1);
    if (!c) {
      a->oom = true;
      return;
    }
    memcpy(c, s, ls);
    memcpy(c + ls, t, lt + 1);
    free(zs[out + i]);
    zs[out + i] = c;
  }
}

static oxrt_status *string_concat_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *y = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(y, 1, "Y"));
  if (x->dtype != OXRT_STRING || y->dtype != OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "inputs must be string tensors, got %s and %s",
                      oxrt_elem_type_name(x->dtype), oxrt_elem_type_name(y->dtype));
  const oxrt_value *ins[2] = {x, y};
  int rank;
  int64_t dims[OXRT_MAX_RANK];
  OXRT_TRY(oxrt_broadcast_shapes(2, ins, &rank, dims));
  concat_args a = {.x = x, .y = y};
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_STRING, rank, dims, &a.z));
  oxrt_broadcast_foreach(2, ins, rank, dims, concat_run_fn, &a);
  return a.oom ? OXRT_OOM() : NULL;
}

static const oxrt_op_impl string_concat_impls[] = {
    {.since_version = 20, .type_mask = OXRT_TBIT(OXRT_STRING), .run = string_concat_run}};
OXRT_REGISTER_OP(StringConcat) = {"", "StringConcat", OXRT_IMPLS(string_concat_impls)};
