/* threadpool.h - intra-op thread pool driving parallel_for; threads sleep when idle. */
#ifndef OXRT_CORE_THREADPOOL_H
#define OXRT_CORE_THREADPOOL_H
#include <stdbool.h>
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
 * run holds it) the work runs on the calling thread.
 * While the calling thread has a stop check installed (oxrt_parallel_stop_swap) and it answers true, chunks
 * not yet started are skipped: the caller must then treat the results as incomplete (the executor reports the
 * node as cancelled). */
void oxrt_parallel_for(oxrt_threadpool *p, size_t n, size_t grain, oxrt_range_fn fn, void *arg);
int oxrt_cpu_count(void);
/* Brackets a run (a whole inference): meanwhile idle workers keep watching for the next loop instead of sleeping
 * after their short spin. A network's loops are separated by serial work longer than that spin, and waking a
 * sleeping worker costs tens of microseconds per loop (ONNX Runtime's pool spins through a run the same way). */
void oxrt_threadpool_run_begin(oxrt_threadpool *p);
void oxrt_threadpool_run_end(oxrt_threadpool *p);

/* A cancellation check consulted by oxrt_parallel_for between chunks; once it has answered true it must keep
 * answering true (the executor latches it per run). */
typedef struct oxrt_stop_check {
  bool (*fn)(void *arg);
  void *arg;
} oxrt_stop_check;
/* Installs `c` (NULL: none) for parallel loops started by the calling thread; returns the previous one, which the
 * caller puts back when done. */
const oxrt_stop_check *oxrt_parallel_stop_swap(const oxrt_stop_check *c);

#endif
