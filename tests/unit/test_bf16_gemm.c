/* test_bf16_gemm.c - the bfloat16 GEMM (gemm_avx512bf16.c) gives the float GEMM's result on inputs rounded to
 * bfloat16 bit for bit, not just closely: its packing puts each unit's k-steps in the order VDPBF16PS adds them,
 * so the sums run over k as the float kernel's FMAs do (a one-ulp difference upstream can move a value across a
 * bfloat16 rounding tie downstream). Both kernels block K alike (256 k-steps); tiles of more than two rows, where
 * they also split the rows alike. */
#include "kernels/gemm.h"
#include "unit.h"
#include <stdlib.h>
#include <string.h>

static unsigned bseed = 29;
static float brnd(void) {
  bseed = bseed * 1103515245u + 12345u;
  return (float)((bseed >> 8) & 0xffff) / 16384.0f - 2.0f;
}

typedef struct {
  size_t M, N, K;
} bf_shape;

/* variant v: bit 0 trans_a, bit 1 trans_b, bit 2 B packed too (A always packed), bit 3 bias + Relu */
static int bf16_exact_case(bf_shape s, int v) {
  const bool ta = v & 1, tb = v & 2, packb = v & 4, epi = v & 8;
  const size_t M = s.M, N = s.N, K = s.K, lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
  const size_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb;
  float *A = malloc(sizeof(float) * na), *B = malloc(sizeof(float) * nb), *Ar = malloc(sizeof(float) * na);
  float *Br = malloc(sizeof(float) * nb), *C = malloc(sizeof(float) * M * ldc), *Cr = malloc(sizeof(float) * M * ldc);
  float *bias = malloc(sizeof(float) * M);
  for (size_t i = 0; i < na; i++) A[i] = brnd(), Ar[i] = unit_bf16_round(A[i]);
  for (size_t i = 0; i < nb; i++) B[i] = brnd(), Br[i] = unit_bf16_round(B[i]);
  for (size_t i = 0; i < M; i++) bias[i] = brnd();
  for (size_t i = 0; i < M * ldc; i++) C[i] = Cr[i] = brnd();
  oxrt_sgemm_apack ap = {0}, apr = {0};
  oxrt_sgemm_bpack bp = {0}, bpr = {0};
  CHECK(oxrt_sgemm_pack_a_bf16(ta, M, K, A, lda, &ap) && ap.bf16 && oxrt_sgemm_pack_a(ta, M, K, Ar, lda, &apr));
  if (packb) CHECK(oxrt_sgemm_pack_b_bf16(tb, K, N, B, ldb, &bp) && bp.bf16 && oxrt_sgemm_pack_b(tb, K, N, Br, ldb, &bpr));
  oxrt_sgemm_ex g = {.M = M, .N = N, .K = K, .alpha = 1.0f, .beta = v % 3 ? 1.0f : 0.0f, .ap = &ap, .trans_a = ta,
                     .bp = packb ? &bp : NULL, .trans_b = tb, .B = B, .ldb = ldb, .C = C, .ldc = ldc,
                     .bias = epi ? bias : NULL, .act = epi ? OXRT_ACT_RELU : OXRT_ACT_NONE};
  CHECK(oxrt_sgemm_run(&g, NULL));
  g.ap = &apr, g.bp = packb ? &bpr : NULL, g.B = Br, g.C = Cr;
  CHECK(oxrt_sgemm_run(&g, NULL));
  int bad = 0;
  for (size_t i = 0; i < M && !bad; i++)
    for (size_t n = 0; n < N && !bad; n++)
      if (memcmp(&C[i * ldc + n], &Cr[i * ldc + n], sizeof(float))) {
        fprintf(stderr, "  bf16 gemm M=%zu N=%zu K=%zu variant %d: C[%zu,%zu] = %.9g, float GEMM on rounded inputs %.9g\n",
                M, N, K, v, i, n, C[i * ldc + n], Cr[i * ldc + n]);
        bad++;
      }
  oxrt_sgemm_apack_free(&ap), oxrt_sgemm_apack_free(&apr);
  oxrt_sgemm_bpack_free(&bp), oxrt_sgemm_bpack_free(&bpr);
  free(A), free(B), free(Ar), free(Br), free(C), free(Cr), free(bias);
  return bad;
}

void test_kernel_sgemm_bf16_exact(void) {
  if (!oxrt_sgemm_bf16_native()) return; /* packing in bfloat16 is refused there (test_gemm.c checks it) */
  static const bf_shape shapes[] = {{12, 32, 64}, {24, 50, 255}, {36, 100, 256}, {15, 33, 129}, {27, 64, 7},
                                    {5, 40, 77},  {48, 20, 200}, {64, 49, 96}, {24, 64, 600}, {12, 40, 1500}};
  int bad = 0;
  for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
    for (int v = 0; v < 16; v++) bad += bf16_exact_case(shapes[si], v);
  CHECK(bad == 0);
}
