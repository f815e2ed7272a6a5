/* pass_fuse_transpose_into_gemm.c - Gemm(Transpose(A), B) -> Gemm(A, B, transA = !transA), likewise for B
 * (onnxoptimizer's fuse_transpose_into_gemm). The Transpose must swap the two axes of a rank-2 value (perm [1,0],
 * or no perm) and have no other reader.
 */
#include "opt.h"
#include <string.h>

static bool swaps_2d(oxrt_graph *g, const oxrt_node *t) {
  size_t c;
  const int64_t *p = oxrt_attr_ints(t, "perm", &c);
  int64_t d[OXRT_MAX_RANK];
  if (p) return c == 2 && p[0] == 1 && p[1] == 0;
  return opt_shape(g, t->inputs[0], d) == 2;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  (void)ctx;
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *gemm = &g->nodes[i];
    if (!gemm->op_type || *gemm->domain || strcmp(gemm->op_type, "Gemm") || gemm->n_inputs < 2) continue;
    for (int k = 0; k < 2 && !st; k++) {
      int mid = gemm->inputs[k];
      oxrt_node *t = opt_sole_producer(g, &u, mid);
      if (!t || *t->domain || strcmp(t->op_type, "Transpose") || t->inputs[0] < 0 || !swaps_2d(g, t)) continue;
      const char *name = k == 0 ? "transA" : "transB";
      oxrt_attr at = {.name = name, .type = OXRT_ATTR_INT, .i = !oxrt_attr_int(gemm, name, 0)};
      if ((st = opt_set_attr(g, gemm, &at))) break;
      gemm->inputs[k] = t->inputs[0];
      u.count[mid] = 0;
      t->op_type = NULL;
      *changed = true;
    }
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_transpose_into_gemm = {
    "fuse_transpose_into_gemm", OXRT_OPT_ALL, true, run, "Transpose of a Gemm operand into transA/transB"};
