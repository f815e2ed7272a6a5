/* pass_nop.c - onnxoptimizer's "nop" pass: changes nothing (lists of passes may name it as a placeholder). */
#include "opt.h"

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  (void)ctx, (void)g, (void)changed;
  return NULL;
}

const oxrt_opt_pass oxrt_pass_nop = {"nop", OXRT_OPT_ALL, false, run, "does nothing"};
