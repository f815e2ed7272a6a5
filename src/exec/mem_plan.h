/* mem_plan.h - a static activation arena per input-shape signature.
 *
 * The first run of a session with a given signature (the fed inputs' types and shapes) records the order and sizes
 * of the main graph's intermediate tensors as alloc and free events. A plan then places every one of them at a
 * fixed offset of one arena: greedy by size, and two tensors whose lifetimes overlap never share a byte. Later runs
 * with the same signature replay the events and take their buffers from the arena: no allocation per run, and a
 * peak near the largest live set instead of whatever the buffer pool happened to collect. A run whose events depart
 * from the recording (data-dependent shapes, a branch taken differently) takes the rest of its buffers from the
 * pool; the arena buffers it already holds stay valid, since up to that point its live set was the recorded one.
 *
 * Only the main graph's tensors that die inside the run are planned: graph outputs go to the caller, subgraph
 * frames' values may leave through their node, and strings own per-element memory. */
#ifndef OXRT_EXEC_MEM_PLAN_H
#define OXRT_EXEC_MEM_PLAN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct oxrt_mem_plan oxrt_mem_plan;

/* Per-run state, kept in the run's buffer pool (its arena survives with the session's cached pool). */
typedef struct oxrt_mem_run {
  const oxrt_mem_plan *plan; /* replaying this plan, or NULL */
  bool recording;            /* recording a new plan */
  bool diverged;             /* replay departed from the plan: the rest of the run uses the pool */
  int cursor;                /* next event expected while replaying */
  int n_ev, cap_ev;
  int32_t *ev; /* recording: >= 0 alloc of slot k, < 0 free of slot -k-1 */
  int n_slots, cap_slots;
  size_t *sizes;         /* recording: bytes of each slot (64-byte multiples) */
  unsigned char *arena;  /* replay memory, 64-byte aligned */
  size_t arena_bytes;
} oxrt_mem_run;

/* Starts a run: replays `plan` when given (the arena grows to the plan's size; false when that allocation fails, and
 * the run then uses the pool alone), else records. */
bool oxrt_mem_run_begin(oxrt_mem_run *r, const oxrt_mem_plan *plan, bool record);
/* An eligible tensor of `nbytes` is about to be allocated. Replay: its arena buffer, or NULL once the run has
 * departed from the plan. Record: NULL (the caller allocates) after noting the event. *slot gets the 1-based slot
 * to hand back to oxrt_mem_run_free (0: not tracked). */
void *oxrt_mem_run_alloc(oxrt_mem_run *r, size_t nbytes, int *slot);
/* The tensor of 1-based `slot` dies. */
void oxrt_mem_run_free(oxrt_mem_run *r, int slot);
/* Ends a run: returns the plan a successful recording gives (NULL otherwise or on out-of-memory), keyed by `sig`
 * (copied). Replay state is reset; the arena stays for the next run. */
oxrt_mem_plan *oxrt_mem_run_end(oxrt_mem_run *r, bool ok, const int64_t *sig, size_t n_sig);
/* Frees the arena and any recording. */
void oxrt_mem_run_clear(oxrt_mem_run *r);

/* Plans of a session: a short list, most recently used first. The caller's lock guards the list and the calls
 * below. Acquire finds the plan of a signature and holds it for a run; release lets it go. */
const oxrt_mem_plan *oxrt_mem_plan_acquire(oxrt_mem_plan **list, const int64_t *sig, size_t n_sig);
void oxrt_mem_plan_release(const oxrt_mem_plan *p);
/* Puts a new plan at the head of *list (takes it; drops it when the signature is already there), keeping at most
 * `max`: older ones are freed, or by their last release while runs still replay them. */
void oxrt_mem_plan_push(oxrt_mem_plan **list, oxrt_mem_plan *p, int max);
void oxrt_mem_plan_free_all(oxrt_mem_plan *list);
int oxrt_mem_plan_count(const oxrt_mem_plan *list);
/* Arena bytes a plan needs, and bytes its tensors would take without sharing (for tests and the log). */
size_t oxrt_mem_plan_arena_bytes(const oxrt_mem_plan *p);
size_t oxrt_mem_plan_total_bytes(const oxrt_mem_plan *p);
#endif
