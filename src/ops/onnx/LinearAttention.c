/* LinearAttention.c - LinearAttention (opset 27): recurrent linear attention over [B, T, H*D] inputs with a
 * per-head state S[dk, dv]: optional gating (S *= exp(decay)) and delta rule (v <- beta * (v - S^T k)), then
 * S += k v^T and o = scale * q^T S. GQA: query head h reads KV head h / (q_heads / kv_heads). Float math. */
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static oxrt_status *to_float(const oxrt_value *v, float **out) {
  *out = malloc(sizeof(float) * (v->count + 1));
  if (!*out) return OXRT_OOM();
  if (!oxrt_convert(OXRT_FLOAT, *out, v->dtype, v->data, v->count, false)) {
    free(*out);
    *out = NULL;
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unsupported type %s", oxrt_elem_type_name(v->dtype));
  }
  return NULL;
}

static oxrt_status *linattn_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *q = oxrt_input(ctx, 0), *k = oxrt_input(ctx, 1), *v = oxrt_input(ctx, 2),
                   *past = oxrt_input(ctx, 3), *decay = oxrt_input(ctx, 4), *beta = oxrt_input(ctx, 5);
  OXRT_TRY(oxrt_check_tensor(q, 0, "query"));
  OXRT_TRY(oxrt_check_tensor(k, 1, "key"));
  OXRT_TRY(oxrt_check_tensor(v, 2, "value"));
  const char *rule = oxrt_attr_string(ctx->node, "update_rule", "gated_delta");
  int r = !strcmp(rule, "linear") ? 0 : !strcmp(rule, "gated") ? 1 : !strcmp(rule, "delta") ? 2
          : !strcmp(rule, "gated_delta")                                                    ? 3
                                                                                            : -1;
  if (r < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unknown update_rule '%s'", rule);
  bool gating = r & 1, delta = r & 2;
  if (gating != (decay != NULL))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "update_rule '%s' %s the decay input", rule, gating ? "requires" : "forbids");
  if (delta != (beta != NULL))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "update_rule '%s' %s the beta input", rule, delta ? "requires" : "forbids");
  int64_t Hq = oxrt_attr_int(ctx->node, "q_num_heads", 0), Hk = oxrt_attr_int(ctx->node, "kv_num_heads", 0);
  if (Hq <= 0 || Hk <= 0 || Hq % Hk)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "q_num_heads (%lld) must be a positive multiple of kv_num_heads (%lld)",
                      (long long)Hq, (long long)Hk);
  if (q->rank != 3 || k->rank != 3 || v->rank != 3)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "query, key and value must be [batch, time, heads*dim]");
  int64_t B = q->dims[0], T = q->dims[1];
  if (k->dims[0] != B || v->dims[0] != B || k->dims[1] != T || v->dims[1] != T || q->dims[2] % Hq ||
      k->dims[2] % Hk || v->dims[2] % Hk)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "query/key/value shapes do not agree with the head counts");
  int64_t dk = q->dims[2] / Hq, dv = v->dims[2] / Hk, G = Hq / Hk;
  if (k->dims[2] / Hk != dk) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "key head size differs from query head size");
  int64_t dlast = 0, blast = 0;
  if (decay) {
    OXRT_TRY(oxrt_check_tensor(decay, 4, "decay"));
    dlast = decay->rank == 3 ? decay->dims[2] : -1;
    if (decay->rank != 3 || decay->dims[0] != B || decay->dims[1] != T || (dlast != Hk && dlast != Hk * dk))
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "decay must be [batch, time, kv_num_heads or kv_num_heads*d_k]");
  }
  if (beta) {
    OXRT_TRY(oxrt_check_tensor(beta, 5, "beta"));
    blast = beta->rank == 3 ? beta->dims[2] : -1;
    if (beta->rank != 3 || beta->dims[0] != B || beta->dims[1] != T || (blast != Hk && blast != 1))
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "beta must be [batch, time, kv_num_heads or 1]");
  }
  if (past) {
    OXRT_TRY(oxrt_check_tensor(past, 3, "past_state"));
    if (past->rank != 4 || past->dims[0] != B || past->dims[1] != Hk || past->dims[2] != dk || past->dims[3] != dv)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "past_state must be [%lld, %lld, %lld, %lld]", (long long)B,
                        (long long)Hk, (long long)dk, (long long)dv);
  }
  const oxrt_attr *sa = oxrt_node_attr(ctx->node, "scale");
  float scale = sa && sa->f != 0.f ? sa->f : (float)(1.0 / sqrt((double)dk));
  float *qf = NULL, *kf = NULL, *vf = NULL, *df = NULL, *bf = NULL, *S = NULL, *tmp = NULL;
  oxrt_status *st = NULL;
  if ((st = to_float(q, &qf)) || (st = to_float(k, &kf)) || (st = to_float(v, &vf)) || (decay && (st = to_float(decay, &df))) ||
      (beta && (st = to_float(beta, &bf))))
    goto done;
  size_t ns = (size_t)(B * Hk * dk * dv);
  S = calloc(ns + 1, sizeof(float));
  tmp = malloc(sizeof(float) * (size_t)(dv + 1));
  if (!S || !tmp) {
    st = OXRT_OOM();
    goto done;
  }
  if (past && !oxrt_convert(OXRT_FLOAT, S, past->dtype, past->data, ns, false)) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unsupported past_state type");
    goto done;
  }
  oxrt_value *y;
  if ((st = oxrt_output_tensor(ctx, 0, q->dtype, 3, (int64_t[]){B, T, Hq * dv}, &y))) goto done;
  float *out = malloc(sizeof(float) * (size_t)(B * T * Hq * dv + 1));
  if (!out) {
    st = OXRT_OOM();
    goto done;
  }
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      for (int64_t h = 0; h < Hk; h++) {
        float *s = S + (b * Hk + h) * dk * dv;
        const float *kt = kf + (b * T + t) * Hk * dk + h * dk, *vt = vf + (b * T + t) * Hk * dv + h * dv;
        if (gating)
          for (int64_t i = 0; i < dk; i++) {
            float g = expf(dlast == Hk ? df[(b * T + t) * Hk + h] : df[(b * T + t) * Hk * dk + h * dk + i]);
            for (int64_t j = 0; j < dv; j++) s[i * dv + j] *= g;
          }
        for (int64_t j = 0; j < dv; j++) tmp[j] = vt[j];
        if (delta) {
          float bt = bf[(b * T + t) * blast + (blast == 1 ? 0 : h)];
          for (int64_t j = 0; j < dv; j++) {
            float ret = 0;
            for (int64_t i = 0; i < dk; i++) ret += s[i * dv + j] * kt[i];
            tmp[j] = bt * (vt[j] - ret);
          }
        }
        for (int64_t i = 0; i < dk; i++)
          for (int64_t j = 0; j < dv; j++) s[i * dv + j] += kt[i] * tmp[j];
      }
      for (int64_t h = 0; h < Hq; h++) {
        const float *s = S + (b * Hk + h / G) * dk * dv, *qt = qf + (b * T + t) * Hq * dk + h * dk;
        float *o = out + (b * T + t) * Hq * dv + h * dv;
        for (int64_t j = 0; j < dv; j++) {
          float acc = 0;
          for (int64_t i = 0; i < dk; i++) acc += qt[i] * s[i * dv + j];
          o[j] = scale * acc;
        }
      }
    }
  oxrt_convert(q->dtype, y->data, OXRT_FLOAT, out, y->count, false);
  free(out);
  if (oxrt_output_wanted(ctx, 1)) {
    oxrt_value *ps;
    oxrt_elem_type pt = past ? past->dtype : q->dtype;
    if ((st = oxrt_output_tensor(ctx, 1, pt, 4, (int64_t[]){B, Hk, dk, dv}, &ps))) goto done;
    oxrt_convert(pt, ps->data, OXRT_FLOAT, S, ns, false);
  }
done:
  free(qf), free(kf), free(vf), free(df), free(bf), free(S), free(tmp);
  return st;
}

static const oxrt_op_impl linattn_impls[] = {{.since_version = 27, .type_mask = OXRT_TMASK_FLOATS, .run = linattn_run}};
OXRT_REGISTER_OP(LinearAttention) = {"", "LinearAttention", OXRT_IMPLS(linattn_impls)};
