/* unit.h - a tiny test harness: CHECK counts failures per test case. */
#ifndef OXRT_UNIT_H
#define OXRT_UNIT_H
#include <stdio.h>

extern int unit_failures; /* failures in the current test case */
extern const char *unit_root; /* repository root (for shipped models) */

#define CHECK(cond)                                                                                                    \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      fprintf(stderr, "  check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);                                   \
      unit_failures++;                                                                                                 \
    }                                                                                                                  \
  } while (0)

typedef struct {
  const char *name;
  void (*fn)(void);
} unit_case;

#endif
