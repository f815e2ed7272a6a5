/* Det.c - determinant of the trailing [M, M] matrices, by LU decomposition with partial pivoting in double. */
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>

static oxrt_status *det_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected [..., M, M], got rank %d", x->rank);
  const size_t M = (size_t)x->dims[x->rank - 1];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank - 2, x->dims, &y));
  double *a = malloc(sizeof(double) * (M > 0 ? M * M : 1));
  if (!a) return OXRT_OOM();
  for (size_t b = 0; b < y->count; b++) {
    for (size_t i = 0; i < M * M; i++) a[i] = oxrt_load_f64(x->dtype, x->data, b * M * M + i);
    double det = 1.0;
    for (size_t k = 0; k < M && det != 0; k++) {
      size_t p = k;
      for (size_t i = k + 1; i < M; i++)
        if (fabs(a[i * M + k]) > fabs(a[p * M + k])) p = i;
      if (a[p * M + k] == 0) {
        det = 0;
        break;
      }
      if (p != k) {
        for (size_t j = 0; j < M; j++) {
          const double t = a[k * M + j];
          a[k * M + j] = a[p * M + j];
          a[p * M + j] = t;
        }
        det = -det;
      }
      det *= a[k * M + k];
      for (size_t i = k + 1; i < M; i++) {
        const double f = a[i * M + k] / a[k * M + k];
        for (size_t j = k; j < M; j++) a[i * M + j] -= f * a[k * M + j];
      }
    }
    oxrt_store_f64(x->dtype, y->data, b, det);
  }
  free(a);
  return NULL;
}

static const oxrt_op_impl det_impls[] = {
    {.since_version = 11, .type_mask = OXRT_TMASK_FLOATS, .run = det_run},
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = det_run},
};
OXRT_REGISTER_OP(Det) = {"", "Det", OXRT_IMPLS(det_impls)};
