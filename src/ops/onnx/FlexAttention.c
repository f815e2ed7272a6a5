/* FlexAttention.c - ai.onnx.preview FlexAttention (opset 1): scaled dot-product attention over rank-4
 * Q [B,Hq,L,E], K [B,Hkv,S,E], V [B,Hkv,S,Ev] with GQA head sharing and two optional modifier subgraphs,
 * score_mod (after Q.K^T * scale) and prob_mod (after the softmax), that see the whole (B,Hq,L,S) tensor in
 * the softmax precision. Work is done in float32 (float, float16, bfloat16) or float64 (double inputs or
 * softmax_precision = DOUBLE); float16/bfloat16 softmax precisions round the scores/probabilities through
 * that type so the modifiers and the result see what the precision allows. */
#include "../../kernels/gemm.h"
#include "../../kernels/vmath.h"
#include <float.h>
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  bool dbl; /* work in double */
  int64_t B, Hq, Hkv, L, S, E, Ev;
  double scale;
  const void *q, *k, *v; /* in the work type */
  void *scores;          /* [B,Hq,L,S] */
  void *y;               /* [B,Hq,L,Ev] */
} flex_args;

static void flex_qk(void *arg, size_t begin, size_t end) {
  flex_args *a = arg;
  for (size_t bh = begin; bh < end; bh++) {
    int64_t b = (int64_t)bh / a->Hq, h = (int64_t)bh % a->Hq;
    int64_t kvh = h / (a->Hq / a->Hkv); /* each K/V head serves a contiguous group of query heads */
    size_t qo = bh * (size_t)(a->L * a->E), ko = (size_t)((b * a->Hkv + kvh) * a->S * a->E);
    size_t so = bh * (size_t)(a->L * a->S);
    if (a->dbl)
      oxrt_dgemm(false, true, (size_t)a->L, (size_t)a->S, (size_t)a->E, a->scale, (const double *)a->q + qo,
                 (size_t)a->E, (const double *)a->k + ko, (size_t)a->E, 0.0, (double *)a->scores + so, (size_t)a->S,
                 NULL);
    else
      oxrt_sgemm(false, true, (size_t)a->L, (size_t)a->S, (size_t)a->E, (float)a->scale, (const float *)a->q + qo,
                 (size_t)a->E, (const float *)a->k + ko, (size_t)a->E, 0.f, (float *)a->scores + so, (size_t)a->S,
                 NULL);
  }
}

static void flex_pv(void *arg, size_t begin, size_t end) {
  flex_args *a = arg;
  for (size_t bh = begin; bh < end; bh++) {
    int64_t b = (int64_t)bh / a->Hq, h = (int64_t)bh % a->Hq;
    int64_t kvh = h / (a->Hq / a->Hkv);
    size_t po = bh * (size_t)(a->L * a->S), vo = (size_t)((b * a->Hkv + kvh) * a->S * a->Ev);
    size_t yo = bh * (size_t)(a->L * a->Ev);
    if (a->dbl)
      oxrt_dgemm(false, false, (size_t)a->L, (size_t)a->Ev, (size_t)a->S, 1.0, (const double *)a->scores + po,
                 (size_t)a->S, (const double *)a->v + vo, (size_t)a->Ev, 0.0, (double *)a->y + yo, (size_t)a->Ev,
                 NULL);
    else
      oxrt_sgemm(false, false, (size_t)a->L, (size_t)a->Ev, (size_t)a->S, 1.f, (const float *)a->scores + po,
                 (size_t)a->S, (const float *)a->v + vo, (size_t)a->Ev, 0.f, (float *)a->y + yo, (size_t)a->Ev, NULL);
  }
}

/* Softmax over the last axis of rows of length S. A row that is -inf everywhere (fully masked by score_mod)
 * gives zeros, as PyTorch's flex_attention does, rather than NaN. */
static void flex_softmax(void *arg, size_t begin, size_t end) {
  flex_args *a = arg;
  size_t S = (size_t)a->S;
  for (size_t r = begin; r < end; r++) {
    if (a->dbl) {
      double *x = (double *)a->scores + r * S, mx = -INFINITY, sum = 0;
      for (size_t j = 0; j < S; j++) mx = x[j] > mx ? x[j] : mx;
      if (isinf(mx) && mx < 0) {
        for (size_t j = 0; j < S; j++) x[j] = 0;
        continue;
      }
      for (size_t j = 0; j < S; j++) sum += (x[j] = exp(x[j] - mx));
      for (size_t j = 0; j < S; j++) x[j] /= sum;
    } else {
      float *x = (float *)a->scores + r * S, mx = -INFINITY, sum = 0;
      for (size_t j = 0; j < S; j++) mx = x[j] > mx ? x[j] : mx;
      if (isinf(mx) && mx < 0) {
        for (size_t j = 0; j < S; j++) x[j] = 0;
        continue;
      }
      sum = oxrt_vexp_shift_sum_f32(x, x, S, mx);
      for (size_t j = 0; j < S; j++) {
        float v = x[j] / sum;
        x[j] = v < FLT_MIN ? 0.f : v; /* no subnormals for the MatMul with V */
      }
    }
  }
}

/* Rounds a float work buffer through float16/bfloat16 (the softmax precision). */
static void round_to(oxrt_elem_type c, float *x, size_t n) {
  if (c == OXRT_FLOAT16)
    for (size_t i = 0; i < n; i++) x[i] = oxrt_f16_to_f32(oxrt_f32_to_f16(x[i]));
  else if (c == OXRT_BFLOAT16)
    for (size_t i = 0; i < n; i++) x[i] = oxrt_bf16_to_f32(oxrt_f32_to_bf16(x[i]));
}

/* Runs modifier subgraph `name` on the (B,Hq,L,S) work buffer, in place. The subgraph sees a tensor of the
 * softmax precision `c`; its single output must keep the shape. */
static oxrt_status *run_mod(oxrt_kernel_ctx *ctx, const char *name, flex_args *a, oxrt_elem_type c) {
  const oxrt_attr *at = oxrt_node_attr(ctx->node, name);
  if (!at) return NULL;
  if (at->type != OXRT_ATTR_GRAPH || !at->g)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute %s: expected a graph", name);
  const oxrt_graph *g = at->g;
  if (g->n_inputs != 1 || g->n_outputs != 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute %s: subgraph must have 1 input and 1 output, has %d and %d",
                      name, g->n_inputs, g->n_outputs);
  oxrt_elem_type w = a->dbl ? OXRT_DOUBLE : OXRT_FLOAT;
  int64_t dims[4] = {a->B, a->Hq, a->L, a->S};
  size_t n = (size_t)(a->B * a->Hq * a->L * a->S);
  oxrt_value *in = NULL, *out = NULL;
  oxrt_status *st;
  if (c == w) {
    st = oxrt_tensor_view(w, 4, dims, a->scores, &in);
  } else {
    st = oxrt_tensor_new(c, 4, dims, &in);
    if (!st && !oxrt_convert(c, in->data, w, a->scores, n, false))
      st = oxrt_error(OXRT_ERR_RUNTIME, "attribute %s: cannot convert scores", name);
  }
  if (!st) {
    const oxrt_value *ins[1] = {in};
    st = oxrt_subgraph_run(ctx, g, ins, 1, &out);
  }
  if (!st) {
    char buf[96];
    if (!out || out->kind != OXRT_KIND_TENSOR || !oxrt_dtype_is_float(out->dtype))
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute %s: output must be a float tensor, got %s", name,
                      out ? oxrt_value_describe(out, buf, sizeof buf) : "nothing");
    else if (out->rank != 4 || memcmp(out->dims, dims, sizeof dims) != 0)
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute %s: output shape %s differs from its input's", name,
                      oxrt_dims_str(out->dims, out->rank, buf, sizeof buf));
    else if (!oxrt_convert(w, a->scores, out->dtype, out->data, n, false))
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute %s: unsupported output type", name);
  }
  oxrt_value_free(in);
  oxrt_value_free(out);
  if (!st && !a->dbl) round_to(c, a->scores, n);
  return st;
}

/* Returns x in the work type: the input itself when it already is, else a converted malloc'd copy in *own. */
static oxrt_status *to_work(const oxrt_value *x, oxrt_elem_type w, const void **data, void **own) {
  *own = NULL;
  if (x->dtype == w) {
    *data = x->data;
    return NULL;
  }
  size_t es = w == OXRT_DOUBLE ? sizeof(double) : sizeof(float);
  void *p = malloc(x->count ? x->count * es : 1);
  if (!p) return OXRT_OOM();
  if (!oxrt_convert(w, p, x->dtype, x->data, x->count, false)) {
    free(p);
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unsupported element type");
  }
  *data = *own = p;
  return NULL;
}

static oxrt_status *flex_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *Q = oxrt_input(ctx, 0), *K = oxrt_input(ctx, 1), *V = oxrt_input(ctx, 2);
  const oxrt_value *in[3] = {Q, K, V};
  for (int i = 0; i < 3; i++) {
    OXRT_TRY(oxrt_check_tensor(in[i], i, "FlexAttention"));
    if (in[i]->rank != 4) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: expected rank 4, got %d", i, in[i]->rank);
    if (in[i]->dtype != Q->dtype) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: element type differs from Q's", i);
  }
  flex_args a = {0};
  a.B = Q->dims[0], a.Hq = Q->dims[1], a.L = Q->dims[2], a.E = Q->dims[3];
  a.Hkv = K->dims[1], a.S = K->dims[2], a.Ev = V->dims[3];
  if (K->dims[0] != a.B || V->dims[0] != a.B)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "batch sizes differ: Q %lld, K %lld, V %lld", (long long)a.B,
                      (long long)K->dims[0], (long long)V->dims[0]);
  if (K->dims[3] != a.E)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: head size %lld differs from Q's %lld", (long long)K->dims[3],
                      (long long)a.E);
  if (V->dims[1] != a.Hkv || V->dims[2] != a.S)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2: heads/sequence (%lld, %lld) differ from K's (%lld, %lld)",
                      (long long)V->dims[1], (long long)V->dims[2], (long long)a.Hkv, (long long)a.S);
  if (a.Hkv <= 0 ? a.Hq != 0 : a.Hq % a.Hkv != 0)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "q_num_heads %lld is not a multiple of kv_num_heads %lld",
                      (long long)a.Hq, (long long)a.Hkv);

  /* softmax precision: explicit, else float32 below double */
  oxrt_elem_type c = Q->dtype == OXRT_DOUBLE ? OXRT_DOUBLE : OXRT_FLOAT;
  const oxrt_attr *sp = oxrt_node_attr(ctx->node, "softmax_precision");
  if (sp) {
    c = (oxrt_elem_type)sp->i;
    if (c != OXRT_FLOAT && c != OXRT_DOUBLE && c != OXRT_FLOAT16 && c != OXRT_BFLOAT16)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "softmax_precision %lld: expected FLOAT, FLOAT16, BFLOAT16 or DOUBLE",
                        (long long)sp->i);
  }
  a.dbl = c == OXRT_DOUBLE || Q->dtype == OXRT_DOUBLE;
  oxrt_elem_type w = a.dbl ? OXRT_DOUBLE : OXRT_FLOAT;
  const oxrt_attr *sc = oxrt_node_attr(ctx->node, "scale");
  a.scale = sc ? (double)sc->f : (a.E > 0 ? 1.0 / sqrt((double)a.E) : 1.0);

  int64_t ydims[4] = {a.B, a.Hq, a.L, a.Ev};
  oxrt_value *Y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, Q->dtype, 4, ydims, &Y));
  if (Y->count == 0) return NULL;

  size_t es = a.dbl ? sizeof(double) : sizeof(float);
  size_t n_bh = (size_t)(a.B * a.Hq), n_s = n_bh * (size_t)(a.L * a.S);
  void *oq = NULL, *ok = NULL, *ov = NULL, *yb = NULL;
  oxrt_status *st = NULL;
  a.scores = malloc(n_s ? n_s * es : 1);
  if (!a.scores) return OXRT_OOM();
  if ((st = to_work(Q, w, &a.q, &oq)) || (st = to_work(K, w, &a.k, &ok)) || (st = to_work(V, w, &a.v, &ov))) goto done;
  bool half = Q->dtype == OXRT_FLOAT16 || Q->dtype == OXRT_BFLOAT16;
  if (half && !a.dbl) {
    /* float16/bfloat16 products are formed like the reference: Q and K pre-scaled by sqrt(scale) in the input
     * type (the product itself is accumulated in float32) */
    float s = (float)sqrt(a.scale);
    s = Q->dtype == OXRT_FLOAT16 ? oxrt_f16_to_f32(oxrt_f32_to_f16(s)) : oxrt_bf16_to_f32(oxrt_f32_to_bf16(s));
    for (size_t i = 0; i < Q->count; i++) ((float *)oq)[i] *= s;
    for (size_t i = 0; i < K->count; i++) ((float *)ok)[i] *= s;
    round_to(Q->dtype, oq, Q->count);
    round_to(Q->dtype, ok, K->count);
    a.scale = 1.0;
  }
  if (Y->dtype == w) {
    a.y = Y->data;
  } else if (!(a.y = yb = malloc(Y->count * es))) {
    st = OXRT_OOM();
    goto done;
  }

  if (a.S == 0) { /* nothing to attend: zero output */
    memset(a.y, 0, Y->count * es);
  } else {
    oxrt_parallel(ctx, n_bh, 1, flex_qk, &a);
    if (!a.dbl) round_to(c, a.scores, n_s);
    if ((st = run_mod(ctx, "score_mod", &a, c))) goto done;
    oxrt_parallel(ctx, n_bh * (size_t)a.L, 16, flex_softmax, &a);
    if (!a.dbl) round_to(c, a.scores, n_s);
    if ((st = run_mod(ctx, "prob_mod", &a, c))) goto done;
    oxrt_parallel(ctx, n_bh, 1, flex_pv, &a);
  }
  if (yb && !oxrt_convert(Y->dtype, Y->data, w, yb, Y->count, false))
    st = oxrt_error(OXRT_ERR_RUNTIME, "cannot convert the output");
done:
  free(a.scores);
  free(oq);
  free(ok);
  free(ov);
  free(yb);
  return st;
}

static const oxrt_op_impl flex_impls[] = {{.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = flex_run}};
OXRT_REGISTER_OP(preview_FlexAttention) = {"ai.onnx.preview", "FlexAttention", OXRT_IMPLS(flex_impls)};
