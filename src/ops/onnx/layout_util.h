/* layout_util.h - type-agnostic element movement shared by the shape and layout operators
 * (Transpose, Slice, Expand, Tile, Pad, Concat, Split, DepthToSpace, ...).
 * Elements are moved by size; string tensors get duplicated strings. */
#ifndef OXRT_OPS_ONNX_LAYOUT_UTIL_H
#define OXRT_OPS_ONNX_LAYOUT_UTIL_H
#include "../op_util.h"

/* Views handed to the gathers may have up to twice the tensor rank (Tile pairs each axis with a repeat axis). */
#define OXRT_LAY_MAX_RANK (2 * OXRT_MAX_RANK)

/* Copies n elements of type t from src[si...] to dst[di...]; false on out-of-memory (strings). */
bool oxrt_lay_copy(oxrt_elem_type t, void *dst, size_t di, const void *src, size_t si, size_t n);

/* Sets dst[di .. di+n) to the single element at `val` (of type t). */
bool oxrt_lay_fill(oxrt_elem_type t, void *dst, size_t di, const void *val, size_t n);

/* Strided gather into a contiguous destination of (rank, dims):
 *   dst[i0,...,ir-1] = src[base + sum_k i_k * strides[k]]   (strides in elements, may be 0 or negative).
 * Runs on the context's thread pool when `ctx` is not NULL. The caller guarantees every source index is in range. */
oxrt_status *oxrt_lay_gather(oxrt_kernel_ctx *ctx, oxrt_elem_type t, void *dst, const void *src, int64_t base, int rank,
                             const int64_t *dims, const int64_t *strides);

/* Same as oxrt_lay_gather but the destination is itself strided (dst_strides, dst_base), e.g. a
 * sub-block of a larger tensor. */
oxrt_status *oxrt_lay_gather2(oxrt_kernel_ctx *ctx, oxrt_elem_type t, void *dst, int64_t dst_base,
                              const int64_t *dst_strides, const void *src, int64_t base, int rank, const int64_t *dims,
                              const int64_t *strides);

/* Row-major element strides of (rank, dims) into strides. */
void oxrt_lay_strides(int rank, const int64_t *dims, int64_t *strides);

/* out = transpose(x, perm): out dims[i] = x dims[perm[i]]. `out` is already allocated. */
oxrt_status *oxrt_lay_transpose(oxrt_kernel_ctx *ctx, const oxrt_value *x, const int64_t *perm, oxrt_value *out);

#endif
