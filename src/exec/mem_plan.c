/* mem_plan.c - record a run's tensor lifetimes, place them in one arena, replay (mem_plan.h). */
#include "mem_plan.h"
#include "../core/value.h"
#include <stdlib.h>
#include <string.h>

struct oxrt_mem_plan {
  oxrt_mem_plan *next;
  int refs;     /* runs replaying it (the session's lock guards refs, evicted and the list) */
  bool evicted; /* out of the list: freed by its last release */
  size_t n_sig;
  int64_t *sig;
  int n_ev;
  int32_t *ev;
  int n_slots;
  size_t *sizes, *offsets;
  size_t arena_bytes, total_bytes;
};

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

static bool grow(void **p, int *cap, int need, size_t elem) {
  if (need <= *cap) return true;
  int nc = *cap ? *cap * 2 : 256;
  while (nc < need) nc *= 2;
  void *np = realloc(*p, (size_t)nc * elem);
  if (!np) return false;
  *p = np;
  *cap = nc;
  return true;
}

bool oxrt_mem_run_begin(oxrt_mem_run *r, const oxrt_mem_plan *plan, bool record) {
  r->plan = NULL;
  r->recording = false;
  r->diverged = false;
  r->cursor = 0;
  r->n_ev = r->n_slots = 0;
  if (!plan) {
    r->recording = record;
    return true;
  }
  if (plan->arena_bytes > r->arena_bytes) {
    oxrt_aligned_free(r->arena);
    r->arena = oxrt_aligned_alloc(plan->arena_bytes);
    r->arena_bytes = r->arena ? plan->arena_bytes : 0;
    if (!r->arena) return false;
  }
  r->plan = plan;
  return true;
}

/* Recording stops quietly when its own arrays cannot grow: the run goes on, it just leaves no plan. */
static void record(oxrt_mem_run *r, int32_t e) {
  if (!grow((void **)&r->ev, &r->cap_ev, r->n_ev + 1, sizeof *r->ev)) {
    r->recording = false;
    return;
  }
  r->ev[r->n_ev++] = e;
}

void *oxrt_mem_run_alloc(oxrt_mem_run *r, size_t nbytes, int *slot) {
  *slot = 0;
  if (r->recording) {
    if (!grow((void **)&r->sizes, &r->cap_slots, r->n_slots + 1, sizeof *r->sizes)) {
      r->recording = false;
      return NULL;
    }
    int k = r->n_slots++;
    r->sizes[k] = round64(nbytes);
    record(r, k);
    if (r->recording) *slot = k + 1;
    return NULL;
  }
  const oxrt_mem_plan *p = r->plan;
  if (!p || r->diverged) return NULL;
  int32_t e = r->cursor < p->n_ev ? p->ev[r->cursor] : -1;
  if (e < 0 || p->sizes[e] != round64(nbytes)) {
    r->diverged = true;
    return NULL;
  }
  r->cursor++;
  *slot = e + 1;
  return r->arena + p->offsets[e];
}

void oxrt_mem_run_free(oxrt_mem_run *r, int slot) {
  if (slot <= 0) return;
  if (r->recording) {
    record(r, -slot);
    return;
  }
  const oxrt_mem_plan *p = r->plan;
  if (!p || r->diverged) return;
  if (r->cursor < p->n_ev && p->ev[r->cursor] == -slot) r->cursor++;
  else r->diverged = true;
}

typedef struct {
  int k;
  int a, f; /* alive over events [a, f) */
  size_t size, off;
} slot_t;

static int by_size_desc(const void *x, const void *y) {
  const slot_t *a = x, *b = y;
  if (a->size != b->size) return a->size < b->size ? 1 : -1;
  return a->a - b->a;
}

static int by_off(const void *x, const void *y) {
  const slot_t *a = *(const slot_t *const *)x, *b = *(const slot_t *const *)y;
  return a->off < b->off ? -1 : a->off > b->off;
}

/* Greedy by size: the largest tensors are placed first, each at the lowest offset clear of every placed tensor
 * whose lifetime overlaps its own. */
static bool place(slot_t *s, int n, size_t *arena_bytes) {
  slot_t **conf = malloc((size_t)(n ? n : 1) * sizeof *conf);
  if (!conf) return false;
  qsort(s, (size_t)n, sizeof *s, by_size_desc);
  size_t top = 0;
  for (int i = 0; i < n; i++) {
    int nc = 0;
    for (int j = 0; j < i; j++)
      if (s[j].a < s[i].f && s[i].a < s[j].f) conf[nc++] = &s[j];
    qsort(conf, (size_t)nc, sizeof *conf, by_off);
    size_t off = 0;
    for (int j = 0; j < nc; j++) {
      if (conf[j]->off >= off + s[i].size) break; /* the gap before it fits */
      if (conf[j]->off + conf[j]->size > off) off = conf[j]->off + conf[j]->size;
    }
    s[i].off = off;
    if (off + s[i].size > top) top = off + s[i].size;
  }
  free(conf);
  *arena_bytes = top;
  return true;
}

static oxrt_mem_plan *build(const oxrt_mem_run *r, const int64_t *sig, size_t n_sig) {
  oxrt_mem_plan *p = calloc(1, sizeof *p);
  slot_t *s = calloc((size_t)r->n_slots + 1, sizeof *s);
  if (!p || !s) goto fail;
  p->n_sig = n_sig;
  p->n_ev = r->n_ev;
  p->n_slots = r->n_slots;
  p->sig = malloc((n_sig + 1) * sizeof *p->sig);
  p->ev = malloc(((size_t)r->n_ev + 1) * sizeof *p->ev);
  p->sizes = malloc(((size_t)r->n_slots + 1) * sizeof *p->sizes);
  p->offsets = malloc(((size_t)r->n_slots + 1) * sizeof *p->offsets);
  if (!p->sig || !p->ev || !p->sizes || !p->offsets) goto fail;
  if (n_sig) memcpy(p->sig, sig, n_sig * sizeof *sig);
  if (r->n_ev) memcpy(p->ev, r->ev, (size_t)r->n_ev * sizeof *r->ev);
  if (r->n_slots) memcpy(p->sizes, r->sizes, (size_t)r->n_slots * sizeof *r->sizes);
  for (int k = 0; k < r->n_slots; k++) {
    s[k].k = k;
    s[k].size = r->sizes[k];
    s[k].a = -1;
    s[k].f = r->n_ev; /* never freed inside the run: alive to its end */
    p->total_bytes += r->sizes[k];
  }
  for (int t = 0; t < r->n_ev; t++) {
    int32_t e = r->ev[t];
    if (e >= 0) s[e].a = t;
    else s[-e - 1].f = t;
  }
  if (!place(s, r->n_slots, &p->arena_bytes)) goto fail;
  for (int i = 0; i < r->n_slots; i++) p->offsets[s[i].k] = s[i].off;
  free(s);
  return p;
fail:
  free(s);
  oxrt_mem_plan_free_all(p);
  return NULL;
}

oxrt_mem_plan *oxrt_mem_run_end(oxrt_mem_run *r, bool ok, const int64_t *sig, size_t n_sig) {
  oxrt_mem_plan *p = ok && r->recording ? build(r, sig, n_sig) : NULL;
  free(r->ev);
  free(r->sizes);
  r->ev = NULL;
  r->sizes = NULL;
  r->n_ev = r->cap_ev = r->n_slots = r->cap_slots = 0;
  r->recording = false;
  r->plan = NULL;
  r->diverged = false;
  r->cursor = 0;
  return p;
}

void oxrt_mem_run_clear(oxrt_mem_run *r) {
  oxrt_mem_run_end(r, false, NULL, 0);
  oxrt_aligned_free(r->arena);
  r->arena = NULL;
  r->arena_bytes = 0;
}

static void plan_free(oxrt_mem_plan *p) {
  free(p->sig);
  free(p->ev);
  free(p->sizes);
  free(p->offsets);
  free(p);
}

const oxrt_mem_plan *oxrt_mem_plan_acquire(oxrt_mem_plan **list, const int64_t *sig, size_t n_sig) {
  for (oxrt_mem_plan **pp = list; *pp; pp = &(*pp)->next) {
    oxrt_mem_plan *p = *pp;
    if (p->n_sig != n_sig || (n_sig && memcmp(p->sig, sig, n_sig * sizeof *sig) != 0)) continue;
    *pp = p->next; /* most recently used first */
    p->next = *list;
    *list = p;
    p->refs++;
    return p;
  }
  return NULL;
}

void oxrt_mem_plan_release(const oxrt_mem_plan *cp) {
  oxrt_mem_plan *p = (oxrt_mem_plan *)cp;
  if (p && --p->refs == 0 && p->evicted) plan_free(p);
}

void oxrt_mem_plan_push(oxrt_mem_plan **list, oxrt_mem_plan *p, int max) {
  if (oxrt_mem_plan_acquire(list, p->sig, p->n_sig)) { /* a concurrent run recorded the same signature first */
    oxrt_mem_plan_release(*list);
    plan_free(p);
    return;
  }
  p->next = *list;
  *list = p;
  oxrt_mem_plan *q = p;
  for (int i = 1; q && i < max; i++) q = q->next;
  if (!q) return;
  oxrt_mem_plan *old = q->next;
  q->next = NULL;
  while (old) {
    oxrt_mem_plan *n = old->next;
    old->next = NULL;
    if (old->refs) old->evicted = true;
    else plan_free(old);
    old = n;
  }
}

void oxrt_mem_plan_free_all(oxrt_mem_plan *list) {
  while (list) {
    oxrt_mem_plan *n = list->next;
    plan_free(list);
    list = n;
  }
}

int oxrt_mem_plan_count(const oxrt_mem_plan *list) {
  int n = 0;
  for (; list; list = list->next) n++;
  return n;
}

size_t oxrt_mem_plan_arena_bytes(const oxrt_mem_plan *p) { return p ? p->arena_bytes : 0; }
size_t oxrt_mem_plan_total_bytes(const oxrt_mem_plan *p) { return p ? p->total_bytes : 0; }
