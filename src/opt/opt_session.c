/* opt_session.c - the optimizer's front: running it for a session being created (opt_session.h), saving the
 * optimized model, and the public oxrt_optimize_model_file. */
#include "opt_session.h"
#include "../core/limits.h"
#include "../exec/infer.h"
#include "../onnx/onnx_reader.h"
#include "../onnx/onnx_writer.h"
#include "opt.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Models whose weights get near protobuf's 2 GiB limit must keep them outside. */
#define AUTO_EXTERNAL_TOTAL ((uint64_t)3 << 29) /* 1.5 GiB */

/* The level passes, then the session-only ones (so that disabled_passes, OXRT_OPT_DISABLE and `oxrt test`'s per-pass
 * bisection can name them). */
const char *oxrt_opt_pass_info(size_t index, const char **summary, oxrt_opt_level *level) {
  const oxrt_opt_pass *const *all = oxrt_opt_passes(), *const *sess = oxrt_opt_session_passes();
  size_t n = 0;
  while (all[n]) n++;
  const oxrt_opt_pass *p = index < n ? all[index] : NULL;
  for (size_t i = 0; !p && sess[i]; i++)
    if (n + i == index) p = sess[i];
  if (!p) return NULL;
  if (summary) *summary = p->summary;
  if (level) *level = p->level;
  return p->name;
}

/* OXRT_OPT_LEVEL overrides the requested level (for comparing runs without rebuilding). */
static oxrt_opt_level effective_level(oxrt_opt_level level) {
  const char *e = getenv("OXRT_OPT_LEVEL");
  if (e && *e) {
    char *end;
    long v = strtol(e, &end, 10);
    if (*end == 0 && v >= 0) return (oxrt_opt_level)v;
  }
  return level;
}

static uint64_t initializer_bytes(const oxrt_graph *g) {
  uint64_t n = 0;
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i].init) n += g->values[i].init->nbytes;
  return n;
}

/* Shapes for the passes: a contradiction is reported later, by the session; running out of memory would change
 * what the passes decide (the layout pass needs the shapes), so it ends the optimization. */
static oxrt_status *infer_for_passes(oxrt_model *m, oxrt_graph *g) {
  oxrt_status *st = oxrt_infer_graph(m, g, 0);
  if (st && oxrt_status_get_code(st) != OXRT_ERR_OUT_OF_MEMORY) oxrt_status_free(st), st = NULL;
  return st;
}

/* Static shapes help the passes (ranks for MatMul -> Gemm, types for no-op Casts); the
 * inferred types are dropped again afterwards so that what gets saved holds only
 * declared types, and the session infers again on the final graph. */
static oxrt_status *optimize_with_shapes(oxrt_model *m, const oxrt_opt_options *o, const char *passes,
                                         bool fixed_point) {
  oxrt_graph *g = m->graph;
  int n_before = g->n_values;
  oxrt_type **saved = malloc(sizeof(oxrt_type *) * ((size_t)n_before + 1));
  if (!saved) return OXRT_OOM();
  for (int i = 0; i < n_before; i++) saved[i] = g->values[i].type;
  oxrt_status *st = infer_for_passes(m, g);
  if (!st) st = passes ? oxrt_optimize_model_named(m, passes, fixed_point, o) : oxrt_optimize_model(m, o);
  for (int i = 0; i < n_before && i < g->n_values; i++) g->values[i].type = saved[i];
  free(saved);
  return st;
}

static void cfg_log(const oxrt_opt_session_cfg *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void cfg_log(const oxrt_opt_session_cfg *c, const char *fmt, ...) {
  if (!c->log) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  c->log(c->log_user, buf);
}

static void log_pass(void *user, const char *pass, int round, size_t before, size_t after) {
  if (after != before) cfg_log(user, "optimizer round %d: %s: %zu -> %zu nodes", round, pass, before, after);
}

static void fold_warn(void *user, const char *message) {
  const oxrt_opt_session_cfg *c = user;
  if (c->warn) c->warn(c->log_user, message);
}

/* Constant folding creates tensors too: the session's tensor_bytes and run_bytes limits bound what it folds. */
static void fold_limits(const oxrt_limits *l, oxrt_opt_options *o) {
  uint64_t tensor = oxrt_limit_get(l, OXRT_LIMIT_TENSOR_BYTES), run = oxrt_limit_get(l, OXRT_LIMIT_RUN_BYTES);
  if (tensor < ((uint64_t)64 << 20)) o->fold_max_bytes = (size_t)tensor;
  if (run < SIZE_MAX) o->fold_total_max = (size_t)run;
}

/* The passes to skip: the caller's list, or where the caller set none (NULL), OXRT_OPT_DISABLE's (debugging without
 * code changes: the environment only changes defaults, an explicit setting wins). */
static void skip_list(const char *own, char *buf, size_t cap) {
  const char *env = getenv("OXRT_OPT_DISABLE");
  snprintf(buf, cap, "%s", own ? own : env ? env : "");
}

/* One session-only pass over the model, logged when it changed the node count. */
static oxrt_status *session_pass(oxrt_model *m, const oxrt_opt_session_cfg *cfg, const char *disable,
                                 const oxrt_opt_pass *pass) {
  oxrt_opt_options o = {cfg->level, 0, disable, NULL, NULL, false, 0, NULL, NULL};
  size_t before = oxrt_opt_count_nodes(m->graph);
  OXRT_TRY(oxrt_optimize_model_pass(m, pass, &o));
  size_t after = oxrt_opt_count_nodes(m->graph);
  if (after != before) cfg_log(cfg, "%s: %zu -> %zu nodes", pass->name, before, after);
  return NULL;
}

/* The blocked-channel layout for CNN regions (pass_nchwc_layout.c), after the fusions and after any save: its result
 * depends on this CPU's block size. Off with OXRT_NCHWC=0 or by disabling the pass "nchwc_layout" (session option
 * disabled_passes, OXRT_OPT_DISABLE). The shapes inferred for it stay: the session infers again anyway. */
static oxrt_status *nchwc_layout(oxrt_model *m, const oxrt_opt_session_cfg *cfg, const char *disable) {
  const char *e = getenv("OXRT_NCHWC");
  if ((e && !strcmp(e, "0")) || cfg->level < OXRT_OPT_EXTENDED) return NULL;
  OXRT_TRY(infer_for_passes(m, m->graph));
  return session_pass(m, cfg, disable, &oxrt_pass_nchwc_layout);
}

/* MatMul + GELU into oxrt.session MatMulBiasAct (pass_fuse_matmul_bias_act.c), after any save: ONNX Runtime does not
 * have it. Off by disabling the pass "fuse_matmul_bias_act". */
static oxrt_status *matmul_bias_act(oxrt_model *m, const oxrt_opt_session_cfg *cfg, const char *disable) {
  if (cfg->level < oxrt_pass_fuse_matmul_bias_act.level) return NULL;
  return session_pass(m, cfg, disable, &oxrt_pass_fuse_matmul_bias_act);
}

oxrt_status *oxrt_opt_for_session(oxrt_model *m, const oxrt_opt_session_cfg *cfg) {
  oxrt_opt_level level = cfg->level; /* OXRT_OPT_LEVEL was applied as a default by the session */
  const char *save = cfg->save_path ? cfg->save_path : "";
  if (level > OXRT_OPT_DISABLE) {
    char disable[4096];
    skip_list(cfg->disabled_passes, disable, sizeof disable);
    /* a model the session also saves must run in ONNX Runtime */
    oxrt_opt_options o = {level, 0, disable, log_pass, (void *)cfg, save[0] != 0, 0, fold_warn, (void *)cfg};
    fold_limits(cfg->limits, &o);
    size_t before = oxrt_opt_count_nodes(m->graph);
    OXRT_TRY(optimize_with_shapes(m, &o, NULL, false));
    cfg_log(cfg, "optimizer (level %d): %zu -> %zu nodes", (int)level, before, oxrt_opt_count_nodes(m->graph));
  }
  if (save[0]) {
    oxrt_write_options wo = {0};
    if (initializer_bytes(m->graph) > AUTO_EXTERNAL_TOTAL) wo.external_threshold = 1024;
    OXRT_TRY(oxrt_write_model(m, save, &wo));
    cfg_log(cfg, "optimized model written to %s", save);
  }
  if (level > OXRT_OPT_DISABLE) {
    char disable[4096];
    skip_list(cfg->disabled_passes, disable, sizeof disable);
    OXRT_TRY(matmul_bias_act(m, cfg, disable));
    OXRT_TRY(nchwc_layout(m, cfg, disable));
  }
  return NULL;
}

/* Loads, optimizes (by level, or the named `passes` when not NULL) and saves. */
static oxrt_status *optimize_file(const char *model_path, const char *out_path, const oxrt_optimize_options *opts,
                                  const char *passes, bool fixed_point) {
  if (!model_path || !out_path || !*out_path)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "model_path and out_path must be given");
  oxrt_optimize_options dflt = {sizeof dflt, OXRT_OPT_ALL, 0, NULL, NULL, NULL};
  if (!opts) opts = &dflt;
  if (opts->size < sizeof *opts) /* fields are only appended: a smaller size was never initialised */
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                      "oxrt_optimize_options.size is %zu, expected %zu: initialise it with OXRT_INIT(oxrt_optimize_options)",
                      opts->size, sizeof *opts);
  oxrt_model *m;
  OXRT_TRY(oxrt_load_model_file(model_path, &m));
  char disable[4096];
  skip_list(opts->disable_passes, disable, sizeof disable);
  /* OXRT_OPT_LEVEL only changes the default: it applies when the caller passed no options */
  oxrt_opt_options o = {opts == &dflt ? effective_level(opts->level) : opts->level, 0, disable, opts->on_pass,
                        opts->user, true, 0, NULL, NULL};
  oxrt_status *st = optimize_with_shapes(m, &o, passes, fixed_point);
  if (!st) {
    oxrt_write_options wo = {0};
    wo.external_threshold = opts->external_data_threshold;
    if (!wo.external_threshold && initializer_bytes(m->graph) > AUTO_EXTERNAL_TOTAL) wo.external_threshold = 1024;
    st = oxrt_write_model(m, out_path, &wo);
  }
  oxrt_model_free(m);
  return st;
}

oxrt_status *oxrt_optimize_model_file(const char *model_path, const char *out_path, const oxrt_optimize_options *opts) {
  return optimize_file(model_path, out_path, opts, NULL, false);
}

oxrt_status *oxrt_optimize_model_file_passes(const char *model_path, const char *out_path, const char *passes,
                                             int fixed_point, const oxrt_optimize_options *opts) {
  if (!passes) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "passes must be given (a comma-separated list of names)");
  return optimize_file(model_path, out_path, opts, passes, fixed_point != 0);
}
