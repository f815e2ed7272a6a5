/* GRU.c - GRU (opsets 1, 3 (linear_before_reset), 7, 14 (layout), 22 (bfloat16)). Gates z, r, h:
 *   zt = f(Xt*Wz^T + Ht-1*Rz^T + Wbz + Rbz)        rt = f(Xt*Wr^T + Ht-1*Rr^T + Wbr + Rbr)
 *   ht = g(Xt*Wh^T + (rt (.) Ht-1)*Rh^T + Rbh + Wbh)            linear_before_reset = 0
 *   ht = g(Xt*Wh^T + rt (.) (Ht-1*Rh^T + Rbh) + Wbh)            linear_before_reset = 1
 *   Ht = (1 - zt) (.) ht + zt (.) Ht-1
 * The shared driver (rnn_common.c) folds Wb and Rb into the input projections, except Rbh with
 * linear_before_reset, which this step adds. */
#include "rnn_common.h"

static void gru_step(const rnn_dir *d, void *const *gx, void *h, void *c) {
  (void)c;
  const size_t H = d->hidden, B = d->batch, G = 3 * H;
  const bool dbl = d->dbl;
  const rnn_attrs *a = d->a;
  char *gh = d->gh;
  const size_t ws = dbl ? sizeof(double) : sizeof(float);
  if (a->linear_before_reset) {
    oxrt_rnn_gemm_bt(dbl, B, G, H, h, H, d->R, H, 0.0, gh, G, d->pool);
    for (size_t b = 0; b < B; b++) {
      if (!gx[b]) continue;
      const void *row = gh + b * G * ws;
      for (size_t j = 0; j < H; j++) {
        double z = oxrt_rnn_activate(a, &d->act[0], rnn_ld(gx[b], j, dbl) + rnn_ld(row, j, dbl));
        double r = oxrt_rnn_activate(a, &d->act[0], rnn_ld(gx[b], H + j, dbl) + rnn_ld(row, H + j, dbl));
        double lin = rnn_ld(row, 2 * H + j, dbl) + (d->Rb ? rnn_ld(d->Rb, 2 * H + j, dbl) : 0.0);
        double hh = oxrt_rnn_activate(a, &d->act[1], rnn_ld(gx[b], 2 * H + j, dbl) + r * lin);
        double hp = rnn_ld(h, b * H + j, dbl);
        rnn_st(h, b * H + j, (1 - z) * hh + z * hp, dbl);
      }
    }
    return;
  }
  /* z and r first; then (r (.) Ht-1) * Rh^T */
  oxrt_rnn_gemm_bt(dbl, B, 2 * H, H, h, H, d->R, H, 0.0, gh, G, d->pool);
  for (size_t b = 0; b < B; b++) {
    const void *row = gh + b * G * ws;
    for (size_t j = 0; j < H; j++) {
      if (!gx[b]) {
        rnn_st(d->scratch, b * H + j, 0.0, dbl);
        continue;
      }
      double z = oxrt_rnn_activate(a, &d->act[0], rnn_ld(gx[b], j, dbl) + rnn_ld(row, j, dbl));
      double r = oxrt_rnn_activate(a, &d->act[0], rnn_ld(gx[b], H + j, dbl) + rnn_ld(row, H + j, dbl));
      rnn_st(gx[b], j, z, dbl);
      rnn_st(d->scratch, b * H + j, r * rnn_ld(h, b * H + j, dbl), dbl);
    }
  }
  oxrt_rnn_gemm_bt(dbl, B, H, H, d->scratch, H, (const char *)d->R + 2 * H * H * ws, H, 0.0, gh + 2 * H * ws, G,
                   d->pool);
  for (size_t b = 0; b < B; b++) {
    if (!gx[b]) continue;
    const void *row = gh + b * G * ws;
    for (size_t j = 0; j < H; j++) {
      double z = rnn_ld(gx[b], j, dbl);
      double hh = oxrt_rnn_activate(a, &d->act[1], rnn_ld(gx[b], 2 * H + j, dbl) + rnn_ld(row, 2 * H + j, dbl));
      double hp = rnn_ld(h, b * H + j, dbl);
      rnn_st(h, b * H + j, (1 - z) * hh + z * hp, dbl);
    }
  }
}

static oxrt_status *gru_prepare(const oxrt_node *node, int opset, void **state) {
  return oxrt_rnn_prepare(node, opset, RNN_CELL_GRU, state);
}
static oxrt_status *gru_run(oxrt_kernel_ctx *ctx) { return oxrt_rnn_run(ctx, gru_step); }

static const oxrt_op_impl gru_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .prepare = gru_prepare, .run = gru_run},
    {.since_version = 3, .type_mask = OXRT_TMASK_FLOATS, .prepare = gru_prepare, .run = gru_run},
    {.since_version = 7, .type_mask = OXRT_TMASK_FLOATS, .prepare = gru_prepare, .run = gru_run},
    {.since_version = 14, .type_mask = OXRT_TMASK_FLOATS, .prepare = gru_prepare, .run = gru_run},
};
OXRT_REGISTER_OP(GRU) = {"", "GRU", OXRT_IMPLS(gru_impls)};
