/* op_util.h - helpers shared by operator implementations: broadcasting, axes, int inputs. */
#ifndef OXRT_OPS_UTIL_H
#define OXRT_OPS_UTIL_H
#include "../exec/kernel.h"

/* Compiles a hot loop function for AVX-512, AVX2 and baseline x86-64, picked when the library
 * loads (GCC ifunc). Strict C11 mode keeps multiply-adds unfused, so every clone computes the
 * same results. Elsewhere it expands to nothing. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(OXRT_NO_CLONES)
#define OXRT_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define OXRT_SIMD_CLONES
#endif

/* Multidirectional (numpy) broadcast of n shapes into (rank, dims). */
oxrt_status *oxrt_broadcast_shapes(int n, const oxrt_value *const *ins, int *rank, int64_t *dims);
/* Element strides of `v` when broadcast to (rank, dims): 0 along broadcast axes. */
void oxrt_broadcast_strides(const oxrt_value *v, int rank, const int64_t *dims, int64_t *strides);

/* Iterates a broadcast of up to 4 inputs over an output of (rank, dims), in
 * runs along the last axis: fn(arg, out_offset, in_offsets, in_inner_strides, run_length). */
typedef void (*oxrt_bcast_fn)(void *arg, size_t out_off, const size_t *in_off, const int64_t *in_step, size_t len);
void oxrt_broadcast_foreach(int n, const oxrt_value *const *ins, int rank, const int64_t *dims, oxrt_bcast_fn fn,
                            void *arg);

/* Normalises `axis` in [-rank, rank) (or [-rank-1, rank] when `inclusive`); error names the operator input. */
oxrt_status *oxrt_norm_axis(int64_t axis, int rank, bool inclusive, int64_t *out);
/* Reads a 1-D (or scalar) int32/int64 tensor as int64 values into a malloc'd array. */
oxrt_status *oxrt_read_int_list(const oxrt_value *t, int index, int64_t **vals, size_t *n);
/* Reads a scalar (or 1-element) numeric tensor as double / int64. */
oxrt_status *oxrt_read_scalar_f64(const oxrt_value *t, int index, double *out);
oxrt_status *oxrt_read_scalar_i64(const oxrt_value *t, int index, int64_t *out);
/* Copies tensor `src` to a new output (same type/shape) — for Identity-like ops. */
oxrt_status *oxrt_output_copy(oxrt_kernel_ctx *ctx, int out_index, const oxrt_value *src, int rank, const int64_t *dims);
/* Float32 data of any numeric tensor x, so one float kernel serves every element type: x's own data when x is
 * float (*tmp = NULL), else a converted copy that is also returned in *tmp for the caller to free. */
oxrt_status *oxrt_f32_view(const oxrt_value *x, const float **out, float **tmp);

#endif
