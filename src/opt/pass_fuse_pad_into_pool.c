/* pass_fuse_pad_into_pool.c - Pool(Pad(x)) -> Pool(x) with the spatial pads added to the pool's own
 * (onnxoptimizer's fuse_pad_into_pool), for zero padding only (opt_zero_pads: constant mode, value 0, spatial
 * axes, none negative). Unlike onnxoptimizer the rewrite is kept exact:
 * - AveragePool: its own pads count as zeros only with count_include_pad=1, so the fused pool gets
 *   count_include_pad=1, which is allowed only when it has no pads of its own or already counts them.
 * - MaxPool: a pool's pads never win a max, a zero from Pad can. Fused only when zero is no larger than every
 *   input value (the input is unsigned, or comes from Relu, Sigmoid, Softmax, Abs, Exp, Softplus, HardSigmoid)
 *   and every window keeps a real element (no dilation, no ceil_mode, each pad smaller than the kernel), with no
 *   Indices output (its positions would move).
 * The Pad must have no other reader; the pool must not use auto_pad.
 */
#include "opt.h"
#include <string.h>

static bool non_negative(oxrt_graph *g, int id) {
  oxrt_elem_type t = opt_value_type(g, id);
  if (t == OXRT_UINT8 || t == OXRT_UINT16 || t == OXRT_UINT32 || t == OXRT_UINT64 || t == OXRT_BOOL) return true;
  static const char *const ops[] = {"Relu", "Sigmoid", "Softmax", "Abs", "Exp", "Softplus", "HardSigmoid", NULL};
  const oxrt_node *p = opt_producer(g, id);
  if (!p || *p->domain) return false;
  for (const char *const *o = ops; *o; o++)
    if (!strcmp(p->op_type, *o)) return true;
  return false;
}

/* The pool can take the Pad's pads p (rank r) without changing what it computes. */
static bool fusable(oxrt_graph *g, const oxrt_node *pool, const oxrt_node *pad, const int64_t *p, int r) {
  bool avg = !strcmp(pool->op_type, "AveragePool");
  size_t c;
  const int64_t *old = oxrt_attr_ints(pool, "pads", &c);
  int s = r - 2;
  if (old && c != (size_t)(2 * s)) return false;
  if (oxrt_attr_int(pool, "ceil_mode", 0)) return false;
  if (avg) {
    bool own = false;
    for (size_t k = 0; old && k < c; k++) own |= old[k] != 0;
    return !own || oxrt_attr_int(pool, "count_include_pad", 0) == 1;
  }
  if (pool->n_outputs > 1 && pool->outputs[1] >= 0) return false;
  if (!non_negative(g, pad->inputs[0])) return false;
  const int64_t *kernel = oxrt_attr_ints(pool, "kernel_shape", &c);
  if (!kernel || c != (size_t)s) return false;
  const int64_t *dil = oxrt_attr_ints(pool, "dilations", &c);
  for (size_t k = 0; dil && k < c; k++)
    if (dil[k] != 1) return false;
  for (int k = 0; k < s; k++)
    if ((old ? old[k] : 0) + p[2 + k] >= kernel[k] || (old ? old[s + k] : 0) + p[r + 2 + k] >= kernel[k]) return false;
  return true;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *pool = &g->nodes[i];
    if (!pool->op_type || *pool->domain || pool->n_inputs < 1) continue;
    bool avg = !strcmp(pool->op_type, "AveragePool");
    if (!avg && strcmp(pool->op_type, "MaxPool")) continue;
    if (strcmp(oxrt_attr_string(pool, "auto_pad", "NOTSET"), "NOTSET")) continue;
    int mid = pool->inputs[0];
    oxrt_node *pad = opt_sole_producer(g, &u, mid);
    int64_t p[2 * OXRT_MAX_RANK];
    int r = pad && !*pad->domain && !strcmp(pad->op_type, "Pad") && pad->inputs[0] >= 0 ? opt_zero_pads(ctx, g, pad, p)
                                                                                         : -1;
    if (r < 3 || !fusable(g, pool, pad, p, r)) continue;
    int s = r - 2;
    size_t c;
    const int64_t *old = oxrt_attr_ints(pool, "pads", &c);
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
    if ((st = opt_set_attr(g, pool, &at))) break;
    if (avg) {
      oxrt_attr cip = {.name = "count_include_pad", .type = OXRT_ATTR_INT, .i = 1};
      if ((st = opt_set_attr(g, pool, &cip))) break;
    }
    pool->inputs[0] = pad->inputs[0];
    for (int k = 1; k < pad->n_inputs; k++)
      if (pad->inputs[k] >= 0) u.count[pad->inputs[k]]--;
    u.count[mid] = 0;
    pad->op_type = NULL;
    *changed = true;
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_pad_into_pool = {"fuse_pad_into_pool", OXRT_OPT_ALL, true, run,
                                                    "zero Pad on spatial axes into an AveragePool's or MaxPool's pads"};
