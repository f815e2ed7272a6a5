/* profile.h - per-node timing of session runs (enable_profiling), kept on the session. */
#ifndef OXRT_EXEC_PROFILE_H
#define OXRT_EXEC_PROFILE_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct oxrt_profile_record {
  const char *node_name, *op_type; /* owned by the session's graph */
  int64_t start_ns, duration_ns;   /* start relative to the profiler's start */
} oxrt_profile_record;

typedef struct oxrt_profiler {
  int enabled;
  int64_t t0_ns; /* CLOCK_MONOTONIC at session creation */
  int64_t t0_epoch_ns;
  pthread_mutex_t lock;
  oxrt_profile_record *recs;
  size_t n, cap;
} oxrt_profiler;

int64_t oxrt_now_ns(void);
void oxrt_profiler_init(oxrt_profiler *p, int enabled);
void oxrt_profiler_free(oxrt_profiler *p);
/* Thread-safe; drops the record silently when memory runs out (profiling must not fail a run). */
void oxrt_profiler_add(oxrt_profiler *p, const char *node_name, const char *op_type, int64_t start_ns,
                       int64_t end_ns);
#endif
