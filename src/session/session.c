/* session.c - the session layer: creation (load -> optimize -> plan -> infer -> prepare), the model's
 * description, run. It sits above exec, opt and quant and is the only place that strings them together
 * (docs/architecture.md, Layers). */
#include "../core/fpmode.h"
#include "../exec/engine.h"
#include "../onnx/onnx_reader.h"
#include "../opt/opt_session.h"
#include "../quant/bf16_compute.h"
#include "../quant/widen_float.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* ------------------------------------------------------------- description */
/* Innermost tensor element type of a type: a map's values', a sequence's or optional's items'. */
static oxrt_elem_type innermost_elem(const oxrt_type *t) {
  for (int depth = 0; t && depth < 64; depth++, t = t->elem)
    if (t->kind == OXRT_KIND_TENSOR || t->kind == OXRT_KIND_SPARSE_TENSOR) return t->elem_type;
  return OXRT_UNDEFINED;
}

/* The nested description of what a sequence/optional holds or of a map's values (arena-owned). */
static const oxrt_value_info *describe_element(oxrt_arena *a, const oxrt_type *t, int depth) {
  if (!t || depth > 64) return NULL;
  oxrt_value_info *e = oxrt_arena_alloc(a, sizeof *e);
  if (!e) return NULL;
  memset(e, 0, sizeof *e);
  e->size = sizeof *e;
  e->name = "";
  e->kind = t->kind;
  e->rank = -1;
  e->elem_type = innermost_elem(t);
  if (t->kind == OXRT_KIND_TENSOR || t->kind == OXRT_KIND_SPARSE_TENSOR) {
    e->rank = t->rank;
    e->dims = t->dims;
    e->dim_names = (const char *const *)t->dim_params;
  }
  if (t->kind == OXRT_KIND_MAP) e->key_type = t->elem_type;
  if (t->kind != OXRT_KIND_TENSOR && t->kind != OXRT_KIND_SPARSE_TENSOR) e->element = describe_element(a, t->elem, depth + 1);
  char buf[512];
  oxrt_type_string(t, buf, sizeof buf);
  e->type_string = oxrt_arena_strndup(a, buf, strlen(buf));
  return e;
}

static oxrt_status *describe(oxrt_session *s, const oxrt_value_def *d, oxrt_value_info *info) {
  oxrt_arena *a = s->model->arena;
  memset(info, 0, sizeof *info);
  info->size = sizeof *info;
  info->name = d->name;
  info->rank = -1;
  const oxrt_type *t = d->type;
  if (!t && d->init) {
    info->kind = OXRT_KIND_TENSOR;
    info->elem_type = d->init->dtype;
    info->rank = d->init->rank;
    info->dims = d->init->dims;
  }
  char buf[512];
  if (t) {
    info->kind = t->kind;
    info->elem_type = innermost_elem(t);
    if (t->kind == OXRT_KIND_TENSOR || t->kind == OXRT_KIND_SPARSE_TENSOR) {
      info->rank = t->rank;
      info->dims = t->dims;
      info->dim_names = (const char *const *)t->dim_params;
    } else {
      if (t->kind == OXRT_KIND_MAP) info->key_type = t->elem_type;
      info->element = describe_element(a, t->elem, 0);
      if (t->elem && !info->element) return OXRT_OOM();
    }
    oxrt_type_string(t, buf, sizeof buf);
  } else if (d->init) {
    snprintf(buf, sizeof buf, "tensor(%s)", oxrt_elem_type_name(d->init->dtype));
  } else {
    snprintf(buf, sizeof buf, "unknown");
  }
  info->type_string = oxrt_arena_strndup(a, buf, strlen(buf));
  return info->type_string ? NULL : OXRT_OOM();
}

static oxrt_status *build_descriptions(oxrt_session *s) {
  const oxrt_graph *g = s->model->graph;
  s->input_ids = calloc((size_t)g->n_inputs + 1, sizeof(int));
  s->output_ids = calloc((size_t)g->n_outputs + 1, sizeof(int));
  s->input_info = calloc((size_t)g->n_inputs + 1, sizeof(oxrt_value_info));
  s->output_info = calloc((size_t)g->n_outputs + 1, sizeof(oxrt_value_info));
  if (!s->input_ids || !s->output_ids || !s->input_info || !s->output_info) return OXRT_OOM();
  for (int i = 0; i < g->n_inputs; i++) {
    const oxrt_value_def *d = &g->values[g->inputs[i]];
    if (d->init) continue; /* old models list weights as inputs */
    s->input_ids[s->n_inputs] = g->inputs[i];
    OXRT_TRY(describe(s, d, &s->input_info[s->n_inputs]));
    s->n_inputs++;
  }
  for (int i = 0; i < g->n_outputs; i++) {
    s->output_ids[s->n_outputs] = g->outputs[i];
    OXRT_TRY(describe(s, &g->values[g->outputs[i]], &s->output_info[s->n_outputs]));
    s->n_outputs++;
  }
  return NULL;
}

static void count_graph(const oxrt_graph *g, const char ***types, size_t **counts, size_t *n, size_t *cap,
                        size_t *nodes, oxrt_arena *a) {
  for (int i = 0; i < g->n_nodes; i++) {
    const oxrt_node *nd = &g->nodes[i];
    char key[256];
    snprintf(key, sizeof key, "%s%s%s", nd->domain, *nd->domain ? ":" : "", nd->op_type);
    (*nodes)++;
    size_t k = 0;
    while (k < *n && strcmp((*types)[k], key) != 0) k++;
    if (k == *n) {
      if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        const char **nt = realloc(*types, nc * sizeof *nt);
        if (!nt) return;
        *types = nt;
        size_t *ncnt = realloc(*counts, nc * sizeof *ncnt);
        if (!ncnt) return;
        *counts = ncnt;
        *cap = nc;
      }
      (*types)[k] = oxrt_arena_strndup(a, key, strlen(key));
      (*counts)[k] = 0;
      (*n)++;
    }
    (*counts)[k]++;
    for (int at = 0; at < nd->n_attrs; at++) {
      if (nd->attrs[at].g) count_graph(nd->attrs[at].g, types, counts, n, cap, nodes, a);
      for (size_t q = 0; nd->attrs[at].graphs && q < nd->attrs[at].n; q++)
        count_graph(nd->attrs[at].graphs[q], types, counts, n, cap, nodes, a);
    }
  }
}

static void build_stats(oxrt_session *s) {
  const oxrt_graph *g = s->model->graph;
  const char **types = NULL;
  size_t *counts = NULL, n = 0, cap = 0, nodes = 0;
  count_graph(g, &types, &counts, &n, &cap, &nodes, s->model->arena);
  s->stats.node_count = nodes;
  s->stats.op_type_count = n;
  s->stats.op_types = types;
  s->stats.op_counts = counts;
  for (int i = 0; i < g->n_values; i++) {
    const oxrt_value *t = g->values[i].init;
    if (!t) continue;
    s->stats.initializer_count++;
    s->stats.parameter_count += t->count;
    s->stats.parameter_bytes += t->nbytes;
  }
}

/* ----------------------------------------------------------------- create */
static oxrt_status *save_model_opsets(oxrt_session *s) {
  const oxrt_model *m = s->model;
  size_t n = (size_t)m->n_opsets;
  s->model_opset_domains = oxrt_arena_alloc(m->arena, sizeof(char *) * (n + 1));
  s->model_opset_versions = oxrt_arena_alloc(m->arena, sizeof(int64_t) * (n + 1));
  if (!s->model_opset_domains || !s->model_opset_versions) return OXRT_OOM();
  for (size_t i = 0; i < n; i++) {
    s->model_opset_domains[i] = m->opsets[i].domain;
    s->model_opset_versions[i] = m->opsets[i].version;
  }
  s->n_model_opsets = n;
  return NULL;
}

static void opt_log(void *user, const char *msg) { oxrt_session_log(user, OXRT_LOG_INFO, "%s", msg); }
static void opt_warn(void *user, const char *msg) { oxrt_session_log(user, OXRT_LOG_WARNING, "%s", msg); }

static oxrt_status *optimize(oxrt_session *s) {
  oxrt_opt_session_cfg cfg = {s->opts.opt_level, s->opts.disabled_passes_set ? s->opts.disabled_passes : NULL,
                              s->opts.optimized_model_path, opt_log, s,
                              &s->opts.limits, opt_warn};
  return oxrt_opt_for_session(s->model, &cfg);
}

static oxrt_status *make_pool(oxrt_session *s, const oxrt_session_options *opts) {
  if (opts && opts->shared_pool) {
    s->shared_pool = opts->shared_pool;
    oxrt_thread_pool_retain(s->shared_pool);
    s->pool = oxrt_thread_pool_get(s->shared_pool);
  } else {
    s->pool = oxrt_threadpool_create(s->opts.threads);
  }
  return s->pool ? NULL : OXRT_OOM();
}

static oxrt_status *finish_create(oxrt_session *s, const oxrt_session_options *opts) {
  oxrt_model *m = s->model;
  if (m->ir_version < 1)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "model has no ir_version (is this an ONNX model file?)");
  if (m->ir_version > 14)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "model IR version %lld is newer than the newest supported (14)",
                      (long long)m->ir_version);
  for (int i = 0; i < m->n_opsets; i++) {
    const oxrt_opset *o = &m->opsets[i];
    if (!*o->domain && o->version > 28)
      return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "model imports ai.onnx opset %lld; oxrt supports opsets 1 to 28",
                        (long long)o->version);
  }
  if (opts) s->opts = *opts;
  else {
    s->opts.opt_level = OXRT_OPT_ALL;
    s->opts.log_min = OXRT_LOG_WARNING;
  }
  s->opts.shared_pool = NULL; /* the session takes its own reference below */
  /* OXRT_OPT_LEVEL only changes the default: an explicit set_opt_level wins */
  const char *env_level = getenv("OXRT_OPT_LEVEL");
  if (!s->opts.opt_level_set && env_level && *env_level) {
    char *end;
    long v = strtol(env_level, &end, 10);
    if (*end == 0 && (v == 0 || v == 1 || v == 2 || v == 99)) s->opts.opt_level = (oxrt_opt_level)v;
  }
  const char *keep = getenv("OXRT_KEEP_WEIGHTS"); /* debugging: compare with a run that keeps every initializer */
  if (keep && *keep == '1') s->opts.keep_weights = 1;
  const char *mem_plan = getenv("OXRT_MEM_PLAN"); /* only the default: set_memory_pattern wins */
  s->mem_plan_on = s->opts.mem_pattern_set ? s->opts.mem_pattern != 0 : !(mem_plan && *mem_plan == '0');
  OXRT_TRY(save_model_opsets(s));
  OXRT_TRY(oxrt_inline_functions(m));
  /* 16-bit float regions compute in float32 (before the optimizer, so its float32 fusions apply); a model the
   * session saves keeps its types */
  if (!s->opts.load_only && s->opts.opt_level > OXRT_OPT_DISABLE &&
      !s->opts.optimized_model_path[0]) {
    int n = 0;
    OXRT_TRY(oxrt_widen_float_model(m, &n));
    if (n) oxrt_session_log(s, OXRT_LOG_INFO, "float16/bfloat16: %d nodes compute in float32", n);
  }
  if (!s->opts.load_only) OXRT_TRY(optimize(s));
  if (!s->opts.load_only && s->opts.bf16_compute == 2) {
    int n = 0;
    OXRT_TRY(oxrt_bf16_prepare_model(m, s->opts.bf16_compute, &n));
    oxrt_session_log(s, OXRT_LOG_INFO, "bf16 compute mode 2 (emulated): %d inputs rounded to bfloat16", n);
  }
  if (!s->opts.load_only && s->opts.bf16_compute == 1) {
    s->bf16_packs = oxrt_bf16_compute_native();
    oxrt_session_log(s, OXRT_LOG_INFO, "bf16 compute mode 1: %s",
                     s->bf16_packs ? "constant weights of Conv, MatMul and Gemm packed in bfloat16 (AVX512_BF16)"
                                   : "this CPU has no AVX512_BF16 (or OXRT_ISA caps it): float32");
  }
  if (!s->opts.load_only) OXRT_TRY(oxrt_plan_graph(s, m->graph, &s->main_plan));
  OXRT_TRY(oxrt_infer_shapes(s));
  if (!s->opts.load_only) OXRT_TRY(make_pool(s, opts));
  /* kernels prepare with the inferred shapes, on the session's threads; packed constants may release their
   * initializers */
  if (!s->opts.load_only) OXRT_TRY(oxrt_plan_prepare(s));
  /* Packers' reads of the mapped file faulted in the 64 KiB about each page, weights copied at read time included
   * (resnet50: 1.1 MB resident after creation): gone now, and what a run reads comes back from the page cache. */
  if (!s->opts.load_only && !s->opts.keep_weights) oxrt_model_drop_file_pages(m);
  if (s->weights.consumed)
    oxrt_session_log(s, OXRT_LOG_INFO, "prepare: %zu constant inputs packed, %zu initializers released (%zu bytes)",
                     s->weights.consumed, s->weights.released, s->weights.released_bytes);
  OXRT_TRY(build_descriptions(s));
  build_stats(s);
  if (s->opts.load_only) return NULL;
  s->profiler.enabled = s->opts.profiling;
  oxrt_session_log(s, OXRT_LOG_INFO, "session ready: %zu nodes, %d threads", s->stats.node_count,
                   oxrt_threadpool_size(s->pool));
  return NULL;
}

static oxrt_session *session_alloc(void) {
  oxrt_session *s = calloc(1, sizeof *s);
  if (s) {
    pthread_mutex_init(&s->pool_lock, NULL);
    oxrt_profiler_init(&s->profiler, 0);
  }
  return s;
}

/* Parses the model in `base` (which the model then owns: mapping kind 1 = mmap, 2 = malloc)
 * and builds the session around it. */
static oxrt_status *open_bytes(void *base, size_t size, int kind, const oxrt_tensor_src *src,
                               const oxrt_session_options *opts, oxrt_session **out, int fd) {
  oxrt_model *m;
  /* misaligned initializers are copied from fd with pread (tensor_reader.c); the model read, it is done with */
  oxrt_status *st = oxrt_read_model_fd(base, size, src, fd, &m);
  if (fd >= 0) close(fd);
  if (st) {
    oxrt_unmap_file(base, size, kind);
    return st;
  }
  m->map_base = base;
  m->map_size = size;
  m->map_kind = kind;
  oxrt_session *s = session_alloc();
  if (!s) {
    oxrt_model_free(m);
    return OXRT_OOM();
  }
  s->model = m;
  st = finish_create(s, opts);
  if (st) {
    oxrt_session_free(s);
    return st;
  }
  *out = s;
  return NULL;
}

oxrt_status *oxrt_session_create(const char *path, const oxrt_session_options *opts, oxrt_session **out) {
  if (!path || !out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "path and out must not be NULL");
  void *base;
  size_t size;
  int kind, fd;
  OXRT_TRY(oxrt_map_file_fd(path, &base, &size, &kind, &fd));
  if (size == 0) return oxrt_error(OXRT_ERR_INVALID_MODEL, "model file '%s' is empty", path);
  char dir[2048];
  oxrt_model_dir(path, dir, sizeof dir);
  oxrt_tensor_src src = {true, dir, NULL, kind == 1, opts ? &opts->limits : NULL};
  oxrt_status *st = open_bytes(base, size, kind, &src, opts, out, fd);
  return st ? oxrt_error_prefix(st, "%s: ", path) : NULL;
}

oxrt_status *oxrt_session_create_from_memory(const void *data, size_t size, const oxrt_session_options *opts,
                                             oxrt_session **out) {
  if (!data || !out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "data and out must not be NULL");
  if (size == 0) return oxrt_error(OXRT_ERR_INVALID_MODEL, "model buffer is empty");
  /* One private copy, which initializers then reference in place. */
  void *copy = malloc(size);
  if (!copy) return OXRT_OOM();
  memcpy(copy, data, size);
  oxrt_tensor_src src = {true, ".", NULL, false, opts ? &opts->limits : NULL};
  return open_bytes(copy, size, 2, &src, opts, out, -1);
}

void oxrt_session_free(oxrt_session *s) {
  if (!s) return;
  oxrt_plan_free_all(s);
  if (s->shared_pool) oxrt_thread_pool_free(s->shared_pool);
  else oxrt_threadpool_free(s->pool);
  if (s->cached_pool) {
    oxrt_pool_clear(s->cached_pool);
    free(s->cached_pool);
  }
  oxrt_mem_plan_free_all(s->mem_plans);
  pthread_mutex_destroy(&s->pool_lock);
  oxrt_profiler_free(&s->profiler);
  free(s->input_ids);
  free(s->output_ids);
  free(s->input_info);
  free(s->output_info);
  free((void *)s->stats.op_types);
  free((void *)s->stats.op_counts);
  oxrt_model_free(s->model);
  free(s);
}

/* ------------------------------------------------------------ accessors */
size_t oxrt_session_get_input_count(const oxrt_session *s) { return s ? s->n_inputs : 0; }
size_t oxrt_session_get_output_count(const oxrt_session *s) { return s ? s->n_outputs : 0; }

oxrt_status *oxrt_session_get_input_info(const oxrt_session *s, size_t index, oxrt_value_info *out) {
  if (!s || !out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "NULL argument");
  if (index >= s->n_inputs)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input index %zu out of range (model has %zu inputs)", index, s->n_inputs);
  return oxrt_fill_sized(out, &s->input_info[index], sizeof *out, "oxrt_value_info");
}

oxrt_status *oxrt_session_get_output_info(const oxrt_session *s, size_t index, oxrt_value_info *out) {
  if (!s || !out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "NULL argument");
  if (index >= s->n_outputs)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output index %zu out of range (model has %zu outputs)", index,
                      s->n_outputs);
  return oxrt_fill_sized(out, &s->output_info[index], sizeof *out, "oxrt_value_info");
}

oxrt_status *oxrt_session_get_model_meta(const oxrt_session *s, oxrt_model_meta *out) {
  if (!s || !out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "NULL argument");
  const oxrt_model *m = s->model;
  oxrt_model_meta r;
  memset(&r, 0, sizeof r);
  r.size = sizeof r;
  r.ir_version = m->ir_version;
  r.producer_name = m->producer_name;
  r.producer_version = m->producer_version;
  r.domain = m->domain;
  r.model_version = m->model_version;
  r.description = m->doc;
  r.graph_name = m->graph->name;
  r.graph_description = m->graph->doc;
  r.custom_count = (size_t)m->n_meta;
  r.custom_keys = m->meta_keys;
  r.custom_values = m->meta_values;
  /* the model's own imports, as saved before the optimizer could add domains (com.microsoft for fusions) */
  r.opset_count = s->n_model_opsets;
  r.opset_domains = s->model_opset_domains;
  r.opset_versions = s->model_opset_versions;
  return oxrt_fill_sized(out, &r, sizeof r, "oxrt_model_meta");
}

oxrt_status *oxrt_session_get_model_stats(const oxrt_session *s, oxrt_model_stats *out) {
  if (!s || !out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "NULL argument");
  oxrt_model_stats r = s->stats;
  r.size = sizeof r;
  return oxrt_fill_sized(out, &r, sizeof r, "oxrt_model_stats");
}

/* -------------------------------------------------------------------- run */
static oxrt_status *check_input(const oxrt_value_info *info, size_t index, const oxrt_value *v) {
  char got[256], want[512];
  if (!v) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input '%s' (index %zu) is NULL", info->name, index);
  if (info->kind == OXRT_KIND_UNKNOWN) return NULL;
  if (v->kind != info->kind && !(info->kind == OXRT_KIND_OPTIONAL)) {
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input '%s' (index %zu): expected %s, got %s", info->name, index,
                      info->type_string, oxrt_value_describe(v, got, sizeof got));
  }
  if (info->kind != OXRT_KIND_TENSOR) return NULL;
  if (info->elem_type != OXRT_UNDEFINED && v->dtype != info->elem_type)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input '%s' (index %zu): expected element type %s, got %s", info->name,
                      index, oxrt_elem_type_name(info->elem_type), oxrt_elem_type_name(v->dtype));
  if (info->rank < 0) return NULL;
  int bad = v->rank != info->rank ? -2 : -1; /* -2: rank, >= 0: that dimension */
  for (int i = 0; bad == -1 && i < info->rank; i++)
    if (info->dims[i] >= 0 && info->dims[i] != v->dims[i]) bad = i;
  if (bad == -1) return NULL; /* the shape text below is made only for the error (this runs on every call) */
  size_t n = 0;
  n += (size_t)snprintf(want, sizeof want, "[");
  for (int i = 0; i < info->rank && n < sizeof want; i++) {
    if (info->dims[i] >= 0) n += (size_t)snprintf(want + n, sizeof want - n, "%s%lld", i ? "," : "", (long long)info->dims[i]);
    else n += (size_t)snprintf(want + n, sizeof want - n, "%s%s", i ? "," : "",
                               info->dim_names && info->dim_names[i] ? info->dim_names[i] : "?");
  }
  if (n < sizeof want) snprintf(want + n, sizeof want - n, "]");
  if (bad == -2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input '%s' (index %zu): expected rank %d with shape %s, got shape %s",
                      info->name, index, info->rank, want, oxrt_dims_str(v->dims, v->rank, got, sizeof got));
  return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input '%s' (index %zu): dimension %d must be %lld (shape %s), got shape %s",
                    info->name, index, bad, (long long)info->dims[bad], want, oxrt_dims_str(v->dims, v->rank, got, sizeof got));
}

static oxrt_status *run_impl(oxrt_session *s, const oxrt_run_options *run_options, const char *const *input_names,
                             const oxrt_value *const *inputs, size_t n_inputs, const char *const *output_names,
                             size_t n_outputs, oxrt_value **outputs, const bool *replaceable);

/* `replaceable[i]` (may be NULL): a provided outputs[i] of another type or shape than the result is replaced by a
 * new value instead of failing the run (io_binding.c's own values). */
oxrt_status *oxrt_session_run_ex(oxrt_session *s, const oxrt_run_options *run_options, const char *const *input_names,
                                 const oxrt_value *const *inputs, size_t n_inputs, const char *const *output_names,
                                 size_t n_outputs, oxrt_value **outputs, const bool *replaceable) {
  if (!s || !s->opts.denormal_as_zero)
    return run_impl(s, run_options, input_names, inputs, n_inputs, output_names, n_outputs, outputs, replaceable);
  /* pool workers mirror this thread's mode for each job (threadpool.c) */
  unsigned saved = oxrt_fp_mode_get();
  oxrt_fp_mode_set(saved | OXRT_FP_FLUSH_BITS);
  oxrt_status *st = run_impl(s, run_options, input_names, inputs, n_inputs, output_names, n_outputs, outputs,
                             replaceable);
  oxrt_fp_mode_set(saved);
  return st;
}

oxrt_status *oxrt_session_run(oxrt_session *s, const oxrt_run_options *run_options, const char *const *input_names,
                              const oxrt_value *const *inputs, size_t n_inputs, const char *const *output_names,
                              size_t n_outputs, oxrt_value **outputs) {
  return oxrt_session_run_ex(s, run_options, input_names, inputs, n_inputs, output_names, n_outputs, outputs, NULL);
}

/* Log for one run: its options' level replaces the session's. */
static void run_log(const oxrt_session *s, const oxrt_run_options *ro, oxrt_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void run_log(const oxrt_session *s, const oxrt_run_options *ro, oxrt_log_level level, const char *fmt, ...) {
  oxrt_log_level min = ro && ro->log_level >= 0 ? (oxrt_log_level)ro->log_level : s->opts.log_min;
  if (!s->opts.log_fn || level < min) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  s->opts.log_fn(s->opts.log_user, level, buf);
}

/* Memory plans (exec/mem_plan.h): one per input-shape signature, a few kept; a session whose shapes keep changing
 * stops recording new ones after MEM_PLAN_MAX_RECORDINGS and runs from the pool. */
#define MEM_PLAN_CACHE 8
#define MEM_PLAN_MAX_RECORDINGS 64

/* What the run's tensor sizes depend on: each fed input's id, kind, type and shape (items of containers are not
 * looked at: a replay that departs from its plan falls back to the pool). NULL on out-of-memory: no plan. */
static int64_t *run_signature(const int *in_ids, const oxrt_value *const *inputs, size_t n_inputs, size_t *n_sig) {
  int64_t *sig = malloc((n_inputs * (4 + OXRT_MAX_RANK) + 1) * sizeof *sig);
  if (!sig) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < n_inputs; i++) {
    const oxrt_value *v = inputs[i];
    sig[n++] = in_ids[i];
    sig[n++] = v ? (int64_t)v->kind : -1;
    if (!v) continue;
    sig[n++] = v->kind == OXRT_KIND_TENSOR ? (int64_t)v->dtype : (int64_t)v->n_items;
    sig[n++] = v->kind == OXRT_KIND_TENSOR ? v->rank : 0;
    for (int d = 0; v->kind == OXRT_KIND_TENSOR && d < v->rank; d++) sig[n++] = v->dims[d];
  }
  *n_sig = n;
  return sig;
}

static void release_mem_plan(oxrt_session *s, const oxrt_mem_plan *p) {
  if (!p) return;
  pthread_mutex_lock(&s->pool_lock);
  oxrt_mem_plan_release(p);
  pthread_mutex_unlock(&s->pool_lock);
}

/* Caller-provided outputs: checked before the run where the model declares the type (fail early), and
 * against the result after it, all before any is written, so a mismatch leaves every caller value as it was. */
static bool same_type_shape(const oxrt_value *a, const oxrt_value *b) {
  bool same = a && b && a->kind == OXRT_KIND_TENSOR && b->kind == OXRT_KIND_TENSOR && a->dtype == b->dtype &&
              a->rank == b->rank;
  for (int d = 0; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
  return same;
}

static oxrt_status *check_provided(const oxrt_session *s, const int *want, size_t n, oxrt_value *const *outputs,
                                   oxrt_value *const *results, const bool *replaceable) {
  for (size_t i = 0; i < n; i++) {
    const oxrt_value *o = outputs[i];
    if (!o || (replaceable && replaceable[i])) continue;
    const char *name = s->model->graph->values[want[i]].name;
    char a[256], b[256];
    if (o->kind != OXRT_KIND_TENSOR || o->read_only)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output '%s' (index %zu): the provided value is %s; only writable "
                        "tensors can receive outputs (oxrt_value_create_tensor, oxrt_value_wrap_mutable_tensor)", name, i,
                        o->read_only ? "a read-only tensor" : oxrt_value_describe(o, a, sizeof a));
    for (size_t j = 0; j < i; j++)
      if (outputs[j] == o)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output '%s' (index %zu): the same value is provided for output %zu",
                          name, i, j);
    if (!results) {
      for (size_t k = 0; k < s->n_outputs; k++) {
        const oxrt_value_info *info = &s->output_info[k];
        if (s->output_ids[k] != want[i]) continue;
        if (info->kind != OXRT_KIND_UNKNOWN && info->kind != OXRT_KIND_TENSOR)
          return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output '%s' (index %zu) is %s; only tensor outputs can be "
                            "provided", name, i, info->type_string);
        if (info->kind == OXRT_KIND_TENSOR && info->elem_type != OXRT_UNDEFINED && info->elem_type != o->dtype)
          return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output '%s' (index %zu) is %s but the provided value is %s", name,
                            i, info->type_string, oxrt_value_describe(o, a, sizeof a));
      }
      continue;
    }
    const oxrt_value *r = results[i];
    if (!same_type_shape(r, o))
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output '%s' (index %zu): the result is %s but the provided value is "
                        "%s", name, i, oxrt_value_describe(r, a, sizeof a), oxrt_value_describe(o, b, sizeof b));
  }
  return NULL;
}

static oxrt_status *run_impl(oxrt_session *s, const oxrt_run_options *run_options, const char *const *input_names,
                             const oxrt_value *const *inputs, size_t n_inputs, const char *const *output_names,
                             size_t n_outputs, oxrt_value **outputs, const bool *replaceable) {
  if (!s || (n_inputs && (!input_names || !inputs)) || (n_outputs && !outputs))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "NULL argument to oxrt_session_run");
  if (!s->main_plan)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "this session was opened with load_only set and cannot run");
  if (!output_names && n_outputs != s->n_outputs)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output_names is NULL, so n_outputs must be %zu (all outputs), got %zu",
                      s->n_outputs, n_outputs);
  const oxrt_graph *g = s->model->graph;
  int *in_ids = calloc(n_inputs + 1, sizeof(int));
  int *want = calloc(n_outputs + 1, sizeof(int));
  bool *fed = calloc(s->n_inputs + 1, sizeof(bool));
  oxrt_value **tmp = calloc(n_outputs + 1, sizeof *tmp);
  oxrt_status *st = NULL;
  if (!in_ids || !want || !fed || !tmp) {
    st = OXRT_OOM();
    goto out;
  }
  for (size_t i = 0; i < n_inputs && !st; i++) {
    size_t k = 0;
    while (k < s->n_inputs && strcmp(s->input_info[k].name, input_names[i] ? input_names[i] : "") != 0) k++;
    if (k == s->n_inputs) {
      /* Feeding an initializer that is also a graph input overrides it (ONNX semantics). */
      int id = input_names[i] ? oxrt_graph_find((oxrt_graph *)g, input_names[i]) : -1;
      if (id >= 0 && g->values[id].is_input) {
        in_ids[i] = id;
        continue;
      }
      char names[1024];
      size_t n = 0;
      names[0] = 0;
      for (size_t j = 0; j < s->n_inputs && n < sizeof names; j++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%s'%s'", j ? ", " : "", s->input_info[j].name);
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "model has no input named '%s'; its inputs are: %s",
                      input_names[i] ? input_names[i] : "(null)", s->n_inputs ? names : "(none)");
      break;
    }
    if (fed[k]) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input '%s' is fed twice", input_names[i]);
      break;
    }
    fed[k] = true;
    in_ids[i] = s->input_ids[k];
    st = check_input(&s->input_info[k], k, inputs[i]);
  }
  for (size_t k = 0; k < s->n_inputs && !st; k++) {
    if (fed[k]) continue;
    if (s->input_info[k].kind == OXRT_KIND_OPTIONAL) continue; /* absent optional input */
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input '%s' (index %zu, %s) was not fed", s->input_info[k].name, k,
                    s->input_info[k].type_string);
  }
  for (size_t i = 0; i < n_outputs && !st; i++) {
    if (!output_names) {
      want[i] = s->output_ids[i];
      continue;
    }
    size_t k = 0;
    while (k < s->n_outputs && strcmp(s->output_info[k].name, output_names[i] ? output_names[i] : "") != 0) k++;
    if (k == s->n_outputs) {
      char names[1024];
      size_t n = 0;
      names[0] = 0;
      for (size_t j = 0; j < s->n_outputs && n < sizeof names; j++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%s'%s'", j ? ", " : "", s->output_info[j].name);
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "model has no output named '%s'; its outputs are: %s",
                      output_names[i] ? output_names[i] : "(null)", names);
      break;
    }
    want[i] = s->output_ids[k];
  }
  if (!st) st = check_provided(s, want, n_outputs, outputs, NULL, replaceable);
  oxrt_run_state rs;
  oxrt_run_state_init(&rs, run_options);
  if (!st) st = oxrt_run_state_check(&rs);
  if (st) goto out;
  int64_t t0 = oxrt_now_ns();
  run_log(s, run_options, OXRT_LOG_VERBOSE, "run%s%s%s started", run_options && run_options->tag[0] ? " '" : "",
          run_options ? run_options->tag : "", run_options && run_options->tag[0] ? "'" : "");
  size_t n_sig = 0;
  int64_t *sig = s->mem_plan_on ? run_signature(in_ids, inputs, n_inputs, &n_sig) : NULL;
  const oxrt_mem_plan *mem_plan = NULL;
  bool record = false;
  pthread_mutex_lock(&s->pool_lock);
  oxrt_buffer_pool *pool = s->cached_pool;
  s->cached_pool = NULL;
  if (sig) {
    mem_plan = oxrt_mem_plan_acquire(&s->mem_plans, sig, n_sig);
    record = !mem_plan && s->mem_recordings < MEM_PLAN_MAX_RECORDINGS;
  }
  pthread_mutex_unlock(&s->pool_lock);
  if (!pool) pool = calloc(1, sizeof *pool);
  if (!pool) {
    st = OXRT_OOM(); /* without a pool the run's byte limit could not be kept */
    release_mem_plan(s, mem_plan);
    free(sig);
    goto out;
  }
  pool->run_bytes = 0;
  pool->run = &rs;
  if (!oxrt_mem_run_begin(&pool->mem, mem_plan, record)) { /* no memory for the arena: this run uses the pool */
    release_mem_plan(s, mem_plan);
    mem_plan = NULL;
  }
  oxrt_threadpool_run_begin(s->pool);
  st = oxrt_frame_run(s, s->main_plan, NULL, pool, in_ids, inputs, (int)n_inputs, want, (int)n_outputs, tmp);
  oxrt_threadpool_run_end(s->pool);
  pool->run = NULL;
  oxrt_mem_plan *recorded = oxrt_mem_run_end(&pool->mem, !st, sig, n_sig);
  free(sig);
  /* a new plan's arena replaces what the pool collected; otherwise the buffers this run did not touch go */
  oxrt_pool_trim(pool, !recorded);
  pthread_mutex_lock(&s->pool_lock);
  if (mem_plan) oxrt_mem_plan_release(mem_plan);
  size_t arena = oxrt_mem_plan_arena_bytes(recorded), unshared = oxrt_mem_plan_total_bytes(recorded);
  if (recorded) {
    s->mem_recordings++;
    oxrt_mem_plan_push(&s->mem_plans, recorded, MEM_PLAN_CACHE);
  }
  pthread_mutex_unlock(&s->pool_lock);
  if (recorded)
    oxrt_session_log(s, OXRT_LOG_INFO, "memory plan recorded for this input shape: arena %.1f MB (%.1f MB unshared)",
                     arena / 1048576.0, unshared / 1048576.0);
  if (!st) st = check_provided(s, want, n_outputs, outputs, tmp, replaceable);
  for (size_t i = 0; i < n_outputs; i++) {
    if (!outputs[i] || !tmp[i]) continue;
    if (!st && replaceable && replaceable[i] && !same_type_shape(tmp[i], outputs[i])) {
      outputs[i] = tmp[i]; /* the binding frees its old value */
      tmp[i] = NULL;
      continue;
    }
    if (!st) st = oxrt_value_copy_into(outputs[i], tmp[i]); /* only fails on out-of-memory for strings */
    /* the result's buffer goes back to the pool: bound outputs run without new tensor memory */
    if (tmp[i]->owns_data && tmp[i]->dtype != OXRT_STRING && tmp[i]->nbytes >= 256) {
      oxrt_pool_give(pool, tmp[i]->data, (tmp[i]->nbytes + 63) & ~(size_t)63);
      tmp[i]->data = NULL;
      tmp[i]->owns_data = false;
    }
    oxrt_value_free(tmp[i]);
    tmp[i] = NULL;
  }
  if (run_options && oxrt_run_options_get_config_entry(run_options, "memory.enable_memory_arena_shrinkage")) {
    oxrt_pool_clear(pool);
    free(pool);
    pool = NULL;
  }
  if (pool) {
    pthread_mutex_lock(&s->pool_lock);
    if (!s->cached_pool) {
      s->cached_pool = pool;
      pool = NULL;
    }
    pthread_mutex_unlock(&s->pool_lock);
    if (pool) {
      oxrt_pool_clear(pool);
      free(pool);
    }
  }
  if (!st)
    for (size_t i = 0; i < n_outputs; i++) {
      if (tmp[i]) outputs[i] = tmp[i]; /* tmp[i] is left only where outputs[i] was NULL */
      tmp[i] = NULL;
    }
  for (size_t i = 0; st && i < n_outputs; i++) oxrt_value_free(tmp[i]);
  run_log(s, run_options, st ? OXRT_LOG_WARNING : OXRT_LOG_VERBOSE, "run%s%s%s %s after %.3f ms%s%s",
          run_options && run_options->tag[0] ? " '" : "", run_options ? run_options->tag : "",
          run_options && run_options->tag[0] ? "'" : "", st ? "failed" : "finished", (oxrt_now_ns() - t0) / 1e6,
          st ? ": " : "", st ? oxrt_status_get_message(st) : "");
out:
  free(in_ids);
  free(want);
  free(fed);
  free(tmp);
  return st;
}
