/* kernel.h - what an operator implementation sees of the engine.
 *
 * An operator file defines one `oxrt_op_schema` per operator with
 * OXRT_REGISTER_OP(Id) = {...}; the build collects every such line into the
 * registry, so adding an operator touches only its own file. Each schema lists
 * implementations by `since_version` (ascending); a node gets the newest one
 * whose since_version <= the model's opset for the schema's domain.
 *
 * Hooks of an implementation:
 *   prepare  once per session, when it opens: validate attributes, parse them into a state, pack constant weights
 *            (oxrt_prepare_ctx below: constants, static shapes, consuming an input). Optional. The state is shared
 *            by concurrent runs and must not be written by `run`.
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
typedef struct oxrt_prepare_ctx oxrt_prepare_ctx;

typedef struct oxrt_op_impl {
  int since_version;
  /* Element types accepted for input `type_input` (OXRT_TBIT mask); 0 accepts any.
   * Checked before `run` with a clear error. */
  uint64_t type_mask;
  int type_input;
  oxrt_status *(*prepare)(const oxrt_prepare_ctx *pc, void **state);
  oxrt_status *(*run)(oxrt_kernel_ctx *ctx);
  void (*release)(void *state);
  /* The kernel reads values of its running graph beyond its inputs (oxrt_ctx_value): no initializer of that
   * graph is released after prepare. */
  bool reads_graph;
} oxrt_op_impl;

/* ---- Shape and type inference: the `infer` hook of a schema --------------------------------------------------
 * One hook per schema (not per implementation): a shape rule rarely changes with the opset, and where it does
 * (axes as attribute or input, legacy broadcasting) the hook reads ctx->opset or the node's attributes. The
 * walker (src/exec/infer.c) calls it in topological order for the session, `oxrt check --full` and
 * `oxrt infer-shapes`; shared rules (same as input 0, broadcasting, conv/pool windows, reductions) are in
 * src/ops/infer_rules.h, and an operator without a hook leaves its outputs to be shaped at run time. */
typedef struct oxrt_infer_ctx {
  const oxrt_node *node;
  int opset;               /* the model's opset for the node's domain */
  struct oxrt_infer *walk; /* engine-private */
} oxrt_infer_ctx;

/* What is known statically of a tensor value. */
typedef struct oxrt_tshape {
  oxrt_elem_type elem;                /* OXRT_UNDEFINED: unknown */
  int rank;                           /* -1: unknown */
  int64_t dims[OXRT_MAX_RANK];        /* -1: unknown size */
  const char *names[OXRT_MAX_RANK];   /* symbolic name of an unknown size ("batch"), or NULL */
} oxrt_tshape;

/* Content of a small int64 tensor (rank <= 1, at most OXRT_MAX_RANK elements) found by data propagation: shapes
 * and what is computed from them. -1 is an unknown element; names[i] names a symbolic one. */
typedef struct oxrt_known_ints {
  bool scalar;
  int n;
  int64_t v[OXRT_MAX_RANK];
  const char *names[OXRT_MAX_RANK];
} oxrt_known_ints;

typedef oxrt_status *(*oxrt_infer_fn)(oxrt_infer_ctx *ctx);

/* Input i: true with its element type and shape (rank -1 when only the type is known); false when the input is
 * absent or its type is unknown (then *s is cleared to "nothing known"). */
bool oxrt_infer_input(const oxrt_infer_ctx *ctx, int i, oxrt_tshape *s);
/* The content of input i when data propagation knows it (initializers and Constant included), else NULL. */
const oxrt_known_ints *oxrt_infer_known(const oxrt_infer_ctx *ctx, int i);
/* Input i when it is a constant tensor (an initializer, or an output recorded by oxrt_infer_set_constant), else
 * NULL: float parameters such as Resize scales. */
const oxrt_value *oxrt_infer_constant(const oxrt_infer_ctx *ctx, int i);
/* Sets output i (an omitted output is ignored). Under the checker's strict mode a contradiction with the
 * declared type is an error. */
oxrt_status *oxrt_infer_output(oxrt_infer_ctx *ctx, int i, const oxrt_tshape *s);
/* Records the content of output i for data propagation. */
void oxrt_infer_set_known(oxrt_infer_ctx *ctx, int i, const oxrt_known_ints *k);
/* Records that output i is the constant tensor `t` (owned by the node, e.g. Constant's value attribute), so that
 * oxrt_infer_constant sees it in readers. */
void oxrt_infer_set_constant(oxrt_infer_ctx *ctx, int i, const oxrt_value *t);
/* Infers subgraph `g` (an attribute of ctx->node) with its formal inputs typed as `formal[0..n_formal)` (entries
 * with elem OXRT_UNDEFINED stay as declared) and outer-scope values seen as inferred so far; outs[k] receives what
 * is known of its output k (k < g->n_outputs). Writes the types into the subgraph's values. */
oxrt_status *oxrt_infer_subgraph(oxrt_infer_ctx *ctx, oxrt_graph *g, const oxrt_tshape *formal, int n_formal,
                                 oxrt_tshape *outs);

/* Properties of an operator that passes ask for (instead of lists of op names). */
enum {
  OXRT_OP_NONDETERMINISTIC = 1u << 0, /* outputs may differ between runs with equal inputs: never folded or merged */
  OXRT_OP_NO_FOLD = 1u << 1,          /* kept as a node even with constant inputs (quantization boundaries) */
  OXRT_OP_SAME_ELEM_TYPE = 1u << 2,   /* output 0 has the element type of input 0 */
  OXRT_OP_INPUT1_SAME_TYPE = 1u << 3, /* input 1 has the element type of input 0 */
};

typedef struct oxrt_op_schema {
  const char *domain; /* "" = ai.onnx; "ai.onnx.ml"; "ai.onnx.preview.training"; "com.microsoft" */
  const char *name;
  const oxrt_op_impl *impls;
  int n_impls;
  oxrt_infer_fn infer; /* shape/type inference, or NULL (shaped at run time); set with .infer = ... */
  unsigned flags;      /* OXRT_OP_* */
} oxrt_op_schema;

#define OXRT_REGISTER_OP(id) const oxrt_op_schema oxrt_op_##id
/* Designated, so that a schema may leave .infer and .flags out. */
#define OXRT_IMPLS(arr) .impls = (arr), .n_impls = (int)(sizeof(arr) / sizeof((arr)[0]))

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

/* ------------------------------------------------------------------ the running graph
 * For operators that evaluate other nodes of the graph they run in (ai.onnx.preview.training Gradient), without
 * reading the executor's frames or plans. Steps are the graph's nodes in execution order. */
const oxrt_graph *oxrt_ctx_graph(const oxrt_kernel_ctx *ctx); /* NULL outside a running graph */
/* Current value of value `id` of that graph in this run (an input, an initializer, a computed value), or NULL. */
const oxrt_value *oxrt_ctx_value(const oxrt_kernel_ctx *ctx, int id);
int oxrt_ctx_step_count(const oxrt_kernel_ctx *ctx);
/* Node of step k and its opset (NULL when k is out of range). */
const oxrt_node *oxrt_ctx_step_node(const oxrt_kernel_ctx *ctx, int k, int *opset);
/* Runs step k's kernel (with its prepared state) on `inputs` (one per node input, NULL when omitted); outputs[o]
 * receive new values owned by the caller. Errors are not prefixed with the node. */
oxrt_status *oxrt_ctx_run_step(oxrt_kernel_ctx *ctx, int k, const oxrt_value *const *inputs, oxrt_value **outputs);

/* ------------------------------------------------------------------ prepare context
 * What `prepare` sees at session creation, after the optimizer and static shape inference. */
struct oxrt_prepare_ctx {
  const oxrt_node *node;
  int opset;
  int n_inputs, n_outputs;             /* the node's */
  const oxrt_value *const *constants;  /* per input: the initializer when no feed can override it, else NULL */
  const oxrt_type *const *input_types; /* per input / output: statically inferred type, NULL when unknown; */
  const oxrt_type *const *output_types; /* dims are -1 (dim_params names them) where not a fixed number */
  unsigned char *consumed;             /* engine-private: per input, set by oxrt_prepare_consume */
  bool bf16; /* the session's bf16 compute mode runs on this CPU: float weights are packed in bfloat16 */
};

/* Input i's value when it is a constant known at session creation (a non-overridable initializer), else NULL. */
static inline const oxrt_value *oxrt_prepare_constant(const oxrt_prepare_ctx *pc, int i) {
  return pc->constants && i >= 0 && i < pc->n_inputs ? pc->constants[i] : NULL;
}
/* Statically inferred type of input / output i (tensor types carry rank and dims), NULL when unknown. */
static inline const oxrt_type *oxrt_prepare_input_type(const oxrt_prepare_ctx *pc, int i) {
  return pc->input_types && i >= 0 && i < pc->n_inputs ? pc->input_types[i] : NULL;
}
static inline const oxrt_type *oxrt_prepare_output_type(const oxrt_prepare_ctx *pc, int i) {
  return pc->output_types && i >= 0 && i < pc->n_outputs ? pc->output_types[i] : NULL;
}
/* The kernel declares that its runs never read constant input i's data (it keeps a packed copy in its state):
 * once every reader of an initializer consumed it, the session releases the initializer's memory (its dtype and
 * dims stay, `data` may become NULL). Ignored for inputs that are not constants. */
static inline void oxrt_prepare_consume(const oxrt_prepare_ctx *pc, int i) {
  if (pc->consumed && oxrt_prepare_constant(pc, i)) pc->consumed[i] = 1;
}
/* A context for a node outside a session (constant folding, tools): no constants, no shapes, nothing consumed. */
static inline oxrt_prepare_ctx oxrt_prepare_ctx_bare(const oxrt_node *node, int opset) {
  oxrt_prepare_ctx pc = {node, opset, node->n_inputs, node->n_outputs, NULL, NULL, NULL, NULL, false};
  return pc;
}

#endif
