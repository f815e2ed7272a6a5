/* scratch.h - per-thread scratch blocks kept between calls, for the kernels' packing and accumulation buffers:
 * a fresh multi-100-KiB block per call would cost page faults and cold cache lines every time. Each kernel family
 * owns a slot (a block per slot and thread, so nested users do not share one); blocks only grow and are freed
 * when the thread exits (pool workers at pool teardown). */
#ifndef OXRT_KERNELS_SCRATCH_H
#define OXRT_KERNELS_SCRATCH_H
#include <stddef.h>

typedef enum oxrt_scratch_slot {
  OXRT_SCRATCH_GEMM = 0,  /* float GEMM B blocks */
  OXRT_SCRATCH_QGEMM = 1, /* 8-bit GEMM accumulators and B blocks */
  OXRT_SCRATCH_QCONV = 2, /* 8-bit depthwise convolution planes (calls the float kernels, which use slot 0) */
  OXRT_SCRATCH_CONVT = 3, /* float ConvTranspose column bands (calls the float GEMM, which uses slot 0) */
  OXRT_SCRATCH_QCONV_T = 4, /* 8-bit convolution with weights as B: packed output positions, transposed output */
  OXRT_SCRATCH_SLOTS = 5
} oxrt_scratch_slot;

/* At least nbytes of 64-byte aligned memory for this thread and slot (contents undefined), or NULL. */
void *oxrt_scratch_get(oxrt_scratch_slot slot, size_t nbytes);

#endif
