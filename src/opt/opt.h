/* opt.h - graph optimisation: the pass manager, the passes, and the helpers they share.
 *
 * A pass rewrites one graph in place and says whether it changed anything. The
 * manager runs the passes of the requested level in order, over the main graph
 * and (for passes that allow it) every subgraph, and repeats the whole list
 * while something changes (at most a few rounds). Every pass keeps the names
 * of graph inputs and outputs, and of values that subgraphs capture by name.
 *
 * Nodes are deleted by setting op_type to NULL during a pass; the manager
 * compacts the node array and recomputes producers after each pass.
 */
#ifndef OXRT_OPT_H
#define OXRT_OPT_H
#include "../exec/kernel.h"

/* A message for the user (a pass skipped work because of a limit); see oxrt_opt_options.log. */
typedef void (*oxrt_opt_log_fn)(void *user, const char *message);

typedef struct oxrt_opt_ctx {
  oxrt_model *model;
  size_t fold_max_bytes; /* constant folding: largest result kept */
  int counter;           /* for unique names */
  bool portable;         /* the result will be saved: emit only what ONNX Runtime also runs */
  /* constant folding's budget over one optimize call (pass_constant_folding.c) */
  size_t fold_total_max; /* bytes all folded results may take together */
  size_t fold_total;     /* taken so far */
  double fold_seconds;   /* time spent evaluating so far */
  bool fold_stopped;     /* a budget ran out (logged once): no more folding in this call */
  oxrt_opt_log_fn log;   /* may be NULL */
  void *log_user;
} oxrt_opt_ctx;

typedef struct oxrt_opt_pass {
  const char *name;
  oxrt_opt_level level; /* lowest level that runs it */
  bool subgraphs;       /* also run inside subgraphs */
  oxrt_status *(*run)(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed);
  const char *summary;
} oxrt_opt_pass;

/* Called after each pass invocation that ran (round counts from 1). */
typedef void (*oxrt_opt_report_fn)(void *user, const char *pass, int round, size_t nodes_before, size_t nodes_after);

typedef struct oxrt_opt_options {
  oxrt_opt_level level;
  size_t fold_max_bytes;  /* 0: default (64 MiB) */
  const char *disable;    /* comma-separated pass names to skip, or NULL */
  oxrt_opt_report_fn report;
  void *user;
  bool portable; /* the model will be saved: fuse only into forms ONNX Runtime runs too */
  size_t fold_total_max; /* 0: default (1 TiB, the session's run_bytes default) */
  oxrt_opt_log_fn log;   /* optional: why folding left work to run time */
  void *log_user;
} oxrt_opt_options;

/* Runs the passes of `o->level` over the model's main graph and its subgraphs. */
oxrt_status *oxrt_optimize_model(oxrt_model *m, const oxrt_opt_options *o);
/* Runs the comma-separated pass names `list` in that order (onnxoptimizer's semantics: each once, or with
 * `fixed_point` until nothing changes) instead of a level; `o` gives fold_max_bytes, report and user. */
oxrt_status *oxrt_optimize_model_named(oxrt_model *m, const char *list, bool fixed_point, const oxrt_opt_options *o);
/* Runs one pass once (unless o->disable names it), over the main graph and, when the pass allows, subgraphs. */
oxrt_status *oxrt_optimize_model_pass(oxrt_model *m, const oxrt_opt_pass *p, const oxrt_opt_options *o);
/* All passes, NULL-terminated, in the order they run. */
const oxrt_opt_pass *const *oxrt_opt_passes(void);
/* Passes that run only when named (onnxoptimizer's names), NULL-terminated. */
const oxrt_opt_pass *const *oxrt_opt_named_passes(void);
/* onnxoptimizer names served by one of oxrt's passes: pairs {name, oxrt pass name}, NULL-terminated. */
extern const char *const oxrt_opt_aliases[][2];
/* The pass called `name` (a level pass, a named-only pass or an alias), or NULL. */
const oxrt_opt_pass *oxrt_opt_find_pass(const char *name);
/* Nodes in a graph and all its subgraphs. */
size_t oxrt_opt_count_nodes(const oxrt_graph *g);

/* The passes (each in its own file). */
extern const oxrt_opt_pass oxrt_pass_fold_squeeze;
extern const oxrt_opt_pass oxrt_pass_constant_folding;
extern const oxrt_opt_pass oxrt_pass_eliminate_noops;
extern const oxrt_opt_pass oxrt_pass_collapse_transpose_reshape;
extern const oxrt_opt_pass oxrt_pass_fuse_conv_bn;
extern const oxrt_opt_pass oxrt_pass_fuse_qdq;
extern const oxrt_opt_pass oxrt_pass_fuse_bias_add;
extern const oxrt_opt_pass oxrt_pass_fuse_conv_scale;
extern const oxrt_opt_pass oxrt_pass_fuse_affine_into_conv;
extern const oxrt_opt_pass oxrt_pass_fuse_matmul_add;
extern const oxrt_opt_pass oxrt_pass_fuse_conv_add;
extern const oxrt_opt_pass oxrt_pass_fuse_conv_activation;
extern const oxrt_opt_pass oxrt_pass_fuse_gelu;
extern const oxrt_opt_pass oxrt_pass_fuse_attention;
extern const oxrt_opt_pass oxrt_pass_fuse_silu;
extern const oxrt_opt_pass oxrt_pass_eliminate_dead;
/* Run by the session only, after the level's passes and any save (opt_session.c): oxrt-only operators or
 * CPU-dependent, never saved. oxrt_opt_session_passes lists them in the order they run, NULL-terminated. */
extern const oxrt_opt_pass oxrt_pass_fuse_matmul_bias_act;
extern const oxrt_opt_pass oxrt_pass_nchwc_layout;
const oxrt_opt_pass *const *oxrt_opt_session_passes(void);
/* Named-only passes (onnxoptimizer's names), one file each except the no-op family (pass_eliminate_nop.c). */
extern const oxrt_opt_pass oxrt_pass_nop;
extern const oxrt_opt_pass oxrt_pass_eliminate_identity;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_cast;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_dropout;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_flatten;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_transpose;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_pad;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_concat;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_split;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_expand;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_reshape;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_with_unit;
extern const oxrt_opt_pass oxrt_pass_eliminate_consecutive_idempotent_ops;
extern const oxrt_opt_pass oxrt_pass_eliminate_nop_monotone_argmax;
extern const oxrt_opt_pass oxrt_pass_eliminate_unused_initializer;
extern const oxrt_opt_pass oxrt_pass_eliminate_duplicate_initializer;
extern const oxrt_opt_pass oxrt_pass_eliminate_common_subexpression;
extern const oxrt_opt_pass oxrt_pass_extract_constant_to_initializer;
extern const oxrt_opt_pass oxrt_pass_fuse_consecutive_squeezes;
extern const oxrt_opt_pass oxrt_pass_fuse_consecutive_unsqueezes;
extern const oxrt_opt_pass oxrt_pass_fuse_consecutive_concats;
extern const oxrt_opt_pass oxrt_pass_fuse_consecutive_log_softmax;
extern const oxrt_opt_pass oxrt_pass_fuse_pad_into_conv;
extern const oxrt_opt_pass oxrt_pass_fuse_transpose_into_gemm;
extern const oxrt_opt_pass oxrt_pass_eliminate_shape_op;
extern const oxrt_opt_pass oxrt_pass_eliminate_shape_gather;
extern const oxrt_opt_pass oxrt_pass_fuse_consecutive_reduce_unsqueeze;
extern const oxrt_opt_pass oxrt_pass_rewrite_where;
extern const oxrt_opt_pass oxrt_pass_eliminate_if_with_const_cond;
extern const oxrt_opt_pass oxrt_pass_eliminate_slice_after_shape;
extern const oxrt_opt_pass oxrt_pass_fuse_pad_into_pool;
extern const oxrt_opt_pass oxrt_pass_fuse_concat_into_reshape;
extern const oxrt_opt_pass oxrt_pass_fuse_qkv;
extern const oxrt_opt_pass oxrt_pass_fuse_consecutive_slices;
extern const oxrt_opt_pass oxrt_pass_fuse_skip_layer_norm;

/* ------------------------------------------------------------ helpers */
/* Use information of a graph's values. */
typedef struct opt_uses {
  int *count;   /* node-input references in this graph */
  bool *pinned; /* graph input/output, or captured by name from a subgraph: name and value must stay */
} opt_uses;

oxrt_status *opt_uses_build(const oxrt_graph *g, opt_uses *u);
void opt_uses_free(opt_uses *u);

/* The constant behind value `id`: an initializer that no graph input can override; else NULL. */
const oxrt_value *opt_const(const oxrt_graph *g, int id);
/* Element type of a value (initializer or declared tensor type), UNDEFINED if unknown. */
oxrt_elem_type opt_elem_type(const oxrt_graph *g, int id);
/* Shape of a value when its rank is known: returns the rank (-1 unknown); dims are -1 where not fixed. */
int opt_shape(const oxrt_graph *g, int id, int64_t *dims);
/* The dims a Shape node reports of a rank-`rank` input: [start, end) after opset 15's clamping; their count. */
int opt_shape_range(const oxrt_model *m, const oxrt_node *shape, int rank, int64_t *start, int64_t *end);
/* The dims Shape node `shape` gives (-1 where unknown), its start/end applied; their count, or -1 (rank unknown). */
int opt_shape_node_dims(const oxrt_model *m, const oxrt_graph *g, const oxrt_node *shape, int64_t *dims);
/* Node producing `id` in this graph, or NULL. */
oxrt_node *opt_producer(oxrt_graph *g, int id);
/* Replaces every node input `from` with `to` (this graph only). */
void opt_replace_uses(oxrt_graph *g, int from, int to);
/* A new initializer value named after `base` (made unique); takes ownership of `t`. Returns the id or -1 (t freed). */
int opt_add_initializer(oxrt_opt_ctx *ctx, oxrt_graph *g, const char *base, oxrt_value *t);
/* Sets (replaces or appends) an attribute on a node; the attrs array is copied into the arena. */
oxrt_status *opt_set_attr(oxrt_graph *g, oxrt_node *n, const oxrt_attr *at);
/* Sets the node's inputs to a new array of `n` ids. */
oxrt_status *opt_set_inputs(oxrt_graph *g, oxrt_node *nd, const int *ids, int n);
/* Node `p`, whose output 0 (`mid`) is read only by `consumer`, takes over the consumer's output 0
 * (its name stays); `mid` dies and the consumer is marked deleted. */
void opt_absorb_consumer(oxrt_graph *g, opt_uses *u, oxrt_node *p, oxrt_node *consumer, int mid);
/* True if any attribute of the node holds a graph. */
bool opt_has_subgraph(const oxrt_node *n);
/* Redirects a noop node y = op(x) away: uses of y read x, or x's producer writes y.
 * Returns true if the node could be removed (then it is marked deleted). */
bool opt_bypass(oxrt_graph *g, oxrt_node *n, int x, int y, opt_uses *u);
/* Runs one node's kernel on constant inputs (through the registry). outs[k] receive new values.
 * Fails when the operator is unknown or the kernel fails. */
oxrt_status *opt_eval_node(const oxrt_model *m, const oxrt_node *n, const oxrt_value *const *ins, oxrt_value **outs);
/* Opset of the node's domain in the model, or -1. */
int64_t opt_node_opset(const oxrt_model *m, const oxrt_node *n);

/* Pattern fusions (fuse_util.c). */
/* Adds `domain` at `version` to the model's opset imports unless it is imported already. */
oxrt_status *opt_import_domain(oxrt_model *m, const char *domain, int64_t version);
/* Node `n` is ai.onnx `op` with `n_inputs` inputs, one output and no attributes (no legacy broadcast). */
bool opt_is_op(const oxrt_node *n, const char *op, int n_inputs);
/* Value `id` is a one-element constant of type `t` (float, float16 or double), of rank <= max_rank, equal to
 * `want` within the precision of its type. */
bool opt_scalar_near(const oxrt_graph *g, int id, oxrt_elem_type t, int max_rank, double want);
/* The one node reading `id`, if exactly one reads it and it is no graph output / captured value; else NULL. */
oxrt_node *opt_sole_reader(oxrt_graph *g, const opt_uses *u, int id);
/* The single-output producer of `id`, if `id` is read exactly once and is no graph output; else NULL. */
oxrt_node *opt_sole_producer(oxrt_graph *g, const opt_uses *u, int id);
/* For a binary node reading `id`: its other input (id itself for op(id, id)); -1 if it does not read id. */
int opt_other_input(const oxrt_node *n, int id);
/* Element type of value `id`: declared or inferred, else followed back through producers that keep their
 * input's type (elementwise ops, Conv, MatMul, reshapes, Cast's `to`); UNDEFINED if that finds nothing. */
oxrt_elem_type opt_value_type(oxrt_graph *g, int id);
/* The Pad node's pads (2 * rank entries) into p when it is plain zero padding of the spatial axes only (constant
 * mode, value 0, none negative, no axes input); returns the rank, else -1 (pass_fuse_pad_into_conv.c). */
int opt_zero_pads(oxrt_opt_ctx *ctx, oxrt_graph *g, const oxrt_node *pad, int64_t *p);
/* Length of constant c as a per-channel operand of a value of rank `rank` with channels on axis 1 (shapes [M,1,..],
 * [1,M,1,..]): M; 1 for one element; 0 when c is neither (it varies along another axis or raises the rank). */
int64_t opt_channel_len(const oxrt_value *c, int rank);
/* dst[i * per + k] = src[i * per + k] * sc[i * sc_step] in type t (float, float16, bfloat16 or double), rounded once:
 * a weight's rows (output channels) scaled by a folded per-channel factor (sc_step 1) or one factor (sc_step 0). */
void opt_scale_rows(oxrt_elem_type t, const void *src, void *dst, size_t rows, size_t per, const double *sc,
                    size_t sc_step);

#endif
