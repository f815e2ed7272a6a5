/* scratch.c - per-thread scratch blocks (see scratch.h). */
#include "scratch.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
  size_t cap[OXRT_SCRATCH_SLOTS];
  void *p[OXRT_SCRATCH_SLOTS];
} thread_scratch;

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_key_ok;

/* From the C library, not the tensor allocator hooks: a thread keeps its blocks until it exits, and blocks counted
 * as tensor memory would keep oxrt_set_allocator refusing after every session and value was freed. */
static void *block_alloc(size_t nbytes) {
  void *p = NULL;
  if (nbytes > SIZE_MAX - 63) return NULL;
  return posix_memalign(&p, 64, (nbytes + 63) & ~(size_t)63) == 0 ? p : NULL;
}

static void scratch_free(void *v) {
  thread_scratch *s = v;
  for (int i = 0; s && i < OXRT_SCRATCH_SLOTS; i++) free(s->p[i]);
  free(s);
}
static void key_init(void) { g_key_ok = pthread_key_create(&g_key, scratch_free) == 0; }

void *oxrt_scratch_get(oxrt_scratch_slot slot, size_t nbytes) {
  if (slot < 0 || slot >= OXRT_SCRATCH_SLOTS) return NULL;
  pthread_once(&g_once, key_init);
  if (!g_key_ok) return NULL;
  thread_scratch *s = pthread_getspecific(g_key);
  if (!s) {
    if (!(s = calloc(1, sizeof *s))) return NULL;
    if (pthread_setspecific(g_key, s) != 0) {
      free(s);
      return NULL;
    }
  }
  if (s->cap[slot] < nbytes) {
    free(s->p[slot]);
    s->cap[slot] = 0;
    if (!(s->p[slot] = block_alloc(nbytes ? nbytes : 1))) return NULL;
    s->cap[slot] = nbytes;
  }
  return s->p[slot];
}
