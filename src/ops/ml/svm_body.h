/* svm_body.h - the sums of svm_kernels.h with SIMD vectors, included once per ISA. The including file defines
 * SVM_SUMS (exported name), SVM_VW (lanes, dividing SVM_NV), SVM_V (vector type), SVM_SET1, SVM_ZERO, SVM_LOADU,
 * SVM_STOREU, SVM_SUB and SVM_FMA(a, b, c) = a*b + c. */
#include "svm_kernels.h"

#define SVM_NB (SVM_NV / SVM_VW) /* vectors per row in a tile */

void SVM_SUMS(const float *svt, size_t nvp, const float *X, size_t C, size_t nr, int rbf, float *T) {
  const float *xr[SVM_ROWS];
  for (size_t r = 0; r < SVM_ROWS; r++) xr[r] = X + (r < nr ? r : nr - 1) * C; /* missing rows repeat the last */
  for (size_t j0 = 0; j0 < nvp; j0 += SVM_NV) {
    SVM_V acc[SVM_ROWS][SVM_NB];
    for (int r = 0; r < SVM_ROWS; r++)
      for (int b = 0; b < SVM_NB; b++) acc[r][b] = SVM_ZERO();
    const float *sv = svt + j0;
    if (rbf) {
      for (size_t c = 0; c < C; c++, sv += nvp) {
        SVM_V s[SVM_NB];
        for (int b = 0; b < SVM_NB; b++) s[b] = SVM_LOADU(sv + b * SVM_VW);
        for (int r = 0; r < SVM_ROWS; r++) {
          SVM_V xv = SVM_SET1(xr[r][c]);
          for (int b = 0; b < SVM_NB; b++) {
            SVM_V d = SVM_SUB(xv, s[b]);
            acc[r][b] = SVM_FMA(d, d, acc[r][b]);
          }
        }
      }
    } else {
      for (size_t c = 0; c < C; c++, sv += nvp) {
        SVM_V s[SVM_NB];
        for (int b = 0; b < SVM_NB; b++) s[b] = SVM_LOADU(sv + b * SVM_VW);
        for (int r = 0; r < SVM_ROWS; r++) {
          SVM_V xv = SVM_SET1(xr[r][c]);
          for (int b = 0; b < SVM_NB; b++) acc[r][b] = SVM_FMA(xv, s[b], acc[r][b]);
        }
      }
    }
    for (size_t r = 0; r < nr; r++)
      for (int b = 0; b < SVM_NB; b++) SVM_STOREU(T + r * nvp + j0 + b * SVM_VW, acc[r][b]);
  }
}
