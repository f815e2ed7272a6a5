/* limits.h - resource limits of a session (public setter: oxrt_session_options_set_limit). */
#ifndef OXRT_CORE_LIMITS_H
#define OXRT_CORE_LIMITS_H
#include "oxrt.h"
#include "status.h"
#include <stdint.h>

/* A field left 0 means "the default" (so zero-filled options get safe limits). */
typedef struct oxrt_limits {
  uint64_t tensor_bytes;  /* largest tensor a run may create */
  uint64_t run_bytes;     /* bytes of tensors one run may allocate in total */
  uint64_t subgraph_depth;
  uint64_t proto_depth;   /* nesting of TypeProto / SequenceProto / MapProto / OptionalProto */
  uint64_t rank;
} oxrt_limits;

/* Limit `which` of `l` (NULL for the defaults), with 0 fields read as their default. */
uint64_t oxrt_limit_get(const oxrt_limits *l, oxrt_limit which);
/* Validates and stores one limit (0 restores the default). */
oxrt_status *oxrt_limit_set(oxrt_limits *l, oxrt_limit which, uint64_t value);

#endif
