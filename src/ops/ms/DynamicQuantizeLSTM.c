/* DynamicQuantizeLSTM.c - com.microsoft DynamicQuantizeLSTM (quantize_dynamic's LSTM): ONNX LSTM's inputs
 * X, W, R, B, sequence_lens, initial_h, initial_c, P, then W_scale, W_zero_point, R_scale, R_zero_point;
 * W [D, input, 4H] and R [D, H, 4H] are 8-bit and stored transposed against LSTM's. The weights are
 * dequantized once per session (per direction, or per direction and gate column) into LSTM's float layout,
 * and LSTM's own implementation runs the recurrence in float32. ONNX Runtime instead quantizes the activations
 * dynamically per step, so results agree to that quantization's noise, not bit for bit. */
#include "../onnx/linalg_util.h"

extern const oxrt_op_schema oxrt_op_LSTM;

static const oxrt_op_impl *lstm_impl(void) { return &oxrt_op_LSTM.impls[oxrt_op_LSTM.n_impls - 1]; }

typedef struct {
  void *lstm; /* LSTM's own state */
  la_once_cache cache;
} dqlstm_state;

typedef struct {
  oxrt_value *w, *r;
  const void *wdata, *rdata;
} dqlstm_weights;

static void weights_free(dqlstm_weights *w) {
  if (!w) return;
  oxrt_value_free(w->w);
  oxrt_value_free(w->r);
  free(w);
}

static oxrt_status *dqlstm_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  dqlstm_state *st = calloc(1, sizeof *st);
  if (!st) return OXRT_OOM();
  la_once_init(&st->cache);
  /* LSTM's own inputs differ from these (int8 W and R): it prepares without constants */
  oxrt_prepare_ctx lpc = oxrt_prepare_ctx_bare(node, lstm_impl()->since_version);
  oxrt_status *s = lstm_impl()->prepare ? lstm_impl()->prepare(&lpc, &st->lstm) : NULL;
  if (s) {
    pthread_mutex_destroy(&st->cache.mu);
    free(st);
    return s;
  }
  *state = st;
  return NULL;
}

static void dqlstm_release(void *state) {
  dqlstm_state *st = state;
  if (!st) return;
  if (lstm_impl()->release) lstm_impl()->release(st->lstm);
  else free(st->lstm);
  weights_free(atomic_load(&st->cache.item));
  pthread_mutex_destroy(&st->cache.mu);
  free(st);
}

/* q [D, rows, cols] (8-bit) -> float [D, cols, rows]: (q - zp) * scale, with scale / zp of D or D*cols values. */
static oxrt_status *dequant_t(const oxrt_value *q, const oxrt_value *sc, const oxrt_value *zp, int qi,
                              oxrt_value **out) {
  if (q->rank != 3 || (q->dtype != OXRT_INT8 && q->dtype != OXRT_UINT8))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: expected a 3-D int8 or uint8 weight", qi);
  size_t D = (size_t)q->dims[0], rows = (size_t)q->dims[1], cols = (size_t)q->dims[2];
  if (!sc || !oxrt_dtype_is_float(sc->dtype) || (sc->count != D && sc->count != D * cols) ||
      (zp && (zp->count != sc->count || zp->dtype != q->dtype)))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                      "input %d's scale / zero point: expected %zu or %zu values (zero point of the weight's type)", qi,
                      D, D * cols);
  int64_t dims[3] = {(int64_t)D, (int64_t)cols, (int64_t)rows};
  OXRT_TRY(oxrt_tensor_new(OXRT_FLOAT, 3, dims, out));
  float *f = (*out)->data;
  bool per_col = sc->count != D;
  for (size_t d = 0; d < D; d++)
    for (size_t r = 0; r < rows; r++)
      for (size_t c = 0; c < cols; c++) {
        size_t p = per_col ? d * cols + c : d, i = (d * rows + r) * cols + c;
        double z = zp ? (double)oxrt_load_i64(zp->dtype, zp->data, p) : 0.0;
        f[(d * cols + c) * rows + r] = (float)((oxrt_load_i64(q->dtype, q->data, i) - z) * oxrt_load_f64(sc->dtype, sc->data, p));
      }
  return NULL;
}

typedef struct {
  const oxrt_kernel_ctx *ctx;
  oxrt_status *err;
} dq_arg;

static void *weights_make(void *varg) {
  dq_arg *a = varg;
  const oxrt_kernel_ctx *ctx = a->ctx;
  dqlstm_weights *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  a->err = dequant_t(oxrt_input(ctx, 1), oxrt_input(ctx, 8), oxrt_input(ctx, 9), 1, &w->w);
  if (!a->err) a->err = dequant_t(oxrt_input(ctx, 2), oxrt_input(ctx, 10), oxrt_input(ctx, 11), 2, &w->r);
  if (a->err) {
    weights_free(w);
    return NULL;
  }
  w->wdata = oxrt_input(ctx, 1)->data, w->rdata = oxrt_input(ctx, 2)->data;
  return w;
}

static oxrt_status *dqlstm_run(oxrt_kernel_ctx *ctx) {
  dqlstm_state *st = ctx->state;
  const oxrt_value *W = oxrt_input(ctx, 1), *R = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(W, 1, "W"));
  OXRT_TRY(oxrt_check_tensor(R, 2, "R"));
  dq_arg arg = {ctx, NULL};
  dqlstm_weights *w = NULL, *own = NULL;
  bool constant = true;
  for (int i = 1; i <= 11 && constant; i++)
    if (i <= 2 || i >= 8) constant = !oxrt_input(ctx, i) || oxrt_input_is_constant(ctx, i, oxrt_input(ctx, i));
  if (constant) {
    w = la_once_get(&st->cache, weights_make, &arg);
    if (w && (w->wdata != W->data || w->rdata != R->data)) w = NULL;
  }
  if (!w) {
    if (arg.err) oxrt_status_free(arg.err), arg.err = NULL;
    own = w = weights_make(&arg);
    if (!w) return arg.err ? arg.err : OXRT_OOM();
  }
  const oxrt_value *ins[8];
  for (int i = 0; i < 8; i++) ins[i] = oxrt_input(ctx, i);
  ins[1] = w->w, ins[2] = w->r;
  oxrt_kernel_ctx c = *ctx;
  c.inputs = ins, c.n_inputs = 8, c.state = st->lstm, c.opset = lstm_impl()->since_version;
  oxrt_status *s = lstm_impl()->run(&c);
  weights_free(own);
  return s;
}

static const oxrt_op_impl dqlstm_impls[] = {{.since_version = 1, .type_mask = OXRT_TBIT(OXRT_FLOAT),
                                             .prepare = dqlstm_prepare, .run = dqlstm_run, .release = dqlstm_release}};
OXRT_REGISTER_OP(ms_DynamicQuantizeLSTM) = {"com.microsoft", "DynamicQuantizeLSTM", OXRT_IMPLS(dqlstm_impls)};
