/* pass_fuse_pad_into_conv.c - Conv(Pad(x)) -> Conv(x) with the spatial pads added to the Conv's own
 * (onnxoptimizer's fuse_pad_into_conv). Only zero padding that a Conv would do itself: mode "constant", value 0,
 * no pads on the batch and channel axes, none negative, no `axes` input, and a Conv without auto_pad. The Pad
 * must have no other reader.
 */
#include "../core/dtype.h"
#include "opt.h"
#include <string.h>

/* Pads of the Pad node (2 * rank entries) into p; its rank, or -1 when they are not plain zero padding.
 * Shared with fuse_pad_into_pool. */
int opt_zero_pads(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *pad, int64_t *p) {
  if (strcmp(oxrt_attr_string(pad, "mode", "constant"), "constant")) return -1;
  size_t c;
  const int64_t *v;
  if (opt_node_opset(ctx->model, pad) < 11) {
    if (oxrt_attr_float(pad, "value", 0.0f) != 0.0f) return -1;
    v = oxrt_attr_ints(pad, "pads", &c);
    if (!v) v = oxrt_attr_ints(pad, "paddings", &c);
  } else {
    if (pad->n_inputs > 3 && pad->inputs[3] >= 0) return -1; /* axes */
    if (pad->n_inputs > 2 && pad->inputs[2] >= 0) {
      const oxrt_value *cv = opt_const(g, pad->inputs[2]);
      if (!cv || cv->count != 1 || cv->dtype == OXRT_STRING || oxrt_load_f64(cv->dtype, cv->data, 0) != 0) return -1;
    }
    const oxrt_value *t = pad->n_inputs > 1 && pad->inputs[1] >= 0 ? opt_const(g, pad->inputs[1]) : NULL;
    if (!t || t->dtype != OXRT_INT64 || t->rank != 1) return -1;
    v = t->data;
    c = t->count;
  }
  if (!v || c % 2 || c < 6 || c > 2 * OXRT_MAX_RANK) return -1;
  int r = (int)c / 2;
  for (size_t i = 0; i < c; i++)
    if (v[i] < 0) return -1;
  if (v[0] || v[1] || v[r] || v[r + 1]) return -1;
  memcpy(p, v, sizeof(int64_t) * c);
  return r;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *conv = &g->nodes[i];
    if (!conv->op_type || *conv->domain || strcmp(conv->op_type, "Conv") || conv->n_inputs < 2) continue;
    if (strcmp(oxrt_attr_string(conv, "auto_pad", "NOTSET"), "NOTSET")) continue;
    int mid = conv->inputs[0];
    oxrt_node *pad = opt_sole_producer(g, &u, mid);
    int64_t p[2 * OXRT_MAX_RANK];
    int r = pad && !*pad->domain && !strcmp(pad->op_type, "Pad") && pad->inputs[0] >= 0 ? opt_zero_pads(ctx, g, pad, p) : -1;
    if (r < 0) continue;
    int s = r - 2; /* spatial axes */
    size_t c;
    const int64_t *old = oxrt_attr_ints(conv, "pads", &c);
    if (old && c != (size_t)(2 * s)) continue;
    int64_t *np = oxrt_arena_alloc(g->arena, sizeof(int64_t) * (size_t)(2 * s));
    if (!np) {
      st = OXRT_OOM();
      break;
    }
    for (int k = 0; k < s; k++) {
      np[k] = (old ? old[k] : 0) + p[2 + k];
      np[s + k] = (old ? old[s + k] : 0) + p[r + 2 + k];
    }
    oxrt_attr at = {.name = "pads", .type = OXRT_ATTR_INTS, .n = (size_t)(2 * s), .ints = np};
    if ((st = opt_set_attr(g, conv, &at))) break;
    conv->inputs[0] = pad->inputs[0];
    for (int k = 1; k < pad->n_inputs; k++)
      if (pad->inputs[k] >= 0) u.count[pad->inputs[k]]--;
    u.count[mid] = 0;
    pad->op_type = NULL;
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_pad_into_conv = {"fuse_pad_into_conv", OXRT_OPT_ALL, true, run,
                                                    "zero Pad on spatial axes into the Conv's pads"};
