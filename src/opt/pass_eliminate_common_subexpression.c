/* pass_eliminate_common_subexpression.c - two nodes of the same op, domain, inputs and attributes compute the
 * same values: readers of the later one's outputs read the earlier one's (onnxoptimizer's
 * eliminate_common_subexpression). Never merged: random and training-mode ops (each draw differs), nodes with
 * subgraphs or type attributes, nodes whose later outputs are graph outputs or captured by name, or that produce
 * an output the earlier node omits.
 */
#include "opt.h"
#include "../exec/registry.h"
#include <stdlib.h>
#include <string.h>

static bool mergeable(const oxrt_node *n) {
  if (!n->op_type || n->n_outputs < 1 || opt_has_subgraph(n)) return false;
  const oxrt_op_schema *sc = oxrt_registry_find(n->domain, n->op_type);
  if (sc && (sc->flags & OXRT_OP_NONDETERMINISTIC)) return false; /* each draw differs */
  for (int a = 0; a < n->n_attrs; a++)
    if (n->attrs[a].tp || n->attrs[a].tps || n->attrs[a].ref_attr_name) return false;
  return true;
}

static bool same_value(const oxrt_value *a, const oxrt_value *b) {
  if (!a || !b) return a == b;
  if (a->kind != OXRT_KIND_TENSOR || b->kind != OXRT_KIND_TENSOR || a->dtype != b->dtype || a->rank != b->rank ||
      memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) || a->dtype == OXRT_STRING || a->nbytes != b->nbytes)
    return false;
  return !memcmp(a->data, b->data, a->nbytes);
}

static bool same_attr(const oxrt_attr *x, const oxrt_attr *y) {
  if (x->type != y->type || x->n != y->n || x->i != y->i || memcmp(&x->f, &y->f, sizeof x->f)) return false;
  if ((x->s || y->s) && (!x->s || !y->s || x->s_len != y->s_len || memcmp(x->s, y->s, x->s_len))) return false;
  if (!same_value(x->t, y->t)) return false;
  if (x->ints && (!y->ints || memcmp(x->ints, y->ints, sizeof(int64_t) * x->n))) return false;
  if (x->floats && (!y->floats || memcmp(x->floats, y->floats, sizeof(float) * x->n))) return false;
  for (size_t k = 0; x->strings && k < x->n; k++)
    if (!y->strings || x->string_lens[k] != y->string_lens[k] || memcmp(x->strings[k], y->strings[k], x->string_lens[k]))
      return false;
  for (size_t k = 0; x->tensors && k < x->n; k++)
    if (!y->tensors || !same_value(x->tensors[k], y->tensors[k])) return false;
  return true;
}

static bool same_node(const oxrt_node *a, const oxrt_node *b) {
  if (strcmp(a->op_type, b->op_type) || strcmp(a->domain, b->domain) || a->n_inputs != b->n_inputs ||
      a->n_outputs != b->n_outputs || a->n_attrs != b->n_attrs ||
      memcmp(a->inputs, b->inputs, sizeof(int) * (size_t)a->n_inputs))
    return false;
  for (int i = 0; i < a->n_attrs; i++) {
    const oxrt_attr *y = NULL;
    for (int j = 0; j < b->n_attrs && !y; j++)
      if (!strcmp(a->attrs[i].name, b->attrs[j].name)) y = &b->attrs[j];
    if (!y || !same_attr(&a->attrs[i], y)) return false;
  }
  return true;
}

static uint64_t node_hash(const oxrt_node *n) {
  uint64_t h = 1469598103934665603ull;
  for (const char *s = n->op_type; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  for (int k = 0; k < n->n_inputs; k++) h = (h ^ (uint64_t)(n->inputs[k] + 2)) * 1099511628211ull;
  return h;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  (void)ctx;
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  size_t cap = 16;
  while (cap < (size_t)g->n_nodes * 2) cap *= 2;
  int *slot = malloc(sizeof(int) * cap); /* node indices by hash, open addressing; -1 empty */
  if (!slot) {
    opt_uses_free(&u);
    return OXRT_OOM();
  }
  for (size_t i = 0; i < cap; i++) slot[i] = -1;
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!mergeable(n)) continue;
    size_t h = (size_t)node_hash(n) & (cap - 1);
    for (; slot[h] >= 0; h = (h + 1) & (cap - 1)) {
      oxrt_node *e = &g->nodes[slot[h]];
      if (!e->op_type || !same_node(e, n)) continue;
      bool ok = true;
      for (int k = 0; k < n->n_outputs && ok; k++)
        if (n->outputs[k] >= 0) ok = !u.pinned[n->outputs[k]] && e->outputs[k] >= 0;
      if (!ok) continue;
      for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0) {
          opt_replace_uses(g, n->outputs[k], e->outputs[k]);
          u.count[e->outputs[k]] += u.count[n->outputs[k]];
          u.count[n->outputs[k]] = 0;
        }
      for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0) u.count[n->inputs[k]]--;
      n->op_type = NULL;
      *changed = true;
      break;
    }
    if (n->op_type) slot[h] = i;
  }
  free(slot);
  opt_uses_free(&u);
  return NULL;
}

const oxrt_opt_pass oxrt_pass_eliminate_common_subexpression = {
    "eliminate_common_subexpression", OXRT_OPT_ALL, true, run, "nodes equal in op, inputs and attributes merged"};
