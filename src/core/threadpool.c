/* threadpool.c - a small pthread pool: one job at a time, chunks claimed atomically.
 *
 * Hand-off between back-to-back parallel_for calls (a network runs hundreds per inference) is the cost that
 * matters: a worker that has just finished a job spins for a few microseconds watching for the next one before
 * it sleeps on the condition variable, and the caller spins briefly for stragglers before it sleeps. Spins are
 * bounded in time, so once a run is over every worker is asleep within microseconds. Sleeping and waking use
 * the Dekker pattern on seq_cst atomics (announce "I sleep", re-check) so no wake-up is lost. */
#include "threadpool.h"
#include "fpmode.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_NS 10000 /* how long an idle worker or a waiting caller spins before sleeping */

struct oxrt_threadpool {
  int nthreads; /* workers + caller */
  pthread_t *workers;
  pthread_mutex_t job_lock; /* held by the thread that owns the current job */
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  atomic_ulong generation; /* bumped to publish a job */
  atomic_bool stop;
  atomic_int sleepers;       /* workers asleep (or about to be) on `wake` */
  atomic_bool caller_sleeps; /* the caller is asleep (or about to be) on `done` */
  /* current job: written by the caller only while no worker is inside a job */
  oxrt_range_fn fn;
  void *arg;
  size_t n, chunk;
  unsigned fp_mode; /* the caller's floating-point control state, mirrored by workers for the job */
  atomic_size_t next;
  atomic_int active; /* workers still inside the job */
};

int oxrt_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void run_chunks(oxrt_threadpool *p) {
  for (;;) {
    size_t b = atomic_fetch_add(&p->next, p->chunk);
    if (b >= p->n) break;
    size_t e = b + p->chunk < p->n ? b + p->chunk : p->n;
    p->fn(p->arg, b, e);
  }
}

/* Spins up to SPIN_NS for cond(p); true when it became true. */
static bool spin_until(oxrt_threadpool *p, bool (*cond)(oxrt_threadpool *, unsigned long), unsigned long v) {
  uint64_t t0 = 0;
  for (unsigned i = 1;; i++) {
    if (cond(p, v)) return true;
    CPU_RELAX();
    if ((i & 63) == 0) {
      uint64_t t = now_ns();
      if (!t0) t0 = t;
      else if (t - t0 > SPIN_NS) return false;
    }
  }
}

static bool has_new_job(oxrt_threadpool *p, unsigned long seen) {
  return atomic_load(&p->generation) != seen || atomic_load(&p->stop);
}
static bool job_done(oxrt_threadpool *p, unsigned long unused) {
  (void)unused;
  return atomic_load(&p->active) == 0;
}

static void *worker_main(void *vp) {
  oxrt_threadpool *p = vp;
  unsigned long seen = 0;
  for (;;) {
    if (!spin_until(p, has_new_job, seen)) {
      pthread_mutex_lock(&p->mu);
      atomic_fetch_add(&p->sleepers, 1);
      while (!has_new_job(p, seen)) pthread_cond_wait(&p->wake, &p->mu);
      atomic_fetch_sub(&p->sleepers, 1);
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_load(&p->stop)) break;
    seen = atomic_load(&p->generation);
    if (oxrt_fp_mode_get() != p->fp_mode) oxrt_fp_mode_set(p->fp_mode);
    run_chunks(p);
    if (atomic_fetch_sub(&p->active, 1) == 1 && atomic_load(&p->caller_sleeps)) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
  }
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
  atomic_init(&p->generation, 0);
  atomic_init(&p->stop, false);
  atomic_init(&p->sleepers, 0);
  atomic_init(&p->caller_sleeps, false);
  atomic_init(&p->next, 0);
  atomic_init(&p->active, 0);
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
  atomic_store(&p->stop, true);
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
  /* every worker has left the previous job (active == 0), so the fields are ours to write */
  p->fn = fn;
  p->arg = arg;
  p->n = n;
  p->chunk = chunk;
  p->fp_mode = oxrt_fp_mode_get();
  atomic_store(&p->next, 0);
  atomic_store(&p->active, p->nthreads - 1);
  atomic_fetch_add(&p->generation, 1);
  if (atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
  }
  run_chunks(p);
  if (!spin_until(p, job_done, 0)) {
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_sleeps, true);
    while (atomic_load(&p->active) > 0) pthread_cond_wait(&p->done, &p->mu);
    atomic_store(&p->caller_sleeps, false);
    pthread_mutex_unlock(&p->mu);
  }
  pthread_mutex_unlock(&p->job_lock);
}
