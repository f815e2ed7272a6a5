/* infer.h - static type and shape inference over a graph, for sessions, the checker and `oxrt infer-shapes`. */
#ifndef OXRT_EXEC_INFER_H
#define OXRT_EXEC_INFER_H
#include "../core/status.h"
#include "../ir/ir.h"

enum {
  /* A declared type or shape (value_info, graph output) that contradicts the inferred one is an error. */
  OXRT_INFER_STRICT = 1,
  /* Also infer inside If/Loop/Scan bodies (their formal inputs typed by the node, outer-scope values visible), so
   * that the outputs of those nodes are shaped and subgraph values typed. Every operator rule and data
   * propagation (small int64 contents through Shape/Gather/Concat/... chains) apply with or without it. */
  OXRT_INFER_EXTENDED = 2,
};

typedef struct oxrt_infer oxrt_infer;
/* Starts inference over `g` (a graph of `m`). */
oxrt_status *oxrt_infer_begin(const oxrt_model *m, oxrt_graph *g, unsigned flags, oxrt_infer **out);
/* Infers the outputs of node `n` of the graph (call in topological order). */
oxrt_status *oxrt_infer_node(oxrt_infer *c, const oxrt_node *n);
void oxrt_infer_end(oxrt_infer *c);
/* The whole graph in node order; errors name the node. */
oxrt_status *oxrt_infer_graph(const oxrt_model *m, oxrt_graph *g, unsigned flags);

#endif
