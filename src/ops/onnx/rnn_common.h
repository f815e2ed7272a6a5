/* rnn_common.h - shared driver of the recurrent family (RNN, GRU, LSTM); private to RNN.c, GRU.c, LSTM.c and
 * rnn_f32.c.
 *
 * The driver validates inputs and picks a path. float, float16 and bfloat16 take the float path (rnn_f32.c:
 * weights packed once, fused per-step kernels, threads). double (and float problems whose input projections
 * would not fit its buffer) take the generic path here: inputs converted to a working precision (double for
 * double tensors, else float), the input projections X*W^T + biases of all time steps with one GEMM per
 * direction, then the cell's step function once per time step. Both handle directions, sequence_lens (each
 * row stops after its own length; reverse rows start at their own last step), initial states, layout
 * (opset 14) and write Y, Y_h, Y_c. */
#ifndef OXRT_OPS_ONNX_RNN_COMMON_H
#define OXRT_OPS_ONNX_RNN_COMMON_H
#include "../op_util.h"

typedef enum rnn_cell { RNN_CELL_RNN, RNN_CELL_GRU, RNN_CELL_LSTM } rnn_cell;

typedef enum rnn_act_kind {
  RNN_ACT_RELU,
  RNN_ACT_TANH,
  RNN_ACT_SIGMOID,
  RNN_ACT_AFFINE,
  RNN_ACT_LEAKYRELU,
  RNN_ACT_THRESHOLDEDRELU,
  RNN_ACT_SCALEDTANH,
  RNN_ACT_HARDSIGMOID,
  RNN_ACT_ELU,
  RNN_ACT_SOFTSIGN,
  RNN_ACT_SOFTPLUS
} rnn_act_kind;

typedef struct rnn_act {
  rnn_act_kind kind;
  double alpha, beta;
} rnn_act;

typedef struct rnn_attrs {
  rnn_cell cell;
  int gates;   /* gate blocks in W/R: 1 (RNN), 3 (GRU: z r h), 4 (LSTM: i o f c) */
  int n_act;   /* activations per direction: 1, 2, 3 */
  int ndir;    /* 1 or 2 */
  bool reverse; /* direction == "reverse" (ndir 1) */
  int64_t hidden; /* hidden_size attribute, 0 when absent (taken from R) */
  bool has_clip;
  double clip;
  int layout;
  bool linear_before_reset, input_forget;
  rnn_act act[2][3]; /* per direction */
  struct rnn_f32_cache *f32; /* the float path's weights prepared once (rnn_f32.c) */
} rnn_attrs;

/* What a cell's step sees for one direction. Buffers are in the working type (double when `dbl`, else float). */
typedef struct rnn_dir {
  const rnn_attrs *a;
  bool dbl;
  oxrt_threadpool *pool;
  size_t batch, hidden;
  const void *R;  /* [gates*H, H] */
  const void *Rb; /* [gates*H] recurrence bias; folded into the projections except GRU's h gate with
                     linear_before_reset (the step adds it); NULL when B is absent */
  const void *P;  /* LSTM peepholes [3H] (i, o, f) or NULL */
  const rnn_act *act;
  void *gh;      /* scratch [batch, gates*H] */
  void *scratch; /* scratch [batch, H] */
} rnn_dir;

/* One time step: `gx[b]` points at row b's input projection (gates*H values; the step may overwrite it) or is
 * NULL when row b has finished its sequence; h (and c for LSTM) [batch, H] are updated in place for active rows. */
typedef void (*rnn_step_fn)(const rnn_dir *d, void *const *gx, void *h, void *c);

/* Parses and checks the attributes for `cell` into a new rnn_attrs state; oxrt_rnn_release frees it. */
oxrt_status *oxrt_rnn_prepare(const oxrt_node *node, int opset, rnn_cell cell, void **state);
void oxrt_rnn_release(void *state);
/* Runs the whole operator: the float path (rnn_f32.c) for float, float16 and bfloat16, else the generic driver
 * with the cell's step function. */
oxrt_status *oxrt_rnn_run(oxrt_kernel_ctx *ctx, rnn_step_fn step);

/* The node's checked inputs and sizes. */
typedef struct rnn_io {
  const oxrt_value *X, *W, *R, *B, *H0, *C0, *P; /* optional ones NULL */
  oxrt_elem_type T;
  size_t S, Bt, I, H, D, G; /* steps, batch, input size, hidden size, directions, gates */
  int32_t *lens;            /* [Bt] sequence lengths (malloc'd) */
} rnn_io;
oxrt_status *oxrt_rnn_check(oxrt_kernel_ctx *ctx, rnn_io *io);
/* Writes working buffer `src` ([D, Bt, H] or [S, D, Bt, H], double when `dbl` else float) to output `o`,
 * converting and applying layout 1 ([Bt, D, H] / [Bt, S, D, H]). Nothing when the output is not wanted. */
oxrt_status *oxrt_rnn_write_output(oxrt_kernel_ctx *ctx, int o, oxrt_elem_type t, bool dbl, const void *src, int rank,
                                   const int64_t *dims0, int layout);

/* Float path (rnn_f32.c). Sets *done = false (and does nothing) when it declines the problem. */
struct rnn_f32_cache *oxrt_rnn_f32_cache_new(void);
void oxrt_rnn_f32_cache_free(struct rnn_f32_cache *c);
oxrt_status *oxrt_rnn_run_f32(oxrt_kernel_ctx *ctx, const rnn_io *io, bool *done);
/* prepare's part: constant W, R, B made into the float path's weights at session creation. */
oxrt_status *oxrt_rnn_f32_prepare(const rnn_attrs *a, const oxrt_prepare_ctx *pc);

/* Helpers for steps. */
static inline double rnn_ld(const void *p, size_t i, bool dbl) {
  return dbl ? ((const double *)p)[i] : (double)((const float *)p)[i];
}
static inline void rnn_st(void *p, size_t i, double v, bool dbl) {
  if (dbl) ((double *)p)[i] = v;
  else ((float *)p)[i] = (float)v;
}
/* In place over n values of the working type: clip (when `clip` and the attribute is set), then activation f.
 * Gate pre-activations are clipped; LSTM's h(Ct) is not, as in ONNX Runtime. */
void oxrt_rnn_vact(const rnn_attrs *a, const rnn_act *f, bool clip, bool dbl, void *x, size_t n);
/* x += y;  x += p (.) c */
void oxrt_rnn_vadd(bool dbl, void *x, const void *y, size_t n);
void oxrt_rnn_vmuladd(bool dbl, void *x, const void *p, const void *c, size_t n);
/* C[M,N] = A[M,K] * B[N,K]^T + beta*C in the working type. */
void oxrt_rnn_gemm_bt(bool dbl, size_t M, size_t N, size_t K, const void *A, size_t lda, const void *B, size_t ldb,
                      double beta, void *C, size_t ldc, oxrt_threadpool *pool);

#endif
