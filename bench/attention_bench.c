/* attention_bench.c - the attention core (kernels/attention.h) at every ISA level against the two-GEMM form it
 * replaced (scores = Q K^T through oxrt_sgemm, a softmax per row, then P V through oxrt_sgemm), same process,
 * single thread, BERT/GPT-2 head shapes. Prints the best of many runs and GFLOP/s (4 S T D flops per head).
 *
 *   cc -O2 -Isrc bench/attention_bench.c build/liboxrt.a -lpthread -lm -o build/attention_bench */
#include "kernels/attention.h"
#include "kernels/vmath.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* the replaced form, one head at a time: [S,T] scores, row softmax, P V */
static void two_gemm(const oxrt_attn_desc *d, float *s) {
  for (int64_t h = 0; h < d->Hq; h++) {
    const float *q = d->q + h * d->qs[1], *k = d->k + h * d->ks[1], *v = d->v + h * d->vs[1];
    int64_t tn = d->T;
    oxrt_sgemm(false, true, (size_t)d->S, (size_t)tn, (size_t)d->D, d->scale, q, (size_t)d->qs[2], k,
               (size_t)d->ks[2], 0.f, s, (size_t)tn, NULL);
    for (int64_t i = 0; i < d->S; i++) {
      float *row = s + i * tn, mx = -INFINITY;
      int64_t valid = d->causal ? i + 1 + d->causal_off : tn;
      if (valid > tn) valid = tn;
      for (int64_t j = 0; j < valid; j++) mx = row[j] > mx ? row[j] : mx;
      float inv = 1.f / oxrt_vexp_shift_sum_f32(row, row, (size_t)valid, mx);
      for (int64_t j = 0; j < valid; j++) row[j] *= inv;
      for (int64_t j = valid; j < tn; j++) row[j] = 0.f;
    }
    oxrt_sgemm(false, false, (size_t)d->S, (size_t)d->Dv, (size_t)tn, 1.f, s, (size_t)tn, v, (size_t)d->vs[2], 0.f,
               d->y + h * d->ys[1], (size_t)d->ys[2], NULL);
  }
}

int main(void) {
  /* last field: 0 no mask, 1 causal flag, 2 causal as an additive [S, T] bias (GPT-2 exports; the old form
   * is timed without adding it) */
  const int64_t shapes[][4] = {{12, 128, 64, 0}, {12, 128, 64, 1}, {12, 128, 64, 2}, {4, 128, 64, 0},
                               {12, 512, 64, 0}, {12, 512, 64, 1}, {12, 512, 64, 2}};
  for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
    const int64_t H = shapes[si][0], S = shapes[si][1], D = shapes[si][2], HD = H * D;
    oxrt_attn_desc d = {.B = 1, .Hq = H, .Hkv = H, .S = S, .T = S, .D = D, .Dv = D, .causal = shapes[si][3] == 1};
    float *buf = malloc(sizeof(float) * (size_t)(4 * S * HD + 2 * S * S));
    if (shapes[si][3] == 2) {
      float *cb = buf + 4 * S * HD + S * S;
      for (int64_t i = 0; i < S; i++)
        for (int64_t j = 0; j < S; j++) cb[i * S + j] = j > i ? -INFINITY : 0.f;
      d.bias = cb, d.mlen = S, d.bias_str[2] = S, d.bias_str[3] = 1;
    }
    for (int64_t i = 0; i < 3 * S * HD; i++) buf[i] = (float)((i * 7919 % 1000) - 500) / 500.f;
    d.q = buf, d.k = buf + S * HD, d.v = buf + 2 * S * HD, d.y = buf + 3 * S * HD;
    const int64_t st[3] = {S * HD, D, HD};
    for (int i = 0; i < 3; i++) d.qs[i] = d.ks[i] = d.vs[i] = d.ys[i] = st[i];
    d.scale = 1.f / sqrtf((float)D);
    const double flops = 4.0 * (double)(H * S * S * D) * (shapes[si][3] ? 0.5 : 1.0);
    printf("H=%lld S=T=%lld D=%lld%s\n", (long long)H, (long long)S, (long long)D,
           d.causal ? " causal" : d.bias ? " causal as bias" : "");
    for (int isa = -1; isa <= (int)oxrt_cpu_isa(); isa++) {
      double best = 1e9;
      for (int rep = 0; rep < 30; rep++) {
        double t0 = now();
        if (isa < 0) two_gemm(&d, buf + 4 * S * HD);
        else oxrt_attention_f32(&d, (oxrt_isa)isa, NULL);
        double t = now() - t0;
        best = t < best ? t : best;
      }
      printf("  %-18s %8.3f ms  %6.1f GFLOP/s\n", isa < 0 ? "two-gemm (old)" : oxrt_isa_name((oxrt_isa)isa),
             best * 1e3, flops / best * 1e-9);
    }
    free(buf);
  }
  return 0;
}
