/* qgemm.h - 8-bit integer matrix multiply with int32 accumulation, used by the quantized operators
 * (QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger, MatMulIntegerToFloat, QGemm, QAttention, ...).
 *
 * C[M,N] = sum_k (A[m,k] - za[m]) * (B[k,n] - zb[n]) exactly in int32, for uint8 or int8 A and B (any mix);
 * za per tensor or per row, zb per tensor or per column. The sum then goes through an output stage while the
 * tile is in cache: int32 as is, float (times a scale, plus a float bias), or requantized to uint8/int8
 * (int32 bias, times a multiplier, round half to even, plus the output zero point, clamp).
 *
 * Micro-kernels, one per instruction set, picked at run time at the level oxrt_cpu_isa() allows
 * (OXRT_ISA caps it, as for the float kernels):
 *   k-group 2: operands widened to int16 with their zero points subtracted while packing, so the product
 *              is exact with VPMADDWD (AVX2, AVX-512BW) or plain C; no saturation anywhere.
 *   k-group 4: raw bytes, A re-centred to uint8 and B to int8 while packing (x ^ 0x80 with the zero point
 *              moved by 128), multiplied with VPDPBUSD (AVX-512 VNNI, AVX-VNNI), whose int32 sums do not
 *              saturate; zero points enter through row / column sums afterwards. A portable k-group-4
 *              kernel computes the same and lets tests check this path on any machine.
 *   k-group 4, B unsigned: the same with VPDPBUSD's operands swapped (A int8, B uint8), for weights as A
 *              (convolution): uint8 inputs and int8 weights, the usual pair, then need no re-centring, and with
 *              symmetric weights no column sums of the im2col panel either.
 *   AVX2 bytes: the k-group-4 layout multiplied with VPMADDUBSW, whose int16 sums of two u8*s8 products
 *              saturate in general; used only for constant weights whose adjacent pairs satisfy
 *              |w0| + |w1| <= 128 (7-bit weights, as ONNX Runtime's reduce_range writes them), where no sum
 *              can reach 32767, so the result stays exact. oxrt_qpack_make_weight checks and picks it.
 */
#ifndef OXRT_KERNELS_QGEMM_H
#define OXRT_KERNELS_QGEMM_H
#include "../core/threadpool.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum oxrt_qkernel_id {
  OXRT_QK_PORTABLE = 0,  /* int16, k-group 2 */
  OXRT_QK_PORTABLE8 = 1, /* bytes, k-group 4 (the VNNI data path in C) */
  OXRT_QK_AVX2 = 2,
  OXRT_QK_AVXVNNI = 3,
  OXRT_QK_AVX512 = 4,
  OXRT_QK_AVX512VNNI = 5,
  OXRT_QK_AVX2_BYTES_A = 6, /* VPMADDUBSW, A unsigned: weights are B */
  OXRT_QK_AVX2_BYTES_B = 7, /* VPMADDUBSW, B unsigned: weights are A (convolution) */
  OXRT_QK_AVXVNNI_B = 8,    /* VPDPBUSD, B unsigned: weights are A (convolution) */
  OXRT_QK_AVX512VNNI_B = 9,
  OXRT_QK_PORTABLE8_B = 10, /* bytes, B unsigned (the _B data path in C) */
  OXRT_QK_COUNT = 11
} oxrt_qkernel_id;

/* C tile [mr, nr] (row stride ldc) = (acc ? C : 0) + sum over kg k-groups of a[kg][mr][g] * b[kg][nr][g]. */
typedef void (*oxrt_qukernel)(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);

typedef struct oxrt_qkernel {
  oxrt_qkernel_id id;
  const char *name;
  size_t mr, nr, g; /* rows, columns, k-group (2: int16 elements, 4: bytes) */
  oxrt_qukernel run;
  bool b_u8;    /* k-group 4: B packed as uint8 and A as int8 (else A uint8, B int8) */
  bool pairs7;  /* products of the int8 side must satisfy |w0| + |w1| <= 128 per pair (VPMADDUBSW) */
  /* mr 12 only: the same on the first 4 / 8 rows of an A panel (C rows past them untouched), for the last panel
   * when it is short (NULL: none) */
  oxrt_qukernel run4, run8;
} oxrt_qkernel;

/* The kernel this process uses (fixed on first call), and kernel `id` when this CPU can run it (else NULL;
 * the OXRT_ISA cap applies, so tests loop over every id and skip the NULL ones). */
const oxrt_qkernel *oxrt_qgemm_kernel(void);
const oxrt_qkernel *oxrt_qgemm_kernel_at(oxrt_qkernel_id id);

void oxrt_qukernel_avx2(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avxvnni(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avx512(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avx512vnni(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avx512_r4(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avx512_r8(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
/* oxrt_qukernel_avx512vnni that also prefetches lines pf + 64 * kk, kk < pfn, into L2 */
void oxrt_qukernel_avx512vnni_pf(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc,
                                 const uint8_t *pf, size_t pfn);
void oxrt_qukernel_avx512vnni_r4(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avx512vnni_r8(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avx512vnni_b_r4(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avx512vnni_b_r8(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
/* The requantizing epilogue of a micro-kernel (the 8-bit output stage's fast path in registers, same operations):
 * tile row i, column j lands at y[i * ldy + j] = clamp(rint((float)(C + radd[i]) * scale[i]), lo, hi) + zp for the
 * columns set in mask0 (0-15) / mask1 (16-31), and at y2[i * ldy + j] for those set in mask2 / mask3 (the tile's
 * columns past a dropped pad gap, oxrt_qcols); lo, hi already shifted by -zp. */
typedef struct oxrt_qepi {
  uint8_t *y;
  size_t ldy;
  const int32_t *radd;
  const float *scale;
  float lo, hi;
  int32_t zp;
  uint32_t mask0, mask1;
  uint8_t *y2;
  uint32_t mask2, mask3;
} oxrt_qepi;
typedef void (*oxrt_qukernel_q)(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc,
                                const oxrt_qepi *e);
void oxrt_qukernel_avx512vnni_b_q12(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc,
                                    const oxrt_qepi *e);
void oxrt_qukernel_avx512vnni_b_q8(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc,
                                   const oxrt_qepi *e);
void oxrt_qukernel_avx512vnni_b_q4(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc,
                                   const oxrt_qepi *e);
/* The transposed epilogue of the A-unsigned kernel (weights as B): tile row i (i < rows), column j lands at
 * y[j * ldy + i] = clamp(rint((float)(C + cadd[j]) * scale[j]), lo, hi) + zp for the columns set in mask0 / mask1
 * (cadd NULL: 0; scale_one: scale[0] for every column); lo, hi already shifted by -zp. */
typedef struct oxrt_qepi_t {
  uint8_t *y;
  size_t ldy;
  const int32_t *cadd;
  const float *scale;
  bool scale_one;
  float lo, hi;
  int32_t zp;
  uint32_t mask0, mask1, rows;
  const uint8_t *pf; /* lines pf + 64 * kk, kk < pfn, prefetched into L2 on the way (pfn 0: none) */
  size_t pfn;
} oxrt_qepi_t;
typedef void (*oxrt_qukernel_t)(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc,
                                const oxrt_qepi_t *e);
void oxrt_qukernel_avx512vnni_t12(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc,
                                  const oxrt_qepi_t *e);
void oxrt_qukernel_avx512vnni_t8(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc,
                                 const oxrt_qepi_t *e);
void oxrt_qukernel_avx512vnni_t4(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc,
                                 const oxrt_qepi_t *e);
void oxrt_qukernel_avx2_bytes_a(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avx2_bytes_b(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avxvnni_b(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);
void oxrt_qukernel_avx512vnni_b(size_t kg, const void *a, const void *b, int32_t *c, size_t ldc, bool acc);

/* An 8-bit source matrix viewed as `rows` x K: element (r, k) at data[r*rs + k*ks]. For A, rows are A's rows
 * (rs = lda, ks = 1); for B, rows are B's columns (rs = 1, ks = ldb; or rs = ldb, ks = 1 for a transposed B).
 * zp: 1 value, or one per row (NULL: zero). */
typedef struct oxrt_qmat {
  const void *data;
  bool is_signed;
  size_t rs, ks;
  const int32_t *zp;
  bool zp_per_row;
  const uint8_t *const *kp; /* B only, with rs == 1: k-row k starts at kp[k] instead of data + k * ks (NULL: no) */
} oxrt_qmat;

/* One operand packed for a kernel: panels of r rows (r = kernel mr for A, nr for B) over all K. */
typedef struct oxrt_qpack {
  const oxrt_qkernel *kern;
  bool is_a;
  size_t rows, K, kg; /* kg = K rounded up to the k-group, in groups */
  void *data;
  int32_t *sums; /* k-group 4: per row, sum over k of the packed bytes; else NULL */
  int32_t *zp;   /* k-group 4: per row, the zero point in the packed (re-centred) domain; else NULL */
} oxrt_qpack;

/* Packs `rows` x K of `src` as the A (is_a) or B operand of kernel `kern` (NULL: oxrt_qgemm_kernel()).
 * False when out of memory (*out is then empty). */
bool oxrt_qpack_make(const oxrt_qkernel *kern, bool is_a, size_t rows, size_t K, const oxrt_qmat *src,
                     oxrt_qpack *out);
void oxrt_qpack_free(oxrt_qpack *p);
/* Packs a constant weight operand for the fastest exact kernel: for weights as A (convolution) the B-unsigned
 * variant of this process's VNNI kernel; the VPMADDUBSW kernel of its side when this process uses the AVX2 int16
 * kernel and the weights allow it (see above); else oxrt_qgemm_kernel(). */
bool oxrt_qpack_make_weight(bool is_a, size_t rows, size_t K, const oxrt_qmat *src, oxrt_qpack *out);

/* Fills raw 8-bit B rows [k0, k0+kc) x columns [j0, j0+n) into dst[k*ld + j] (an implicit im2col); values
 * are in B's own type and zero point (padding holds the zero point). */
typedef void (*oxrt_qbfill)(const void *ctx, size_t k0, size_t kc, size_t j0, size_t n, uint8_t *dst, size_t ld);

/* Column j of the product lands at output column (j / seg) * keep + j % seg, and only when j % seg < keep
 * (seg 0: column j at j). A convolution computed over a padded row pitch drops its pad columns this way. */
typedef struct oxrt_qcols {
  size_t seg, keep;
} oxrt_qcols;

/* A quantized residual added to the requantized output t (same element type, same layout as C: element (i, j)
 * at r[i * ldc + j]), as QLinearAdd would on the stored t, in float32 without contraction (ONNX Runtime's order):
 *   C = clamp(round_half_even((t - tz) * ta + (r - rz) * ra) + cz, lo, hi)
 * ta = t_scale / c_scale, ra = r_scale / c_scale. Bit-identical to a QLinearConv followed by a QLinearAdd. */
typedef struct oxrt_qres {
  const void *r;
  float ta, ra;
  int32_t tz, rz, cz, lo, hi;
} oxrt_qres;

typedef enum oxrt_qout_kind { OXRT_QOUT_I32 = 0, OXRT_QOUT_F32, OXRT_QOUT_U8, OXRT_QOUT_S8 } oxrt_qout_kind;

/* What becomes of sum s at (i, j); vectors are indexed by row i when per_row, else by column j:
 *   I32: C = s (+ bias)
 *   F32: C = (float)(s + bias) * scale (+ fbias)          (scale: n_scale = 1 or a vector)
 *   U8 / S8: C = clamp(round_half_even((float)(s + bias) * scale) + zp, lo, hi) */
typedef struct oxrt_qgemm_out {
  oxrt_qout_kind kind;
  void *C;
  size_t ldc;
  bool per_row;
  const int32_t *bias; /* NULL: none */
  const float *scale;
  size_t n_scale;
  const float *fbias; /* F32 only; NULL: none */
  int32_t zp, lo, hi; /* U8 / S8 (lo, hi inside the type's range; a fused Relu raises lo to zp) */
  oxrt_qcols cols;    /* per_row only */
  bool transposed;    /* element (i, j) at C[j * ldc + i]; cols and res must then be unset (res is not applied) */
  const oxrt_qres *res; /* U8 / S8: a fused residual QLinearAdd (NULL: none) */
} oxrt_qgemm_out;

/* The output stage alone: row i, columns [j0, j0+n) of `out` from the exact sums s[0..n) (s is overwritten).
 * For kernels that compute the sums another way (depthwise convolution), so every path rounds alike. */
void oxrt_qgemm_store(const oxrt_qgemm_out *out, size_t i, size_t j0, size_t n, int32_t *s);
/* The fused residual alone (out->res) over C elements [at, at+n) of the stored output. */
void oxrt_qgemm_residual(const oxrt_qgemm_out *out, size_t at, size_t n);

/* Internal (qgemm.c and its ISA files): the output stage's view of a tile. */
typedef struct oxrt_qstore {
  const oxrt_qgemm_out *o;
  size_t K;
  bool corr;              /* k-group 4: apply zero point corrections */
  bool zb_one;            /* zb holds one value for every column */
  const int32_t *ra, *za; /* per row of the tile (sums and packed zero points of A) */
  const int32_t *cb, *zb; /* per column of the tile (sums and packed zero points of B) */
} oxrt_qstore;
/* Row i (global; ti in the tile), columns [j0, j0+n) of sums s[0..n) (overwritten) through the output stage. */
typedef void (*oxrt_qstore_fn)(const oxrt_qstore *st, size_t i, size_t ti, size_t j0, size_t n, int32_t *s);
/* Internal (qgemm.c): a B panel of byte rows (rows[k] + off for k < kc, r columns, r a multiple of 32) interleaved
 * into k-groups of four, xor flip (qgemm_avx2.c). */
void oxrt_qpack_panel_avx2(const uint8_t *const *rows, size_t off, size_t kc, size_t r, uint32_t flip, uint8_t *d);
/* Internal (qgemm_conv.c): d[c] = s[2c] for c < n, reading no byte past s[2n - 2] (qgemm_avx512.c). */
void oxrt_qstride2_copy_avx512(const uint8_t *s, size_t n, uint8_t *d);
/* The same for `panels` B panels of 32 columns side by side (columns from rows[k] + off on), panel p at
 * d + p * pstride (qgemm_avx512.c): a K block of a tile in one pass over its k-rows. */
void oxrt_qpack_panels32_avx512(const uint8_t *const *rows, size_t off, size_t kc, size_t panels, uint32_t flip,
                                uint8_t *d, size_t pstride);
/* Internal (qgemm_conv.c): one k-group-4 A panel of mr <= 16 rows over all K, row i's byte of k at rows[k][off[i]],
 * with off[mr-1] - off[0] < 16 and 16 bytes readable at rows[k] + off[0] (qgemm_avx2.c). */
void oxrt_qpack_positions_avx2(const uint8_t *const *rows, size_t K, const size_t *off, size_t mr, uint32_t flip,
                               uint8_t *d);

/* Applies o->res to C elements [at, at+n) in place (o->res->r read at the same offsets). */
typedef void (*oxrt_qres_fn)(const oxrt_qgemm_out *o, size_t at, size_t n);
void oxrt_qres_row_avx2(const oxrt_qgemm_out *o, size_t at, size_t n);
void oxrt_qres_row_avx512(const oxrt_qgemm_out *o, size_t at, size_t n);
void oxrt_qstore_row_avx2(const oxrt_qstore *st, size_t i, size_t ti, size_t j0, size_t n, int32_t *s);
void oxrt_qstore_row_avx512(const oxrt_qstore *st, size_t i, size_t ti, size_t j0, size_t n, int32_t *s);

typedef struct oxrt_qgemm_ex {
  size_t M, N, K;
  const oxrt_qkernel *kern; /* NULL: oxrt_qgemm_kernel(); packed operands must have been made for it */
  const oxrt_qpack *ap;     /* packed A, or NULL to pack `a` on the fly */
  oxrt_qmat a;
  const oxrt_qpack *bp; /* packed B, or NULL: bfill(bctx) when set (values typed and zero-pointed as b), else b */
  oxrt_qbfill bfill;
  const void *bctx;
  oxrt_qmat b;
  oxrt_qgemm_out out;
} oxrt_qgemm_ex;

/* Runs the product; false when out of memory for scratch. */
bool oxrt_qgemm_run(const oxrt_qgemm_ex *g, oxrt_threadpool *pool);

#endif
