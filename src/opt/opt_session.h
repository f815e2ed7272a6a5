/* opt_session.h - the optimizer as a session runs it while it opens (opt_session.c). */
#ifndef OXRT_OPT_SESSION_H
#define OXRT_OPT_SESSION_H
#include "../ir/ir.h"

typedef struct oxrt_opt_session_cfg {
  oxrt_opt_level level;                     /* OXRT_OPT_DISABLE runs no pass */
  const char *disabled_passes;              /* comma-separated pass names to skip; NULL: OXRT_OPT_DISABLE's */
  const char *save_path;                    /* write the optimized model here; NULL or "" for none */
  void (*log)(void *user, const char *msg); /* informational messages; may be NULL */
  void *log_user;
  const struct oxrt_limits *limits;         /* the session's: folding stays within tensor_bytes, run_bytes; NULL: defaults */
  void (*warn)(void *user, const char *msg); /* work left to run time because of a limit (log_user); may be NULL */
} oxrt_opt_session_cfg;

/* Optimizes m in place by cfg, then saves it when cfg->save_path is set. */
oxrt_status *oxrt_opt_for_session(oxrt_model *m, const oxrt_opt_session_cfg *cfg);

#endif
