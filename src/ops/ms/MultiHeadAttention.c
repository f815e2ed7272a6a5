/* MultiHeadAttention.c - com.microsoft MultiHeadAttention (ONNX Runtime contrib op), the unpacked self/cross
 * attention form that the optimizer's fuse_attention pass writes:
 *
 *   query [B,S,H*D], key [B,T,H*D], value [B,T,H*Dv], attention_bias (input 5, additive, broadcast to [B,H,S,T])
 *   Y[b,s,h*Dv+e] = sum_t softmax_t(scale * q.k + bias[b,h,s,t] (+ -inf where t > s + T - S if unidirectional)) v
 *
 * Heads are read in place with strides (no transposes). Work is split across threads by (batch, head, block of
 * query rows); each block keeps only its [rows, T] slice of the scores, so the full S x T matrix never exists.
 * With `unidirectional`, a block's scores stop at its last row's causal frontier.
 * The packed forms, the projection bias, key_padding_mask and the past/present cache are refused with an error.
 */
#include "../../kernels/gemm.h"
#include "../infer_rules.h"
#include "../../kernels/vmath.h"
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* query rows per block: at least 32, more while a block's scores fit in 64 KiB (fewer, larger GEMM calls) */
#define MHA_MIN_ROWS 32
#define MHA_BLOCK_FLOATS 16384

typedef struct {
  int64_t B, S, T, H, D, Dv, nblk, rows;
  float scale;
  bool causal;
  const float *q, *k, *v;
  const float *bias;  /* NULL or float data of the attention bias */
  int64_t bstr[4];    /* its element strides broadcast to [B,H,S,T] (0 on broadcast axes) */
  float *y;
  int failed;         /* set when a worker could not get scratch */
} mha_args;

static void mha_rows(mha_args *a, int64_t b, int64_t h, int64_t i0, int64_t i1, float *s) {
  int64_t HD = a->H * a->D, HDv = a->H * a->Dv, m = i1 - i0;
  /* causal: rows of this block read keys up to the last row's frontier only */
  int64_t tn = a->causal ? i1 + (a->T - a->S) : a->T;
  if (tn > a->T) tn = a->T;
  if (tn < 0) tn = 0;
  const float *q = a->q + (b * a->S + i0) * HD + h * a->D;
  const float *k = a->k + b * a->T * HD + h * a->D;
  const float *v = a->v + b * a->T * HDv + h * a->Dv;
  float *y = a->y + (b * a->S + i0) * HDv + h * a->Dv;
  if (tn > 0)
    oxrt_sgemm(false, true, (size_t)m, (size_t)tn, (size_t)a->D, a->scale, q, (size_t)HD, k, (size_t)HD, 0.f, s,
               (size_t)tn, NULL);
  for (int64_t r = 0; r < m; r++) {
    float *row = s + r * tn;
    int64_t i = i0 + r, valid = tn;
    if (a->causal) {
      valid = i + 1 + (a->T - a->S);
      if (valid > tn) valid = tn;
      if (valid < 0) valid = 0;
    }
    if (a->bias) {
      const float *br = a->bias + b * a->bstr[0] + h * a->bstr[1] + i * a->bstr[2];
      if (a->bstr[3] == 1)
        for (int64_t j = 0; j < valid; j++) row[j] += br[j];
      else
        for (int64_t j = 0; j < valid; j++) row[j] += br[0];
    }
    float mx = -INFINITY;
    for (int64_t j = 0; j < valid; j++) mx = row[j] > mx ? row[j] : mx;
    if (valid == 0 || isinf(mx)) { /* nothing to attend (all masked by -inf): a zero row, not NaN */
      memset(row, 0, sizeof(float) * (size_t)tn);
      continue;
    }
    float sum = oxrt_vexp_shift_sum_f32(row, row, (size_t)valid, mx), inv = 1.f / sum;
    for (int64_t j = 0; j < valid; j++) row[j] *= inv;
    for (int64_t j = valid; j < tn; j++) row[j] = 0.f;
  }
  if (tn > 0)
    oxrt_sgemm(false, false, (size_t)m, (size_t)a->Dv, (size_t)tn, 1.f, s, (size_t)tn, v, (size_t)HDv, 0.f, y,
               (size_t)HDv, NULL);
  else
    for (int64_t r = 0; r < m; r++) memset(y + r * HDv, 0, sizeof(float) * (size_t)a->Dv);
}

static void mha_range(void *arg, size_t begin, size_t end) {
  mha_args *a = arg;
  float *s = malloc(sizeof(float) * (size_t)(a->rows * (a->T > 0 ? a->T : 1)));
  if (!s) {
    a->failed = 1; /* benign race: any writer stores the same value */
    return;
  }
  for (size_t t = begin; t < end; t++) {
    int64_t blk = (int64_t)t % a->nblk, bh = (int64_t)t / a->nblk;
    int64_t i0 = blk * a->rows, i1 = i0 + a->rows < a->S ? i0 + a->rows : a->S;
    mha_rows(a, bh / a->H, bh % a->H, i0, i1, s);
  }
  free(s);
}

static oxrt_status *mha_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *Q = oxrt_input(ctx, 0), *K = oxrt_input(ctx, 1), *V = oxrt_input(ctx, 2);
  const oxrt_value *AB = oxrt_input(ctx, 5);
  if (!Q || !K || !V)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "MultiHeadAttention: packed QKV/KV forms (no key or value) are not "
                                                "supported");
  for (int i = 3; i < ctx->n_inputs; i++)
    if (i != 5 && oxrt_input(ctx, i))
      return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "MultiHeadAttention: input %d (bias, key_padding_mask or past/"
                                                  "cache inputs) is not supported",
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
  mha_args a = {0};
  a.H = oxrt_attr_int(ctx->node, "num_heads", 0);
  a.B = Q->dims[0];
  a.S = Q->dims[1];
  a.T = K->dims[1];
  if (a.H <= 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: num_heads must be > 0");
  if (Q->dims[2] % a.H || V->dims[2] % a.H || K->dims[2] != Q->dims[2])
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: hidden sizes (query %lld, key %lld, value %lld) "
                                                 "must be multiples of num_heads %lld, key's equal to query's",
                      (long long)Q->dims[2], (long long)K->dims[2], (long long)V->dims[2], (long long)a.H);
  if (K->dims[0] != a.B || V->dims[0] != a.B || V->dims[1] != a.T)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: key/value batch or length differ from "
                                                 "query's/key's");
  a.D = Q->dims[2] / a.H;
  a.Dv = V->dims[2] / a.H;
  const oxrt_attr *sa = oxrt_node_attr(ctx->node, "scale");
  a.scale = sa ? oxrt_attr_float(ctx->node, "scale", 0.f) : 0.f;
  if (a.scale == 0.f) a.scale = 1.f / sqrtf((float)(a.D > 0 ? a.D : 1)); /* ORT: 0 means the default */
  a.causal = oxrt_attr_int(ctx->node, "unidirectional", 0) != 0;
  if (AB) {
    OXRT_TRY(oxrt_check_tensor(AB, 5, "attention_bias"));
    if (AB->dtype != OXRT_FLOAT || AB->rank != 4)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: attention_bias must be float of rank 4");
    int64_t want[4] = {a.B, a.H, a.S, a.T}, st = 1;
    for (int d = 3; d >= 0; d--) {
      if (AB->dims[d] != want[d] && AB->dims[d] != 1)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "MultiHeadAttention: attention_bias dim %d is %lld, want %lld "
                                                     "or 1",
                          d, (long long)AB->dims[d], (long long)want[d]);
      a.bstr[d] = AB->dims[d] == 1 ? 0 : st;
      st *= AB->dims[d];
    }
    a.bias = AB->data;
  }
  int64_t ydims[3] = {a.B, a.S, a.H * a.Dv};
  oxrt_value *Y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 3, ydims, &Y));
  if (!Y->count) return NULL;
  a.q = Q->data;
  a.k = K->data;
  a.v = V->data;
  a.y = Y->data;
  a.rows = MHA_BLOCK_FLOATS / (a.T > 0 ? a.T : 1);
  if (a.rows < MHA_MIN_ROWS) a.rows = MHA_MIN_ROWS;
  if (a.rows > a.S) a.rows = a.S > 0 ? a.S : 1;
  a.nblk = (a.S + a.rows - 1) / a.rows;
  oxrt_parallel(ctx, (size_t)(a.B * a.H * a.nblk), 1, mha_range, &a);
  return a.failed ? OXRT_OOM() : NULL;
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
