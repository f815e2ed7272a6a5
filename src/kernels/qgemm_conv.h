/* qgemm_conv.h - 8-bit convolution through the 8-bit GEMM: weights packed once as the A operand (one pack per
 * group), the input lowered by an implicit im2col (filled per tile, padding holding the input's zero point),
 * and the GEMM's output stage per output channel (rows). */
#ifndef OXRT_KERNELS_QGEMM_CONV_H
#define OXRT_KERNELS_QGEMM_CONV_H
#include "im2col.h"
#include "qgemm.h"

typedef struct oxrt_qconv_wpack {
  size_t group, Mg, Kg;
  oxrt_qpack *g; /* one per group */
  /* Weights packed as the B operand (columns: output channels) of a k-group-4 kernel with A unsigned: the GEMM
   * then runs transposed, rows = output positions (gathered from the input without pad columns, see qgemm_conv.c),
   * for shapes with few positions per row, where weights as A would multiply many pad and padding columns. */
  bool wt;
} oxrt_qconv_wpack;

/* Packs W [M, C/group, k...] (int8 when w_signed, else uint8) with zero points wzp (n_wzp = 1 or M; NULL: 0), in
 * the orientation that computes fewer padding products for shape s. */
bool oxrt_qconv_pack(const oxrt_conv_shape *s, const void *w, bool w_signed, const int32_t *wzp, size_t n_wzp,
                     oxrt_qconv_wpack *out);
/* The same as B of kernel kern (k-group 4, A unsigned: portable-bytes, avxvnni, avx512vnni), for tests. */
bool oxrt_qconv_pack_wt(const oxrt_conv_shape *s, const void *w, bool w_signed, const int32_t *wzp, size_t n_wzp,
                        const oxrt_qkernel *kern, oxrt_qconv_wpack *out);
void oxrt_qconv_wpack_free(oxrt_qconv_wpack *p);

/* Y[N, M, out...] through output stage `out` (per_row: vectors per output channel; C and ldc are set here) of
 * conv(X - x_zp, W - wzp). y_esize is the output element size. False when out of memory. */
bool oxrt_qconv_run(const oxrt_conv_shape *s, const void *x, bool x_signed, int32_t x_zp, const oxrt_qconv_wpack *wp,
                    const oxrt_qgemm_out *out, void *y, size_t y_esize, oxrt_threadpool *pool);

#endif
