/* Where.c - Where(condition, X, Y): elements of X where condition is true, else Y (numpy broadcasting). */
#include "../op_util.h"
#include "../infer_rules.h"
#include <string.h>

typedef struct {
  const uint8_t *c;
  const char *x, *y;
  char *out;
  size_t es;
  bool strings, oom;
} where_job;

/* One run of `len` outputs along the last axis; step[i] is 0 or 1 for input i. */
static void where_run_fn(void *arg, size_t o, const size_t *off, const int64_t *step, size_t len) {
  where_job *j = arg;
  const uint8_t *c = j->c + off[0];
  size_t sc = (size_t)step[0], sx = (size_t)step[1], sy = (size_t)step[2];
  if (j->strings) {
    char **out = (char **)j->out + o;
    char *const *x = (char *const *)j->x + off[1], *const *y = (char *const *)j->y + off[2];
    for (size_t i = 0; i < len; i++) {
      char *const *src = c[i * sc] ? &x[i * sx] : &y[i * sy];
      if (!oxrt_convert(OXRT_STRING, &out[i], OXRT_STRING, src, 1, false)) j->oom = true;
    }
    return;
  }
#define WHERE_LOOP(T)                                                                                                  \
  do {                                                                                                                 \
    const T *x = (const T *)j->x + off[1], *y = (const T *)j->y + off[2];                                              \
    T *out = (T *)j->out + o;                                                                                          \
    for (size_t i = 0; i < len; i++) out[i] = c[i * sc] ? x[i * sx] : y[i * sy];                                       \
  } while (0)
  switch (j->es) {
  case 1: WHERE_LOOP(uint8_t); break;
  case 2: WHERE_LOOP(uint16_t); break;
  case 4: WHERE_LOOP(uint32_t); break;
  case 8: WHERE_LOOP(uint64_t); break;
  default:
    for (size_t i = 0; i < len; i++)
      memcpy(j->out + (o + i) * j->es,
             c[i * sc] ? j->x + (off[1] + i * sx) * j->es : j->y + (off[2] + i * sy) * j->es, j->es);
  }
#undef WHERE_LOOP
}

static oxrt_status *where_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *c = oxrt_input(ctx, 0), *x = oxrt_input(ctx, 1), *y = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(c, 0, "condition"));
  OXRT_TRY(oxrt_check_tensor(x, 1, "X"));
  OXRT_TRY(oxrt_check_tensor(y, 2, "Y"));
  if (c->dtype != OXRT_BOOL)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected bool, got %s", oxrt_elem_type_name(c->dtype));
  if (x->dtype != y->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "inputs 1 and 2 must have the same type, got %s and %s",
                      oxrt_elem_type_name(x->dtype), oxrt_elem_type_name(y->dtype));
  const oxrt_value *ins[3] = {c, x, y};
  int rank;
  int64_t dims[OXRT_MAX_RANK];
  OXRT_TRY(oxrt_broadcast_shapes(3, ins, &rank, dims));
  oxrt_value *out;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, rank, dims, &out));
  where_job j = {c->data, x->data, y->data, out->data, oxrt_elem_type_size(x->dtype), x->dtype == OXRT_STRING, false};
  oxrt_broadcast_foreach(3, ins, rank, dims, where_run_fn, &j);
  return j.oom ? OXRT_OOM() : NULL;
}

/* 16 only widened the types (bfloat16). */
static const oxrt_op_impl where_impls[] = {{.since_version = 9, .type_input = 1, .run = where_run}};

/* Broadcast of condition, X and Y; the element type of X. */
static oxrt_status *infer_where(oxrt_infer_ctx *ctx) {
  oxrt_tshape in[3], out;
  for (int i = 0; i < 3; i++)
    if (!oxrt_infer_input(ctx, i, &in[i])) return NULL;
  if (!oxrt_tshape_broadcast(&out, in, 3))
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "condition, X and Y shapes cannot be broadcast together");
  out.elem = in[1].elem;
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Where) = {"", "Where", OXRT_IMPLS(where_impls), .infer = infer_where};
