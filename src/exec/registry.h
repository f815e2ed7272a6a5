/* registry.h - lookup of operator implementations by (domain, op_type, opset). */
#ifndef OXRT_EXEC_REGISTRY_H
#define OXRT_EXEC_REGISTRY_H
#include "kernel.h"

const oxrt_op_schema *oxrt_registry_find(const char *domain, const char *op_type);
/* Newest impl of `s` with since_version <= opset, or NULL. */
const oxrt_op_impl *oxrt_registry_resolve(const oxrt_op_schema *s, int64_t opset);
/* All schemas (NULL-terminated), for listings. */
const oxrt_op_schema *const *oxrt_registry_all(void);

#endif
