/* attention.h - the one float32 scaled dot-product attention core behind com.microsoft MultiHeadAttention and
 * ONNX Attention (opset 23/24):
 *
 *   Y[b,h,i,:] = sum_j softmax_j(mask(softcap(scale * q_i . k_j))) v_j
 *
 * with q, k, v, y addressed through element strides (heads read in place from [B,S,H*D] or [B,H,S,D], no
 * transposes), GQA/MQA (query head h reads key/value head h / (Hq / Hkv)), an additive float bias and/or a
 * boolean mask broadcast to [B,Hq,S,T], an offset causal frontier, and per-batch key lengths.
 *
 * Work is split over (batch, head, block of query rows). A block keeps its queries along the vector lanes
 * (Q transposed once per block), walks the keys in blocks of at most ATTN_KEY_BLOCK with an online softmax
 * (running max and sum per query, the partial output rescaled when the max grows), so neither the S x T score
 * matrix nor a transposed K/V is ever built; K and V elements are broadcast straight from the tensors. Keys past
 * the causal frontier of a block's last query, past kv_len[b] or past the mask's last dim are never visited.
 * A query that can attend to no key (every score -inf) gets a zero row, not NaN. Probabilities below FLT_MIN
 * are 0 (subnormals would slow the V product).
 *
 * The inner loops (score tile, probability x V tile, softmax steps) exist per ISA: attention_body.h compiled in
 * attention.c (portable), attention_avx2.c and attention_avx512.c; the exps go through vmath's set of the
 * same level. */
#ifndef OXRT_KERNELS_ATTENTION_H
#define OXRT_KERNELS_ATTENTION_H
#include "gemm.h"
#include <stdbool.h>
#include <stdint.h>

#define ATTN_KEY_BLOCK 256 /* keys per online-softmax step: the block's scores (256 x 64 floats) stay in L2 */
#define ATTN_EXP_FLOOR (-87.0f) /* shifted scores below are clamped here, their exps (< ATTN_P_MIN) taken as 0 */
#define ATTN_P_MIN 1.7e-38f     /* just above e^-87 = 1.65e-38 */

typedef struct oxrt_attn_desc {
  int64_t B, Hq, Hkv, S, T, D, Dv; /* S queries, T keys per (batch, head) */
  const float *q, *k, *v;
  float *y;
  /* element strides of batch, head and row (sequence position); the last axis is contiguous */
  int64_t qs[3], ks[3], vs[3], ys[3];
  const float *q_bias;      /* NULL or [Hq*D]: added to the queries (head h: q_bias + h*D) */
  const float *v_bias;      /* NULL or [Hkv*Dv]: added to the values, hence to each output row that attends to a key
                             * (softmax weights sum to 1). A key bias needs no input: it moves all of a query's
                             * scores by the same q.bias, which the softmax cancels. */
  float scale;
  float softcap;            /* > 0: scores become softcap * tanh(scores / softcap) before the masks */
  const float *bias;        /* additive, element strides broadcast to [B,Hq,S,mlen] (0 on broadcast axes) */
  int64_t bias_str[4];
  const uint8_t *bmask;     /* boolean: false -> -inf; same broadcast rules */
  int64_t bmask_str[4];
  int64_t mlen;             /* last dim of bias/bmask when given: keys j >= mlen are masked */
  bool causal;              /* key j hidden from query i when j > i + causal_off (+ causal_off_b[b]) */
  int64_t causal_off;
  const int64_t *causal_off_b; /* NULL or per batch, added to causal_off */
  const int64_t *kv_len;    /* NULL or per batch: keys j >= kv_len[b] are masked */
  /* optional [B,Hq,S,T] copy of the scores at stage qk_mode: 0 scaled, 1 after softcap, 2 after the masks,
   * 3 the probabilities (a block then spans all keys) */
  float *qk;
  int qk_mode;
} oxrt_attn_desc;

/* Validates nothing (the operators do); runs on `pool` at level `isa` (capped to what this build has). Returns
 * false when scratch memory could not be had (y is then incomplete). */
bool oxrt_attention_f32(const oxrt_attn_desc *d, oxrt_isa isa, oxrt_threadpool *pool);

/* ------------------------------------------------------------------ internal: the per-ISA inner loops
 * Queries of a block lie along lanes: rows of `mp` floats (mp a multiple of every ISA's lane count). */
typedef struct oxrt_attn_isa {
  /* st[j*mp + c] = scale * sum_d k[j*ldk + d] * qt[d*mp + c] for j < nk, c < mp */
  void (*scores)(const float *k, int64_t ldk, int64_t nk, const float *qt, int64_t D, int64_t mp, float scale,
                 float *st);
  /* ot[e*mp + c] = ot[e*mp + c] * alpha[c] + sum_j v[j*ldv + e] * pt[j*mp + c] for e < Dv (alpha NULL: 1) */
  void (*pv)(const float *v, int64_t ldv, int64_t nk, const float *pt, int64_t Dv, int64_t mp, const float *alpha,
             float *ot);
  /* mx[c] = max over j < nk of st[j*mp + c]; mx starts as given */
  void (*colmax)(const float *st, int64_t nk, int64_t mp, float *mx);
  /* st[j*mp + c] = max(st[j*mp + c] - sh[c], ATTN_EXP_FLOOR) */
  void (*colsub)(float *st, int64_t nk, int64_t mp, const float *sh);
  /* pt[j*mp + c] < ATTN_P_MIN become 0; then sum[c] += sum over j < nk of pt[j*mp + c] */
  void (*colsum)(float *pt, int64_t nk, int64_t mp, float *sum);
  /* sum over e < n of (x[e] + add[e])^2 (add NULL: 0) */
  float (*sqnorm)(const float *x, const float *add, int64_t n);
  /* max of x[0, n); NaN when one is NaN (or both infinities occur); -inf for none */
  float (*vmax)(const float *x, int64_t n);
} oxrt_attn_isa;

extern const oxrt_attn_isa oxrt_attn_portable, oxrt_attn_avx2, oxrt_attn_avx512;

#endif
