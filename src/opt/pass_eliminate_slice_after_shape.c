/* pass_eliminate_slice_after_shape.c - Slice(Shape(x), starts, ends[, axes, steps]) becomes an int64 initializer
 * of the Slice's output name when the dimensions it picks are known (onnxoptimizer's eliminate_slice_after_shape):
 * the other dimensions of x may stay symbolic. Shape's start/end (opset 15) and Slice's attribute form (opset < 10)
 * are honoured, and the Slice's own clamping rules applied. The Shape node goes when nothing else reads it. Main
 * graph only, like eliminate_shape_op: a loop body may see other shapes per iteration than inference assumed.
 */
#include "opt.h"
#include <string.h>

/* The single value of a one-element int32/int64 constant input (or attribute list for old Slices). */
static bool one_int(oxrt_graph *g, const oxrt_node *n, int input, const char *attr, bool old_form, int64_t *out) {
  if (old_form) {
    size_t c;
    const int64_t *v = oxrt_attr_ints(n, attr, &c);
    if (!v || c != 1) return false;
    *out = v[0];
    return true;
  }
  const oxrt_value *t = input < n->n_inputs && n->inputs[input] >= 0 ? opt_const(g, n->inputs[input]) : NULL;
  if (!t || t->count != 1) return false;
  if (t->dtype == OXRT_INT64) *out = ((const int64_t *)t->data)[0];
  else if (t->dtype == OXRT_INT32) *out = ((const int32_t *)t->data)[0];
  else return false;
  return true;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || strcmp(n->op_type, "Slice") || n->n_inputs < 1 || n->n_outputs != 1 ||
        n->outputs[0] < 0 || u.pinned[n->outputs[0]])
      continue;
    oxrt_node *shape = opt_producer(g, n->inputs[0]);
    if (!shape || *shape->domain || strcmp(shape->op_type, "Shape") || shape->n_inputs != 1 || shape->inputs[0] < 0)
      continue;
    int64_t dims[OXRT_MAX_RANK];
    int len = opt_shape_node_dims(ctx->model, g, shape, dims);
    if (len < 0) continue;
    bool old_form = opt_node_opset(ctx->model, n) < 10;
    int64_t start, end, step = 1, axis = 0;
    if (!one_int(g, n, 1, "starts", old_form, &start) || !one_int(g, n, 2, "ends", old_form, &end)) continue;
    bool has_axes = old_form ? oxrt_node_attr(n, "axes") != NULL : n->n_inputs > 3 && n->inputs[3] >= 0;
    if (has_axes && (!one_int(g, n, 3, "axes", old_form, &axis) || (axis != 0 && axis != -1))) continue;
    if (!old_form && n->n_inputs > 4 && n->inputs[4] >= 0 && !one_int(g, n, 4, "steps", false, &step)) continue;
    if (step == 0) continue;
    /* ONNX Slice: negative indices count from the end, then clamp (differently for negative steps) */
    start = start < 0 ? (start < -len ? -1 : start + len) : start;
    end = end < 0 ? (end < -len ? -1 : end + len) : end;
    if (step > 0) {
      start = clamp(start, 0, len);
      end = clamp(end, 0, len);
    } else {
      start = clamp(start, 0, len - 1);
      end = clamp(end, -1, len - 1);
    }
    int64_t out[OXRT_MAX_RANK];
    int m = 0;
    bool known = true;
    for (int64_t k = start; step > 0 ? k < end : k > end; k += step) {
      known &= dims[k] >= 0;
      out[m++] = dims[k];
      if ((step > 0 && step > end - k) || (step < 0 && step < end - k)) break; /* no overflow on huge steps */
    }
    if (!known) continue;
    int64_t m64 = m;
    oxrt_value *t;
    if ((st = oxrt_tensor_new(OXRT_INT64, 1, &m64, &t))) break;
    if (m) memcpy(t->data, out, sizeof(int64_t) * (size_t)m);
    oxrt_value_def *d = &g->values[n->outputs[0]];
    d->init = t;
    d->producer = -1;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] >= 0) u.count[n->inputs[k]]--;
    n->op_type = NULL;
    if (u.count[shape->outputs[0]] == 0 && !u.pinned[shape->outputs[0]]) shape->op_type = NULL;
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_eliminate_slice_after_shape = {
    "eliminate_slice_after_shape", OXRT_OPT_ALL, false, run,
    "Slice of a Shape whose picked dimensions are known into a constant"};
