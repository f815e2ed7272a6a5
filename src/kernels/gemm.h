/* gemm.h - single-precision matrix multiply used by MatMul, Gemm, Conv, RNNs, attention.
 *
 * C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major, with leading
 * dimensions lda/ldb/ldc. op(X) is X or X^T. beta == 0 ignores C's contents
 * (NaN in C does not leak). `pool` may be NULL (single thread); a busy pool
 * (called from inside a parallel_for) also runs on the calling thread.
 *
 * The float path packs A and B into panels and runs a register-blocked
 * micro-kernel picked once at run time from the CPU: AVX-512, AVX2+FMA or
 * portable C. The environment variable OXRT_ISA=portable|avx2|avx512 caps the
 * level (tests use it to exercise every path the machine supports).
 */
#ifndef OXRT_KERNELS_GEMM_H
#define OXRT_KERNELS_GEMM_H
#include "../core/cpu.h"
#include "../core/threadpool.h"
#include <stdbool.h>
#include <stddef.h>

void oxrt_sgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                const float *B, size_t ldb, float beta, float *C, size_t ldc, oxrt_threadpool *pool);

/* Double precision variant (portable). */
void oxrt_dgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, double alpha, const double *A, size_t lda,
                const double *B, size_t ldb, double beta, double *C, size_t ldc, oxrt_threadpool *pool);

/* The ISA level comes from core/cpu.h (oxrt_cpu_isa, capped by OXRT_ISA and oxrt_cpu_isa_cap). Operands packed at
 * another level are refused by oxrt_sgemm_run (their panel sizes differ). */

/* Micro-kernel contract (internal; gemm_body.h implements it for AVX2 and AVX-512), for m <= MR rows and n <= NR
 * columns:
 * C[i,j] = alpha * sum_k a[k*m + i] * b[k*ldb + j] + beta * C[i,j] for i < m, j < n (beta == 0: C not read; a is
 * an m-row panel, b a packed panel (ldb == NR) or B in place), then, when epi is not NULL (last K block), while the
 * sums are still in registers and in this order: C[i,j] += bias[i]; C[i,j] += bias_col[j]; C[i,j] += z[i*ldz + j];
 * clamp: C = min(hi, max(lo, C)) (NaN passes). NULL bias/bias_col/z: none. Nothing outside the m x n tile is
 * touched (bias_col is read for j < n only).
 * (Relu and Clip are the clamp; the other activations run on the tile right after its store, still in L1.) */
typedef struct oxrt_sgemm_epi {
  const float *bias;
  const float *z;
  size_t ldz;
  bool clamp;
  float lo, hi;
  const float *bias_col;
} oxrt_sgemm_epi;
typedef void (*oxrt_sgemm_ukernel)(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc,
                                   float alpha, float beta, const oxrt_sgemm_epi *epi, size_t m, size_t n);
void oxrt_sgemm_ukernel_avx2(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc, float alpha,
                             float beta, const oxrt_sgemm_epi *epi, size_t m, size_t n); /* MR 6, NR 16 */
void oxrt_sgemm_ukernel_avx512(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc,
                               float alpha, float beta, const oxrt_sgemm_epi *epi, size_t m,
                               size_t n); /* MR 12, NR 32 */
/* Panel packing: dst[k*width + r] = src(r, k) for k < kc, r < rows; 0 for rows <= r < width. src(r, k) is
 * src[k*ld + r] when contiguous (rows of B, columns of a transposed A), else src[r*ld + k] (rows of A, columns of a
 * transposed B: transposed in registers). width <= NR of the ISA. */
typedef void (*oxrt_sgemm_packer)(bool contiguous, const float *src, size_t ld, size_t rows, size_t width, size_t kc,
                                  float *dst);
void oxrt_sgemm_pack_avx2(bool contiguous, const float *src, size_t ld, size_t rows, size_t width, size_t kc,
                          float *dst);
void oxrt_sgemm_pack_avx512(bool contiguous, const float *src, size_t ld, size_t rows, size_t width, size_t kc,
                            float *dst);
/* bfloat16 (AVX512_BF16): the micro-kernel's kc and the panels count 32-bit units, each the bfloat16 pair of k-steps
 * 2u, 2u+1 (the packer takes kc in k-steps and writes ceil(kc/2) units per row, converting with round to nearest
 * even); a, b and the C epilogue are otherwise as above. MR 12, NR 32. */
void oxrt_sgemm_ukernel_avx512bf16(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc,
                                   float alpha, float beta, const oxrt_sgemm_epi *epi, size_t m, size_t n);
void oxrt_sgemm_pack_avx512bf16(bool contiguous, const float *src, size_t ld, size_t rows, size_t width, size_t kc,
                                float *dst);
/* True when this process can run bfloat16 products (AVX512_BF16 at the AVX-512 level, not capped below it). */
bool oxrt_sgemm_bf16_native(void);

/* ------------------------------------------------------------------ extended interface
 * Constant operands packed once (weights), B produced on the fly (implicit im2col), and a per-row and per-column
 * bias plus activation applied while each C tile is still in cache. Packed layouts belong to the micro-kernel picked
 * for this process (the ISA is fixed on first use), so they are valid for the life of the process. */

/* op(A) [M,K] packed into row panels over the whole K: mr rows each, except that a last panel under mr/2 rows
 * shares the last rows evenly with the one before it. */
typedef struct oxrt_sgemm_apack {
  size_t M, K, mr;
  float *data;
  bool bf16; /* data holds bfloat16 pairs (oxrt_sgemm_pack_a_bf16): the product runs in bfloat16 */
} oxrt_sgemm_apack;
/* op(B) [K,N] packed into panels of nr columns over the whole K. */
typedef struct oxrt_sgemm_bpack {
  size_t K, N, nr;
  float *data;
  bool bf16; /* as in oxrt_sgemm_apack */
} oxrt_sgemm_bpack;
/* First row of panel p of a packed A (p in [0, panels]; panel p holds rows [row(p), row(p + 1)), interleaved per
 * k at data + row(p) * K), and the panel count. */
size_t oxrt_sgemm_apack_row(const oxrt_sgemm_apack *a, size_t p);
size_t oxrt_sgemm_apack_panels(const oxrt_sgemm_apack *a);
/* false when out of memory (*out is then empty). */
bool oxrt_sgemm_pack_a(bool trans_a, size_t M, size_t K, const float *A, size_t lda, oxrt_sgemm_apack *out);
bool oxrt_sgemm_pack_b(bool trans_b, size_t K, size_t N, const float *B, size_t ldb, oxrt_sgemm_bpack *out);
/* The same in bfloat16 (half the memory): a product with either operand packed so runs in bfloat16 with float32
 * sums (the other operand is converted while it is packed). False when out of memory or when this process has no
 * bfloat16 kernel (oxrt_sgemm_bf16_native). */
bool oxrt_sgemm_pack_a_bf16(bool trans_a, size_t M, size_t K, const float *A, size_t lda, oxrt_sgemm_apack *out);
bool oxrt_sgemm_pack_b_bf16(bool trans_b, size_t K, size_t N, const float *B, size_t ldb, oxrt_sgemm_bpack *out);
void oxrt_sgemm_apack_free(oxrt_sgemm_apack *p);
void oxrt_sgemm_bpack_free(oxrt_sgemm_bpack *p);

/* Fills one B panel: dst[k*nr + j] = op(B)[p0 + k, j0 + j] for k < kc, j < n_eff; 0 for n_eff <= j < nr. */
typedef void (*oxrt_sgemm_bfill)(const void *ctx, size_t p0, size_t kc, size_t j0, size_t n_eff, size_t nr,
                                 float *dst);

/* Activations fused into output passes (GEMM epilogue, convolution paths), with their parameters a and b:
 *   RELU max(x, 0)                    CLIP min(max(x, a), b)            LEAKY_RELU x < 0 ? a*x : x
 *   HARD_SIGMOID max(0, min(1, a*x+b)) HARD_SWISH x*max(0, min(1, x/6 + 1/2))
 *   SIGMOID 1/(1+e^-x)   TANH tanh(x)   SILU x*sigmoid(x) (Swish)     GELU 0.5x(1+erf(x/sqrt 2))
 *   GELU_TANH 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))
 * NaN in gives NaN out. The transcendental ones use vmath.h at the process's ISA level. */
typedef enum oxrt_act {
  OXRT_ACT_NONE = 0,
  OXRT_ACT_RELU = 1,
  OXRT_ACT_CLIP,
  OXRT_ACT_LEAKY_RELU,
  OXRT_ACT_HARD_SIGMOID,
  OXRT_ACT_HARD_SWISH,
  OXRT_ACT_SIGMOID,
  OXRT_ACT_TANH,
  OXRT_ACT_SILU,
  OXRT_ACT_GELU,
  OXRT_ACT_GELU_TANH,
  OXRT_ACT_COUNT_
} oxrt_act;
typedef struct oxrt_activation {
  oxrt_act kind;
  float a, b;
} oxrt_activation;
/* y[i] = act(y[i]) for i < n, in place. */
void oxrt_act_apply(oxrt_activation act, float *y, size_t n);
/* True when the activation is a clamp to [*lo, *hi] (NONE, RELU, CLIP), which kernels apply in registers. */
bool oxrt_act_is_clamp(oxrt_activation act, float *lo, float *hi);

typedef struct oxrt_sgemm_ex {
  size_t M, N, K;
  float alpha, beta;
  const oxrt_sgemm_apack *ap; /* packed A, or NULL to use A/lda/trans_a */
  bool trans_a;
  const float *A;
  size_t lda;
  const oxrt_sgemm_bpack *bp; /* packed B, or NULL: bfill(bctx) when set, else B/ldb/trans_b */
  oxrt_sgemm_bfill bfill;
  const void *bctx;
  bool trans_b;
  const float *B;
  size_t ldb;
  float *C;
  size_t ldc;
  const float *bias;     /* C[i,:] += bias[i] after alpha*AB + beta*C (Conv's channels); NULL for none */
  const float *bias_col; /* then C[:,j] += bias_col[j] (a MatMul's bias over its N outputs); NULL for none */
  const float *Z;        /* then C[i,j] += Z[i*ldz + j] (a residual); NULL for none */
  size_t ldz;
  oxrt_act act;      /* last, on the sum */
  float act_a, act_b; /* the activation's parameters (oxrt_activation's a and b) */
} oxrt_sgemm_ex;

/* Runs the product described by g; false when out of memory for scratch. */
bool oxrt_sgemm_run(const oxrt_sgemm_ex *g, oxrt_threadpool *pool);

/* y[n] = dot(a, B + n*ldb) for n < N, and y[n] = sum_k a[k] * B[k*ldb + n] (ISA variants; no alpha/beta). */
void oxrt_sgemv_t_avx512(size_t K, const float *a, const float *B, size_t ldb, size_t N, float *y);
void oxrt_sgemv_n_avx512(size_t K, const float *a, const float *B, size_t ldb, size_t N, float *y);
void oxrt_sgemv_t_avx2(size_t K, const float *a, const float *B, size_t ldb, size_t N, float *y);
void oxrt_sgemv_n_avx2(size_t K, const float *a, const float *B, size_t ldb, size_t N, float *y);

#endif
