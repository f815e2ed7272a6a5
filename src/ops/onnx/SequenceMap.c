/* SequenceMap.c - SequenceMap (opset 17): runs `body` once per item of the input sequence. Additional inputs
 * that are sequences (of the same length) contribute their i-th item, tensors are passed whole. Each body
 * output becomes an output sequence. */
#include "../op_util.h"
#include <stdlib.h>

static oxrt_status *map_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  (void)state;
  const oxrt_attr *a = oxrt_node_attr(node, "body");
  if (!a || !a->g) return oxrt_error(OXRT_ERR_INVALID_MODEL, "graph attribute 'body' is required");
  if (a->g->n_inputs != node->n_inputs)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "body takes %d inputs but the node has %d", a->g->n_inputs,
                      node->n_inputs);
  if (a->g->n_outputs < node->n_outputs)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "body returns %d values but the node has %d outputs", a->g->n_outputs,
                      node->n_outputs);
  return NULL;
}

/* Element type an output sequence gets when the input sequence is empty: the body's declaration. */
static oxrt_elem_type declared_type(const oxrt_graph *g, int k) {
  const oxrt_type *t = g->values[g->outputs[k]].type;
  while (t && t->kind != OXRT_KIND_TENSOR && t->elem) t = t->elem;
  return t ? t->elem_type : OXRT_UNDEFINED;
}

static oxrt_status *map_run(oxrt_kernel_ctx *ctx) {
  const oxrt_graph *g = oxrt_node_attr(ctx->node, "body")->g;
  const oxrt_value *seq = oxrt_input(ctx, 0);
  if (!seq || seq->kind != OXRT_KIND_SEQUENCE)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must be a sequence");
  size_t n = seq->n_items;
  for (int i = 1; i < ctx->n_inputs; i++) {
    const oxrt_value *x = oxrt_input(ctx, i);
    if (!x) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d is missing", i);
    if (x->kind == OXRT_KIND_SEQUENCE && x->n_items != n)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d is a sequence of %zu items, input 0 has %zu", i,
                        x->n_items, n);
  }
  const int no = g->n_outputs;
  oxrt_status *st = NULL;
  const oxrt_value **in = calloc((size_t)ctx->n_inputs + 1, sizeof *in);
  oxrt_value **out = calloc((size_t)no + 1, sizeof *out);
  oxrt_value **res = calloc((size_t)no + 1, sizeof *res);
  if (!in || !out || !res) {
    st = OXRT_OOM();
    goto done;
  }
  for (int k = 0; k < no && !st; k++)
    st = oxrt_value_new_container(OXRT_KIND_SEQUENCE, declared_type(g, k), n + 1, &res[k]);
  for (size_t i = 0; i < n && !st; i++) {
    for (int j = 0; j < ctx->n_inputs; j++) {
      const oxrt_value *x = ctx->inputs[j];
      in[j] = x->kind == OXRT_KIND_SEQUENCE ? x->items[i] : x;
    }
    st = oxrt_subgraph_run(ctx, g, in, ctx->n_inputs, out);
    for (int k = 0; k < no && !st; k++) {
      if (!out[k] || out[k]->kind != OXRT_KIND_TENSOR) {
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "body output %d must be a tensor", k);
        break;
      }
      if (res[k]->n_items && res[k]->items[0]->dtype != out[k]->dtype) {
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "body output %d changes element type between items", k);
        break;
      }
      res[k]->dtype = out[k]->dtype;
      res[k]->items[res[k]->n_items++] = out[k];
      out[k] = NULL;
    }
    for (int k = 0; k < no; k++) {
      oxrt_value_free(out[k]);
      out[k] = NULL;
    }
  }
  for (int k = 0; k < ctx->n_outputs && !st; k++) {
    st = oxrt_set_output(ctx, k, res[k]);
    res[k] = NULL;
  }
done:
  if (res)
    for (int k = 0; k < no; k++) oxrt_value_free(res[k]);
  free(in), free(out), free(res);
  return st;
}

static const oxrt_op_impl map_impls[] = {{.since_version = 17, .prepare = map_prepare, .run = map_run}};
OXRT_REGISTER_OP(SequenceMap) = {"", "SequenceMap", OXRT_IMPLS(map_impls)};
