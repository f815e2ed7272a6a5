/* fuse_util.c - helpers for the pattern fusions (GELU, SiLU, HardSwish): scalar constants compared
 * within the precision of their type, single readers, plain elementwise nodes, domain imports. */
#include "opt.h"
#include "../exec/registry.h"
#include <math.h>
#include <string.h>

oxrt_status *opt_import_domain(oxrt_model *m, const char *domain, int64_t version) {
  if (oxrt_model_opset(m, domain) >= 0) return NULL;
  oxrt_opset *ops = oxrt_arena_alloc(m->arena, sizeof *ops * (size_t)(m->n_opsets + 1));
  if (!ops) return OXRT_OOM();
  if (m->n_opsets) memcpy(ops, m->opsets, sizeof *ops * (size_t)m->n_opsets);
  ops[m->n_opsets].domain = domain;
  ops[m->n_opsets].version = version;
  m->opsets = ops;
  m->n_opsets++;
  return NULL;
}

bool opt_is_op(const oxrt_node *n, const char *op, int n_inputs) {
  return n && n->op_type && !*n->domain && !strcmp(n->op_type, op) && n->n_inputs == n_inputs && n->n_outputs == 1 &&
         n->outputs[0] >= 0 && n->n_attrs == 0;
}

bool opt_scalar_near(const oxrt_graph *g, int id, oxrt_elem_type t, int max_rank, double want) {
  const oxrt_value *c = opt_const(g, id);
  if (!c || c->dtype != t || c->count != 1 || c->rank > max_rank) return false;
  if (t != OXRT_FLOAT && t != OXRT_FLOAT16 && t != OXRT_DOUBLE) return false;
  double v = oxrt_load_f64(t, c->data, 0);
  /* the constant as written in its type: float16 keeps 11 significant bits, float 24 */
  double rtol = t == OXRT_FLOAT16 ? 1e-3 : t == OXRT_FLOAT ? 1e-5 : 1e-9;
  return isfinite(v) && fabs(v - want) <= rtol * fabs(want);
}

oxrt_node *opt_sole_reader(oxrt_graph *g, const opt_uses *u, int id) {
  if (id < 0 || u->pinned[id] || u->count[id] != 1) return NULL;
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *n = &g->nodes[i];
    if (!n->op_type) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] == id) return n;
  }
  return NULL;
}

oxrt_node *opt_sole_producer(oxrt_graph *g, const opt_uses *u, int id) {
  if (id < 0 || u->pinned[id] || u->count[id] != 1) return NULL;
  oxrt_node *p = opt_producer(g, id);
  return p && p->n_outputs == 1 ? p : NULL;
}

int opt_other_input(const oxrt_node *n, int id) {
  if (n->n_inputs != 2) return -1;
  if (n->inputs[0] == id) return n->inputs[1];
  if (n->inputs[1] == id) return n->inputs[0];
  return -1;
}

/* Element type of value `id`: declared, or followed back through producers that keep their input's type
 * (OXRT_OP_SAME_ELEM_TYPE in the schema); Cast states it. */
static oxrt_elem_type value_type(oxrt_graph *g, int id, int depth) {
  oxrt_elem_type t = opt_elem_type(g, id);
  if (t != OXRT_UNDEFINED || depth > 64) return t;
  oxrt_node *p = opt_producer(g, id);
  if (!p || p->n_inputs < 1) return OXRT_UNDEFINED;
  if (!*p->domain && !strcmp(p->op_type, "Cast")) return (oxrt_elem_type)oxrt_attr_int(p, "to", OXRT_UNDEFINED);
  const oxrt_op_schema *sc = oxrt_registry_find(p->domain, p->op_type);
  if (!sc || !(sc->flags & OXRT_OP_SAME_ELEM_TYPE) || p->outputs[0] != id) return OXRT_UNDEFINED;
  /* ops whose first two inputs share the type: a declared one (a constant, a weight) settles it at once */
  if ((sc->flags & OXRT_OP_INPUT1_SAME_TYPE) && p->n_inputs >= 2 &&
      (t = opt_elem_type(g, p->inputs[1])) != OXRT_UNDEFINED)
    return t;
  return value_type(g, p->inputs[0], depth + 1);
}

oxrt_elem_type opt_value_type(oxrt_graph *g, int id) { return value_type(g, id, 0); }

int64_t opt_channel_len(const oxrt_value *c, int rank) {
  if (c->rank > rank) return 0; /* would raise the output's rank */
  if (c->count == 1) return 1;
  /* align c to the output's trailing axes */
  int lead = rank - c->rank;
  int64_t len = 0;
  for (int i = 0; i < c->rank; i++) {
    int axis = lead + i;
    if (axis == 1) len = c->dims[i];
    else if (c->dims[i] != 1) return 0;
  }
  return lead <= 1 ? len : 0;
}

void opt_scale_rows(oxrt_elem_type t, const void *src, void *dst, size_t rows, size_t per, const double *sc,
                    size_t sc_step) {
  for (size_t i = 0; i < rows; i++) {
    const double f = sc[i * sc_step];
    const size_t at = i * per;
    if (t == OXRT_FLOAT) { /* the generic loop's arithmetic without its type switch per element (load time) */
      const float *a = (const float *)src + at;
      float *b = (float *)dst + at;
      for (size_t k = 0; k < per; k++) b[k] = (float)((double)a[k] * f);
    } else {
      for (size_t k = 0; k < per; k++) oxrt_store_f64(t, dst, at + k, oxrt_load_f64(t, src, at + k) * f);
    }
  }
}
