/* threadpool.c - a small pthread pool: one job at a time, chunks claimed atomically.
 *
 * Hand-off between back-to-back parallel_for calls (a network runs hundreds per inference) is the cost that
 * matters: a worker that has just finished a job spins for a few microseconds watching for the next one before
 * it sleeps on the condition variable, and the caller spins briefly for stragglers before it sleeps. Spins are
 * bounded in time, so once a run is over every worker is asleep within microseconds. Sleeping and waking use
 * the Dekker pattern on seq_cst atomics (announce "I sleep", re-check) so no wake-up is lost.
 *
 * Workers join a job explicitly (a CAS on the job word, which also holds the generation and a "closed" bit),
 * and the caller, once it has run out of chunks itself, closes the job and waits only for the workers that
 * joined. Tiny jobs thus never wait for a worker to wake up (on a loaded machine that is a scheduler slice):
 * a late worker finds the job closed and goes back to waiting. A worker reads the job's parameters only after
 * joining, while the caller cannot have moved on. */
#include "threadpool.h"
#include "fpmode.h"
#include <pthread.h>
#include <sched.h>
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
/* Without a pool (or with a busy one) a loop with a stop check runs in about this many slices, so that a long
 * kernel at one thread can still be cancelled part-way. */
#define SERIAL_SLICES 16

/* The job word: generation << 32 | CLOSED | workers inside the job. */
#define JOB_CLOSED ((uint64_t)1 << 31)
#define JOB_COUNT ((uint64_t)JOB_CLOSED - 1)
#define JOB_GEN(w) ((w) >> 32)

struct oxrt_threadpool {
  int nthreads; /* workers + caller */
  pthread_t *workers;
  pthread_mutex_t job_lock; /* held by the thread that owns the current job */
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  _Atomic uint64_t job;
  atomic_bool stop;
  atomic_int sleepers;       /* workers asleep (or about to be) on `wake` */
  atomic_bool caller_sleeps; /* the caller is asleep (or about to be) on `done` */
  atomic_int active_runs;    /* runs in progress (oxrt_threadpool_run_begin): idle workers stay awake */
  /* current job: written by the caller only while the job is closed and no worker is inside */
  oxrt_range_fn fn;
  void *arg;
  size_t n, chunk;
  unsigned fp_mode; /* the caller's floating-point control state, mirrored by workers for the job */
  oxrt_stop_check check; /* the caller's stop check; fn NULL when none */
  atomic_size_t next;
};

static _Thread_local const oxrt_stop_check *tl_check;

const oxrt_stop_check *oxrt_parallel_stop_swap(const oxrt_stop_check *c) {
  const oxrt_stop_check *prev = tl_check;
  tl_check = c && c->fn ? c : NULL;
  return prev;
}

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
    if (p->check.fn && p->check.fn(p->check.arg)) break; /* cancelled: hand out no more chunks */
    size_t b = atomic_fetch_add(&p->next, p->chunk);
    if (b >= p->n) break;
    size_t e = b + p->chunk < p->n ? b + p->chunk : p->n;
    p->fn(p->arg, b, e);
  }
}

/* Spins up to SPIN_NS for cond(p); true when it became true. With `hold`, keeps watching past SPIN_NS while a run
 * is active on the pool, yielding the core between looks so that a loaded machine's other threads still run. */
static bool spin_until(oxrt_threadpool *p, bool (*cond)(oxrt_threadpool *, uint64_t), uint64_t v, bool hold) {
  uint64_t t0 = 0;
  for (unsigned i = 1;; i++) {
    if (cond(p, v)) return true;
    CPU_RELAX();
    if ((i & 63) == 0) {
      uint64_t t = now_ns();
      if (!t0) t0 = t;
      else if (t - t0 > SPIN_NS) {
        if (!hold || atomic_load(&p->active_runs) <= 0) return false;
        sched_yield();
      }
    }
  }
}

static bool has_new_job(oxrt_threadpool *p, uint64_t seen) {
  return JOB_GEN(atomic_load(&p->job)) != seen || atomic_load(&p->stop);
}
static bool workers_out(oxrt_threadpool *p, uint64_t unused) {
  (void)unused;
  return (atomic_load(&p->job) & JOB_COUNT) == 0;
}

static void *worker_main(void *vp) {
  oxrt_threadpool *p = vp;
  uint64_t seen = 0;
  for (;;) {
    if (!spin_until(p, has_new_job, seen, true)) {
      pthread_mutex_lock(&p->mu);
      atomic_fetch_add(&p->sleepers, 1);
      while (!has_new_job(p, seen)) pthread_cond_wait(&p->wake, &p->mu);
      atomic_fetch_sub(&p->sleepers, 1);
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_load(&p->stop)) break;
    uint64_t w = atomic_load(&p->job);
    seen = JOB_GEN(w);
    bool joined = false;
    while (!(w & JOB_CLOSED) && JOB_GEN(w) == seen && !joined) joined = atomic_compare_exchange_weak(&p->job, &w, w + 1);
    if (!joined) continue; /* the job was over before this worker came; a newer one is seen next round */
    if (oxrt_fp_mode_get() != p->fp_mode) oxrt_fp_mode_set(p->fp_mode);
    run_chunks(p);
    if ((atomic_fetch_sub(&p->job, 1) & JOB_COUNT) == 1 && atomic_load(&p->caller_sleeps)) {
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
  atomic_init(&p->job, JOB_CLOSED);
  atomic_init(&p->stop, false);
  atomic_init(&p->sleepers, 0);
  atomic_init(&p->caller_sleeps, false);
  atomic_init(&p->active_runs, 0);
  atomic_init(&p->next, 0);
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

void oxrt_threadpool_run_begin(oxrt_threadpool *p) {
  if (p) atomic_fetch_add(&p->active_runs, 1);
}

void oxrt_threadpool_run_end(oxrt_threadpool *p) {
  if (p) atomic_fetch_sub(&p->active_runs, 1);
}

/* The calling thread alone; with a stop check, in slices so that a long loop can stop part-way. */
static void run_serial(size_t n, size_t grain, oxrt_range_fn fn, void *arg, const oxrt_stop_check *c) {
  if (!c || n <= grain) {
    fn(arg, 0, n);
    return;
  }
  size_t slice = (n + SERIAL_SLICES - 1) / SERIAL_SLICES;
  if (slice < grain) slice = grain;
  for (size_t b = 0; b < n && !c->fn(c->arg); b += slice) fn(arg, b, n - b < slice ? n : b + slice);
}

void oxrt_parallel_for(oxrt_threadpool *p, size_t n, size_t grain, oxrt_range_fn fn, void *arg) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  const oxrt_stop_check *c = tl_check;
  if (c && c->fn(c->arg)) return;
  if (!p || p->nthreads <= 1 || n <= grain || pthread_mutex_trylock(&p->job_lock) != 0) {
    run_serial(n, grain, fn, arg, c);
    return;
  }
  size_t parts = (size_t)p->nthreads * 4;
  size_t chunk = (n + parts - 1) / parts;
  if (chunk < grain) chunk = grain;
  /* the previous job is closed and every worker has left it, so the fields are ours to write */
  p->fn = fn;
  p->arg = arg;
  p->n = n;
  p->chunk = chunk;
  p->fp_mode = oxrt_fp_mode_get();
  p->check = c ? *c : (oxrt_stop_check){NULL, NULL};
  atomic_store(&p->next, 0);
  atomic_store(&p->job, (JOB_GEN(atomic_load(&p->job)) + 1) << 32); /* publish: open, nobody inside */
  if (atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
  }
  run_chunks(p);
  /* no chunk is left to hand out: close the job to latecomers and wait for the workers inside */
  if (atomic_fetch_or(&p->job, JOB_CLOSED) & JOB_COUNT && !spin_until(p, workers_out, 0, false)) {
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_sleeps, true);
    while (!workers_out(p, 0)) pthread_cond_wait(&p->done, &p->mu);
    atomic_store(&p->caller_sleeps, false);
    pthread_mutex_unlock(&p->mu);
  }
  pthread_mutex_unlock(&p->job_lock);
}
