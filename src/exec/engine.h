/* engine.h - internal structures of sessions, graph plans and execution frames. */
#ifndef OXRT_EXEC_ENGINE_H
#define OXRT_EXEC_ENGINE_H
#include "profile.h"
#include "kernel.h"
#include "run_options.h"
#include "../core/limits.h"
#include "mem_plan.h"
#include <pthread.h>
#include <string.h>

/* Buffers freed by dead intermediates, reused by later allocations (best fit), and the run's planned arena. */
typedef struct oxrt_buffer_pool {
  size_t n, cap;
  void **bufs;
  size_t *sizes;
  uint32_t *stamps; /* the epoch each buffer was last given back in */
  uint32_t epoch;   /* runs this pool has served: buffers no run touched since the last one are freed */
  oxrt_mem_run mem; /* the memory plan this run replays or records (mem_plan.h) */
  uint64_t run_bytes; /* bytes of tensors the run owning this pool has allocated (OXRT_LIMIT_RUN_BYTES) */
  const oxrt_run_state *run; /* the run owning this pool: terminate flag and time limit (run_options.c) */
} oxrt_buffer_pool;

void *oxrt_pool_take(oxrt_buffer_pool *p, size_t nbytes, size_t *got);
void oxrt_pool_give(oxrt_buffer_pool *p, void *buf, size_t size);
void oxrt_pool_clear(oxrt_buffer_pool *p);
/* Frees the pooled buffers; with `untouched_only`, only those no allocation of the current epoch gave back, then
 * starts a new epoch. */
void oxrt_pool_trim(oxrt_buffer_pool *p, bool untouched_only);

typedef struct oxrt_node_plan {
  const oxrt_node *node;
  const oxrt_op_schema *schema;
  const oxrt_op_impl *impl;
  int opset;
  void *state;
  int n_free;    /* values whose last use is this node */
  int *free_ids; /* ... freed (or recycled) right after it runs */
  unsigned char *consumed; /* per input: the kernel's prepare consumed this constant (oxrt_prepare_consume) */
} oxrt_node_plan;

typedef struct oxrt_graph_plan {
  const oxrt_graph *graph;
  int n_steps;
  oxrt_node_plan *steps; /* topological order */
  int *outer_src;        /* per value: id in the parent graph for outer captures, else -1 */
  int max_inputs, max_outputs;
  struct oxrt_graph_plan *next_alloc; /* list of all plans of a session, for freeing */
} oxrt_graph_plan;

struct oxrt_session_options {
  int threads;
  oxrt_opt_level opt_level;
  oxrt_log_fn log_fn;
  void *log_user;
  oxrt_log_level log_min;
  int load_only;
  char optimized_model_path[4096]; /* "" = do not write (src/session/session.c -> opt_session.h) */
  int profiling;
  char profile_prefix[4096];
  int denormal_as_zero;
  int mem_pattern_set, mem_pattern; /* set_memory_pattern was called, and its value (else OXRT_MEM_PLAN decides) */
  int opt_level_set; /* set_opt_level was called: OXRT_OPT_LEVEL no longer applies (src/session/session.c) */
  struct oxrt_thread_pool *shared_pool; /* oxrt_session_options_set_thread_pool; the options hold a reference */
  int bf16_compute; /* 0 off, 1 hardware bfloat16 where present, 2 emulated (src/quant/bf16_compute.c) */
  oxrt_limits limits; /* core/limits.h; zero fields mean the defaults */
  char disabled_passes[2048]; /* comma-separated optimizer pass names to skip (src/opt/opt_session.c) */
  int disabled_passes_set;    /* set_disabled_passes was called: OXRT_OPT_DISABLE no longer applies */
  oxrt_node_output_fn node_output_fn; /* debugging: sees each main-graph node's outputs (executor.c) */
  void *node_output_user;
  int keep_weights; /* debugging (OXRT_KEEP_WEIGHTS=1): consumed initializers are not released (plan.c) */
};

/* What prepare did with constant weights (plan.c), for tests and the log. */
typedef struct oxrt_weight_stats {
  size_t consumed;       /* node inputs whose kernel packed the constant and never reads it at run time */
  size_t released;       /* initializers released because every reader consumed them */
  size_t released_bytes; /* heap bytes freed plus mapped bytes dropped */
} oxrt_weight_stats;

struct oxrt_session {
  oxrt_model *model;
  struct oxrt_session_options opts;
  oxrt_threadpool *pool;
  struct oxrt_thread_pool *shared_pool; /* when `pool` is shared: the reference this session holds */
  oxrt_graph_plan *main_plan;
  oxrt_graph_plan *all_plans;
  /* descriptions for the public API */
  size_t n_inputs, n_outputs;
  int *input_ids, *output_ids; /* graph value ids of real inputs (initializers excluded) */
  oxrt_value_info *input_info, *output_info;
  /* model statistics */
  oxrt_model_stats stats;
  /* the model's own opset imports, saved before the optimizer adds domains (oxrt_session_get_model_meta) */
  size_t n_model_opsets;
  const char **model_opset_domains;
  int64_t *model_opset_versions;
  /* reusable buffer pool (one cached; concurrent runs make their own) */
  pthread_mutex_t pool_lock;
  oxrt_buffer_pool *cached_pool;
  oxrt_profiler profiler; /* profile.c */
  oxrt_weight_stats weights;
  bool bf16_packs; /* bf16 compute mode 1 on a CPU with a bfloat16 kernel: prepare packs weights in bfloat16 */
  /* static activation arenas (mem_plan.h), guarded by pool_lock; off with OXRT_MEM_PLAN=0 */
  bool mem_plan_on;
  int mem_recordings; /* plans recorded so far: a session whose shapes never repeat stops recording */
  oxrt_mem_plan *mem_plans;
};

typedef struct oxrt_frame {
  const oxrt_graph_plan *plan;
  struct oxrt_frame *parent;
  oxrt_session *session;
  oxrt_value **vals;
  bool *owned;
  oxrt_buffer_pool *pool;
} oxrt_frame;

/* Plans `g` and all its subgraphs (kernels resolved, order, lifetimes); plans are recorded on the session. */
oxrt_status *oxrt_plan_graph(oxrt_session *s, const oxrt_graph *g, oxrt_graph_plan **out);
/* Runs every planned node's prepare hook (after static inference), then releases the initializers that every
 * reader consumed (unless opts.keep_weights). */
oxrt_status *oxrt_plan_prepare(oxrt_session *s);
/* Expands calls of model-local functions into their bodies (inline.c). */
oxrt_status *oxrt_inline_functions(oxrt_model *m);
/* Static types and shapes of the main graph's values, in plan order (infer.c). */
oxrt_status *oxrt_infer_shapes(oxrt_session *s);
void oxrt_plan_free_all(oxrt_session *s);
const oxrt_graph_plan *oxrt_plan_of(const oxrt_session *s, const oxrt_graph *g);

/* Runs a planned graph. `inputs` bind to the graph's formal inputs in order
 * (n_inputs may be less than the graph's inputs where initializers supply
 * defaults); `want` lists value ids to return (owned by the caller). */
oxrt_status *oxrt_frame_run(oxrt_session *s, const oxrt_graph_plan *plan, oxrt_frame *parent, oxrt_buffer_pool *pool,
                            const int *input_ids, const oxrt_value *const *inputs, int n_inputs, const int *want,
                            int n_want, oxrt_value **outputs);

void oxrt_session_log(const oxrt_session *s, oxrt_log_level level, const char *fmt, ...);

/* Copies `full` (a public size-versioned struct of `full_size` bytes) into `out`, whose first size_t is the caller's
 * sizeof; fails naming `type` when the caller's struct is smaller than this release's. Writes at most that much
 * and records what was written. */
static inline oxrt_status *oxrt_fill_sized(void *out, const void *full, size_t full_size, const char *type) {
  size_t want;
  memcpy(&want, out, sizeof want);
  if (want < full_size)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%s.size is %zu; set it to sizeof(%s) (%zu) before the call", type, want,
                      type, full_size);
  memcpy(out, full, full_size);
  memcpy(out, &full_size, sizeof full_size);
  return NULL;
}

/* Shared intra-op pools (thread_pool_api.c): a reference more or less, and the pool itself. */
void oxrt_thread_pool_retain(struct oxrt_thread_pool *p);
oxrt_threadpool *oxrt_thread_pool_get(struct oxrt_thread_pool *p);

#endif
