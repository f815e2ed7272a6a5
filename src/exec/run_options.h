/* run_options.h - per-run settings (oxrt_run_options) and what a run checks while it goes. */
#ifndef OXRT_EXEC_RUN_OPTIONS_H
#define OXRT_EXEC_RUN_OPTIONS_H
#include "../core/status.h"
#include <stdbool.h>

#define OXRT_RUN_TAG_MAX 256

struct oxrt_run_options {
  char tag[OXRT_RUN_TAG_MAX];
  int log_level; /* -1: the session's */
  int terminate; /* atomic: set from any thread */
  int64_t time_limit_ns; /* 0: none */
  size_t n_config;
  char **config_keys, **config_values;
};

/* The state of one run, reachable from its frames (through the buffer pool) and kernels. */
typedef struct oxrt_run_state {
  const oxrt_run_options *ro; /* may be NULL */
  int64_t deadline_ns;        /* monotonic; 0: none */
  int cut; /* atomic: set once a check inside a node found the run should stop (its loops may have skipped work) */
} oxrt_run_state;

void oxrt_run_state_init(oxrt_run_state *rs, const oxrt_run_options *ro);
/* NULL while the run may go on; else a CANCELLED status saying why (terminate flag or time limit). */
oxrt_status *oxrt_run_state_check(const oxrt_run_state *rs);
/* Cheap test for kernels' inner loops: true once the run should stop. */
bool oxrt_run_state_stopped(const oxrt_run_state *rs);
/* The same test for checks inside a node (parallel loops, oxrt_should_stop): a true answer is latched in `cut`,
 * so the node is reported as cancelled even if the terminate flag is cleared again before it returns. */
bool oxrt_run_state_stop_latched(oxrt_run_state *rs);
/* True once a check inside a node has answered true: that node's outputs may be incomplete. */
bool oxrt_run_state_was_cut(const oxrt_run_state *rs);

#endif
