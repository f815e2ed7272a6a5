/* LSTM.c - LSTM (opsets 1, 7, 14 (layout), 22 (bfloat16)). Gates i, o, f, c; peepholes P = [Pi, Po, Pf]:
 *   it = f(Xt*Wi^T + Ht-1*Ri^T + Pi (.) Ct-1 + Wbi + Rbi)
 *   ft = f(Xt*Wf^T + Ht-1*Rf^T + Pf (.) Ct-1 + Wbf + Rbf)      (1 - it with input_forget)
 *   ct = g(Xt*Wc^T + Ht-1*Rc^T + Wbc + Rbc)
 *   Ct = ft (.) Ct-1 + it (.) ct
 *   ot = f(Xt*Wo^T + Ht-1*Ro^T + Po (.) Ct + Wbo + Rbo)
 *   Ht = ot (.) h(Ct)
 * clip bounds the gates' pre-activations; h(Ct) takes the cell state unclipped, as ONNX Runtime does.
 * Directions, sequence_lens, initial states, clip, layout: the shared driver (rnn_common.c). */
#include "rnn_common.h"
#include "../infer_rules.h"

static void lstm_step(const rnn_dir *d, void *const *gx, void *h, void *c) {
  const size_t H = d->hidden, B = d->batch, G = 4 * H;
  const bool dbl = d->dbl;
  const rnn_attrs *a = d->a;
  const size_t ws = dbl ? sizeof(double) : sizeof(float);
  const char *P = d->P;
  oxrt_rnn_gemm_bt(dbl, B, G, H, h, H, d->R, H, 0.0, d->gh, G, d->pool);
  for (size_t b = 0; b < B; b++) {
    if (!gx[b]) continue;
    char *x = gx[b], *xi = x, *xo = x + H * ws, *xf = x + 2 * H * ws, *xc = x + 3 * H * ws;
    char *cb = (char *)c + b * H * ws, *hb = (char *)h + b * H * ws, *tmp = (char *)d->scratch + b * H * ws;
    oxrt_rnn_vadd(dbl, x, (const char *)d->gh + b * G * ws, G);
    if (P) oxrt_rnn_vmuladd(dbl, xi, P, cb, H);
    oxrt_rnn_vact(a, &d->act[0], true, dbl, xi, H);
    if (a->input_forget) {
      for (size_t j = 0; j < H; j++) rnn_st(xf, j, 1.0 - rnn_ld(xi, j, dbl), dbl);
    } else {
      if (P) oxrt_rnn_vmuladd(dbl, xf, P + 2 * H * ws, cb, H);
      oxrt_rnn_vact(a, &d->act[0], true, dbl, xf, H);
    }
    oxrt_rnn_vact(a, &d->act[1], true, dbl, xc, H);
    for (size_t j = 0; j < H; j++) {
      double cn = rnn_ld(xf, j, dbl) * rnn_ld(cb, j, dbl) + rnn_ld(xi, j, dbl) * rnn_ld(xc, j, dbl);
      rnn_st(cb, j, cn, dbl);
      rnn_st(tmp, j, cn, dbl);
    }
    if (P) oxrt_rnn_vmuladd(dbl, xo, P + H * ws, cb, H);
    oxrt_rnn_vact(a, &d->act[0], true, dbl, xo, H);
    oxrt_rnn_vact(a, &d->act[2], false, dbl, tmp, H);
    for (size_t j = 0; j < H; j++) rnn_st(hb, j, rnn_ld(xo, j, dbl) * rnn_ld(tmp, j, dbl), dbl);
  }
}

static oxrt_status *lstm_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  OXRT_TRY(oxrt_rnn_prepare(node, opset, RNN_CELL_LSTM, state));
  return oxrt_rnn_f32_prepare(*state, pc);
}
static oxrt_status *lstm_run(oxrt_kernel_ctx *ctx) { return oxrt_rnn_run(ctx, lstm_step); }

#define LSTM_HOOKS .prepare = lstm_prepare, .run = lstm_run, .release = oxrt_rnn_release
static const oxrt_op_impl lstm_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, LSTM_HOOKS},
    {.since_version = 7, .type_mask = OXRT_TMASK_FLOATS, LSTM_HOOKS},
    {.since_version = 14, .type_mask = OXRT_TMASK_FLOATS, LSTM_HOOKS},
};
OXRT_REGISTER_OP(LSTM) = {"", "LSTM", OXRT_IMPLS(lstm_impls), .infer = oxrt_infer_rnn};
