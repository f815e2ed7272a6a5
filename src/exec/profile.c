/* profile.c - records node timings and writes them as a Chrome trace (the format
 * ONNX Runtime's profiler writes, so the same viewers read both). */
#include "profile.h"
#include "engine.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t oxrt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void oxrt_profiler_init(oxrt_profiler *p, int enabled) {
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->lock, NULL);
  p->enabled = enabled;
  p->t0_ns = oxrt_now_ns();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  p->t0_epoch_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void oxrt_profiler_free(oxrt_profiler *p) {
  free(p->recs);
  p->recs = NULL;
  p->n = p->cap = 0;
  pthread_mutex_destroy(&p->lock);
}

void oxrt_profiler_add(oxrt_profiler *p, const char *node_name, const char *op_type, int64_t start_ns,
                       int64_t end_ns) {
  pthread_mutex_lock(&p->lock);
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 1024;
    oxrt_profile_record *r = realloc(p->recs, cap * sizeof *r);
    if (!r) {
      pthread_mutex_unlock(&p->lock);
      return;
    }
    p->recs = r;
    p->cap = cap;
  }
  p->recs[p->n++] = (oxrt_profile_record){node_name, op_type, start_ns - p->t0_ns, end_ns - start_ns};
  pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------- public API */
oxrt_status *oxrt_session_options_enable_profiling(oxrt_session_options *o, const char *file_prefix) {
  if (!o) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "options is NULL");
  const char *pre = file_prefix && *file_prefix ? file_prefix : "oxrt_profile";
  if (strlen(pre) >= sizeof o->profile_prefix - 32)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "profile file prefix is longer than %zu bytes",
                      sizeof o->profile_prefix - 32);
  strcpy(o->profile_prefix, pre);
  o->profiling = 1;
  return NULL;
}

oxrt_status *oxrt_session_options_disable_profiling(oxrt_session_options *o) {
  if (!o) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "options is NULL");
  o->profiling = 0;
  return NULL;
}

size_t oxrt_session_get_profile_count(oxrt_session *s) {
  if (!s) return 0;
  pthread_mutex_lock(&s->profiler.lock);
  size_t n = s->profiler.n;
  pthread_mutex_unlock(&s->profiler.lock);
  return n;
}

oxrt_status *oxrt_session_get_profile_event(oxrt_session *s, size_t index, oxrt_profile_event *out) {
  if (!s || !out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "NULL argument");
  pthread_mutex_lock(&s->profiler.lock);
  oxrt_status *st = NULL;
  if (index >= s->profiler.n)
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "profile event %zu requested, the session has %zu", index,
                    s->profiler.n);
  else {
    const oxrt_profile_record *r = &s->profiler.recs[index];
    oxrt_profile_event e = {sizeof e, r->node_name, r->op_type, r->start_ns, r->duration_ns};
    st = oxrt_fill_sized(out, &e, sizeof e, "oxrt_profile_event");
  }
  pthread_mutex_unlock(&s->profiler.lock);
  return st;
}

int64_t oxrt_session_get_profiling_start_time_ns(const oxrt_session *s) { return s ? s->profiler.t0_epoch_ns : 0; }

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

oxrt_status *oxrt_session_end_profiling(oxrt_session *s, char *path, size_t path_cap) {
  if (!s || !path || !path_cap) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "NULL argument");
  if (!s->profiler.enabled)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "profiling is not enabled on this session "
                                                 "(oxrt_session_options_enable_profiling)");
  time_t now = time(NULL);
  struct tm tmv;
  localtime_r(&now, &tmv);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%d_%H-%M-%S", &tmv);
  /* the name is built aside: on any error the caller's buffer stays untouched */
  char name[sizeof s->opts.profile_prefix + 64];
  int n = snprintf(name, sizeof name, "%s_%s.json", s->opts.profile_prefix, stamp);
  if (n < 0 || (size_t)n >= path_cap)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "path buffer of %zu bytes is too small for the profile's name (%d bytes)",
                      path_cap, n + 1);
  FILE *f = fopen(name, "w");
  if (!f) return oxrt_error(OXRT_ERR_IO, "cannot write profile '%s'", name);
  pthread_mutex_lock(&s->profiler.lock);
  fputs("[\n", f);
  for (size_t i = 0; i < s->profiler.n; i++) {
    const oxrt_profile_record *r = &s->profiler.recs[i];
    fputs("{\"cat\":\"Node\",\"pid\":1,\"tid\":1,\"ph\":\"X\",\"name\":", f);
    json_string(f, r->node_name);
    fprintf(f, ",\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"op_name\":", r->start_ns / 1e3, r->duration_ns / 1e3);
    json_string(f, r->op_type);
    fprintf(f, "}}%s\n", i + 1 < s->profiler.n ? "," : "");
  }
  fputs("]\n", f);
  const bool written = !ferror(f) && fflush(f) == 0;
  if (written) s->profiler.n = 0; /* like ONNX Runtime: a profile covers the runs since the last one */
  pthread_mutex_unlock(&s->profiler.lock);
  if (fclose(f) != 0 || !written) {
    remove(name); /* a truncated profile is worse than none; the events stay for the next try */
    return oxrt_error(OXRT_ERR_IO, "cannot write profile '%s'", name);
  }
  memcpy(path, name, (size_t)n + 1);
  return NULL;
}
