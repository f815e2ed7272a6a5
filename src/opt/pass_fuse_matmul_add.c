/* pass_fuse_matmul_add.c - Add(MatMul(A, B), c) with A and B of rank 2 and a constant row bias c
 * ([N], [1,N] or one element) becomes Gemm(A, B, c): one pass over the output instead of two.
 * Ranks must be known statically (declared or inferred); batched MatMuls stay as they are.
 */
#include "opt.h"
#include <string.h>

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  for (int i = 0; i < g->n_nodes; i++) {
    oxrt_node *add = &g->nodes[i];
    if (!add->op_type || *add->domain || strcmp(add->op_type, "Add") || add->n_inputs != 2 || add->n_outputs != 1 ||
        add->outputs[0] < 0 || add->inputs[0] < 0 || add->inputs[1] < 0 || opt_node_opset(ctx->model, add) < 7)
      continue;
    for (int side = 0; side < 2; side++) {
      int mid = add->inputs[side], cid = add->inputs[1 - side];
      const oxrt_value *c = opt_const(g, cid);
      oxrt_node *mm = opt_producer(g, mid);
      if (!c || !mm || *mm->domain || strcmp(mm->op_type, "MatMul") || mm->n_inputs != 2 || mm->n_outputs != 1 ||
          u.pinned[mid] || u.count[mid] != 1 || opt_node_opset(ctx->model, mm) < 9)
        continue;
      oxrt_elem_type t = opt_elem_type(g, mm->inputs[0]);
      if ((t != OXRT_FLOAT && t != OXRT_DOUBLE) || c->dtype != t || opt_elem_type(g, mm->inputs[1]) != t) continue;
      int64_t ad[OXRT_MAX_RANK], bd[OXRT_MAX_RANK];
      if (opt_shape(g, mm->inputs[0], ad) != 2 || opt_shape(g, mm->inputs[1], bd) != 2 || bd[1] < 0) continue;
      int64_t n = c->count == 1 && c->rank <= 2 ? 1 : c->rank == 1 ? c->dims[0] : c->rank == 2 && c->dims[0] == 1 ? c->dims[1] : 0;
      if (n != 1 && n != bd[1]) continue;
      int ins[3] = {mm->inputs[0], mm->inputs[1], cid};
      OXRT_TRY(opt_set_inputs(g, mm, ins, 3));
      mm->op_type = "Gemm";
      mm->n_attrs = 0;
      opt_absorb_consumer(g, &u, mm, add, mid);
      *changed = true;
      break;
    }
  }
  opt_uses_free(&u);
  return NULL;
}

const oxrt_opt_pass oxrt_pass_fuse_matmul_add = {"fuse_matmul_add", OXRT_OPT_EXTENDED, true, run,
                                                 "MatMul + Add(constant row) of rank-2 operands into Gemm"};
