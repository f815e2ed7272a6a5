/* threadpool.h - intra-op thread pool driving parallel_for; threads sleep when idle. */
#ifndef OXRT_CORE_THREADPOOL_H
#define OXRT_CORE_THREADPOOL_H
#include <stddef.h>

typedef struct oxrt_threadpool oxrt_threadpool;
/* fn processes items [begin, end). */
typedef void (*oxrt_range_fn)(void *arg, size_t begin, size_t end);

/* `threads` counts the calling thread; 0 means one per online core. */
oxrt_threadpool *oxrt_threadpool_create(int threads);
void oxrt_threadpool_free(oxrt_threadpool *p);
int oxrt_threadpool_size(const oxrt_threadpool *p);
/* Runs fn over [0, n) in chunks of at least `grain` items on the pool and the
 * calling thread; returns when all are done. With a NULL or busy pool (another
 * run holds it) the work runs on the calling thread. */
void oxrt_parallel_for(oxrt_threadpool *p, size_t n, size_t grain, oxrt_range_fn fn, void *arg);
int oxrt_cpu_count(void);

#endif
