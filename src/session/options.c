/* options.c - oxrt_session_options: what a session is created with (the struct lives in exec/engine.h). */
#include "../exec/engine.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

oxrt_status *oxrt_session_options_create(oxrt_session_options **out) {
  if (!out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "out is NULL");
  oxrt_session_options *o = calloc(1, sizeof *o);
  if (!o) return OXRT_OOM();
  o->opt_level = OXRT_OPT_ALL;
  o->log_min = OXRT_LOG_WARNING;
  *out = o;
  return NULL;
}
void oxrt_session_options_free(oxrt_session_options *o) {
  if (!o) return;
  oxrt_thread_pool_free(o->shared_pool);
  free(o);
}
#define NEED_OPTS(o)                                                                                                   \
  if (!(o)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "session options are NULL")
oxrt_status *oxrt_session_options_set_intra_op_threads(oxrt_session_options *o, int threads) {
  NEED_OPTS(o);
  if (threads < 0 || threads > 1024)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "intra-op threads must be 0 (one per core) to 1024, got %d", threads);
  o->threads = threads;
  return NULL;
}
oxrt_status *oxrt_session_options_set_opt_level(oxrt_session_options *o, oxrt_opt_level level) {
  NEED_OPTS(o);
  if (level != OXRT_OPT_DISABLE && level != OXRT_OPT_BASIC && level != OXRT_OPT_EXTENDED && level != OXRT_OPT_ALL)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "optimization level %d is not one of 0 (disable), 1 (basic), "
                      "2 (extended), 99 (all)", (int)level);
  o->opt_level = level;
  o->opt_level_set = 1;
  return NULL;
}
static oxrt_status *flag_arg(int v, const char *what) {
  if (v != 0 && v != 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%s must be 0 or 1, got %d", what, v);
  return NULL;
}
oxrt_status *oxrt_session_options_set_load_only(oxrt_session_options *o, int load_only) {
  NEED_OPTS(o);
  OXRT_TRY(flag_arg(load_only, "load_only"));
  o->load_only = load_only;
  return NULL;
}
oxrt_status *oxrt_session_options_set_denormal_as_zero(oxrt_session_options *o, int on) {
  NEED_OPTS(o);
  OXRT_TRY(flag_arg(on, "denormal_as_zero"));
  o->denormal_as_zero = on;
  return NULL;
}
oxrt_status *oxrt_session_options_set_memory_pattern(oxrt_session_options *o, int on) {
  NEED_OPTS(o);
  OXRT_TRY(flag_arg(on, "memory_pattern"));
  o->mem_pattern = on;
  o->mem_pattern_set = 1;
  return NULL;
}
oxrt_status *oxrt_session_options_set_thread_pool(oxrt_session_options *o, oxrt_thread_pool *p) {
  NEED_OPTS(o);
  oxrt_thread_pool_retain(p);
  oxrt_thread_pool_free(o->shared_pool);
  o->shared_pool = p;
  return NULL;
}
oxrt_status *oxrt_session_options_set_node_output_callback(oxrt_session_options *o, oxrt_node_output_fn fn,
                                                          void *user) {
  NEED_OPTS(o);
  o->node_output_fn = fn;
  o->node_output_user = user;
  return NULL;
}
oxrt_status *oxrt_session_options_set_limit(oxrt_session_options *o, oxrt_limit which, uint64_t value) {
  if (!o) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "options are NULL");
  return oxrt_limit_set(&o->limits, which, value);
}
uint64_t oxrt_session_options_get_limit(const oxrt_session_options *o, oxrt_limit which) {
  return oxrt_limit_get(o ? &o->limits : NULL, which);
}
oxrt_status *oxrt_session_options_set_log(oxrt_session_options *o, oxrt_log_fn fn, void *user,
                                          oxrt_log_level min_level) {
  NEED_OPTS(o);
  if ((int)min_level < OXRT_LOG_VERBOSE || (int)min_level > OXRT_LOG_FATAL)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "log level %d is outside 0 (verbose) .. 4 (fatal)", (int)min_level);
  o->log_fn = fn;
  o->log_user = user;
  o->log_min = min_level;
  return NULL;
}

oxrt_status *oxrt_session_options_set_optimized_model_path(oxrt_session_options *o, const char *path) {
  if (!o) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "options are NULL");
  if (!path) path = "";
  size_t n = strlen(path);
  if (n >= sizeof o->optimized_model_path)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "optimized model path is %zu bytes long; the limit is %zu", n,
                      sizeof o->optimized_model_path - 1);
  memcpy(o->optimized_model_path, path, n + 1);
  return NULL;
}

oxrt_status *oxrt_session_options_set_disabled_passes(oxrt_session_options *o, const char *names) {
  if (!o) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "options must not be NULL");
  if (!names) names = "";
  if (strlen(names) >= sizeof o->disabled_passes)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "disabled pass list is %zu bytes; at most %zu", strlen(names),
                      sizeof o->disabled_passes - 1);
  /* every name must be a pass: a misspelt name would silently disable nothing */
  for (const char *p = names; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    bool known = len == 0;
    for (size_t i = 0; !known && oxrt_opt_pass_info(i, NULL, NULL); i++) {
      const char *n = oxrt_opt_pass_info(i, NULL, NULL);
      known = strlen(n) == len && !strncmp(n, p, len);
    }
    if (!known) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "no optimizer pass named '%.*s' (oxrt optimize --list)", (int)len, p);
    p += len + (e ? 1 : 0);
  }
  snprintf(o->disabled_passes, sizeof o->disabled_passes, "%s", names);
  o->disabled_passes_set = 1;
  return NULL;
}

oxrt_status *oxrt_session_options_set_bf16_compute(oxrt_session_options *o, int mode) {
  NEED_OPTS(o);
  if (mode < 0 || mode > 2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "bf16 compute mode %d: 0 (off), 1 (native) or 2 (emulate)", mode);
  o->bf16_compute = mode;
  return NULL;
}
