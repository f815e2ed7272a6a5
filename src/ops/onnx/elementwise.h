/* elementwise.h - private to the element-wise family (elementwise_binary.c, variadic.c, ...):
 * the broadcast driver for binary loops and the macro that writes such loops. */
#ifndef OXRT_OPS_ONNX_ELEMENTWISE_H
#define OXRT_OPS_ONNX_ELEMENTWISE_H
#include "../op_util.h"

/* Hot loops are compiled per ISA and picked at load time (see OXRT_SIMD_CLONES). */
#define OXRT_EW_CLONES OXRT_SIMD_CLONES

typedef struct {
  oxrt_elem_type ta, tb, ty; /* element types of A, B and the output (for generic loops) */
} bparams;

/* y[0..n) = op(a[i*sa], b[i*sb]); pointers are already at the run's first element. */
typedef void (*bin_loop)(const void *a, const void *b, void *y, size_t n, int sa, int sb, const bparams *p);

/* ------------------------------------------------------------------ loop makers */

/* E is an expression of x (from A) and z (from B) of type T, giving a TO.
 * BIN_LOOP_FAST adds the ISA clones (for float loops that real models run
 * hot; clones of every integer variant would only bloat the library).
 * BIN_LOOP_Q takes the pointer qualifier: empty for loops that may run in
 * place (y == a), `restrict` otherwise, and the attribute. */
#define BIN_LOOP(name, T, TO, E) BIN_LOOP_Q(name, T, TO, E, restrict, )
#define BIN_LOOP_FAST(name, T, TO, E) BIN_LOOP_Q(name, T, TO, E, restrict, OXRT_EW_CLONES)
#define BIN_LOOP_Q(name, T, TO, E, Q, ATTR)                                                                            \
  ATTR                                                                                                                 \
  static void name(const void *pa, const void *pb, void *py, size_t n, int sa, int sb, const bparams *p) {             \
    (void)p;                                                                                                           \
    const T *Q a = pa;                                                                                                 \
    const T *Q b = pb;                                                                                                 \
    TO *Q y = py;                                                                                                      \
    if (sa && sb) {                                                                                                    \
      for (size_t i = 0; i < n; i++) {                                                                                 \
        T x = a[i], z = b[i];                                                                                          \
        y[i] = (E);                                                                                                    \
      }                                                                                                                \
    } else if (sa) {                                                                                                   \
      const T z = b[0];                                                                                                \
      for (size_t i = 0; i < n; i++) {                                                                                 \
        T x = a[i];                                                                                                    \
        y[i] = (E);                                                                                                    \
      }                                                                                                                \
    } else if (sb) {                                                                                                   \
      const T x = a[0];                                                                                                \
      for (size_t i = 0; i < n; i++) {                                                                                 \
        T z = b[i];                                                                                                    \
        y[i] = (E);                                                                                                    \
      }                                                                                                                \
    } else {                                                                                                           \
      const T x = a[0], z = b[0];                                                                                      \
      const TO v = (E);                                                                                                \
      for (size_t i = 0; i < n; i++) y[i] = v;                                                                         \
    }                                                                                                                  \
  }

/* Runs `loop` over A and B broadcast (numpy rules) to y's shape, which the
 * caller has allocated; merges dims into long runs and uses the pool.
 * float16/bfloat16 inputs of one type go through a float32 loop. */
void oxrt_ew_binary_exec(oxrt_kernel_ctx *ctx, bin_loop loop, const bparams *p, const oxrt_value *A,
                         const oxrt_value *B, oxrt_value *y);

#endif
