/* optional.c - Optional, OptionalHasElement, OptionalGetElement (opsets 15 and 18).
 * An optional is a container value with 0 or 1 item. From opset 18 OptionalHasElement and
 * OptionalGetElement also take a plain tensor or sequence (treated as a present value), and
 * OptionalHasElement an omitted input (treated as empty). */
#include "../op_util.h"
#include "../infer_rules.h"

static oxrt_status *optional_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  oxrt_value *o;
  if (x) {
    if (x->kind == OXRT_KIND_OPTIONAL) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 is already an optional");
    oxrt_value *c;
    OXRT_TRY(oxrt_value_clone(x, &c));
    oxrt_status *st = oxrt_value_new_container(OXRT_KIND_OPTIONAL, x->dtype, 1, &o);
    if (st) {
      oxrt_value_free(c);
      return st;
    }
    o->items[o->n_items++] = c;
    return oxrt_set_output(ctx, 0, o);
  }
  /* Empty: the element type comes from the 'type' attribute (tensor or sequence of tensors). */
  const oxrt_attr *ta = oxrt_node_attr(ctx->node, "type");
  if (!ta || !ta->tp) return oxrt_error(OXRT_ERR_INVALID_MODEL, "without an input the 'type' attribute is required");
  const oxrt_type *tp = ta->tp;
  while (tp && tp->kind != OXRT_KIND_TENSOR && tp->elem) tp = tp->elem;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_OPTIONAL, tp ? tp->elem_type : OXRT_UNDEFINED, 1, &o));
  return oxrt_set_output(ctx, 0, o);
}

/* The value inside `x`, or NULL for an omitted input or an empty optional. */
static const oxrt_value *content(const oxrt_value *x) {
  if (!x) return NULL;
  if (x->kind == OXRT_KIND_OPTIONAL) return x->n_items ? x->items[0] : NULL;
  return x;
}

/* Before opset 18 the input is required. A plain tensor or sequence is accepted as a present optional at every
 * opset: values declared optional (a Loop-carried value, a graph output) arrive unwrapped once they hold one. */
static oxrt_status *check_kind(const oxrt_kernel_ctx *ctx, const oxrt_value *x) {
  if (ctx->opset < 18 && !x) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (optional) is missing");
  return NULL;
}

static oxrt_status *has_element_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(check_kind(ctx, x));
  oxrt_value *o;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_BOOL, 0, NULL, &o));
  *(uint8_t *)o->data = content(x) != NULL;
  return NULL;
}

static oxrt_status *get_element_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  if (!x) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (optional) is missing");
  OXRT_TRY(check_kind(ctx, x));
  const oxrt_value *c = content(x);
  if (!c) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 is an empty optional");
  if (c->kind == OXRT_KIND_TENSOR) return oxrt_output_copy(ctx, 0, c, c->rank, c->dims);
  oxrt_value *v;
  OXRT_TRY(oxrt_value_clone(c, &v));
  return oxrt_set_output(ctx, 0, v);
}

static const oxrt_op_impl optional_impls[] = {{.since_version = 15, .run = optional_run}};
static const oxrt_op_impl has_element_impls[] = {{.since_version = 15, .run = has_element_run},
                                                 {.since_version = 18, .run = has_element_run}};
static const oxrt_op_impl get_element_impls[] = {{.since_version = 15, .run = get_element_run},
                                                 {.since_version = 18, .run = get_element_run}};
/* A bool scalar, whatever the optional holds. */
static oxrt_status *infer_has_element(oxrt_infer_ctx *ctx) {
  oxrt_tshape out;
  oxrt_tshape_clear(&out);
  out.elem = OXRT_BOOL, out.rank = 0;
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(Optional) = {"", "Optional", OXRT_IMPLS(optional_impls)};
OXRT_REGISTER_OP(OptionalHasElement) = {"", "OptionalHasElement", OXRT_IMPLS(has_element_impls),
                                        .infer = infer_has_element};
OXRT_REGISTER_OP(OptionalGetElement) = {"", "OptionalGetElement", OXRT_IMPLS(get_element_impls)};
