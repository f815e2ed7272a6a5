/* status.h - internal construction of oxrt_status errors. */
#ifndef OXRT_CORE_STATUS_H
#define OXRT_CORE_STATUS_H
#include "oxrt.h"
#include <stdarg.h>

struct oxrt_status {
  oxrt_status_code code;
  char *message;
};

/* A new status with a printf-style message; never returns NULL for a
 * non-OK code (falls back to a static out-of-memory status). */
oxrt_status *oxrt_error(oxrt_status_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
oxrt_status *oxrt_verror(oxrt_status_code code, const char *fmt, va_list ap);
/* Prefix the message of `st` with more context ("node 'x' (Conv): ..."). Returns st. */
oxrt_status *oxrt_error_prefix(oxrt_status *st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#define OXRT_TRY(expr)                                                                                                 \
  do {                                                                                                                 \
    oxrt_status *oxrt_try_st_ = (expr);                                                                                \
    if (oxrt_try_st_) return oxrt_try_st_;                                                                             \
  } while (0)

#define OXRT_OOM() oxrt_error(OXRT_ERR_OUT_OF_MEMORY, "out of memory")

#endif
