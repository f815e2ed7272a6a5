/* test_load_packs.c - the weight packs made at session creation, byte for byte against their straightforward
 * definitions: the NCHWc float and bfloat16 packs (oxrt_nchwc_conv_pack, _bf16: one scattered store per weight into
 * a zeroed pack; 1x1 rows a multiple of 4 KiB apart take a path of their own) and the float Winograd pack
 * (oxrt_wino_pack: oxrt_wino_weight per kernel into a [C][36][M] matrix, then oxrt_sgemm_pack_a per position: the
 * layout, the transform's values are test_conv_paths.c's), the latter at every ISA level (the A panels' height
 * differs). The packs under test start from garbage, so an entry they fail to
 * write shows. */
#include "kernels/gemm.h"
#include "kernels/nchwc.h"
#include "kernels/nchwc_conv.h"
#include "kernels/winograd.h"
#include "unit.h"
#include <stdlib.h>
#include <string.h>

void unit_each_isa(void (*fn)(void)); /* test_conv_paths.c */

static unsigned lseed = 7;
static float lrnd(void) {
  lseed = lseed * 1103515245u + 12345u;
  return (float)((lseed >> 8) & 0xffff) / 4096.0f - 8.0f;
}

static uint16_t ref_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static void check_float_pack(size_t M, size_t C, int64_t k, int B) {
  oxrt_nchwc_geom g = {.C = oxrt_nchwc_padded(C, B), .M = oxrt_nchwc_padded(M, B), .kh = k, .kw = k, .B = B};
  const size_t T = (size_t)(k * k), n = oxrt_nchwc_conv_packed_floats(&g), Bs = (size_t)B, Cb = g.C / Bs;
  float *w = malloc(sizeof(float) * M * C * T), *got = malloc(sizeof(float) * n), *want = calloc(n, sizeof(float));
  for (size_t i = 0; i < M * C * T; i++) w[i] = lrnd();
  memset(got, 0xAB, sizeof(float) * n);
  for (size_t m = 0; m < M; m++)
    for (size_t c = 0; c < C; c++)
      for (size_t t = 0; t < T; t++)
        want[(((m / Bs * Cb + c / Bs) * T + t) * Bs + c % Bs) * Bs + m % Bs] = w[(m * C + c) * T + t];
  oxrt_nchwc_conv_pack(&g, M, C, w, got);
  CHECK(memcmp(got, want, sizeof(float) * n) == 0);
  free(w), free(got), free(want);
}

static void check_bf16_pack(size_t M, size_t C, int64_t k, int B) {
  oxrt_nchwc_geom g = {.C = oxrt_nchwc_padded(C, B), .M = oxrt_nchwc_padded(M, B), .kh = k, .kw = k, .B = B};
  const size_t T = (size_t)(k * k), n = oxrt_nchwc_conv_packed_floats(&g);
  float *w = malloc(sizeof(float) * M * C * T);
  uint16_t *got = malloc(sizeof *got * n), *want = calloc(n, sizeof *want);
  for (size_t i = 0; i < M * C * T; i++) w[i] = lrnd();
  if (M * C * T > 3) w[3] = 0.0f / 0.0f; /* NaN keeps its quiet bit */
  memset(got, 0xAB, sizeof *got * n);
  const size_t Cb = g.C / (size_t)B;
  for (size_t m = 0; m < M; m++)
    for (size_t c = 0; c < C; c++)
      for (size_t t = 0; t < T; t++)
        want[((((m / (size_t)B * Cb + c / (size_t)B) * T + t) * ((size_t)B / 2) + c % (size_t)B / 2) * (size_t)B +
              m % (size_t)B) * 2 + 1 - c % 2] = ref_bf16(w[(m * C + c) * T + t]);
  oxrt_nchwc_conv_pack_bf16(&g, M, C, w, got);
  CHECK(memcmp(got, want, sizeof *got * n) == 0);
  free(w), free(got), free(want);
}

static void check_wino_pack(size_t M, size_t C) {
  oxrt_conv_shape s = {.nd = 2, .N = 1, .C = C, .M = M, .group = 1, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1},
                       .in = {8, 8}, .out = {8, 8}, .pad = {1, 1}};
  float *w = malloc(sizeof(float) * M * C * 9), *t = malloc(sizeof(float) * 36 * M * C);
  for (size_t i = 0; i < M * C * 9; i++) w[i] = lrnd();
  for (size_t m = 0; m < M; m++)
    for (size_t c = 0; c < C; c++) {
      float u[36];
      oxrt_wino_weight(w + (m * C + c) * 9, u);
      for (int p = 0; p < 36; p++) t[(c * 36 + (size_t)p) * M + m] = u[p];
    }
  oxrt_sgemm_apack got[OXRT_WINO_POS], want;
  CHECK(oxrt_wino_pack(&s, w, false, got));
  for (int p = 0; p < OXRT_WINO_POS; p++) {
    CHECK(oxrt_sgemm_pack_a(true, M, C, t + (size_t)p * M, 36 * M, &want));
    CHECK(got[p].M == M && got[p].K == C && got[p].mr == want.mr && !got[p].bf16);
    if (got[p].data && want.data) CHECK(memcmp(got[p].data, want.data, sizeof(float) * M * C) == 0);
    oxrt_sgemm_apack_free(&want);
    oxrt_sgemm_apack_free(&got[p]);
  }
  free(w), free(t);
}

static void packs_at_this_isa(void) {
  /* M past a whole panel and with a short last one shared (13, 25, 49 rows), C below and past a block */
  const size_t ms[] = {1, 6, 13, 16, 25, 49, 64}, cs[] = {1, 3, 16, 17, 40};
  for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
    for (size_t j = 0; j < sizeof cs / sizeof *cs; j++) check_wino_pack(ms[i], cs[j]);
}

void test_kernel_load_packs(void) {
  const size_t ms[] = {1, 7, 16, 24, 33}, cs[] = {1, 2, 3, 15, 16, 17, 40};
  for (int B = 8; B <= 16; B += 8)
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
      for (size_t j = 0; j < sizeof cs / sizeof *cs; j++)
        for (int64_t k = 1; k <= 3; k += 2) check_bf16_pack(ms[i], cs[j], k, B), check_float_pack(ms[i], cs[j], k, B);
  /* 1x1 rows a multiple of 4 KiB apart (copied side by side first) */
  for (int B = 8; B <= 16; B += 8)
    for (size_t c = 1024; c <= 2048; c += 1024) check_bf16_pack(33, c, 1, B), check_float_pack(33, c, 1, B);
  unit_each_isa(packs_at_this_isa);
}
