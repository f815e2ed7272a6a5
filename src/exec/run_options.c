/* run_options.c - oxrt_run_options: tag, log level, terminate flag, time limit, config entries. */
#include "run_options.h"
#include "profile.h"
#include <stdlib.h>
#include <string.h>

oxrt_status *oxrt_run_options_create(oxrt_run_options **out) {
  if (!out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "out is NULL");
  oxrt_run_options *ro = calloc(1, sizeof *ro);
  if (!ro) return OXRT_OOM();
  ro->log_level = -1;
  *out = ro;
  return NULL;
}

void oxrt_run_options_free(oxrt_run_options *ro) {
  if (!ro) return;
  for (size_t i = 0; i < ro->n_config; i++) {
    free(ro->config_keys[i]);
    free(ro->config_values[i]);
  }
  free(ro->config_keys);
  free(ro->config_values);
  free(ro);
}

#define NEED_RO(ro)                                                                                                    \
  if (!(ro)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "run options are NULL")

oxrt_status *oxrt_run_options_set_tag(oxrt_run_options *ro, const char *tag) {
  NEED_RO(ro);
  if (!tag) tag = "";
  size_t n = strlen(tag);
  if (n >= sizeof ro->tag)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "run tag of %zu bytes is too long (at most %zu)", n, sizeof ro->tag - 1);
  memcpy(ro->tag, tag, n + 1);
  return NULL;
}

const char *oxrt_run_options_get_tag(const oxrt_run_options *ro) { return ro ? ro->tag : ""; }

oxrt_status *oxrt_run_options_set_log_level(oxrt_run_options *ro, oxrt_log_level level) {
  NEED_RO(ro);
  if ((int)level < OXRT_LOG_VERBOSE || (int)level > OXRT_LOG_FATAL)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "log level %d is outside 0 (verbose) .. 4 (fatal)", (int)level);
  ro->log_level = (int)level;
  return NULL;
}

oxrt_log_level oxrt_run_options_get_log_level(const oxrt_run_options *ro) {
  return ro && ro->log_level >= 0 ? (oxrt_log_level)ro->log_level : OXRT_LOG_WARNING;
}

oxrt_status *oxrt_run_options_set_terminate(oxrt_run_options *ro, int on) {
  NEED_RO(ro);
  if (on != 0 && on != 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "terminate must be 0 or 1, got %d", on);
  __atomic_store_n(&ro->terminate, on, __ATOMIC_RELEASE);
  return NULL;
}

int oxrt_run_options_get_terminate(const oxrt_run_options *ro) {
  return ro ? __atomic_load_n(&ro->terminate, __ATOMIC_ACQUIRE) : 0;
}

oxrt_status *oxrt_run_options_set_time_limit_ms(oxrt_run_options *ro, int64_t ms) {
  NEED_RO(ro);
  if (ms < 0 || ms > INT64_MAX / 1000000)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "time limit %lld ms is negative or too large", (long long)ms);
  ro->time_limit_ns = ms * 1000000;
  return NULL;
}

oxrt_status *oxrt_run_options_add_config_entry(oxrt_run_options *ro, const char *key, const char *value) {
  NEED_RO(ro);
  if (!key || !*key || !value) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "config entry needs a key and a value");
  char *v = strdup(value);
  if (!v) return OXRT_OOM();
  for (size_t i = 0; i < ro->n_config; i++)
    if (!strcmp(ro->config_keys[i], key)) {
      free(ro->config_values[i]);
      ro->config_values[i] = v;
      return NULL;
    }
  char *k = strdup(key);
  char **nk = k ? realloc(ro->config_keys, sizeof(char *) * (ro->n_config + 1)) : NULL;
  if (nk) ro->config_keys = nk;
  char **nv = nk ? realloc(ro->config_values, sizeof(char *) * (ro->n_config + 1)) : NULL;
  if (nv) ro->config_values = nv;
  if (!nv) {
    free(k);
    free(v);
    return OXRT_OOM();
  }
  ro->config_keys[ro->n_config] = k;
  ro->config_values[ro->n_config++] = v;
  return NULL;
}

const char *oxrt_run_options_get_config_entry(const oxrt_run_options *ro, const char *key) {
  for (size_t i = 0; ro && key && i < ro->n_config; i++)
    if (!strcmp(ro->config_keys[i], key)) return ro->config_values[i];
  return NULL;
}

/* ---------------------------------------------------------------- run state */
void oxrt_run_state_init(oxrt_run_state *rs, const oxrt_run_options *ro) {
  rs->ro = ro;
  rs->deadline_ns = ro && ro->time_limit_ns ? oxrt_now_ns() + ro->time_limit_ns : 0;
  rs->cut = 0;
}

bool oxrt_run_state_stop_latched(oxrt_run_state *rs) {
  if (!rs) return false;
  if (__atomic_load_n(&rs->cut, __ATOMIC_RELAXED)) return true;
  if (!oxrt_run_state_stopped(rs)) return false;
  __atomic_store_n(&rs->cut, 1, __ATOMIC_RELAXED);
  return true;
}

bool oxrt_run_state_was_cut(const oxrt_run_state *rs) { return rs && __atomic_load_n(&rs->cut, __ATOMIC_RELAXED); }

bool oxrt_run_state_stopped(const oxrt_run_state *rs) {
  if (!rs) return false;
  if (rs->ro && __atomic_load_n(&rs->ro->terminate, __ATOMIC_ACQUIRE)) return true;
  return rs->deadline_ns && oxrt_now_ns() > rs->deadline_ns;
}

oxrt_status *oxrt_run_state_check(const oxrt_run_state *rs) {
  if (!rs) return NULL;
  if (rs->ro && __atomic_load_n(&rs->ro->terminate, __ATOMIC_ACQUIRE))
    return oxrt_error(OXRT_ERR_CANCELLED, "run%s%s%s was terminated (oxrt_run_options_set_terminate)",
                      rs->ro->tag[0] ? " '" : "", rs->ro->tag, rs->ro->tag[0] ? "'" : "");
  if (rs->deadline_ns && oxrt_now_ns() > rs->deadline_ns)
    return oxrt_error(OXRT_ERR_CANCELLED, "run%s%s%s exceeded its time limit of %lld ms", rs->ro->tag[0] ? " '" : "",
                      rs->ro->tag, rs->ro->tag[0] ? "'" : "", (long long)(rs->ro->time_limit_ns / 1000000));
  return NULL;
}
