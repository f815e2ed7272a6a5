/* infer_rules.h - shape/type rules shared by operator families, and helpers for writing `infer` hooks.
 *
 * An operator points its schema at one of these (`.infer = oxrt_infer_same`) or at a hook of its own beside
 * `run` that uses the helpers; src/exec/infer.c walks the graph and knows no operator by name. */
#ifndef OXRT_OPS_INFER_RULES_H
#define OXRT_OPS_INFER_RULES_H
#include "../exec/kernel.h"
#include <stddef.h>
#include <string.h> /* memset/memcpy in hooks */

/* ---- helpers ---- */
/* Nothing known: undefined element type, unknown rank. */
void oxrt_tshape_clear(oxrt_tshape *s);
/* Multidirectional (numpy) broadcast of n shapes into *out (rank -1 when one rank is unknown); false on a
 * contradiction between fixed sizes. Symbolic sizes are kept when they agree by name. */
bool oxrt_tshape_broadcast(oxrt_tshape *out, const oxrt_tshape *in, int n);
/* What two values have in common (If branches, loop state before and after): false when the element types
 * differ or one is unknown; sizes that differ become unknown, ranks that differ an unknown rank. */
bool oxrt_tshape_union(const oxrt_tshape *a, const oxrt_tshape *b, oxrt_tshape *out);
/* "[batch,3,224,224]" into buf, for messages. */
const char *oxrt_tshape_text(const oxrt_tshape *s, char *buf, size_t cap);
/* Spatial output size of a convolution/pooling window; -1 when unknown (or attributes are hostile). */
int64_t oxrt_window_out(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pad_begin, int64_t pad_end,
                        const char *auto_pad, bool ceil_mode);
/* Axes from the `axes` attribute or from input `input` (newer opsets); *n = 0 when neither is given. False
 * when the input is given but its content is not known. `attr` names the attribute ("axes", "split"). */
bool oxrt_infer_axes(const oxrt_infer_ctx *ctx, const char *attr, int input, int64_t *axes, int *n);
/* Input i's shape as known content (the value of a Shape op on it); false when its rank is unknown. */
bool oxrt_known_from_shape(const oxrt_tshape *s, int64_t start, int64_t end, oxrt_known_ints *k);

/* numpy matmul of inputs ia and ib into output 0 (batch dimensions broadcast, [.., M, K] x [.., K, N], 1-D operands
 * lose their added dimension), element type `elem` (OXRT_UNDEFINED: input ia's). False, with nothing written, when
 * either shape is unknown; otherwise true with *st the verdict (contradicting sizes, or the output's). */
bool oxrt_infer_matmul_shape(oxrt_infer_ctx *ctx, int ia, int ib, oxrt_elem_type elem, oxrt_status **st);

/* ---- shared rules (hooks) ---- */
/* Output 0 has the type and shape of input 0 (elementwise unary ops, normalizations, Softmax, ...). */
oxrt_status *oxrt_infer_same(oxrt_infer_ctx *ctx);
/* Like oxrt_infer_same, and output 0's content is input 0's (Identity, Dropout at inference). */
oxrt_status *oxrt_infer_same_content(oxrt_infer_ctx *ctx);
/* Multidirectional broadcast of all inputs, element type of input 0; opset < 7 `broadcast` attribute: input 0's
 * shape. */
oxrt_status *oxrt_infer_broadcast(oxrt_infer_ctx *ctx);
/* Broadcast with int64 arithmetic on known contents (Shape -> Add/Sub/Mul/Div chains). */
oxrt_status *oxrt_infer_add(oxrt_infer_ctx *ctx);
oxrt_status *oxrt_infer_sub(oxrt_infer_ctx *ctx);
oxrt_status *oxrt_infer_mul(oxrt_infer_ctx *ctx);
oxrt_status *oxrt_infer_div(oxrt_infer_ctx *ctx);
/* Broadcast, bool output (Equal, Less, ...). */
oxrt_status *oxrt_infer_compare(oxrt_infer_ctx *ctx);
/* Convolution windows: [N, W.dims[0], spatial...] from kernel_shape/strides/dilations/pads/auto_pad. */
oxrt_status *oxrt_infer_conv(oxrt_infer_ctx *ctx);
/* Pooling windows (MaxPool, AveragePool, LpPool): [N, C, spatial...], ceil_mode honoured. */
oxrt_status *oxrt_infer_pool(oxrt_infer_ctx *ctx);
/* Global pooling: [N, C, 1, ...]. */
oxrt_status *oxrt_infer_global_pool(oxrt_infer_ctx *ctx);
/* Reductions over `axes` (attribute or input 1), keepdims, noop_with_empty_axes. */
oxrt_status *oxrt_infer_reduce(oxrt_infer_ctx *ctx);
/* ArgMax/ArgMin: one `axis`, int64 output. */
oxrt_status *oxrt_infer_arg_reduce(oxrt_infer_ctx *ctx);

/* RNN, GRU, LSTM: Y [seq, dirs, batch, hidden] and Y_h/Y_c [dirs, batch, hidden] (batch first with layout 1). */
oxrt_status *oxrt_infer_rnn(oxrt_infer_ctx *ctx);

#endif
