/* thread_pool_api.c - intra-op thread pools shared by several sessions (oxrt_thread_pool), reference-counted. */
#include "engine.h"
#include <stdlib.h>

struct oxrt_thread_pool {
  oxrt_threadpool *pool;
  int refs; /* atomic: the creator's reference plus one per session or options holding it */
};

oxrt_status *oxrt_thread_pool_create(int threads, oxrt_thread_pool **out) {
  if (!out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "out is NULL");
  if (threads < 0 || threads > 1024)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "thread pool size must be 0 (one per core) to 1024, got %d", threads);
  oxrt_thread_pool *p = calloc(1, sizeof *p);
  if (!p) return OXRT_OOM();
  p->pool = oxrt_threadpool_create(threads);
  if (!p->pool) {
    free(p);
    return OXRT_OOM();
  }
  p->refs = 1;
  *out = p;
  return NULL;
}

void oxrt_thread_pool_retain(oxrt_thread_pool *p) {
  if (p) __atomic_fetch_add(&p->refs, 1, __ATOMIC_RELAXED);
}

void oxrt_thread_pool_free(oxrt_thread_pool *p) {
  if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  oxrt_threadpool_free(p->pool);
  free(p);
}

int oxrt_thread_pool_get_size(const oxrt_thread_pool *p) { return p ? oxrt_threadpool_size(p->pool) : 0; }

oxrt_threadpool *oxrt_thread_pool_get(oxrt_thread_pool *p) { return p ? p->pool : NULL; }
