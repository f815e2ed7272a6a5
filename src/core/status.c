/* status.c - error objects carrying a code and a message. */
#include "status.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static oxrt_status oom_status = {OXRT_ERR_OUT_OF_MEMORY, "out of memory"};

oxrt_status *oxrt_verror(oxrt_status_code code, const char *fmt, va_list ap) {
  oxrt_status *st = malloc(sizeof *st);
  if (!st) return &oom_status;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  st->code = code;
  st->message = malloc((size_t)(n < 0 ? 0 : n) + 1);
  if (!st->message) {
    free(st);
    return &oom_status;
  }
  vsnprintf(st->message, (size_t)n + 1, fmt, ap);
  return st;
}

oxrt_status *oxrt_error(oxrt_status_code code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  oxrt_status *st = oxrt_verror(code, fmt, ap);
  va_end(ap);
  return st;
}

oxrt_status *oxrt_error_prefix(oxrt_status *st, const char *fmt, ...) {
  if (!st || st == &oom_status) return st;
  char prefix[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  size_t a = strlen(prefix), b = strlen(st->message);
  char *m = malloc(a + b + 1);
  if (!m) return st;
  memcpy(m, prefix, a);
  memcpy(m + a, st->message, b + 1);
  free(st->message);
  st->message = m;
  return st;
}

oxrt_status_code oxrt_status_get_code(const oxrt_status *st) { return st ? st->code : OXRT_OK; }
const char *oxrt_status_get_message(const oxrt_status *st) { return st ? st->message : ""; }
void oxrt_status_free(oxrt_status *st) {
  if (!st || st == &oom_status) return;
  free(st->message);
  free(st);
}

const char *oxrt_status_code_name(oxrt_status_code code) {
  switch (code) {
  case OXRT_OK: return "OK";
  case OXRT_ERR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
  case OXRT_ERR_INVALID_MODEL: return "INVALID_MODEL";
  case OXRT_ERR_NOT_IMPLEMENTED: return "NOT_IMPLEMENTED";
  case OXRT_ERR_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
  case OXRT_ERR_IO: return "IO";
  case OXRT_ERR_RUNTIME: return "RUNTIME";
  case OXRT_ERR_CANCELLED: return "CANCELLED";
  }
  return "UNKNOWN";
}

const char *oxrt_version(void) { return OXRT_VERSION; }
uint32_t oxrt_version_number(void) { return OXRT_VERSION_NUMBER; }
