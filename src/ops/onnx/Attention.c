/* Attention.c - Attention (opset 23, 24): scaled dot-product attention with MHA/GQA/MQA head counts,
 * boolean or additive masks, offset-aware causal masking, KV cache concat (past/present), nonpad_kv_seqlen,
 * softcap and the qk_matmul_output debug output. Everything is computed in float32 through oxrt_sgemm. */
#include "../../kernels/gemm.h"
#include "../../kernels/vmath.h"
#include <float.h>
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int64_t B, Hq, Hkv, Sq, Skv, P, T, D, Dv;
  float scale, softcap;
  int causal, mode;
  const float *q;  /* [B,Hq,Sq,D] */
  const float *k;  /* [B,Hkv,T,D] (present) */
  const float *v;  /* [B,Hkv,T,Dv] */
  const oxrt_value *mask;
  int64_t mstr[4]; /* element strides of the mask broadcast to (B,Hq,Sq,Lm) */
  int64_t mlen;    /* mask's last dimension (<= T; missing keys are masked) */
  const int64_t *nonpad;
  float *y;  /* [B,Hq,Sq,Dv] */
  float *qk; /* [B,Hq,Sq,T] or NULL */
  float *scratch; /* per (b,h): scores [Sq*T] + bias [Sq*T] */
} attn_args;

static void attn_head(void *arg, size_t begin, size_t end) {
  attn_args *a = arg;
  size_t st = (size_t)(a->Sq * a->T);
  for (size_t bh = begin; bh < end; bh++) {
    int64_t b = (int64_t)bh / a->Hq, h = (int64_t)bh % a->Hq;
    int64_t kvh = h / (a->Hq / a->Hkv); /* each KV head serves a contiguous group of query heads */
    float *s = a->scratch + bh * 2 * st, *bias = s + st;
    const float *q = a->q + bh * a->Sq * a->D;
    const float *k = a->k + (b * a->Hkv + kvh) * a->T * a->D;
    const float *v = a->v + (b * a->Hkv + kvh) * a->T * a->Dv;
    oxrt_sgemm(false, true, (size_t)a->Sq, (size_t)a->T, (size_t)a->D, a->scale, q, (size_t)a->D, k, (size_t)a->D, 0.f,
               s, (size_t)a->T, NULL);
    float *qk = a->qk ? a->qk + bh * st : NULL;
    if (qk && a->mode == 0) memcpy(qk, s, st * sizeof(float));
    if (a->softcap > 0)
      for (size_t i = 0; i < st; i++) s[i] = a->softcap * tanhf(s[i] / a->softcap);
    if (qk && a->mode == 1) memcpy(qk, s, st * sizeof(float));
    /* additive bias: causal frontier, mask, padding */
    int64_t offset = a->P;
    if (a->nonpad && !a->P) offset = a->nonpad[b] - a->Sq;
    for (int64_t i = 0; i < a->Sq; i++) {
      float *br = bias + i * a->T;
      for (int64_t j = 0; j < a->T; j++) {
        float x = 0.f;
        if (a->mask) {
          if (j >= a->mlen) {
            x = -INFINITY;
          } else {
            size_t off = (size_t)(b * a->mstr[0] + h * a->mstr[1] + i * a->mstr[2] + j * a->mstr[3]);
            if (a->mask->dtype == OXRT_BOOL)
              x = ((const uint8_t *)a->mask->data)[off] ? 0.f : -INFINITY;
            else if (a->mask->dtype == OXRT_FLOAT)
              x = ((const float *)a->mask->data)[off];
            else
              x = (float)oxrt_load_f64(a->mask->dtype, a->mask->data, off);
          }
        }
        if (a->causal && j > i + offset) x = -INFINITY;
        if (a->nonpad && j >= a->nonpad[b]) x = -INFINITY;
        br[j] = x;
      }
    }
    for (size_t i = 0; i < st; i++) s[i] += bias[i];
    if (qk && a->mode == 2) memcpy(qk, s, st * sizeof(float));
    for (int64_t i = 0; i < a->Sq; i++) {
      float *r = s + i * a->T;
      const float *br = bias + i * a->T;
      /* a row whose bias is -inf everywhere attends nothing: it is a zero row, not NaN */
      bool masked = true;
      for (int64_t j = 0; j < a->T && masked; j++) masked = isinf(br[j]) && br[j] < 0;
      if (masked || a->T == 0) {
        for (int64_t j = 0; j < a->T; j++) r[j] = 0.f;
        continue;
      }
      float mx = -INFINITY;
      for (int64_t j = 0; j < a->T; j++)
        if (r[j] > mx) mx = r[j];
      if (isinf(mx) && mx < 0) mx = 0.f;
      float sum = oxrt_vexp_shift_sum_f32(r, r, (size_t)a->T, mx);
      if (sum == 0.f) sum = 1.f;
      float inv = 1.f / sum;
      /* no subnormal probabilities: the MatMul with V that follows would crawl through them */
      for (int64_t j = 0; j < a->T; j++) {
        float v = r[j] * inv;
        r[j] = v < FLT_MIN ? 0.f : v;
      }
    }
    if (qk && a->mode == 3) memcpy(qk, s, st * sizeof(float));
    oxrt_sgemm(false, false, (size_t)a->Sq, (size_t)a->Dv, (size_t)a->T, 1.f, s, (size_t)a->T, v, (size_t)a->Dv, 0.f,
               a->y + bh * a->Sq * a->Dv, (size_t)a->Dv, NULL);
  }
}

/* Loads a tensor as float32 into `dst` laid out [B,H,S,Dh]; a 3-D input [B,S,H*Dh] is split into heads. */
static oxrt_status *load_heads(const oxrt_value *x, int64_t H, float *dst) {
  int64_t B = x->dims[0];
  if (x->rank == 4) {
    if (!oxrt_convert(OXRT_FLOAT, dst, x->dtype, x->data, x->count, false))
      return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "cannot convert %s to float", oxrt_elem_type_name(x->dtype));
    return NULL;
  }
  int64_t S = x->dims[1], Dh = x->dims[2] / H;
  float *tmp = malloc(sizeof(float) * (x->count + 1));
  if (!tmp) return OXRT_OOM();
  if (!oxrt_convert(OXRT_FLOAT, tmp, x->dtype, x->data, x->count, false)) {
    free(tmp);
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "cannot convert %s to float", oxrt_elem_type_name(x->dtype));
  }
  for (int64_t b = 0; b < B; b++)
    for (int64_t s = 0; s < S; s++)
      for (int64_t h = 0; h < H; h++)
        memcpy(dst + ((b * H + h) * S + s) * Dh, tmp + ((b * S + s) * H + h) * Dh, sizeof(float) * (size_t)Dh);
  free(tmp);
  return NULL;
}

static oxrt_status *store_out(oxrt_kernel_ctx *ctx, int idx, oxrt_elem_type t, int rank, const int64_t *dims,
                              const float *src) {
  oxrt_value *o;
  OXRT_TRY(oxrt_output_tensor(ctx, idx, t, rank, dims, &o));
  if (!oxrt_convert(t, o->data, OXRT_FLOAT, src, o->count, false))
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "cannot convert float to %s", oxrt_elem_type_name(t));
  return NULL;
}

static oxrt_status *attention_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *Q = oxrt_input(ctx, 0), *K = oxrt_input(ctx, 1), *V = oxrt_input(ctx, 2);
  const oxrt_value *M = oxrt_input(ctx, 3), *PK = oxrt_input(ctx, 4), *PV = oxrt_input(ctx, 5);
  const oxrt_value *NP = ctx->opset >= 24 ? oxrt_input(ctx, 6) : NULL;
  OXRT_TRY(oxrt_check_tensor(Q, 0, "Q"));
  OXRT_TRY(oxrt_check_tensor(K, 1, "K"));
  OXRT_TRY(oxrt_check_tensor(V, 2, "V"));
  int r = Q->rank;
  if ((r != 3 && r != 4) || K->rank != r || V->rank != r)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "Q, K, V must all be 3-D or all 4-D, got ranks %d, %d, %d", Q->rank,
                      K->rank, V->rank);
  if (!(OXRT_TMASK_FLOATS & OXRT_TBIT(K->dtype)) || !(OXRT_TMASK_FLOATS & OXRT_TBIT(V->dtype)))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "K and V must be floating point");
  attn_args a = {0};
  a.B = Q->dims[0];
  if (K->dims[0] != a.B || V->dims[0] != a.B)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "Q, K, V batch sizes differ (%lld, %lld, %lld)", (long long)a.B,
                      (long long)K->dims[0], (long long)V->dims[0]);
  if (r == 3) {
    a.Hq = oxrt_attr_int(ctx->node, "q_num_heads", 0);
    a.Hkv = oxrt_attr_int(ctx->node, "kv_num_heads", 0);
    if (a.Hq <= 0 || a.Hkv <= 0)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "3-D inputs need positive q_num_heads and kv_num_heads attributes");
    if (Q->dims[2] % a.Hq || K->dims[2] % a.Hkv || V->dims[2] % a.Hkv)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "hidden sizes (%lld, %lld, %lld) are not divisible by head counts",
                        (long long)Q->dims[2], (long long)K->dims[2], (long long)V->dims[2]);
    a.Sq = Q->dims[1];
    a.Skv = K->dims[1];
    a.D = Q->dims[2] / a.Hq;
    if (K->dims[2] / a.Hkv != a.D)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "Q head size %lld differs from K head size %lld", (long long)a.D,
                        (long long)(K->dims[2] / a.Hkv));
    a.Dv = V->dims[2] / a.Hkv;
    if (V->dims[1] != a.Skv) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "K and V sequence lengths differ");
  } else {
    a.Hq = Q->dims[1];
    a.Hkv = K->dims[1];
    a.Sq = Q->dims[2];
    a.Skv = K->dims[2];
    a.D = Q->dims[3];
    a.Dv = V->dims[3];
    if (K->dims[3] != a.D)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "Q head size %lld differs from K head size %lld", (long long)a.D,
                        (long long)K->dims[3]);
    if (V->dims[1] != a.Hkv || V->dims[2] != a.Skv)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "V shape does not match K in heads or sequence length");
  }
  if (a.Hkv <= 0 || a.Hq % a.Hkv)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "q_num_heads %lld must be a multiple of kv_num_heads %lld",
                      (long long)a.Hq, (long long)a.Hkv);
  if ((PK == NULL) != (PV == NULL))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "past_key and past_value must be given together");
  if (PK) {
    OXRT_TRY(oxrt_check_tensor(PK, 4, "past_key"));
    OXRT_TRY(oxrt_check_tensor(PV, 5, "past_value"));
    if (PK->rank != 4 || PV->rank != 4 || PK->dims[0] != a.B || PK->dims[1] != a.Hkv || PK->dims[3] != a.D ||
        PV->dims[0] != a.B || PV->dims[1] != a.Hkv || PV->dims[3] != a.Dv || PV->dims[2] != PK->dims[2])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "past_key/past_value must be (batch, kv_num_heads, past_len, head_size)");
    a.P = PK->dims[2];
  }
  a.T = a.P + a.Skv;
  if (NP) {
    OXRT_TRY(oxrt_check_tensor(NP, 6, "nonpad_kv_seqlen"));
    if (NP->dtype != OXRT_INT64 || NP->count != (size_t)a.B)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nonpad_kv_seqlen must be int64 of shape (batch_size,)");
    if (PK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nonpad_kv_seqlen cannot be used with past_key/past_value");
    a.nonpad = NP->data;
    for (int64_t b = 0; b < a.B; b++)
      if (a.nonpad[b] < 0 || a.nonpad[b] > a.T)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nonpad_kv_seqlen[%lld] = %lld is outside [0, %lld]", (long long)b,
                          (long long)a.nonpad[b], (long long)a.T);
  }
  if (M) {
    OXRT_TRY(oxrt_check_tensor(M, 3, "attn_mask"));
    if (M->rank < 1 || M->rank > 4)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attn_mask must have rank 1 to 4, got %d", M->rank);
    if (M->dtype == OXRT_STRING || (!oxrt_dtype_is_float(M->dtype) && M->dtype != OXRT_BOOL &&
                                    !(OXRT_TMASK_INTS & OXRT_TBIT(M->dtype))))
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attn_mask has unsupported type %s", oxrt_elem_type_name(M->dtype));
    int64_t full[4] = {a.B, a.Hq, a.Sq, a.T};
    a.mlen = M->dims[M->rank - 1];
    if (a.mlen > a.T)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attn_mask last dimension %lld exceeds total sequence length %lld",
                        (long long)a.mlen, (long long)a.T);
    int64_t s = 1;
    for (int d = 3; d >= 0; d--) {
      int md = d - (4 - M->rank);
      if (md < 0) {
        a.mstr[d] = 0;
        continue;
      }
      int64_t n = M->dims[md];
      if (d < 3 && n != 1 && n != full[d])
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attn_mask dimension %d (%lld) does not broadcast to %lld", md,
                          (long long)n, (long long)full[d]);
      a.mstr[d] = (n == 1 && d < 3) ? 0 : s;
      s *= n;
    }
    a.mask = M;
  }
  double scale = 0;
  const oxrt_attr *sa = oxrt_node_attr(ctx->node, "scale");
  scale = sa ? sa->f : 1.0 / sqrt((double)a.D);
  a.scale = (float)scale;
  a.softcap = oxrt_attr_float(ctx->node, "softcap", 0.f);
  a.causal = (int)oxrt_attr_int(ctx->node, "is_causal", 0);
  a.mode = (int)oxrt_attr_int(ctx->node, "qk_matmul_output_mode", 0);
  if (a.mode < 0 || a.mode > 3)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "qk_matmul_output_mode must be 0..3, got %d", a.mode);

  size_t nq = (size_t)(a.B * a.Hq * a.Sq * a.D), nk = (size_t)(a.B * a.Hkv * a.T * a.D),
         nv = (size_t)(a.B * a.Hkv * a.T * a.Dv), ny = (size_t)(a.B * a.Hq * a.Sq * a.Dv),
         ns = (size_t)(a.B * a.Hq * a.Sq * a.T);
  bool want_qk = oxrt_output_wanted(ctx, 3);
  float *buf = malloc(sizeof(float) * (nq + nk + nv + ny + (want_qk ? ns : 0) + 2 * ns + 1));
  if (!buf) return OXRT_OOM();
  float *q = buf, *k = q + nq, *v = k + nk, *y = v + nv, *qk = y + ny, *scr = qk + (want_qk ? ns : 0);
  oxrt_status *st = NULL;
  /* present = concat(past, new) along the sequence axis */
  size_t nkn = (size_t)(a.B * a.Hkv * a.Skv * a.D), nvn = (size_t)(a.B * a.Hkv * a.Skv * a.Dv);
  float *kn = malloc(sizeof(float) * (nkn + nvn + 1));
  if (!kn) {
    free(buf);
    return OXRT_OOM();
  }
  float *vn = kn + nkn;
  if ((st = load_heads(Q, a.Hq, q)) || (st = load_heads(K, a.Hkv, kn)) || (st = load_heads(V, a.Hkv, vn))) goto done;
  float *pk = NULL, *pv = NULL;
  if (PK) {
    pk = malloc(sizeof(float) * (PK->count + PV->count + 1));
    if (!pk) {
      st = OXRT_OOM();
      goto done;
    }
    pv = pk + PK->count;
    if (!oxrt_convert(OXRT_FLOAT, pk, PK->dtype, PK->data, PK->count, false) ||
        !oxrt_convert(OXRT_FLOAT, pv, PV->dtype, PV->data, PV->count, false)) {
      free(pk);
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "past_key/past_value must be floating point");
      goto done;
    }
  }
  for (int64_t bh = 0; bh < a.B * a.Hkv; bh++) {
    if (a.P) {
      memcpy(k + bh * a.T * a.D, pk + bh * a.P * a.D, sizeof(float) * (size_t)(a.P * a.D));
      memcpy(v + bh * a.T * a.Dv, pv + bh * a.P * a.Dv, sizeof(float) * (size_t)(a.P * a.Dv));
    }
    memcpy(k + (bh * a.T + a.P) * a.D, kn + bh * a.Skv * a.D, sizeof(float) * (size_t)(a.Skv * a.D));
    memcpy(v + (bh * a.T + a.P) * a.Dv, vn + bh * a.Skv * a.Dv, sizeof(float) * (size_t)(a.Skv * a.Dv));
  }
  free(pk);
  a.q = q;
  a.k = k;
  a.v = v;
  a.y = y;
  a.qk = want_qk ? qk : NULL;
  a.scratch = scr;
  oxrt_parallel(ctx, (size_t)(a.B * a.Hq), 1, attn_head, &a);

  if (r == 4) {
    int64_t yd[4] = {a.B, a.Hq, a.Sq, a.Dv};
    if ((st = store_out(ctx, 0, Q->dtype, 4, yd, y))) goto done;
  } else {
    /* back to [B, Sq, Hq*Dv] */
    for (int64_t b = 0; b < a.B; b++)
      for (int64_t h = 0; h < a.Hq; h++)
        for (int64_t s = 0; s < a.Sq; s++)
          memcpy(scr + ((b * a.Sq + s) * a.Hq + h) * a.Dv, y + ((b * a.Hq + h) * a.Sq + s) * a.Dv,
                 sizeof(float) * (size_t)a.Dv);
    int64_t yd[3] = {a.B, a.Sq, a.Hq * a.Dv};
    if ((st = store_out(ctx, 0, Q->dtype, 3, yd, scr))) goto done;
  }
  if (oxrt_output_wanted(ctx, 1)) {
    int64_t d[4] = {a.B, a.Hkv, a.T, a.D};
    if ((st = store_out(ctx, 1, K->dtype, 4, d, k))) goto done;
  }
  if (oxrt_output_wanted(ctx, 2)) {
    int64_t d[4] = {a.B, a.Hkv, a.T, a.Dv};
    if ((st = store_out(ctx, 2, V->dtype, 4, d, v))) goto done;
  }
  if (want_qk) {
    int64_t d[4] = {a.B, a.Hq, a.Sq, a.T};
    if ((st = store_out(ctx, 3, Q->dtype, 4, d, qk))) goto done;
  }
done:
  free(kn);
  free(buf);
  return st;
}

static const oxrt_op_impl attention_impls[] = {
    {.since_version = 23, .type_mask = OXRT_TMASK_FLOATS, .run = attention_run},
    {.since_version = 24, .type_mask = OXRT_TMASK_FLOATS, .run = attention_run},
};
OXRT_REGISTER_OP(Attention) = {"", "Attention", OXRT_IMPLS(attention_impls)};
