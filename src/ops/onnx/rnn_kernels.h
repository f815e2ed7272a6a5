/* rnn_kernels.h - the recurrent product of the float RNN/GRU/LSTM path (rnn_f32.c), per ISA.
 *
 * R ([G*H, H] per direction: row n holds the weights of gate column n) is packed once into blocks of at most
 * RNN_KB columns: per gate g, block j covers columns [j*RNN_KB, min((j+1)*RNN_KB, H)) of that gate and is
 * stored as [k][w] with w the block's width rounded up to 16 (padding columns are zero), so a block's K rows
 * stream contiguously and one vector load of R serves every batch row. */
#ifndef OXRT_OPS_ONNX_RNN_KERNELS_H
#define OXRT_OPS_ONNX_RNN_KERNELS_H
#include <stdbool.h>
#include <stddef.h>

#define RNN_KB 64

static inline size_t rnn_round16(size_t n) { return (n + 15) & ~(size_t)15; }
/* Floats of one direction's packed R with G gates of H columns over K inputs. */
static inline size_t rnn_packed_size(size_t G, size_t H, size_t K) { return G * rnn_round16(H) * K; }
/* Offset of block j of gate g in a direction's packed R. */
static inline size_t rnn_block_offset(size_t g, size_t j, size_t H, size_t K) {
  return (g * rnn_round16(H) + j * RNN_KB) * K;
}

/* Packs R [G*H rows, K] (row n = gate column n) into dst (rnn_packed_size floats). */
void oxrt_rnn_pack(const float *R, size_t G, size_t H, size_t K, float *dst);

/* One block for up to 4 batch rows (M <= 4):
 *   y[m][n] = (base ? base[m][n] : 0) + (bias ? bias[n] : 0) + sum_k h[m][k] * Rp[k*w + n]   for n < nv,
 * Rp a packed block of width w (16, 32, 48 or 64) with nv <= w valid columns. y[m] may equal base[m]. */
typedef void (*oxrt_rnn_block_fn)(size_t M, size_t K, const float *const *h, const float *Rp, size_t w, size_t nv,
                                  const float *const *base, const float *bias, float *const *y);
void oxrt_rnn_block_portable(size_t M, size_t K, const float *const *h, const float *Rp, size_t w, size_t nv,
                             const float *const *base, const float *bias, float *const *y);
void oxrt_rnn_block_avx2(size_t M, size_t K, const float *const *h, const float *Rp, size_t w, size_t nv,
                         const float *const *base, const float *bias, float *const *y);
void oxrt_rnn_block_avx512(size_t M, size_t K, const float *const *h, const float *Rp, size_t w, size_t nv,
                           const float *const *base, const float *bias, float *const *y);
/* The kernel for this process's ISA (oxrt_cpu_isa(), so OXRT_ISA caps it). */
oxrt_rnn_block_fn oxrt_rnn_block_kernel(void);

#endif
