/* unit.h - a tiny test harness: CHECK counts failures per test case. */
#ifndef OXRT_UNIT_H
#define OXRT_UNIT_H
#include "oxrt.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern int unit_failures; /* failures in the current test case */
extern const char *unit_root; /* repository root (for shipped models) */

#define CHECK(cond)                                                                                                    \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      fprintf(stderr, "  check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);                                   \
      unit_failures++;                                                                                                 \
    }                                                                                                                  \
  } while (0)

/* 1 when st is NULL (success); otherwise prints its message with the caller's line, frees it, counts a failure and
 * gives 0. */
static inline int unit_ok(oxrt_status *st, const char *file, int line) {
  if (!st) return 1;
  fprintf(stderr, "  %s:%d: unexpected error: %s\n", file, line, oxrt_status_get_message(st));
  oxrt_status_free(st);
  unit_failures++;
  return 0;
}
#define UNIT_OK(st) unit_ok((st), __FILE__, __LINE__)

/* Expects st to be a failure with `code` and a message containing `needle` (NULL: any message); frees it. */
static inline void unit_want_error(oxrt_status *st, oxrt_status_code code, const char *needle, const char *file,
                                   int line) {
  if (!st) {
    fprintf(stderr, "  %s:%d: expected %s, got success\n", file, line, oxrt_status_code_name(code));
    unit_failures++;
    return;
  }
  if (oxrt_status_get_code(st) != code || (needle && !strstr(oxrt_status_get_message(st), needle))) {
    fprintf(stderr, "  %s:%d: got %s: %s\n  wanted %s containing '%s'\n", file, line,
            oxrt_status_code_name(oxrt_status_get_code(st)), oxrt_status_get_message(st), oxrt_status_code_name(code),
            needle ? needle : "");
    unit_failures++;
  }
  oxrt_status_free(st);
}
#define UNIT_WANT_ERROR(st, code, needle) unit_want_error((st), (code), (needle), __FILE__, __LINE__)

/* x rounded to bfloat16, to nearest even (finite x), as the bfloat16 kernels' packing does: references for them */
static inline float unit_bf16_round(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
  memcpy(&x, &u, 4);
  return x;
}

typedef struct {
  const char *name;
  void (*fn)(void);
} unit_case;

#endif
