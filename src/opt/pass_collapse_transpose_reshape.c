/* pass_collapse_transpose_reshape.c - merges chains of layout operators:
 *   Transpose(Transpose(x, p1), p2) -> Transpose(x, p1[p2[i]]), or nothing when that is the identity;
 *   Reshape(Reshape(x, s1), s2)     -> Reshape(x, s2) (s2 has no 0 that would copy from the middle shape).
 * The inner node must have no other reader; it is then removed by this pass.
 */
#include "opt.h"
#include <string.h>

/* Perm of a Transpose node into p; rank from the attribute, or `rank_hint` for the default (reverse). */
static int get_perm(const oxrt_node *n, int rank_hint, int64_t *p) {
  size_t c;
  const int64_t *a = oxrt_attr_ints(n, "perm", &c);
  if (a) {
    if (c > OXRT_MAX_RANK) return -1;
    for (size_t i = 0; i < c; i++) p[i] = a[i];
    return (int)c;
  }
  if (rank_hint < 0) return -1;
  for (int i = 0; i < rank_hint; i++) p[i] = rank_hint - 1 - i;
  return rank_hint;
}

static bool valid_perm(const int64_t *p, int r) {
  bool seen[OXRT_MAX_RANK] = {0};
  for (int i = 0; i < r; i++) {
    if (p[i] < 0 || p[i] >= r || seen[p[i]]) return false;
    seen[p[i]] = true;
  }
  return true;
}

static oxrt_status *merge_transpose(oxrt_graph *g, oxrt_node *outer, oxrt_node *inner, opt_uses *u, bool *changed) {
  int64_t p1[OXRT_MAX_RANK], p2[OXRT_MAX_RANK], q[OXRT_MAX_RANK];
  bool a1 = oxrt_node_attr(inner, "perm") != NULL, a2 = oxrt_node_attr(outer, "perm") != NULL;
  int x = inner->inputs[0], y = outer->outputs[0];
  int r;
  if (!a1 && !a2) {
    r = 0; /* two reversals: identity for any rank */
  } else {
    int r1 = get_perm(inner, -1, p1), r2 = get_perm(outer, -1, p2);
    if (!a1) r1 = get_perm(inner, r2, p1);
    if (!a2) r2 = get_perm(outer, r1, p2);
    if (r1 < 0 || r1 != r2 || !valid_perm(p1, r1) || !valid_perm(p2, r2)) return NULL;
    r = r1;
    for (int i = 0; i < r; i++) q[i] = p1[p2[i]];
  }
  bool ident = true;
  for (int i = 0; i < r; i++) ident &= q[i] == i;
  int mid = inner->outputs[0];
  outer->inputs[0] = x;
  u->count[x]++;
  u->count[mid]--;
  if (u->count[mid] == 0 && !u->pinned[mid]) {
    u->count[x]--;
    inner->op_type = NULL;
  }
  *changed = true;
  if (ident) {
    /* the pair cancels: bypass the outer node like an Identity, or keep it as one */
    if (!opt_bypass(g, outer, x, y, u)) {
      outer->op_type = "Identity";
      outer->n_attrs = 0;
    }
    return NULL;
  }
  int64_t *perm = oxrt_arena_alloc(g->arena, sizeof(int64_t) * (size_t)r);
  if (!perm) return OXRT_OOM();
  memcpy(perm, q, sizeof(int64_t) * (size_t)r);
  oxrt_attr at = {0};
  at.name = "perm";
  at.type = OXRT_ATTR_INTS;
  at.ints = perm;
  at.n = (size_t)r;
  OXRT_TRY(opt_set_attr(g, outer, &at));
  return NULL;
}

static void merge_reshape(oxrt_graph *g, oxrt_node *outer, oxrt_node *inner, opt_uses *u, bool *changed) {
  const oxrt_value *s2 = opt_const(g, outer->inputs[1]);
  if (!s2 || s2->dtype != OXRT_INT64) return;
  if (!oxrt_attr_int(outer, "allowzero", 0))
    for (size_t i = 0; i < s2->count; i++)
      if (((const int64_t *)s2->data)[i] == 0) return;
  int x = inner->inputs[0], mid = inner->outputs[0];
  outer->inputs[0] = x;
  u->count[x]++;
  u->count[mid]--;
  if (u->count[mid] == 0 && !u->pinned[mid]) {
    u->count[x]--;
    for (int k = 1; k < inner->n_inputs; k++)
      if (inner->inputs[k] >= 0) u->count[inner->inputs[k]]--;
    inner->op_type = NULL;
  }
  *changed = true;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type || *n->domain || n->n_inputs < 1 || n->n_outputs != 1 || n->outputs[0] < 0) continue;
    bool tr = !strcmp(n->op_type, "Transpose"), rs = !strcmp(n->op_type, "Reshape");
    if (!tr && !rs) continue;
    if (rs && (n->n_inputs < 2 || opt_node_opset(ctx->model, n) < 5)) continue;
    int mid = n->inputs[0];
    oxrt_node *p = opt_producer(g, mid);
    if (!p || *p->domain || strcmp(p->op_type, n->op_type) || p->n_outputs != 1 || p->n_inputs < 1 ||
        p->inputs[0] < 0 || u.pinned[mid] || u.count[mid] != 1)
      continue;
    if (tr) st = merge_transpose(g, n, p, &u, changed);
    else if (p->n_inputs >= 2) merge_reshape(g, n, p, &u, changed);
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_collapse_transpose_reshape = {"collapse_transpose_reshape", OXRT_OPT_BASIC, true, run,
                                                            "Transpose->Transpose and Reshape->Reshape chains"};
