/* unit.h - a tiny test harness: CHECK counts failures per test case. */
#ifndef OXRT_UNIT_H
#define OXRT_UNIT_H
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
