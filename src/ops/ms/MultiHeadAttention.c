/* MultiHeadAttention.c - com.microsoft MultiHeadAttention (ONNX Runtime contrib op), the unpacked self/cross
 * attention form that the optimizer's fuse_attention pass writes:
 *
 *   query [B,S,H*D], key [B,T,H*D], value [B,T,H*Dv], attention_bias (input 5, additive, broadcast to [B,H,S,T])
 *   Y[b,s,h*Dv+e] = sum_t softmax_t(scale * q.k + bias[b,h,s,t] (+ -inf where t > s + T - S if unidirectional)) v
 *
 * The work is the shared attention core (kernels/attention.h): heads read in place with strides, (batch, head,
 * query block) tasks, an online softmax over key blocks, keys past a block's causal frontier never visited.
 * bias (input 3, the Q/K/V projection bias) is applied inside the kernel. The packed forms, key_padding_mask and
 * the past/present cache are refused with an error.
 */
#include "../../kernels/attention.h"
#include "../infer_rules.h"
#include "../op_util.h"
#include <math.h>
#include <string.h>

static oxrt_status *mha_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *Q = oxrt_input(ctx, 0), *K = oxrt_input(ctx, 1), *V = oxrt_input(ctx, 2);
  const oxrt_value *AB = oxrt_input(ctx, 5);
  if (!Q || !K || !V)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "MultiHeadAttention: packed QKV/KV forms (no key or value) are not "
                                                "supported");
  for (int i = 4; i < ctx->n_inputs; i++)
    if (i != 5 && oxrt_input(ctx, i))
      return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "MultiHeadAttention: input %d (key_padding_mask or past/cache "
                                                  "inputs) is not supported",
                        i);
  for (int i = 1; i < ctx->n_outputs; i++)
    if (oxrt_output_wanted(ctx, i))
      return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "MultiHeadAttention: output %d (present key/value) is not supported",
                        i);
  const oxrt_value *in3[3] = {Q, K, V};
  for (int i = 0; i < 3; i++) {
    OXRT_TRY(oxrt_check_tensor(in3[i], i, "query/key/value"));
    if (in3[i]->dtype != OXRT_FLOAT || in3[i]->rank != 3)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: input %d must be float of rank 3 [B,L,hidden], "
                                                   "got rank %d",
                        i, in3[i]->rank);
  }
  oxrt_attn_desc a = {0};
  a.Hq = a.Hkv = oxrt_attr_int(ctx->node, "num_heads", 0);
  a.B = Q->dims[0];
  a.S = Q->dims[1];
  a.T = K->dims[1];
  if (a.Hq <= 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: num_heads must be > 0");
  if (Q->dims[2] % a.Hq || V->dims[2] % a.Hq || K->dims[2] != Q->dims[2])
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: hidden sizes (query %lld, key %lld, value %lld) "
                                                 "must be multiples of num_heads %lld, key's equal to query's",
                      (long long)Q->dims[2], (long long)K->dims[2], (long long)V->dims[2], (long long)a.Hq);
  if (K->dims[0] != a.B || V->dims[0] != a.B || V->dims[1] != a.T)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: key/value batch or length differ from "
                                                 "query's/key's");
  a.D = Q->dims[2] / a.Hq;
  a.Dv = V->dims[2] / a.Hq;
  const oxrt_attr *sa = oxrt_node_attr(ctx->node, "scale");
  a.scale = sa ? oxrt_attr_float(ctx->node, "scale", 0.f) : 0.f;
  if (a.scale == 0.f) a.scale = 1.f / sqrtf((float)(a.D > 0 ? a.D : 1)); /* ORT: 0 means the default */
  a.causal = oxrt_attr_int(ctx->node, "unidirectional", 0) != 0;
  a.causal_off = a.T - a.S; /* the queries are the last S of the T positions */
  if (AB) {
    OXRT_TRY(oxrt_check_tensor(AB, 5, "attention_bias"));
    if (AB->dtype != OXRT_FLOAT || AB->rank != 4)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: attention_bias must be float of rank 4");
    int64_t want[4] = {a.B, a.Hq, a.S, a.T}, st = 1;
    for (int d = 3; d >= 0; d--) {
      if (AB->dims[d] != want[d] && AB->dims[d] != 1)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: attention_bias dim %d is %lld, want %lld "
                                                     "or 1",
                          d, (long long)AB->dims[d], (long long)want[d]);
      a.bias_str[d] = AB->dims[d] == 1 ? 0 : st;
      st *= AB->dims[d];
    }
    a.bias = AB->data;
    a.mlen = a.T;
  }
  int64_t ydims[3] = {a.B, a.S, a.Hq * a.Dv};
  oxrt_value *Y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 3, ydims, &Y));
  if (!Y->count) return NULL;
  int64_t HD = a.Hq * a.D, HDv = a.Hq * a.Dv;
  const oxrt_value *PB = oxrt_input(ctx, 3);
  if (PB) { /* projection bias [q | k | v]: q and v reach the kernel, k's cancels in the softmax */
    OXRT_TRY(oxrt_check_tensor(PB, 3, "bias"));
    if (PB->dtype != OXRT_FLOAT || PB->rank != 1 || PB->dims[0] != 2 * HD + HDv)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: bias (input 3) must be float [%lld], got rank "
                                                   "%d",
                        (long long)(2 * HD + HDv), PB->rank);
    a.q_bias = PB->data;
    a.v_bias = (const float *)PB->data + 2 * HD;
  }
  a.q = Q->data, a.k = K->data, a.v = V->data, a.y = Y->data;
  int64_t qs[3] = {a.S * HD, a.D, HD}, ks[3] = {a.T * HD, a.D, HD}, vs[3] = {a.T * HDv, a.Dv, HDv},
          ys[3] = {a.S * HDv, a.Dv, HDv};
  memcpy(a.qs, qs, sizeof qs), memcpy(a.ks, ks, sizeof ks), memcpy(a.vs, vs, sizeof vs), memcpy(a.ys, ys, sizeof ys);
  return oxrt_attention_f32(&a, oxrt_cpu_isa(), ctx->pool) ? NULL : OXRT_OOM();
}

static const oxrt_op_impl mha_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TBIT(OXRT_FLOAT), .type_input = 0, .run = mha_run}};
/* Unpacked form: query [B,S,H*D], value [B,T,H*Dv] -> [B,S,H*Dv] (the packed forms are shaped at run time). */
static oxrt_status *infer_mha(oxrt_infer_ctx *ctx) {
  oxrt_tshape q, v;
  if (!oxrt_infer_input(ctx, 0, &q) || !oxrt_infer_input(ctx, 2, &v) || q.rank != 3 || v.rank != 3) return NULL;
  q.dims[2] = v.dims[2], q.names[2] = v.names[2];
  return oxrt_infer_output(ctx, 0, &q);
}

OXRT_REGISTER_OP(ms_MultiHeadAttention) = {"com.microsoft", "MultiHeadAttention", OXRT_IMPLS(mha_impls),
                                           .infer = infer_mha};
