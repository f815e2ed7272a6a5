/* pass_fuse_consecutive_squeezes.c - Squeeze(Squeeze(x, a), b) -> Squeeze(x, a + b mapped to x's axes) and
 * Unsqueeze(Unsqueeze(x, a), b) -> Unsqueeze(x, b + a mapped to the final axes) (onnxoptimizer's
 * fuse_consecutive_squeezes and fuse_consecutive_unsqueezes). Axes must be constant and given (Squeeze without
 * axes depends on the shape); negative axes need the rank. The inner node must have no other reader.
 */
#include "opt.h"
#include <stdlib.h>
#include <string.h>

/* Axes of a Squeeze/Unsqueeze from the attribute (opset < 13) or the constant input 1. */
static bool get_axes(const oxrt_graph *g, const oxrt_node *n, int64_t opset, int64_t *axes, int *count) {
  const int64_t *a;
  size_t c;
  if (opset < 13) {
    a = oxrt_attr_ints(n, "axes", &c);
  } else {
    const oxrt_value *v = n->n_inputs >= 2 && n->inputs[1] >= 0 ? opt_const(g, n->inputs[1]) : NULL;
    if (!v || v->dtype != OXRT_INT64 || v->rank != 1) return false;
    a = v->data;
    c = v->count;
  }
  if (!a || c == 0 || c > OXRT_MAX_RANK) return false;
  memcpy(axes, a, sizeof(int64_t) * c);
  *count = (int)c;
  return true;
}

/* Normalises axes against `rank` (-1: unknown); false if one is negative with the rank unknown or out of range. */
static bool normalise(int64_t *axes, int n, int rank) {
  for (int i = 0; i < n; i++) {
    if (axes[i] < 0 && rank < 0) return false;
    if (axes[i] < 0) axes[i] += rank;
    if (axes[i] < 0 || (rank >= 0 && axes[i] >= rank) || axes[i] >= OXRT_MAX_RANK) return false;
  }
  return true;
}

static bool has(const int64_t *a, int n, int64_t v) {
  for (int i = 0; i < n; i++)
    if (a[i] == v) return true;
  return false;
}

/* The k-th position (k >= 0) among 0, 1, 2, ... that is not in `skip`. */
static int64_t nth_free(const int64_t *skip, int n, int64_t k) {
  for (int64_t i = 0;; i++)
    if (!has(skip, n, i) && k-- == 0) return i;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Combined axes of op(op(x, a), b) into out; false when they cannot be worked out. */
static bool combine(oxrt_graph *g, const oxrt_node *inner, const oxrt_node *outer, bool squeeze, int64_t opset,
                    int64_t *out, int *n_out) {
  int64_t a[OXRT_MAX_RANK], b[OXRT_MAX_RANK], d[OXRT_MAX_RANK];
  int na, nb;
  if (!get_axes(g, inner, opset, a, &na) || !get_axes(g, outer, opset, b, &nb) || na + nb > OXRT_MAX_RANK)
    return false;
  int r = opt_shape(g, inner->inputs[0], d);
  if (squeeze) { /* a in x's frame (rank r), b in the frame of rank r - na */
    if (!normalise(a, na, r) || !normalise(b, nb, r < 0 ? -1 : r - na)) return false;
    for (int i = 0; i < nb; i++) b[i] = nth_free(a, na, b[i]);
  } else { /* a in the middle frame (rank r + na), b in the final frame (rank r + na + nb) */
    if (!normalise(a, na, r < 0 ? -1 : r + na) || !normalise(b, nb, r < 0 ? -1 : r + na + nb)) return false;
    for (int i = 0; i < na; i++) a[i] = nth_free(b, nb, a[i]);
  }
  memcpy(out, a, sizeof(int64_t) * (size_t)na);
  memcpy(out + na, b, sizeof(int64_t) * (size_t)nb);
  *n_out = na + nb;
  qsort(out, (size_t)*n_out, sizeof(int64_t), cmp_i64);
  for (int i = 1; i < *n_out; i++)
    if (out[i] == out[i - 1]) return false; /* a repeated axis: an invalid model, left to the kernel */
  return true;
}

static oxrt_status *fuse(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed, const char *op) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *outer = &g->nodes[i];
    if (!outer->op_type || *outer->domain || strcmp(outer->op_type, op) || outer->n_inputs < 1 || outer->inputs[0] < 0)
      continue;
    int mid = outer->inputs[0];
    oxrt_node *inner = opt_sole_producer(g, &u, mid);
    if (!inner || *inner->domain || strcmp(inner->op_type, op) || inner->inputs[0] < 0) continue;
    int64_t opset = opt_node_opset(ctx->model, outer), axes[OXRT_MAX_RANK];
    int n;
    if (!combine(g, inner, outer, op[0] == 'S', opset, axes, &n)) continue;
    int ins[2] = {inner->inputs[0], -1};
    int old_axes[2] = {opset >= 13 ? outer->inputs[1] : -1, opset >= 13 ? inner->inputs[1] : -1};
    if (opset < 13) {
      int64_t *keep = oxrt_arena_alloc(g->arena, sizeof(int64_t) * (size_t)n);
      if (!keep) st = OXRT_OOM();
      else {
        memcpy(keep, axes, sizeof(int64_t) * (size_t)n);
        oxrt_attr at = {.name = "axes", .type = OXRT_ATTR_INTS, .n = (size_t)n, .ints = keep};
        st = opt_set_attr(g, outer, &at);
      }
      if (!st) st = opt_set_inputs(g, outer, ins, 1);
    } else {
      oxrt_value *t;
      int64_t len = n;
      if (!(st = oxrt_tensor_new(OXRT_INT64, 1, &len, &t))) {
        memcpy(t->data, axes, sizeof(int64_t) * (size_t)n);
        ins[1] = opt_add_initializer(ctx, g, "fused_axes", t);
        if (ins[1] < 0) st = OXRT_OOM();
        else {
          u.count[outer->inputs[1]]--;
          u.count[ins[1]]++;
          st = opt_set_inputs(g, outer, ins, 2);
        }
      }
    }
    if (st) break;
    for (int k = 1; k < inner->n_inputs; k++)
      if (inner->inputs[k] >= 0) u.count[inner->inputs[k]]--;
    u.count[mid] = 0;
    inner->op_type = NULL;
    *changed = true;
    for (int k = 0; k < 2; k++) { /* axes constants read by nothing else go now */
      int a = old_axes[k];
      if (a >= 0 && !u.count[a] && !u.pinned[a] && g->values[a].init) {
        oxrt_value_free(g->values[a].init);
        g->values[a].init = NULL;
      }
    }
  }
  opt_uses_free(&u);
  return st;
}

static oxrt_status *run_squeeze(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  return fuse(ctx, g, changed, "Squeeze");
}
static oxrt_status *run_unsqueeze(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  return fuse(ctx, g, changed, "Unsqueeze");
}

const oxrt_opt_pass oxrt_pass_fuse_consecutive_squeezes = {"fuse_consecutive_squeezes", OXRT_OPT_ALL, true,
                                                           run_squeeze, "Squeeze of a Squeeze into one Squeeze"};
const oxrt_opt_pass oxrt_pass_fuse_consecutive_unsqueezes = {
    "fuse_consecutive_unsqueezes", OXRT_OPT_ALL, true, run_unsqueeze, "Unsqueeze of an Unsqueeze into one"};
