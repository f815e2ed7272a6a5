/* quant.h - quantization and precision tooling shared inside src/quant: graph building helpers for the
 * rewrites (quantize.c, convert_float.c, bf16_compute.c) and activation-range calibration (calibrate.c).
 *
 * The rewrites work on the IR of a loaded model and append nodes at the end of the node array; qg_topo_sort
 * puts them back into an order where every node follows the producers of its inputs before saving. */
#ifndef OXRT_QUANT_H
#define OXRT_QUANT_H
#include "../onnx/onnx_reader.h"
#include "../opt/opt.h"

/* A rewrite in progress: the model, its main graph, a counter for fresh names. */
typedef struct qg_ctx {
  oxrt_opt_ctx opt; /* model + name counter, shared with the optimizer's helpers */
  oxrt_graph *g;
} qg_ctx;

/* A fresh value named `base` + `suffix` (made unique); -1 on OOM. */
int qg_new_value(qg_ctx *c, const char *base, const char *suffix);
/* Appends a node; `ins`/`outs` are value ids (-1 for omitted). Returns the node index or -1 on OOM.
 * Sets the outputs' producer. The node pointer may move when later nodes are added. */
int qg_add_node(qg_ctx *c, const char *op, const char *domain, const char *name, const int *ins, int n_in,
                const int *outs, int n_out);
/* Sets an int / float / ints attribute on node `idx`. */
oxrt_status *qg_attr_int(qg_ctx *c, int idx, const char *name, int64_t v);
oxrt_status *qg_attr_float(qg_ctx *c, int idx, const char *name, float v);
oxrt_status *qg_attr_ints(qg_ctx *c, int idx, const char *name, const int64_t *v, size_t n);
/* New initializers: a scalar (rank 0) or 1-D tensor of `t` from doubles; a tensor of any shape owning `data`. */
int qg_const_scalar(qg_ctx *c, const char *base, oxrt_elem_type t, double v);
int qg_const_vec(qg_ctx *c, const char *base, oxrt_elem_type t, const double *v, size_t n);
int qg_const_tensor(qg_ctx *c, const char *base, oxrt_value *t); /* adopts t */
/* Reorders the main graph's nodes so that producers come before consumers (stable: otherwise the
 * original order). Fails on a cycle. */
oxrt_status *qg_topo_sort(oxrt_graph *g);
/* Loads the model at `path` (memory-mapped; external data relative to its folder). */
/* Writes the model (large models with external data next to it). */
oxrt_status *qg_save(oxrt_model *m, const char *path);
/* True if `name` is one of the comma-separated items of `list`. */
bool qg_list_has(const char *list, const char *name);

/* Activation ranges over calibration batches (calibrate.c). */
typedef struct qg_range {
  float lo, hi;
} qg_range;

/* Runs the model once per batch with `ids` (main-graph values) exposed as outputs and returns their ranges
 * by `method`: min/max, or clipped by the entropy (KL) or percentile rule on a histogram. */
oxrt_status *qg_calibrate(oxrt_model *m, const int *ids, int n_ids, const oxrt_quantize_options *o, qg_range *out);

#endif
