/* test_attention.c - the attention core (kernels/attention.h) at every ISA level against a double-precision
 * reference that builds the whole score matrix: random shapes (odd head sizes, S not a multiple of the block,
 * T past one key block so the online softmax rescales), both layouts, GQA, additive bias and boolean masks with
 * broadcast axes and a short last dim, a causal mask given as bias, causal with offsets (per batch too), key lengths, softcap, fully masked
 * rows, the query/value projection biases, and the four qk output stages. */
#include "kernels/attention.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static unsigned at_seed = 12345u;
static int at_rand(int n) {
  at_seed = at_seed * 1103515245u + 12345u;
  return (int)((at_seed >> 8) % (unsigned)n);
}
static float at_rnd(void) { return (float)at_rand(20001) / 10000.f - 1.f; }

/* masked(i, j): -inf contribution; returns the additive term otherwise */
static double at_term(const oxrt_attn_desc *d, int64_t b, int64_t h, int64_t i, int64_t j, bool *hidden) {
  double t = 0;
  *hidden = false;
  if ((d->bias || d->bmask) && j >= d->mlen) *hidden = true;
  if (d->kv_len && j >= d->kv_len[b]) *hidden = true;
  if (d->causal && j > i + d->causal_off + (d->causal_off_b ? d->causal_off_b[b] : 0)) *hidden = true;
  if (*hidden) return 0;
  if (d->bias) {
    const int64_t *s = d->bias_str;
    t += d->bias[b * s[0] + h * s[1] + i * s[2] + j * s[3]];
  }
  if (d->bmask) {
    const int64_t *s = d->bmask_str;
    if (!d->bmask[b * s[0] + h * s[1] + i * s[2] + j * s[3]]) *hidden = true;
  }
  return t;
}

static void at_reference(const oxrt_attn_desc *d, float *y, float *qk) {
  double *sc = malloc(sizeof(double) * (size_t)(d->T + 1));
  bool *hid = malloc(sizeof(bool) * (size_t)(d->T + 1));
  for (int64_t b = 0; b < d->B; b++)
    for (int64_t h = 0; h < d->Hq; h++) {
      const int64_t g = h / (d->Hq / d->Hkv);
      for (int64_t i = 0; i < d->S; i++) {
        double mx = -INFINITY;
        float *qr = qk ? qk + ((b * d->Hq + h) * d->S + i) * d->T : NULL;
        for (int64_t j = 0; j < d->T; j++) {
          double s = 0;
          for (int64_t e = 0; e < d->D; e++)
            s += ((double)d->q[b * d->qs[0] + h * d->qs[1] + i * d->qs[2] + e] +
                  (d->q_bias ? d->q_bias[h * d->D + e] : 0)) *
                 d->k[b * d->ks[0] + g * d->ks[1] + j * d->ks[2] + e];
          s *= d->scale;
          if (qr && d->qk_mode == 0) qr[j] = (float)s;
          if (d->softcap > 0) s = d->softcap * tanh(s / d->softcap);
          if (qr && d->qk_mode == 1) qr[j] = (float)s;
          s += at_term(d, b, h, i, j, &hid[j]);
          if (hid[j]) s = -INFINITY;
          if (qr && d->qk_mode == 2) qr[j] = (float)s;
          sc[j] = s;
          if (s > mx) mx = s;
        }
        double sum = 0;
        for (int64_t j = 0; j < d->T; j++) sum += sc[j] = hid[j] || isinf(mx) ? 0 : exp(sc[j] - mx);
        for (int64_t j = 0; j < d->T; j++) sc[j] = sum > 0 ? sc[j] / sum : 0;
        if (qr && d->qk_mode == 3)
          for (int64_t j = 0; j < d->T; j++) qr[j] = (float)sc[j];
        for (int64_t e = 0; e < d->Dv; e++) {
          double acc = 0;
          for (int64_t j = 0; j < d->T; j++)
            acc += sc[j] * ((double)d->v[b * d->vs[0] + g * d->vs[1] + j * d->vs[2] + e] +
                            (d->v_bias ? d->v_bias[g * d->Dv + e] : 0));
          y[b * d->ys[0] + h * d->ys[1] + i * d->ys[2] + e] = (float)acc;
        }
      }
    }
  free(sc);
  free(hid);
}

static void at_strides(bool l4, int64_t H, int64_t L, int64_t Dh, int64_t *st) {
  st[0] = H * L * Dh;
  st[1] = l4 ? L * Dh : Dh;
  st[2] = l4 ? Dh : H * Dh;
}

static bool at_close(const float *got, const float *want, size_t n, const char *what, int t, int isa) {
  for (size_t i = 0; i < n; i++)
    if (!(fabsf(got[i] - want[i]) <= 2e-5f + 1e-4f * fabsf(want[i])) &&
        !(isinf(want[i]) && got[i] == want[i])) {
      fprintf(stderr, "  attention case %d %s: %s[%zu] = %g, want %g\n", t, oxrt_isa_name((oxrt_isa)isa), what, i,
              got[i], want[i]);
      return false;
    }
  return true;
}

void test_kernel_attention_random(void) {
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  int bad = 0;
  for (int t = 0; t < 160 && bad < 5; t++) {
    oxrt_attn_desc d = {.B = 1 + at_rand(2), .Hkv = 1 + at_rand(2)};
    d.Hq = d.Hkv * (t % 4 == 3 ? 2 : 1);
    d.S = 1 + at_rand(t % 3 ? 20 : 150);
    d.T = t % 5 == 4 ? ATTN_KEY_BLOCK + 1 + at_rand(300) : t % 2 ? d.S : 1 + at_rand(90);
    d.D = 1 + at_rand(t % 2 ? 9 : 70);
    d.Dv = t % 3 == 1 ? 1 + at_rand(20) : d.D;
    d.scale = 1.f / sqrtf((float)d.D) * (t % 7 == 0 ? 3.f : 1.f);
    const bool l4 = t % 2 == 0;
    size_t nq = (size_t)(d.B * d.Hq * d.S * d.D), nk = (size_t)(d.B * d.Hkv * d.T * d.D),
           nv = (size_t)(d.B * d.Hkv * d.T * d.Dv), ny = (size_t)(d.B * d.Hq * d.S * d.Dv),
           ns = (size_t)(d.B * d.Hq * d.S * d.T);
    float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nk), *v = malloc(sizeof(float) * nv);
    float *y = malloc(sizeof(float) * ny), *ry = malloc(sizeof(float) * ny);
    float *bias = malloc(sizeof(float) * ns), *qk = malloc(sizeof(float) * ns), *rqk = malloc(sizeof(float) * ns);
    uint8_t *bm = malloc(ns);
    int64_t kvl[2], offb[2];
    for (size_t i = 0; i < nq; i++) q[i] = at_rnd() * 2.f;
    for (size_t i = 0; i < nk; i++) k[i] = at_rnd() * 2.f;
    for (size_t i = 0; i < nv; i++) v[i] = at_rnd();
    for (size_t i = 0; i < ns; i++) bias[i] = at_rand(8) == 0 ? -INFINITY : at_rnd() * 3.f, bm[i] = at_rand(4) != 0;
    d.q = q, d.k = k, d.v = v, d.y = y;
    at_strides(l4, d.Hq, d.S, d.D, d.qs);
    at_strides(l4, d.Hkv, d.T, d.D, d.ks);
    at_strides(l4, d.Hkv, d.T, d.Dv, d.vs);
    at_strides(l4, d.Hq, d.S, d.Dv, d.ys);
    /* masks: [B,1,1,mlen] key padding, full [B,Hq,S,mlen], or [1,1,S,mlen] */
    const int mk = t % 6;
    if (mk == 5 && d.S == d.T) { /* a causal mask given as an additive bias [S, T], -inf above the diagonal */
      d.mlen = d.T;
      d.bias_str[0] = d.bias_str[1] = 0, d.bias_str[2] = d.T, d.bias_str[3] = 1;
      for (int64_t i = 0; i < d.S; i++)
        for (int64_t j = 0; j < d.T; j++) bias[i * d.T + j] = j > i ? -INFINITY : at_rnd();
      d.bias = bias;
    }
    if (mk == 1 || mk == 2 || mk == 4) {
      d.mlen = t % 4 == 1 ? 1 + at_rand((int)d.T) : d.T;
      const int64_t full[4] = {d.B, d.Hq, d.S, d.mlen};
      int64_t *str = mk == 2 ? d.bmask_str : d.bias_str, s = 1;
      for (int a = 3; a >= 0; a--) {
        const bool bc = (mk == 1 && (a == 1 || a == 2)) || (mk == 4 && a < 2);
        str[a] = bc ? 0 : s;
        s *= bc ? 1 : full[a];
      }
      if (mk == 2) d.bmask = bm;
      else d.bias = bias;
      if (t % 12 == 4) d.bmask = bm, memcpy(d.bmask_str, d.bias_str, sizeof d.bias_str); /* both */
    }
    if (t % 3 == 0) {
      d.causal = true;
      d.causal_off = d.T - d.S + (t % 9 == 0 ? -at_rand(3) : 0);
      if (t % 9 == 3) {
        for (int64_t b = 0; b < d.B; b++) offb[b] = at_rand(3) - 1;
        d.causal_off_b = offb;
      }
    }
    if (t % 8 == 5) {
      for (int64_t b = 0; b < d.B; b++) kvl[b] = at_rand((int)d.T + 1);
      d.kv_len = kvl;
    }
    if (t % 10 == 7) d.softcap = 2.f;
    float *qb = malloc(sizeof(float) * (size_t)(d.Hq * d.D)), *vb = malloc(sizeof(float) * (size_t)(d.Hkv * d.Dv));
    for (int64_t i = 0; i < d.Hq * d.D; i++) qb[i] = at_rnd();
    for (int64_t i = 0; i < d.Hkv * d.Dv; i++) vb[i] = at_rnd();
    if (t % 4 == 1) d.q_bias = qb, d.v_bias = vb;
    const bool want_qk = t % 5 == 2 || t % 11 == 0;
    if (want_qk) d.qk = qk, d.qk_mode = at_rand(4);
    oxrt_attn_desc rd = d;
    rd.y = ry, rd.qk = want_qk ? rqk : NULL;
    at_reference(&rd, ry, rd.qk);
    for (int isa = 0; isa <= (int)oxrt_cpu_isa(); isa++) {
      for (size_t i = 0; i < ny; i++) y[i] = NAN;
      for (size_t i = 0; i < ns; i++) qk[i] = NAN;
      CHECK(oxrt_attention_f32(&d, (oxrt_isa)isa, t % 2 ? pool : NULL));
      if (!at_close(y, ry, ny, "y", t, isa) || (want_qk && !at_close(qk, rqk, ns, "qk", t, isa))) {
        fprintf(stderr,
                "    B %lld Hq %lld Hkv %lld S %lld T %lld D %lld Dv %lld mask %d mlen %lld causal %d off %lld "
                "kv_len %d softcap %g qk %d mode %d\n",
                (long long)d.B, (long long)d.Hq, (long long)d.Hkv, (long long)d.S, (long long)d.T, (long long)d.D,
                (long long)d.Dv, mk, (long long)d.mlen, d.causal, (long long)d.causal_off, d.kv_len != NULL,
                d.softcap, want_qk, d.qk_mode);
        unit_failures++;
        bad++;
      }
    }
    free(q), free(k), free(v), free(y), free(ry), free(bias), free(qk), free(rqk), free(bm), free(qb), free(vb);
  }
  oxrt_threadpool_free(pool);
}

/* A finite causal mask (GPT-2's additive Trilu of -10000, plus right- or left-padded keys at -10000 more): the
 * core skips the keys whose bias lies so far below the row's best that their probability is provably 0, so the
 * result must be bit-identical to the same core with skipping off (asking for the scores turns it off), at every
 * ISA level. With scores made huge (the keys past the middle aligned with the queries, |q.k| * scale far above
 * 10000) those keys dominate and the bound must keep them; with left padding, rows that see only padded keys weigh
 * the keys past the diagonal as much as the rest. The ordinary cases are also checked against the double reference
 * (loosely: scores offset by -20000 keep only float's absolute precision there). */
void test_kernel_attention_finite_causal(void) {
  oxrt_threadpool *pool = oxrt_threadpool_create(2);
  int bad = 0;
  for (int t = 0; t < 24 && bad < 3; t++) {
    oxrt_attn_desc d = {.B = 1 + t % 2, .Hq = 2, .Hkv = 2, .D = 8 + at_rand(60), .Dv = 0, .scale = 0.125f};
    d.S = d.T = 5 + at_rand(t % 3 ? 90 : 200);
    d.Dv = d.D;
    const bool huge = t % 4 == 3, left = t % 3 == 1;
    const size_t nq = (size_t)(d.B * d.Hq * d.S * d.D), ny = nq, nb = (size_t)(d.B * d.S * d.T);
    const size_t ns = (size_t)(d.B * d.Hq * d.S * d.T);
    float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nq), *v = malloc(sizeof(float) * nq);
    float *y = malloc(sizeof(float) * ny), *y0 = malloc(sizeof(float) * ny), *ry = malloc(sizeof(float) * ny);
    float *bias = malloc(sizeof(float) * nb), *qk = malloc(sizeof(float) * ns);
    for (size_t i = 0; i < nq; i++) q[i] = at_rnd(), k[i] = at_rnd(), v[i] = at_rnd();
    if (huge) /* every query and the keys past the middle point along (1, 1, ...) with norm ~ 2000 */
      for (int64_t r = 0; r < d.B * d.Hq * d.S; r++)
        for (int64_t e = 0; e < d.D; e++) {
          q[r * d.D + e] = 2000.f / sqrtf((float)d.D) + at_rnd();
          if (r % d.S > d.S / 2) k[r * d.D + e] = 2000.f / sqrtf((float)d.D);
        }
    for (int64_t b = 0; b < d.B; b++) {
      const int64_t pad = at_rand((int)d.T / 2 + 1); /* padded keys: the last `pad` (right) or first (left) */
      for (int64_t i = 0; i < d.S; i++)
        for (int64_t j = 0; j < d.T; j++) {
          const bool padded = left ? j < pad : j >= d.T - pad;
          bias[(b * d.S + i) * d.T + j] = (j > i ? -10000.f : 0.f) + (padded ? -10000.f : 0.f);
        }
    }
    d.q = q, d.k = k, d.v = v, d.y = y, d.bias = bias, d.mlen = d.T;
    const int64_t qs[3] = {d.Hq * d.S * d.D, d.S * d.D, d.D}; /* [B, H, S, D] */
    memcpy(d.qs, qs, sizeof qs), memcpy(d.ks, qs, sizeof qs), memcpy(d.vs, qs, sizeof qs), memcpy(d.ys, qs, sizeof qs);
    d.bias_str[0] = d.S * d.T, d.bias_str[1] = 0, d.bias_str[2] = d.T, d.bias_str[3] = 1; /* [B, 1, S, T] */
    oxrt_attn_desc full = d; /* the same core visiting every key */
    full.y = y0, full.qk = qk, full.qk_mode = 0;
    oxrt_attn_desc rd = d;
    rd.y = ry;
    if (!huge) at_reference(&rd, ry, NULL);
    for (int isa = 0; isa <= (int)oxrt_cpu_isa(); isa++) {
      for (size_t i = 0; i < ny; i++) y[i] = y0[i] = NAN;
      CHECK(oxrt_attention_f32(&d, (oxrt_isa)isa, t % 2 ? pool : NULL));
      CHECK(oxrt_attention_f32(&full, (oxrt_isa)isa, t % 2 ? pool : NULL));
      bool same = memcmp(y, y0, sizeof(float) * ny) == 0, near = true;
      for (size_t i = 0; i < ny && !huge; i++) near = near && fabsf(y[i] - ry[i]) <= 2e-3f + 2e-3f * fabsf(ry[i]);
      if (!same || !near) {
        fprintf(stderr, "    finite causal case %d %s: B %lld S %lld D %lld huge %d left %d: %s\n", t,
                oxrt_isa_name((oxrt_isa)isa), (long long)d.B, (long long)d.S, (long long)d.D, huge, left,
                same ? "far from the reference" : "skipping changed the result");
        unit_failures++;
        bad++;
      }
    }
    free(q), free(k), free(v), free(y), free(y0), free(ry), free(bias), free(qk);
  }
  oxrt_threadpool_free(pool);
}
