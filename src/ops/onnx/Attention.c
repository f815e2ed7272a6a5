/* Attention.c - Attention (opset 23, 24): scaled dot-product attention with MHA/GQA/MQA head counts,
 * boolean or additive masks, offset-aware causal masking, KV cache concat (past/present), nonpad_kv_seqlen,
 * softcap and the qk_matmul_output debug output. Everything is computed in float32 by the shared attention core
 * (kernels/attention.h), which reads Q (and K, V without a cache) in place in either layout. */
#include "../../kernels/attention.h"
#include "f32_view.h"
#include <math.h>

typedef struct {
  int64_t B, Hq, Hkv, Sq, Skv, P, T, D, Dv;
  int64_t mstr[4]; /* element strides of the mask broadcast to (B,Hq,Sq,Lm) */
  int64_t mlen;    /* mask's last dimension (<= T; missing keys are masked) */
} attn_shape;

/* Strides (batch, head, row) of a [B,H,L,Dh] (4-D) or [B,L,H*Dh] (3-D) tensor. */
static void head_strides(int rank, int64_t H, int64_t L, int64_t Dh, int64_t *st) {
  st[0] = H * L * Dh;
  st[1] = rank == 4 ? L * Dh : Dh;
  st[2] = rank == 4 ? Dh : H * Dh;
}

/* dst [B,H,L0+L,Dh] rows [L0, L0+L) from a float tensor laid out as `rank` says. */
static void copy_heads(float *dst, int64_t L0, int64_t Lt, const float *src, int rank, int64_t B, int64_t H,
                       int64_t L, int64_t Dh) {
  int64_t st[3];
  head_strides(rank, H, L, Dh, st);
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t s = 0; s < L; s++)
        memcpy(dst + ((b * H + h) * Lt + L0 + s) * Dh, src + b * st[0] + h * st[1] + s * st[2],
               sizeof(float) * (size_t)Dh);
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
  attn_shape a = {0};
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
    const int64_t *nonpad = NP->data;
    for (int64_t b = 0; b < a.B; b++)
      if (nonpad[b] < 0 || nonpad[b] > a.T)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nonpad_kv_seqlen[%lld] = %lld is outside [0, %lld]", (long long)b,
                          (long long)nonpad[b], (long long)a.T);
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
  }
  const oxrt_attr *sa = oxrt_node_attr(ctx->node, "scale");
  int mode = (int)oxrt_attr_int(ctx->node, "qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "qk_matmul_output_mode must be 0..3, got %d", mode);
  oxrt_attn_desc d = {.B = a.B, .Hq = a.Hq, .Hkv = a.Hkv, .S = a.Sq, .T = a.T, .D = a.D, .Dv = a.Dv};
  d.scale = sa ? sa->f : (float)(1.0 / sqrt((double)a.D));
  d.softcap = oxrt_attr_float(ctx->node, "softcap", 0.f);
  d.causal = oxrt_attr_int(ctx->node, "is_causal", 0) != 0;
  d.causal_off = a.P;
  d.qk_mode = mode;
  const bool want_qk = oxrt_output_wanted(ctx, 3), want_pk = oxrt_output_wanted(ctx, 1),
             want_pv = oxrt_output_wanted(ctx, 2);
  const float *qf = NULL, *kf = NULL, *vf = NULL, *mf = NULL;
  float *tq = NULL, *tk = NULL, *tv = NULL, *tm = NULL, *kv = NULL, *qkb = NULL, *yb = NULL;
  int64_t *offb = NULL;
  oxrt_value *Y = NULL;
  oxrt_status *st = NULL;
  if ((st = oxrt_f32_view(Q, &qf, &tq)) || (st = oxrt_f32_view(K, &kf, &tk)) || (st = oxrt_f32_view(V, &vf, &tv)))
    goto done;
  d.q = qf;
  head_strides(r, a.Hq, a.Sq, a.D, d.qs);
  if (PK || want_pk || want_pv) {
    /* present = concat(past, new) along the sequence axis, [B,Hkv,T,D]: the kernel reads it too */
    size_t nk = (size_t)(a.B * a.Hkv * a.T * a.D), nv = (size_t)(a.B * a.Hkv * a.T * a.Dv);
    const float *pk = NULL, *pv = NULL;
    float *tpk = NULL, *tpv = NULL;
    if (!(kv = malloc(sizeof(float) * (nk + nv + 1)))) {
      st = OXRT_OOM();
      goto done;
    }
    if (PK && ((st = oxrt_f32_view(PK, &pk, &tpk)) || (st = oxrt_f32_view(PV, &pv, &tpv)))) {
      free(tpk);
      goto done;
    }
    if (PK) {
      copy_heads(kv, 0, a.T, pk, 4, a.B, a.Hkv, a.P, a.D);
      copy_heads(kv + nk, 0, a.T, pv, 4, a.B, a.Hkv, a.P, a.Dv);
    }
    free(tpk);
    free(tpv);
    copy_heads(kv, a.P, a.T, kf, r, a.B, a.Hkv, a.Skv, a.D);
    copy_heads(kv + nk, a.P, a.T, vf, r, a.B, a.Hkv, a.Skv, a.Dv);
    d.k = kv, d.v = kv + nk;
    head_strides(4, a.Hkv, a.T, a.D, d.ks);
    head_strides(4, a.Hkv, a.T, a.Dv, d.vs);
  } else {
    d.k = kf, d.v = vf;
    head_strides(r, a.Hkv, a.T, a.D, d.ks);
    head_strides(r, a.Hkv, a.T, a.Dv, d.vs);
  }
  if (M) {
    d.mlen = a.mlen;
    if (M->dtype == OXRT_BOOL) {
      d.bmask = M->data;
      memcpy(d.bmask_str, a.mstr, sizeof a.mstr);
    } else {
      if ((st = oxrt_f32_view(M, &mf, &tm))) goto done;
      d.bias = mf;
      memcpy(d.bias_str, a.mstr, sizeof a.mstr);
    }
  }
  if (NP) {
    d.kv_len = NP->data;
    if (d.causal && !a.P) { /* the queries end where each batch's keys end */
      if (!(offb = malloc(sizeof(int64_t) * (size_t)a.B))) {
        st = OXRT_OOM();
        goto done;
      }
      for (int64_t b = 0; b < a.B; b++) offb[b] = d.kv_len[b] - a.Sq;
      d.causal_off_b = offb;
    }
  }
  if (want_qk && !(d.qk = qkb = malloc(sizeof(float) * (size_t)(a.B * a.Hq * a.Sq * a.T + 1)))) {
    st = OXRT_OOM();
    goto done;
  }
  int64_t yd[4] = {a.B, a.Hq, a.Sq, a.Dv}, yd3[3] = {a.B, a.Sq, a.Hq * a.Dv};
  if ((st = oxrt_output_tensor(ctx, 0, Q->dtype, r, r == 4 ? yd : yd3, &Y)) || (st = f32_out(Y, &yb))) goto done;
  d.y = yb;
  head_strides(r, a.Hq, a.Sq, a.Dv, d.ys);
  if (!oxrt_attention_f32(&d, oxrt_cpu_isa(), ctx->pool)) {
    st = OXRT_OOM();
    goto done;
  }
  f32_commit(Y, yb);
  yb = NULL;
  if (want_pk) {
    int64_t pd[4] = {a.B, a.Hkv, a.T, a.D};
    if ((st = store_out(ctx, 1, K->dtype, 4, pd, d.k))) goto done;
  }
  if (want_pv) {
    int64_t pd[4] = {a.B, a.Hkv, a.T, a.Dv};
    if ((st = store_out(ctx, 2, V->dtype, 4, pd, d.v))) goto done;
  }
  if (want_qk) {
    int64_t qd[4] = {a.B, a.Hq, a.Sq, a.T};
    if ((st = store_out(ctx, 3, Q->dtype, 4, qd, qkb))) goto done;
  }
done:
  if (yb) f32_drop(Y, yb);
  free(tq);
  free(tk);
  free(tv);
  free(tm);
  free(kv);
  free(qkb);
  free(offb);
  return st;
}

static const oxrt_op_impl attention_impls[] = {
    {.since_version = 23, .type_mask = OXRT_TMASK_FLOATS, .run = attention_run},
    {.since_version = 24, .type_mask = OXRT_TMASK_FLOATS, .run = attention_run},
};
OXRT_REGISTER_OP(Attention) = {"", "Attention", OXRT_IMPLS(attention_impls)};
