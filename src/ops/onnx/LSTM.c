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

static void lstm_step(const rnn_dir *d, void *const *gx, void *h, void *c) {
  const size_t H = d->hidden, B = d->batch, G = 4 * H;
  const bool dbl = d->dbl;
  const rnn_attrs *a = d->a;
  const size_t ws = dbl ? sizeof(double) : sizeof(float);
  oxrt_rnn_gemm_bt(dbl, B, G, H, h, H, d->R, H, 0.0, d->gh, G, d->pool);
  for (size_t b = 0; b < B; b++) {
    if (!gx[b]) continue;
    const void *row = (const char *)d->gh + b * G * ws, *x = gx[b];
    for (size_t j = 0; j < H; j++) {
      double cp = rnn_ld(c, b * H + j, dbl);
      double vi = rnn_ld(x, j, dbl) + rnn_ld(row, j, dbl) + (d->P ? rnn_ld(d->P, j, dbl) * cp : 0.0);
      double it = oxrt_rnn_activate(a, &d->act[0], vi);
      double ft;
      if (a->input_forget) {
        ft = 1.0 - it;
      } else {
        double vf = rnn_ld(x, 2 * H + j, dbl) + rnn_ld(row, 2 * H + j, dbl) +
                    (d->P ? rnn_ld(d->P, 2 * H + j, dbl) * cp : 0.0);
        ft = oxrt_rnn_activate(a, &d->act[0], vf);
      }
      double ct = oxrt_rnn_activate(a, &d->act[1], rnn_ld(x, 3 * H + j, dbl) + rnn_ld(row, 3 * H + j, dbl));
      double cn = ft * cp + it * ct;
      double vo = rnn_ld(x, H + j, dbl) + rnn_ld(row, H + j, dbl) + (d->P ? rnn_ld(d->P, H + j, dbl) * cn : 0.0);
      double ot = oxrt_rnn_activate(a, &d->act[0], vo);
      rnn_st(c, b * H + j, cn, dbl);
      rnn_st(h, b * H + j, ot * oxrt_rnn_act(&d->act[2], cn), dbl);
    }
  }
}

static oxrt_status *lstm_prepare(const oxrt_node *node, int opset, void **state) {
  return oxrt_rnn_prepare(node, opset, RNN_CELL_LSTM, state);
}
static oxrt_status *lstm_run(oxrt_kernel_ctx *ctx) { return oxrt_rnn_run(ctx, lstm_step); }

static const oxrt_op_impl lstm_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .prepare = lstm_prepare, .run = lstm_run},
    {.since_version = 7, .type_mask = OXRT_TMASK_FLOATS, .prepare = lstm_prepare, .run = lstm_run},
    {.since_version = 14, .type_mask = OXRT_TMASK_FLOATS, .prepare = lstm_prepare, .run = lstm_run},
};
OXRT_REGISTER_OP(LSTM) = {"", "LSTM", OXRT_IMPLS(lstm_impls)};
