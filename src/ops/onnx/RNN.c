/* RNN.c - RNN (opsets 1, 7, 14 (layout), 22 (bfloat16)): Ht = f(Xt*Wi^T + Ht-1*Ri^T + Wbi + Rbi).
 * Directions, sequence_lens, initial_h, clip and activations are handled by the shared driver (rnn_common.c). */
#include "rnn_common.h"
#include "../infer_rules.h"
#include <string.h>

static void rnn_step(const rnn_dir *d, void *const *gx, void *h, void *c) {
  (void)c;
  const size_t H = d->hidden, B = d->batch;
  const bool dbl = d->dbl;
  const size_t ws = dbl ? sizeof(double) : sizeof(float);
  oxrt_rnn_gemm_bt(dbl, B, H, H, h, H, d->R, H, 0.0, d->gh, H, d->pool);
  for (size_t b = 0; b < B; b++) {
    if (!gx[b]) continue;
    oxrt_rnn_vadd(dbl, gx[b], (const char *)d->gh + b * H * ws, H);
    oxrt_rnn_vact(d->a, &d->act[0], true, dbl, gx[b], H);
    memcpy((char *)h + b * H * ws, gx[b], H * ws);
  }
}

static oxrt_status *rnn_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  OXRT_TRY(oxrt_rnn_prepare(node, opset, RNN_CELL_RNN, state));
  return oxrt_rnn_f32_prepare(*state, pc);
}
static oxrt_status *rnn_run(oxrt_kernel_ctx *ctx) { return oxrt_rnn_run(ctx, rnn_step); }

#define RNN_HOOKS .prepare = rnn_prepare, .run = rnn_run, .release = oxrt_rnn_release
static const oxrt_op_impl rnn_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, RNN_HOOKS},
    {.since_version = 7, .type_mask = OXRT_TMASK_FLOATS, RNN_HOOKS},
    {.since_version = 14, .type_mask = OXRT_TMASK_FLOATS, RNN_HOOKS},
};
OXRT_REGISTER_OP(RNN) = {"", "RNN", OXRT_IMPLS(rnn_impls), .infer = oxrt_infer_rnn};
