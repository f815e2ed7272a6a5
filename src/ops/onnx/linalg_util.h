/* linalg_util.h - private helpers of the MatMul / Gemm / Conv / quantization family: float32 views of any
 * numeric tensor, and exact integer matrix products for the non-float types. */
#ifndef OXRT_OPS_LINALG_UTIL_H
#define OXRT_OPS_LINALG_UTIL_H
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

/* Float32 data of x: x's own for float tensors, else a converted copy returned in *tmp (free it). */
static inline oxrt_status *la_f32_in(const oxrt_value *x, const float **out, float **tmp) {
  *tmp = NULL;
  if (x->dtype == OXRT_FLOAT) {
    *out = (const float *)x->data;
    return NULL;
  }
  float *b = malloc(sizeof(float) * (x->count ? x->count : 1));
  if (!b) return OXRT_OOM();
  if (!oxrt_convert(OXRT_FLOAT, b, x->dtype, x->data, x->count, false)) {
    free(b);
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "element type %s is not supported", oxrt_elem_type_name(x->dtype));
  }
  *out = b;
  *tmp = b;
  return NULL;
}

/* Where a float kernel writes output o: o's data when float, else a scratch buffer (*tmp) committed later. */
static inline oxrt_status *la_f32_out(oxrt_value *o, float **out, float **tmp) {
  *tmp = NULL;
  if (o->dtype == OXRT_FLOAT) {
    *out = (float *)o->data;
    return NULL;
  }
  *tmp = *out = malloc(sizeof(float) * (o->count ? o->count : 1));
  return *out ? NULL : OXRT_OOM();
}

static inline void la_f32_commit(oxrt_value *o, float *tmp) {
  if (!tmp) return;
  oxrt_convert(o->dtype, o->data, OXRT_FLOAT, tmp, o->count, false);
  free(tmp);
}

/* True for element types computed through float32 (float, float16, bfloat16). */
static inline bool la_is_f32_family(oxrt_elem_type t) {
  return t == OXRT_FLOAT || t == OXRT_FLOAT16 || t == OXRT_BFLOAT16;
}

/* C[M,N] = A[M,K] * B[K,N] for integer types, exact modulo 2^64 then wrapped into the output type
 * (the way numpy's fixed-width integer matmul behaves). Offsets and strides are in elements. */
static inline void la_int_matmul(oxrt_elem_type t, size_t M, size_t N, size_t K, const void *A, size_t a_off,
                                 size_t lda, const void *B, size_t b_off, size_t ldb, void *C, size_t c_off,
                                 size_t ldc) {
  uint64_t acc[256];
  for (size_t n0 = 0; n0 < N; n0 += 256) {
    size_t nn = N - n0 < 256 ? N - n0 : 256;
    for (size_t i = 0; i < M; i++) {
      memset(acc, 0, sizeof(uint64_t) * nn);
      for (size_t k = 0; k < K; k++) {
        uint64_t a = (uint64_t)oxrt_load_i64(t, A, a_off + i * lda + k);
        if (!a) continue;
        size_t bo = b_off + k * ldb + n0;
        switch (t) {
        case OXRT_INT32: {
          const int32_t *b = (const int32_t *)B + bo;
          for (size_t n = 0; n < nn; n++) acc[n] += a * (uint64_t)(int64_t)b[n];
        } break;
        case OXRT_INT64: {
          const int64_t *b = (const int64_t *)B + bo;
          for (size_t n = 0; n < nn; n++) acc[n] += a * (uint64_t)b[n];
        } break;
        default:
          for (size_t n = 0; n < nn; n++) acc[n] += a * (uint64_t)oxrt_load_i64(t, B, bo + n);
        }
      }
      for (size_t n = 0; n < nn; n++) oxrt_store_i64(t, C, c_off + i * ldc + n0 + n, (int64_t)acc[n]);
    }
  }
}

#endif
