/* attention.c - the attention driver of attention.h (blocks, masks, online softmax, output) and the portable
 * inner loops (attention_body.h with one-float "vectors"). */
#include "attention.h"
#include "vmath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define AT_SET oxrt_attn_portable
#define AT_V float
#define AT_VN 1
#define AT_RB 4
#define AT_NJ 4
#define AT_LD(p) (*(p))
#define AT_ST(p, v) (*(p) = (v))
#define AT_SET1(c) (c)
#define AT_FMA(a, b, c) ((a) * (b) + (c))
#define AT_MUL(a, b) ((a) * (b))
#define AT_ADD(a, b) ((a) + (b))
#define AT_SUB(a, b) ((a) - (b))
#define AT_MAX(a, b) ((a) > (b) ? (a) : (b))
#define AT_ZERO_LT(a, t) ((a) < (t) ? 0.f : (a))
#include "attention_body.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define AT_X86 1
#endif

#define AT_ROWS 64 /* query rows per block: 4 AVX-512 vectors, so each broadcast K/V element feeds 4 FMAs */
#define AT_LANES 16 /* block rows are padded to a multiple of every ISA's lane count */

typedef struct {
  const oxrt_attn_desc *d;
  const oxrt_attn_isa *k;
  const oxrt_vmath_table *vm;
  int64_t nblk, kb; /* query blocks per (batch, head); keys per step */
  int failed;
} at_job;

/* Keys [0, end) that queries [i0, i1) of (b, h) can see (all T when the scores are wanted). A mask that hides a
 * tail of keys from every query of the block (an additive causal mask, padding) shortens it too: each row is
 * scanned from its end to its last key that can get a probability, a small cost next to the D multiply-adds per
 * score it saves. A key cannot when its bias is -inf or masked, or when its bias lies below the row's largest
 * visible bias by more than 2 |score|max + 89: |q.k| * scale <= |q| |k|max * scale bounds every score, so the
 * key's shifted score is below the exp floor (-87) and the online softmax would give it exactly 0. That is how a
 * finite causal mask (GPT-2's Trilu of -10000) skips the keys past the block's frontier. */
static int64_t at_key_end(const oxrt_attn_desc *d, const oxrt_attn_isa *K, int64_t b, int64_t h, int64_t i0,
                          int64_t i1) {
  int64_t end = d->T;
  if (d->qk) return end;
  if ((d->bias || d->bmask) && d->mlen < end) end = d->mlen;
  if (d->kv_len && d->kv_len[b] < end) end = d->kv_len[b];
  const int64_t off = d->causal_off + (d->causal_off_b ? d->causal_off_b[b] : 0);
  if (d->causal && i1 + off < end) end = i1 + off; /* last query's frontier + 1 */
  if (end > 0 && (d->bias || d->bmask)) {
    const int64_t *bs = d->bias_str, *ms = d->bmask_str, kvh = h / (d->Hq / d->Hkv);
    const float *k = d->k + b * d->ks[0] + kvh * d->ks[1];
    double kmax = -1; /* max |k_j| over keys [0, end), computed on first need */
    int64_t seen = 0;
    for (int64_t i = i1 - 1; i >= i0 && seen < end; i--) { /* the last row first: it sees the most keys */
      const float *br = d->bias ? d->bias + b * bs[0] + h * bs[1] + i * bs[2] : NULL;
      const uint8_t *mr = d->bmask ? d->bmask + b * ms[0] + h * ms[1] + i * ms[2] : NULL;
      float thr = -INFINITY; /* biases below it: no probability */
      if (br && br[(end - 1) * bs[3]] < -88.f) { /* a tail worth bounding */
        const int64_t vis = d->causal && i + off + 1 < end ? i + off + 1 : end; /* this row's visible keys */
        float bmax = -INFINITY;
        if (!mr && bs[3] == 1) {
          bmax = K->vmax(br, vis); /* NaN: no bound */
        } else {
          for (int64_t j = 0; j < vis; j++)
            if (br[j * bs[3]] > bmax && !(mr && !mr[j * ms[3]])) bmax = br[j * bs[3]];
        }
        if (isfinite(bmax)) {
          if (kmax < 0) {
            float k2 = 0.f;
            for (int64_t j = 0; j < end; j++) k2 = fmaxf(k2, K->sqnorm(k + j * d->ks[2], NULL, d->D));
            kmax = sqrt((double)k2);
          }
          const float *q = d->q + b * d->qs[0] + h * d->qs[1] + i * d->qs[2];
          const double qn = sqrt((double)K->sqnorm(q, d->q_bias ? d->q_bias + h * d->D : NULL, d->D));
          double sb = fabs((double)d->scale) * qn * kmax;
          if (d->softcap > 0 && sb > d->softcap) sb = d->softcap;
          const double t = (double)bmax - (2.0 * sb * 1.001 + 89.0); /* 1.001: the float sums of squares */
          if (isfinite(t)) thr = (float)t;
        }
      }
      if (br && !mr && bs[3] == 1) { /* the whole tail past `seen` at once, the common case */
        const float tmax = K->vmax(br + seen, end - seen);
        if (tmax < thr || tmax == -INFINITY) continue;
      }
      int64_t j = end - 1;
      while (j >= seen && ((br && (br[j * bs[3]] == -INFINITY || br[j * bs[3]] < thr)) || (mr && !mr[j * ms[3]])))
        j--;
      if (j + 1 > seen) seen = j + 1;
    }
    end = seen;
  }
  return end < 0 ? 0 : end;
}

/* Adds the masks to the scores of keys [j0, j0 + nk) for queries [i0, i0 + m) (lanes). */
static void at_mask(const oxrt_attn_desc *d, int64_t b, int64_t h, int64_t i0, int64_t m, int64_t j0, int64_t nk,
                    int64_t mp, float *st) {
  const int64_t *bs = d->bias_str, *ms = d->bmask_str;
  const int64_t kvl = d->kv_len ? d->kv_len[b] : INT64_MAX;
  const int64_t off = d->causal_off + (d->causal_off_b ? d->causal_off_b[b] : 0);
  for (int64_t jj = 0; jj < nk; jj++) {
    const int64_t j = j0 + jj;
    float *row = st + jj * mp;
    if (((d->bias || d->bmask) && j >= d->mlen) || j >= kvl) {
      for (int64_t r = 0; r < m; r++) row[r] = -INFINITY;
      continue;
    }
    if (d->bias) {
      const float *p = d->bias + b * bs[0] + h * bs[1] + i0 * bs[2] + j * bs[3];
      if (bs[2] == 0)
        for (int64_t r = 0; r < m; r++) row[r] += p[0];
      else
        for (int64_t r = 0; r < m; r++) row[r] += p[r * bs[2]];
    }
    if (d->bmask) {
      const uint8_t *p = d->bmask + b * ms[0] + h * ms[1] + i0 * ms[2] + j * ms[3];
      for (int64_t r = 0; r < m; r++)
        if (!p[r * ms[2]]) row[r] = -INFINITY;
    }
    if (d->causal) { /* queries i < j - off cannot see key j */
      int64_t hide = j - off - i0;
      if (hide > m) hide = m;
      for (int64_t r = 0; r < hide; r++) row[r] = -INFINITY;
    }
  }
}

static void at_qk_store(const oxrt_attn_desc *d, int64_t b, int64_t h, int64_t i0, int64_t m, int64_t j0, int64_t nk,
                        int64_t mp, const float *st, const float *mul) {
  float *o = d->qk + ((b * d->Hq + h) * d->S + i0) * d->T + j0;
  for (int64_t r = 0; r < m; r++)
    for (int64_t j = 0; j < nk; j++) o[r * d->T + j] = st[j * mp + r] * (mul ? mul[r] : 1.f);
}

/* One block: queries [i0, i0 + m) of (b, h); scratch as laid out in at_range. */
static void at_block(const at_job *J, int64_t b, int64_t h, int64_t i0, int64_t m, float *scr) {
  const oxrt_attn_desc *d = J->d;
  const int64_t mp = (m + AT_LANES - 1) / AT_LANES * AT_LANES, kvh = h / (d->Hq / d->Hkv);
  float *qt = scr, *st = qt + d->D * mp, *ot = st + J->kb * mp, *mx = ot + d->Dv * mp, *l = mx + mp,
        *al = l + mp, *sh = al + mp;
  const float *q = d->q + b * d->qs[0] + h * d->qs[1] + i0 * d->qs[2];
  const float *k = d->k + b * d->ks[0] + kvh * d->ks[1], *v = d->v + b * d->vs[0] + kvh * d->vs[1];
  memset(qt, 0, sizeof(float) * (size_t)(d->D * mp));
  const float *qb = d->q_bias ? d->q_bias + h * d->D : NULL;
  for (int64_t r = 0; r < m; r++)
    for (int64_t e = 0; e < d->D; e++) qt[e * mp + r] = q[r * d->qs[2] + e] + (qb ? qb[e] : 0.f);
  memset(ot, 0, sizeof(float) * (size_t)(d->Dv * mp));
  for (int64_t c = 0; c < mp; c++) mx[c] = -INFINITY, l[c] = 0.f;
  const int64_t end = at_key_end(d, J->k, b, h, i0, i0 + m);
  for (int64_t j0 = 0; j0 < end; j0 += J->kb) {
    const int64_t nk = end - j0 < J->kb ? end - j0 : J->kb;
    J->k->scores(k + j0 * d->ks[2], d->ks[2], nk, qt, d->D, mp, d->scale, st);
    if (d->qk && d->qk_mode == 0) at_qk_store(d, b, h, i0, m, j0, nk, mp, st, NULL);
    if (d->softcap > 0) {
      const size_t n = (size_t)(nk * mp);
      for (size_t i = 0; i < n; i++) st[i] /= d->softcap;
      J->vm->tanh(st, st, n);
      for (size_t i = 0; i < n; i++) st[i] *= d->softcap;
    }
    if (d->qk && d->qk_mode == 1) at_qk_store(d, b, h, i0, m, j0, nk, mp, st, NULL);
    at_mask(d, b, h, i0, m, j0, nk, mp, st);
    if (d->qk && d->qk_mode == 2) at_qk_store(d, b, h, i0, m, j0, nk, mp, st, NULL);
    /* online softmax: new running max, old sums and outputs rescaled by e^(old - new) */
    memcpy(sh, mx, sizeof(float) * (size_t)mp);
    J->k->colmax(st, nk, mp, sh);
    for (int64_t c = 0; c < mp; c++) {
      float mn = sh[c];
      if (isinf(mn) && mn < 0) mn = 0.f; /* nothing visible yet: scores stay -inf, exps 0 */
      al[c] = mx[c] - mn;
      mx[c] = sh[c];
      sh[c] = mn;
    }
    const bool first = j0 == 0;
    if (!first) J->vm->exp(al, al, (size_t)mp);
    J->k->colsub(st, nk, mp, sh);
    J->vm->exp(st, st, (size_t)(nk * mp));
    if (!first)
      for (int64_t c = 0; c < mp; c++) l[c] *= al[c];
    J->k->colsum(st, nk, mp, l);
    J->k->pv(v + j0 * d->vs[2], d->vs[2], nk, st, d->Dv, mp, first ? NULL : al, ot);
  }
  for (int64_t c = 0; c < m; c++) l[c] = l[c] > 0.f ? 1.f / l[c] : 0.f; /* no visible key: a zero row */
  if (d->qk && d->qk_mode == 3 && end > 0) at_qk_store(d, b, h, i0, m, 0, end, mp, st, l); /* one block: all T */
  float *y = d->y + b * d->ys[0] + h * d->ys[1] + i0 * d->ys[2];
  const float *vb = d->v_bias ? d->v_bias + kvh * d->Dv : NULL;
  for (int64_t r = 0; r < m; r++) {
    const float add = vb && l[r] > 0.f ? 1.f : 0.f; /* a row that attends to nothing stays zero */
    for (int64_t e = 0; e < d->Dv; e++) y[r * d->ys[2] + e] = ot[e * mp + r] * l[r] + (vb ? add * vb[e] : 0.f);
  }
}

static void at_range(void *arg, size_t begin, size_t end) {
  at_job *J = arg;
  const oxrt_attn_desc *d = J->d;
  const size_t mp = AT_ROWS;
  float *scr = malloc(sizeof(float) * (size_t)(d->D + J->kb + d->Dv + 4) * mp);
  if (!scr) {
    J->failed = 1; /* benign race: every writer stores the same value */
    return;
  }
  for (size_t t = begin; t < end; t++) {
    const int64_t blk = (int64_t)t % J->nblk, bh = (int64_t)t / J->nblk, i0 = blk * AT_ROWS;
    const int64_t m = d->S - i0 < AT_ROWS ? d->S - i0 : AT_ROWS;
    at_block(J, bh / d->Hq, bh % d->Hq, i0, m, scr);
  }
  free(scr);
}

bool oxrt_attention_f32(const oxrt_attn_desc *d, oxrt_isa isa, oxrt_threadpool *pool) {
  if (d->B <= 0 || d->Hq <= 0 || d->S <= 0 || d->Dv <= 0) return true;
  at_job J = {.d = d, .k = &oxrt_attn_portable};
#ifdef AT_X86
  if (isa == OXRT_ISA_AVX512) J.k = &oxrt_attn_avx512;
  else if (isa == OXRT_ISA_AVX2) J.k = &oxrt_attn_avx2;
#endif
  J.vm = oxrt_vmath_table_for((int)isa);
  if (!J.vm) J.vm = oxrt_vmath_table_for(OXRT_ISA_PORTABLE);
  /* the probabilities as output need every key in one block (their sum is known only at the end) */
  J.kb = d->qk && d->qk_mode == 3 ? d->T : d->T < ATTN_KEY_BLOCK ? d->T : ATTN_KEY_BLOCK;
  if (J.kb < 1) J.kb = 1;
  J.nblk = (d->S + AT_ROWS - 1) / AT_ROWS;
  oxrt_parallel_for(pool, (size_t)(d->B * d->Hq * J.nblk), 1, at_range, &J);
  return !J.failed;
}
