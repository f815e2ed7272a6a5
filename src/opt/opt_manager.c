/* opt_manager.c - the pass manager: levels, named passes, rounds until nothing changes. */
#include "opt.h"
#include <stdlib.h>
#include <string.h>

static const oxrt_opt_pass *const all_passes[] = {
    &oxrt_pass_fold_squeeze,
    &oxrt_pass_constant_folding,
    &oxrt_pass_eliminate_noops,
    &oxrt_pass_fuse_qdq,
    &oxrt_pass_collapse_transpose_reshape,
    &oxrt_pass_fuse_attention,
    &oxrt_pass_fuse_skip_layer_norm,
    &oxrt_pass_fuse_conv_bn,
    &oxrt_pass_fuse_conv_scale,
    &oxrt_pass_fuse_affine_into_conv,
    &oxrt_pass_fuse_bias_add,
    &oxrt_pass_fuse_matmul_add,
    &oxrt_pass_fuse_gelu,
    &oxrt_pass_fuse_silu,
    &oxrt_pass_fuse_conv_add,
    &oxrt_pass_fuse_conv_activation,
    &oxrt_pass_eliminate_dead,
    NULL,
};

const oxrt_opt_pass *const *oxrt_opt_passes(void) { return all_passes; }

static const oxrt_opt_pass *const session_passes[] = {
    &oxrt_pass_fuse_matmul_bias_act,
    &oxrt_pass_nchwc_layout,
    NULL,
};

const oxrt_opt_pass *const *oxrt_opt_session_passes(void) { return session_passes; }

/* onnxoptimizer's passes that no level runs: `oxrt optimize --passes` and oxrt.optimizer name them. */
static const oxrt_opt_pass *const named_passes[] = {
    &oxrt_pass_nop,
    &oxrt_pass_eliminate_identity,
    &oxrt_pass_eliminate_nop_cast,
    &oxrt_pass_eliminate_nop_dropout,
    &oxrt_pass_eliminate_nop_flatten,
    &oxrt_pass_eliminate_nop_transpose,
    &oxrt_pass_eliminate_nop_pad,
    &oxrt_pass_eliminate_nop_concat,
    &oxrt_pass_eliminate_nop_split,
    &oxrt_pass_eliminate_nop_expand,
    &oxrt_pass_eliminate_nop_reshape,
    &oxrt_pass_eliminate_nop_with_unit,
    &oxrt_pass_eliminate_consecutive_idempotent_ops,
    &oxrt_pass_eliminate_nop_monotone_argmax,
    &oxrt_pass_eliminate_unused_initializer,
    &oxrt_pass_eliminate_duplicate_initializer,
    &oxrt_pass_eliminate_common_subexpression,
    &oxrt_pass_extract_constant_to_initializer,
    &oxrt_pass_fuse_consecutive_squeezes,
    &oxrt_pass_fuse_consecutive_unsqueezes,
    &oxrt_pass_fuse_consecutive_concats,
    &oxrt_pass_fuse_consecutive_log_softmax,
    &oxrt_pass_fuse_pad_into_conv,
    &oxrt_pass_fuse_transpose_into_gemm,
    &oxrt_pass_eliminate_shape_op,
    &oxrt_pass_eliminate_shape_gather,
    &oxrt_pass_fuse_consecutive_reduce_unsqueeze,
    &oxrt_pass_rewrite_where,
    &oxrt_pass_eliminate_if_with_const_cond,
    &oxrt_pass_eliminate_slice_after_shape,
    &oxrt_pass_fuse_pad_into_pool,
    &oxrt_pass_fuse_concat_into_reshape,
    &oxrt_pass_fuse_qkv,
    &oxrt_pass_fuse_consecutive_slices,
    NULL,
};

const oxrt_opt_pass *const *oxrt_opt_named_passes(void) { return named_passes; }

/* onnxoptimizer names whose work one of oxrt's own passes does. */
const char *const oxrt_opt_aliases[][2] = {
    {"eliminate_deadend", "eliminate_dead_nodes"},
    {"fuse_bn_into_conv", "fuse_conv_bn"},
    {"fuse_add_bias_into_conv", "fuse_bias_add"},
    {"fuse_matmul_add_bias_into_gemm", "fuse_matmul_add"},
    {"fuse_consecutive_transposes", "collapse_transpose_reshape"},
    {NULL, NULL},
};

const char *oxrt_opt_named_pass_info(size_t index, const char **summary, const char **alias_of) {
  size_t n = 0;
  while (named_passes[n]) n++;
  if (index < n) {
    if (summary) *summary = named_passes[index]->summary;
    if (alias_of) *alias_of = NULL;
    return named_passes[index]->name;
  }
  for (size_t i = 0; oxrt_opt_aliases[i][0]; i++)
    if (i == index - n) {
      const oxrt_opt_pass *p = oxrt_opt_find_pass(oxrt_opt_aliases[i][1]);
      if (summary) *summary = p ? p->summary : "";
      if (alias_of) *alias_of = oxrt_opt_aliases[i][1];
      return oxrt_opt_aliases[i][0];
    }
  return NULL;
}

const oxrt_opt_pass *oxrt_opt_find_pass(const char *name) {
  for (int i = 0; oxrt_opt_aliases[i][0]; i++)
    if (!strcmp(name, oxrt_opt_aliases[i][0])) name = oxrt_opt_aliases[i][1];
  for (int i = 0; all_passes[i]; i++)
    if (!strcmp(name, all_passes[i]->name)) return all_passes[i];
  for (int i = 0; named_passes[i]; i++)
    if (!strcmp(name, named_passes[i]->name)) return named_passes[i];
  /* listed by oxrt_opt_pass_info; named in a saved optimization they do nothing (oxrt-only or CPU-dependent) */
  for (int i = 0; session_passes[i]; i++)
    if (!strcmp(name, session_passes[i]->name)) return session_passes[i];
  return NULL;
}

size_t oxrt_opt_count_nodes(const oxrt_graph *g) {
  size_t n = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const oxrt_node *nd = &g->nodes[i];
    if (!nd->op_type) continue;
    n++;
    for (int a = 0; a < nd->n_attrs; a++) {
      if (nd->attrs[a].g) n += oxrt_opt_count_nodes(nd->attrs[a].g);
      for (size_t k = 0; nd->attrs[a].graphs && k < nd->attrs[a].n; k++) n += oxrt_opt_count_nodes(nd->attrs[a].graphs[k]);
    }
  }
  return n;
}

/* True if attribute payload `p` (tensor or graph) belongs to a function body: nodes inlined
 * from a function share their attributes with it, and the function frees them. */
static bool attr_in(const oxrt_attr *at, const void *p) {
  if (at->t == p || at->g == p) return true;
  for (size_t k = 0; k < at->n; k++)
    if ((at->tensors && at->tensors[k] == p) || (at->graphs && at->graphs[k] == p)) return true;
  return false;
}

static bool function_owned(const oxrt_model *m, const void *p) {
  for (int f = 0; f < m->n_functions; f++) {
    const oxrt_function *fn = &m->functions[f];
    for (int i = 0; i < fn->n_attr_defaults; i++)
      if (attr_in(&fn->attr_defaults[i], p)) return true;
    for (int i = 0; fn->body && i < fn->body->n_nodes; i++)
      for (int a = 0; a < fn->body->nodes[i].n_attrs; a++)
        if (attr_in(&fn->body->nodes[i].attrs[a], p)) return true;
  }
  return false;
}

/* Frees what a deleted node's attributes own (tensors, subgraph initializers): the model frees
 * only what its remaining nodes reach. */
static void release_attrs(const oxrt_model *m, oxrt_node *n) {
  for (int a = 0; a < n->n_attrs; a++) {
    oxrt_attr *at = &n->attrs[a];
    if (at->t && !function_owned(m, at->t)) oxrt_value_free(at->t);
    at->t = NULL;
    if (at->g && !function_owned(m, at->g)) oxrt_graph_release_values(at->g);
    for (size_t k = 0; k < at->n; k++) {
      if (at->tensors && at->tensors[k] && !function_owned(m, at->tensors[k])) oxrt_value_free(at->tensors[k]);
      if (at->graphs && at->graphs[k] && !function_owned(m, at->graphs[k])) oxrt_graph_release_values(at->graphs[k]);
    }
  }
  n->n_attrs = 0;
}

/* Drops deleted nodes and recomputes producers. */
static void compact(const oxrt_model *m, oxrt_graph *g) {
  int k = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op_type) g->nodes[k++] = g->nodes[i];
    else release_attrs(m, &g->nodes[i]);
  g->n_nodes = k;
  for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int o = 0; o < g->nodes[i].n_outputs; o++)
      if (g->nodes[i].outputs[o] >= 0) g->values[g->nodes[i].outputs[o]].producer = i;
}

/* ai.onnx.preview.training Gradient differentiates the graph's own nodes, named by its attributes
 * (xs, zs, y) rather than wired as inputs: any rewrite (dead-node removal, folding away the path from
 * a weight initializer) would change what it computes, so such graphs are left as written. */
static bool has_gradient(const oxrt_graph *g) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op_type && strcmp(g->nodes[i].op_type, "Gradient") == 0 &&
        strcmp(g->nodes[i].domain, "ai.onnx.preview.training") == 0)
      return true;
  return false;
}

static oxrt_status *run_on(oxrt_opt_ctx *ctx, const oxrt_opt_pass *p, oxrt_graph *g, bool *changed) {
  if (has_gradient(g)) return NULL;
  bool ch = false;
  oxrt_status *st = p->run(ctx, g, &ch);
  compact(ctx->model, g);
  if (st) return st;
  *changed |= ch;
  if (!p->subgraphs) return NULL;
  for (int i = 0; i < g->n_nodes; i++)
    for (int a = 0; a < g->nodes[i].n_attrs; a++) {
      oxrt_attr *at = &g->nodes[i].attrs[a];
      if (at->g) OXRT_TRY(run_on(ctx, p, at->g, changed));
      for (size_t k = 0; at->graphs && k < at->n; k++) OXRT_TRY(run_on(ctx, p, at->graphs[k], changed));
    }
  return NULL;
}

static bool disabled(const char *list, const char *name) {
  if (!list) return false;
  size_t n = strlen(name);
  for (const char *s = list; *s;) {
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len == n && strncmp(s, name, n) == 0) return true;
    if (!e) break;
    s = e + 1;
  }
  return false;
}

/* Constant folding's budget over one optimize call: total bytes, and its log. */
static void set_fold_budget(oxrt_opt_ctx *ctx, const oxrt_opt_options *o) {
  ctx->fold_total_max = o->fold_total_max ? o->fold_total_max : (size_t)1 << 40;
  ctx->log = o->log;
  ctx->log_user = o->log_user;
}

oxrt_status *oxrt_optimize_model_named(oxrt_model *m, const char *list, bool fixed_point, const oxrt_opt_options *o) {
  if (!m || !m->graph || !list || !o) return NULL;
  oxrt_opt_ctx c = {.model = m, .fold_max_bytes = o->fold_max_bytes ? o->fold_max_bytes : (size_t)64 << 20,
                    .portable = o->portable},
               *ctx = &c;
  set_fold_budget(ctx, o);
  const oxrt_opt_pass *seq[128];
  int n = 0;
  for (const char *s = list; *s;) {
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    char name[128];
    if (len >= sizeof name) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "optimizer pass name '%.40s...' is too long", s);
    memcpy(name, s, len);
    name[len] = 0;
    if (len) {
      const oxrt_opt_pass *p = oxrt_opt_find_pass(name);
      if (!p) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unknown optimizer pass '%s' (oxrt optimize --list names them)", name);
      if (n == (int)(sizeof seq / sizeof *seq)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "more than 128 passes named");
      seq[n++] = p;
    }
    if (!e) break;
    s = e + 1;
  }
  for (int round = 1; round <= (fixed_point ? 16 : 1); round++) {
    bool any = false;
    for (int i = 0; i < n; i++) {
      size_t before = o->report ? oxrt_opt_count_nodes(ctx->model->graph) : 0;
      bool changed = false;
      oxrt_status *st = run_on(ctx, seq[i], ctx->model->graph, &changed);
      if (st) return oxrt_error_prefix(st, "optimizer pass '%s': ", seq[i]->name);
      if (o->report) o->report(o->user, seq[i]->name, round, before, oxrt_opt_count_nodes(ctx->model->graph));
      any |= changed;
    }
    if (!any) break;
  }
  return NULL;
}

oxrt_status *oxrt_optimize_model_pass(oxrt_model *m, const oxrt_opt_pass *p, const oxrt_opt_options *o) {
  if (!m || !m->graph || !o || disabled(o->disable, p->name)) return NULL;
  oxrt_opt_ctx ctx = {.model = m, .fold_max_bytes = (size_t)64 << 20, .portable = o->portable};
  set_fold_budget(&ctx, o);
  bool changed = false;
  oxrt_status *st = run_on(&ctx, p, m->graph, &changed);
  return st ? oxrt_error_prefix(st, "optimizer pass '%s': ", p->name) : NULL;
}

oxrt_status *oxrt_optimize_model(oxrt_model *m, const oxrt_opt_options *o) {
  if (!m || !m->graph || !o || o->level <= OXRT_OPT_DISABLE) return NULL;
  oxrt_opt_ctx ctx = {.model = m, .fold_max_bytes = o->fold_max_bytes ? o->fold_max_bytes : (size_t)64 << 20,
                      .portable = o->portable};
  set_fold_budget(&ctx, o);
  /* Fusions expose new chances (MatMul+Add -> Gemm, then Gemm+Add ...): a few rounds at most. */
  for (int round = 1; round <= 4; round++) {
    bool any = false;
    for (const oxrt_opt_pass *const *pp = all_passes; *pp; pp++) {
      const oxrt_opt_pass *p = *pp;
      if (p->level > o->level || disabled(o->disable, p->name)) continue;
      size_t before = o->report ? oxrt_opt_count_nodes(m->graph) : 0;
      bool changed = false;
      oxrt_status *st = run_on(&ctx, p, m->graph, &changed);
      if (st) return oxrt_error_prefix(st, "optimizer pass '%s': ", p->name);
      if (o->report) o->report(o->user, p->name, round, before, oxrt_opt_count_nodes(m->graph));
      any |= changed;
    }
    if (!any) break;
  }
  return NULL;
}
