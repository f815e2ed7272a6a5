/* limits.c - defaults and validation of the session's resource limits. */
#include "limits.h"
#include "value.h"

/* Defaults: generous for real models, yet a hostile file cannot make the process ask the OS for 2^60
 * bytes or recurse until the stack runs out. */
static const struct {
  const char *name;
  uint64_t def, max;
} limit_table[] = {
    [OXRT_LIMIT_TENSOR_BYTES] = {"tensor_bytes", (uint64_t)1 << 36, (uint64_t)1 << 40},
    [OXRT_LIMIT_RUN_BYTES] = {"run_bytes", (uint64_t)1 << 40, UINT64_MAX},
    [OXRT_LIMIT_SUBGRAPH_DEPTH] = {"subgraph_depth", 64, 256},
    [OXRT_LIMIT_PROTO_DEPTH] = {"proto_depth", 100, 1000},
    [OXRT_LIMIT_RANK] = {"rank", OXRT_MAX_RANK, OXRT_MAX_RANK},
};

static uint64_t *field(oxrt_limits *l, oxrt_limit which) {
  switch (which) {
  case OXRT_LIMIT_TENSOR_BYTES: return &l->tensor_bytes;
  case OXRT_LIMIT_RUN_BYTES: return &l->run_bytes;
  case OXRT_LIMIT_SUBGRAPH_DEPTH: return &l->subgraph_depth;
  case OXRT_LIMIT_PROTO_DEPTH: return &l->proto_depth;
  case OXRT_LIMIT_RANK: return &l->rank;
  }
  return NULL;
}

uint64_t oxrt_limit_get(const oxrt_limits *l, oxrt_limit which) {
  if ((unsigned)which > OXRT_LIMIT_RANK) return 0;
  uint64_t v = l ? *field((oxrt_limits *)l, which) : 0;
  return v ? v : limit_table[which].def;
}

oxrt_status *oxrt_limit_set(oxrt_limits *l, oxrt_limit which, uint64_t value) {
  if ((unsigned)which > OXRT_LIMIT_RANK)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unknown limit %d (expected 0..%d)", (int)which, (int)OXRT_LIMIT_RANK);
  if (value > limit_table[which].max)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "limit %s = %llu is above its maximum %llu", limit_table[which].name,
                      (unsigned long long)value, (unsigned long long)limit_table[which].max);
  *field(l, which) = value;
  return NULL;
}
