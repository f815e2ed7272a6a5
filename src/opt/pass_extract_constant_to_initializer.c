/* pass_extract_constant_to_initializer.c - a Constant node becomes an initializer of the same name
 * (onnxoptimizer's extract_constant_to_initializer). Covers the value, value_float(s) and value_int(s) forms;
 * sparse and string forms stay nodes, and so does a Constant whose output is a graph output (an initializer
 * listed as an output is not portable across runtimes).
 */
#include "opt.h"
#include <string.h>

/* A new tensor holding the Constant's value, or NULL if the form is not handled. */
static oxrt_status *constant_value(const oxrt_node *n, oxrt_value **out) {
  *out = NULL;
  if (n->n_attrs != 1) return NULL;
  const oxrt_attr *a = &n->attrs[0];
  if (a->ref_attr_name) return NULL;
  if (!strcmp(a->name, "value") && a->t && a->t->kind == OXRT_KIND_TENSOR) return oxrt_value_clone(a->t, out);
  int64_t one = 1;
  if (!strcmp(a->name, "value_float") && a->type == OXRT_ATTR_FLOAT) {
    OXRT_TRY(oxrt_tensor_new(OXRT_FLOAT, 0, &one, out));
    *(float *)(*out)->data = a->f;
  } else if (!strcmp(a->name, "value_int") && a->type == OXRT_ATTR_INT) {
    OXRT_TRY(oxrt_tensor_new(OXRT_INT64, 0, &one, out));
    *(int64_t *)(*out)->data = a->i;
  } else if (!strcmp(a->name, "value_floats") && a->type == OXRT_ATTR_FLOATS) {
    int64_t d = (int64_t)a->n;
    OXRT_TRY(oxrt_tensor_new(OXRT_FLOAT, 1, &d, out));
    if (a->n) memcpy((*out)->data, a->floats, sizeof(float) * a->n);
  } else if (!strcmp(a->name, "value_ints") && a->type == OXRT_ATTR_INTS) {
    int64_t d = (int64_t)a->n;
    OXRT_TRY(oxrt_tensor_new(OXRT_INT64, 1, &d, out));
    if (a->n) memcpy((*out)->data, a->ints, sizeof(int64_t) * a->n);
  }
  return NULL;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  (void)ctx;
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || strcmp(n->op_type, "Constant") || n->n_outputs != 1 || n->outputs[0] < 0)
      continue;
    oxrt_value_def *d = &g->values[n->outputs[0]];
    if (d->is_output || d->init) continue;
    oxrt_value *t;
    OXRT_TRY(constant_value(n, &t));
    if (!t) continue;
    d->init = t;
    d->producer = -1;
    n->op_type = NULL;
    *changed = true;
  }
  return NULL;
}

const oxrt_opt_pass oxrt_pass_extract_constant_to_initializer = {
    "extract_constant_to_initializer", OXRT_OPT_ALL, true, run, "Constant nodes become initializers"};
