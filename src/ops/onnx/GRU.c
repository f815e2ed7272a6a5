/* GRU.c - GRU (opsets 1, 3 (linear_before_reset), 7, 14 (layout), 22 (bfloat16)). Gates z, r, h:
 *   zt = f(Xt*Wz^T + Ht-1*Rz^T + Wbz + Rbz)        rt = f(Xt*Wr^T + Ht-1*Rr^T + Wbr + Rbr)
 *   ht = g(Xt*Wh^T + (rt (.) Ht-1)*Rh^T + Rbh + Wbh)            linear_before_reset = 0
 *   ht = g(Xt*Wh^T + rt (.) (Ht-1*Rh^T + Rbh) + Wbh)            linear_before_reset = 1
 *   Ht = (1 - zt) (.) ht + zt (.) Ht-1
 * The shared driver (rnn_common.c) folds Wb and Rb into the input projections, except Rbh with
 * linear_before_reset, which this step adds. */
#include "rnn_common.h"
#include "../infer_rules.h"
#include <string.h>

static void gru_step(const rnn_dir *d, void *const *gx, void *h, void *c) {
  (void)c;
  const size_t H = d->hidden, B = d->batch, G = 3 * H;
  const bool dbl = d->dbl;
  const rnn_attrs *a = d->a;
  char *gh = d->gh;
  const size_t ws = dbl ? sizeof(double) : sizeof(float);
  /* z and r; with linear_before_reset also Ht-1*Rh^T in the same product */
  oxrt_rnn_gemm_bt(dbl, B, a->linear_before_reset ? G : 2 * H, H, h, H, d->R, H, 0.0, gh, G, d->pool);
  for (size_t b = 0; b < B; b++) {
    char *tmp = (char *)d->scratch + b * H * ws;
    if (!gx[b]) {
      memset(tmp, 0, H * ws);
      continue;
    }
    char *x = gx[b], *row = gh + b * G * ws;
    oxrt_rnn_vadd(dbl, x, row, 2 * H);
    oxrt_rnn_vact(a, &d->act[0], true, dbl, x, 2 * H);
    const char *r = x + H * ws, *hb = (const char *)h + b * H * ws;
    if (a->linear_before_reset) {
      /* h gate: Xt*Wh^T + Wbh + r (.) (Ht-1*Rh^T + Rbh) */
      char *lin = row + 2 * H * ws;
      if (d->Rb) oxrt_rnn_vadd(dbl, lin, (const char *)d->Rb + 2 * H * ws, H);
      oxrt_rnn_vmuladd(dbl, x + 2 * H * ws, r, lin, H);
    } else {
      for (size_t j = 0; j < H; j++) rnn_st(tmp, j, rnn_ld(r, j, dbl) * rnn_ld(hb, j, dbl), dbl);
    }
  }
  if (!a->linear_before_reset) /* (r (.) Ht-1) * Rh^T */
    oxrt_rnn_gemm_bt(dbl, B, H, H, d->scratch, H, (const char *)d->R + 2 * H * H * ws, H, 0.0, gh + 2 * H * ws, G,
                     d->pool);
  for (size_t b = 0; b < B; b++) {
    if (!gx[b]) continue;
    char *x = gx[b], *xh = x + 2 * H * ws, *hb = (char *)h + b * H * ws;
    if (!a->linear_before_reset) oxrt_rnn_vadd(dbl, xh, gh + (b * G + 2 * H) * ws, H);
    oxrt_rnn_vact(a, &d->act[1], true, dbl, xh, H);
    for (size_t j = 0; j < H; j++) {
      double z = rnn_ld(x, j, dbl);
      rnn_st(hb, j, (1 - z) * rnn_ld(xh, j, dbl) + z * rnn_ld(hb, j, dbl), dbl);
    }
  }
}

static oxrt_status *gru_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  OXRT_TRY(oxrt_rnn_prepare(node, opset, RNN_CELL_GRU, state));
  return oxrt_rnn_f32_prepare(*state, pc);
}
static oxrt_status *gru_run(oxrt_kernel_ctx *ctx) { return oxrt_rnn_run(ctx, gru_step); }

#define GRU_HOOKS .prepare = gru_prepare, .run = gru_run, .release = oxrt_rnn_release
static const oxrt_op_impl gru_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, GRU_HOOKS},
    {.since_version = 3, .type_mask = OXRT_TMASK_FLOATS, GRU_HOOKS},
    {.since_version = 7, .type_mask = OXRT_TMASK_FLOATS, GRU_HOOKS},
    {.since_version = 14, .type_mask = OXRT_TMASK_FLOATS, GRU_HOOKS},
};
OXRT_REGISTER_OP(GRU) = {"", "GRU", OXRT_IMPLS(gru_impls), .infer = oxrt_infer_rnn};
