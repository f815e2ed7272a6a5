/* checker.h - the ONNX model checker and the operator schemas it validates nodes against. */
#ifndef OXRT_ONNX_CHECKER_H
#define OXRT_ONNX_CHECKER_H
#include "../core/status.h"
#include "../ir/ir.h"
#include <stdbool.h>
#include <stdint.h>

/* Formal input/output of an operator schema. */
typedef struct sc_param {
  uint8_t option;      /* 0 single, 1 optional, 2 variadic */
  uint8_t homogeneous; /* variadic: every item has one type */
  uint8_t type_var;    /* inputs/outputs with the same nonzero number share one type */
  uint32_t types;      /* bit t: tensor(elem type t) allowed; bit 31: a non-tensor type is allowed */
} sc_param;

typedef struct sc_attr {
  const char *name;
  uint8_t type; /* AttributeProto.AttributeType */
  uint8_t required;
} sc_attr;

typedef struct sc_schema {
  const char *domain, *name;
  int since, deprecated;
  int min_in, max_in, min_out, max_out; /* max -1: unbounded */
  int params, n_in, n_out;              /* sc_params[params ..]: inputs then outputs */
  int attrs, n_attrs;
  int has_function;
} sc_schema;

#define SC_TYPES_OTHER (1u << 31)

/* Schema of op `name` in `domain` ("" = ai.onnx) at opset `version`: the newest with since <= version. */
const sc_schema *oxrt_schema_find(const char *domain, const char *name, int64_t version);
const sc_param *oxrt_schema_param(const sc_schema *s, int index); /* inputs 0..n_in-1, then outputs */
const sc_attr *oxrt_schema_attr(const sc_schema *s, int index);
/* Whether `domain` is one the onnx package defines (its ops must have schemas). */
bool oxrt_schema_domain_known(const char *domain);
/* Highest opset version of a known domain. */
int64_t oxrt_schema_max_version(const char *domain);

/* The element types of node n's inputs (as declared, or of initializers) against its ONNX schema's type
 * constraints and type variables, at the model's opset for its domain; NULL when they agree or are unknown, or the op
 * has no ONNX schema. */
oxrt_status *oxrt_check_node_input_types(const oxrt_model *m, const oxrt_graph *g, const oxrt_node *n);

/* Checks a serialized ModelProto. `base_dir` is the folder external data paths are relative to ("" for the
 * current folder). `full` adds type and shape inference. NULL when valid. */
oxrt_status *oxrt_check_model_data(const void *data, size_t size, const char *base_dir, bool full);

#endif
