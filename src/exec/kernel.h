/* kernel.h - what an operator implementation sees of the engine.
 *
 * An operator file defines one `oxrt_op_schema` per operator with
 * OXRT_REGISTER_OP(Id) = {...}; the build collects every such line into the
 * registry, so adding an operator touches only its own file. Each schema lists
 * implementations by `since_version` (ascending); a node gets the newest one
 * whose since_version <= the model's opset for the schema's domain.
 *
 * Hooks of an implementation:
 *   prepare  once per session: validate attributes, parse them into a state,
 *            pre-pack constant weights. Optional. The state is shared by
 *            concurrent runs and must not be written by `run`.
 *   run      compute outputs from inputs. Inputs are read-only.
 *   release  free the state. Optional (free() is not called otherwise).
 * Errors are returned as oxrt_status; the engine prefixes node name, op type
 * and opset, so a kernel says only what is wrong ("input 1: expected rank 4, got 3").
 */
#ifndef OXRT_EXEC_KERNEL_H
#define OXRT_EXEC_KERNEL_H
#include "../core/dtype.h"
#include "../core/status.h"
#include "../core/threadpool.h"
#include "../core/value.h"
#include "../ir/ir.h"

typedef struct oxrt_kernel_ctx oxrt_kernel_ctx;

typedef struct oxrt_op_impl {
  int since_version;
  /* Element types accepted for input `type_input` (OXRT_TBIT mask); 0 accepts any.
   * Checked before `run` with a clear error. */
  uint64_t type_mask;
  int type_input;
  oxrt_status *(*prepare)(const oxrt_node *node, int opset, void **state);
  oxrt_status *(*run)(oxrt_kernel_ctx *ctx);
  void (*release)(void *state);
} oxrt_op_impl;

typedef struct oxrt_op_schema {
  const char *domain; /* "" = ai.onnx; "ai.onnx.ml"; "ai.onnx.preview.training"; "com.microsoft" */
  const char *name;
  const oxrt_op_impl *impls;
  int n_impls;
} oxrt_op_schema;

#define OXRT_REGISTER_OP(id) const oxrt_op_schema oxrt_op_##id
#define OXRT_IMPLS(arr) (arr), (int)(sizeof(arr) / sizeof((arr)[0]))

struct oxrt_frame;

struct oxrt_kernel_ctx {
  const oxrt_node *node;
  int opset;
  void *state;
  int n_inputs, n_outputs;
  const oxrt_value *const *inputs; /* NULL for omitted optional inputs */
  oxrt_value **outputs;            /* set by oxrt_output_tensor / oxrt_set_output */
  oxrt_threadpool *pool;
  struct oxrt_frame *frame; /* engine-private; used by oxrt_subgraph_run */
};

/* Input i, or NULL when omitted or beyond the node's inputs. */
static inline const oxrt_value *oxrt_input(const oxrt_kernel_ctx *ctx, int i) {
  return i >= 0 && i < ctx->n_inputs ? ctx->inputs[i] : NULL;
}
/* Allocates output i as a tensor (uninitialised memory; strings empty). */
oxrt_status *oxrt_output_tensor(oxrt_kernel_ctx *ctx, int i, oxrt_elem_type t, int rank, const int64_t *dims,
                                oxrt_value **out);
/* Hands any value (sequence, map, optional, tensor) to output i; takes ownership. */
oxrt_status *oxrt_set_output(oxrt_kernel_ctx *ctx, int i, oxrt_value *v);
/* True when output i is wanted by the graph (present in the node). */
static inline bool oxrt_output_wanted(const oxrt_kernel_ctx *ctx, int i) {
  return i < ctx->node->n_outputs && ctx->node->outputs[i] >= 0;
}
static inline void oxrt_parallel(oxrt_kernel_ctx *ctx, size_t n, size_t grain, oxrt_range_fn fn, void *arg) {
  oxrt_parallel_for(ctx->pool, n, grain, fn, arg);
}

/* True once the run should stop (its terminate flag was set or its time limit passed): kernels with long loops
 * check it now and then and return oxrt_error(OXRT_ERR_CANCELLED, ...) early; the executor also checks between
 * nodes, so short kernels need not. */
bool oxrt_should_stop(const oxrt_kernel_ctx *ctx);

/* Runs subgraph `g` (an attribute of ctx->node) with the given inputs bound to
 * its formal inputs in order; outer-scope names resolve through the running
 * frame. outputs[k] (k < g->n_outputs) receive new values owned by the caller. */
oxrt_status *oxrt_subgraph_run(oxrt_kernel_ctx *ctx, const oxrt_graph *g, const oxrt_value *const *inputs,
                               int n_inputs, oxrt_value **outputs);

/* Common checks with uniform messages. */
oxrt_status *oxrt_check_tensor(const oxrt_value *v, int index, const char *what);

/* True when input i is `v` and `v` is the graph's initializer (not a feed that overrides it): a constant the
 * kernel may pack once and reuse across runs (src/exec/kernel_ctx.c). */
bool oxrt_input_is_constant(const oxrt_kernel_ctx *ctx, int i, const oxrt_value *v);

#endif
