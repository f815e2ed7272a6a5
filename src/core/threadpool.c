/* threadpool.c - a small pthread pool: one job at a time, chunks claimed atomically. */
#include "threadpool.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct oxrt_threadpool {
  int nthreads; /* workers + caller */
  pthread_t *workers;
  pthread_mutex_t job_lock; /* held by the thread that owns the current job */
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  unsigned long generation;
  bool stop;
  /* current job */
  oxrt_range_fn fn;
  void *arg;
  size_t n, chunk;
  atomic_size_t next;
  int active; /* workers still inside the job */
};

int oxrt_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void run_chunks(oxrt_threadpool *p) {
  for (;;) {
    size_t b = atomic_fetch_add(&p->next, p->chunk);
    if (b >= p->n) break;
    size_t e = b + p->chunk < p->n ? b + p->chunk : p->n;
    p->fn(p->arg, b, e);
  }
}

static void *worker_main(void *vp) {
  oxrt_threadpool *p = vp;
  unsigned long seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
    if (p->stop) break;
    seen = p->generation;
    pthread_mutex_unlock(&p->mu);
    run_chunks(p);
    pthread_mutex_lock(&p->mu);
    if (--p->active == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

oxrt_threadpool *oxrt_threadpool_create(int threads) {
  if (threads <= 0) threads = oxrt_cpu_count();
  oxrt_threadpool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->nthreads = threads;
  pthread_mutex_init(&p->job_lock, NULL);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  if (threads > 1) {
    p->workers = calloc((size_t)threads - 1, sizeof(pthread_t));
    if (!p->workers) {
      p->nthreads = 1;
      return p;
    }
    for (int i = 0; i < threads - 1; i++) {
      if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
        p->nthreads = i + 1;
        break;
      }
    }
  }
  return p;
}

void oxrt_threadpool_free(oxrt_threadpool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads - 1; i++) pthread_join(p->workers[i], NULL);
  free(p->workers);
  pthread_mutex_destroy(&p->job_lock);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  free(p);
}

int oxrt_threadpool_size(const oxrt_threadpool *p) { return p ? p->nthreads : 1; }

void oxrt_parallel_for(oxrt_threadpool *p, size_t n, size_t grain, oxrt_range_fn fn, void *arg) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  if (!p || p->nthreads <= 1 || n <= grain || pthread_mutex_trylock(&p->job_lock) != 0) {
    fn(arg, 0, n);
    return;
  }
  size_t parts = (size_t)p->nthreads * 4;
  size_t chunk = (n + parts - 1) / parts;
  if (chunk < grain) chunk = grain;
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->arg = arg;
  p->n = n;
  p->chunk = chunk;
  atomic_store(&p->next, 0);
  p->active = p->nthreads - 1;
  p->generation++;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  run_chunks(p);
  pthread_mutex_lock(&p->mu);
  while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
  pthread_mutex_unlock(&p->job_lock);
}
