/* test_ml_svm.c - the SVM support-vector sums (src/ops/ml/svm_kernels.h) of every ISA level the machine runs
 * against a plain double loop: odd feature counts, 1..SVM_ROWS rows, several tiles, squared distances and dot
 * products, and rows past nr left untouched. */
#include "kernels/gemm.h"
#include "ops/ml/svm_kernels.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>

static unsigned svm_seed = 7;
static float svm_rnd(void) {
  svm_seed = svm_seed * 1103515245u + 12345u;
  return (float)((svm_seed >> 8) % 65536u) / 16384.0f - 2.0f;
}

void test_ml_svm_sums(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  typedef void (*sums_fn)(const float *, size_t, const float *, size_t, size_t, int, float *);
  const sums_fn fns[2] = {oxrt_svm_sums_avx2, oxrt_svm_sums_avx512};
  int top = (int)oxrt_cpu_isa();
  for (int trial = 0; trial < 40; trial++) {
    size_t C = 1 + (size_t)(trial * 7 % 37), nvp = SVM_NV * (size_t)(1 + trial % 3), nr = 1 + (size_t)trial % SVM_ROWS;
    int rbf = trial % 2;
    float *svt = malloc(sizeof(float) * C * nvp), *X = malloc(sizeof(float) * C * SVM_ROWS);
    float *T = malloc(sizeof(float) * SVM_ROWS * nvp);
    CHECK(svt && X && T);
    if (!svt || !X || !T) {
      free(svt), free(X), free(T);
      return;
    }
    for (size_t i = 0; i < C * nvp; i++) svt[i] = svm_rnd();
    for (size_t i = 0; i < C * SVM_ROWS; i++) X[i] = svm_rnd();
    for (int isa = OXRT_ISA_AVX2; isa <= top; isa++) {
      for (size_t i = 0; i < SVM_ROWS * nvp; i++) T[i] = -12345.0f;
      fns[isa - OXRT_ISA_AVX2](svt, nvp, X, C, nr, rbf, T);
      int bad = 0;
      for (size_t r = 0; r < SVM_ROWS; r++)
        for (size_t j = 0; j < nvp; j++) {
          if (r >= nr) {
            bad += T[r * nvp + j] != -12345.0f;
            continue;
          }
          double ref = 0, mag = 0;
          for (size_t c = 0; c < C; c++) {
            double a = X[r * C + c], b = svt[c * nvp + j];
            ref += rbf ? (a - b) * (a - b) : a * b;
            mag += rbf ? (a - b) * (a - b) : fabs(a * b);
          }
          bad += fabs(T[r * nvp + j] - ref) > 1e-5 * (mag + 1);
        }
      if (bad) fprintf(stderr, "  %s: C %zu nvp %zu rows %zu rbf %d: %d wrong\n", oxrt_isa_name((oxrt_isa)isa), C, nvp, nr, rbf, bad);
      CHECK(bad == 0);
    }
    free(svt), free(X), free(T);
  }
#endif
}
