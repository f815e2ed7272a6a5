/* linalg_util.h - private helpers of the MatMul / Gemm / Conv / quantization family: float32 views of any
 * numeric tensor, and exact integer matrix products for the non-float types. */
#ifndef OXRT_OPS_LINALG_UTIL_H
#define OXRT_OPS_LINALG_UTIL_H
#include "../../kernels/gemm.h"
#include "../op_util.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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

/* True when input i of the running node is bound to the graph's own initializer (a constant that every run
 * sees unchanged, so work derived from it can be cached in the node state); false for fed values. */
/* A cache filled once, on first use, by whichever run gets there first; later runs read it without locking. */
typedef struct {
  pthread_mutex_t mu;
  _Atomic(void *) item;
  bool failed; /* building failed once: do not retry every run */
} la_once_cache;

static inline void la_once_init(la_once_cache *c) {
  pthread_mutex_init(&c->mu, NULL);
  atomic_init(&c->item, NULL);
  c->failed = false;
}

/* The cached item, building it with make(arg) under the lock the first time; NULL when making failed. */
static inline void *la_once_get(la_once_cache *c, void *(*make)(void *arg), void *arg) {
  void *it = atomic_load_explicit(&c->item, memory_order_acquire);
  if (it) return it;
  pthread_mutex_lock(&c->mu);
  it = atomic_load_explicit(&c->item, memory_order_relaxed);
  if (!it && !c->failed) {
    /* a cancelled run must not leave a half-built item for the runs after it: make() ignores the stop check */
    const oxrt_stop_check *stop = oxrt_parallel_stop_swap(NULL);
    it = make(arg);
    oxrt_parallel_stop_swap(stop);
    if (it) atomic_store_explicit(&c->item, it, memory_order_release);
    else c->failed = true;
  }
  pthread_mutex_unlock(&c->mu);
  return it;
}

/* True for element types computed through float32 (float, float16, bfloat16). */
static inline bool la_is_f32_family(oxrt_elem_type t) {
  return t == OXRT_FLOAT || t == OXRT_FLOAT16 || t == OXRT_BFLOAT16;
}

/* Node state of Gemm / MatMul: a constant B packed for the GEMM at session creation (`packed`, fixed from then on),
 * or, for a B that becomes constant only later (constant folding's bare prepare), on first use. */
typedef struct {
  la_once_cache cache;
} la_bpack_lazy;

typedef struct {
  oxrt_sgemm_bpack bp;
  const void *data; /* the initializer it was made from (lazy path) */
  bool tb;
} la_bpack_item;

typedef struct {
  la_bpack_item *packed; /* made in prepare: B's data may have been released, runs always use this */
  la_bpack_lazy lazy;
  bool bf16; /* the session's bf16 compute mode: packs are bfloat16 (oxrt_prepare_ctx.bf16) */
} la_bpack_state;

typedef struct {
  const oxrt_value *b;
  bool tb;
  size_t K, N;
  bool bf16;
} la_bpack_arg;

static inline void la_bpack_item_free(la_bpack_item *it) {
  if (!it) return;
  oxrt_sgemm_bpack_free(&it->bp);
  free(it);
}

static inline void la_bpack_release(void *state) {
  la_bpack_state *st = state;
  if (!st) return;
  la_bpack_item_free(st->packed);
  la_bpack_item_free(atomic_load(&st->lazy.cache.item));
  pthread_mutex_destroy(&st->lazy.cache.mu);
  free(st);
}

static inline void *la_bpack_make(void *varg) {
  const la_bpack_arg *a = varg;
  la_bpack_item *it = calloc(1, sizeof *it);
  if (!it) return NULL;
  const float *bf = NULL;
  float *bt = NULL;
  if (a->b->dtype != OXRT_FLOAT) {
    bt = malloc(sizeof(float) * (a->b->count ? a->b->count : 1));
    if (!bt || !oxrt_convert(OXRT_FLOAT, bt, a->b->dtype, a->b->data, a->b->count, false)) {
      free(bt);
      free(it);
      return NULL;
    }
    bf = bt;
  } else {
    bf = a->b->data;
  }
  bool ok = a->bf16 ? oxrt_sgemm_pack_b_bf16(a->tb, a->K, a->N, bf, a->tb ? a->K : a->N, &it->bp)
                    : oxrt_sgemm_pack_b(a->tb, a->K, a->N, bf, a->tb ? a->K : a->N, &it->bp);
  free(bt);
  if (!ok) {
    free(it);
    return NULL;
  }
  it->data = a->b->data;
  it->tb = a->tb;
  return it;
}

/* Rows of the product as the static shape of A (input 0) says: Gemm's op(A) rows, MatMul's folded batch rows;
 * -1 when not known at session creation. */
static inline int64_t la_static_rows(const oxrt_prepare_ctx *pc, bool gemm) {
  const oxrt_type *t = oxrt_prepare_input_type(pc, 0);
  const oxrt_value *c = oxrt_prepare_constant(pc, 0);
  int rank = c ? c->rank : t && t->kind == OXRT_KIND_TENSOR ? t->rank : -1;
  const int64_t *dims = c ? c->dims : t ? t->dims : NULL;
  if (rank < 1 || !dims) return -1;
  if (gemm) {
    if (rank != 2) return -1;
    return dims[oxrt_attr_int(pc->node, "transA", 0) ? 1 : 0];
  }
  int64_t m = 1;
  for (int d = 0; d < rank - 1; d++) {
    if (dims[d] < 0) return -1;
    m *= dims[d];
  }
  return m;
}

/* prepare of Gemm (gemm = true) and MatMul: a constant float-family 2-D B is packed now and consumed (its
 * initializer may be released), unless the static shape of A says the product stays on the unpacked paths
 * (fewer than 4 rows: matrix-vector; under 64 K multiply-adds). With the rows unknown (symbolic), only a B of
 * 1 MB and more: a run of one to three rows then takes the packed path, which reads B from memory as fast as
 * the matrix-vector path does, while a small cache-resident B is faster unpacked (768x768 in cache, one row:
 * 0.06 ms unpacked, 0.25 ms packed) and saves little memory; it stays lazy. */
static inline oxrt_status *la_bpack_prepare_for(const oxrt_prepare_ctx *pc, void **state, bool gemm) {
  la_bpack_state *st = calloc(1, sizeof *st);
  if (!st) return OXRT_OOM();
  la_once_init(&st->lazy.cache);
  *state = st;
  st->bf16 = pc->bf16;
  const oxrt_value *b = oxrt_prepare_constant(pc, 1);
  if (!b || b->kind != OXRT_KIND_TENSOR || b->rank != 2 || !la_is_f32_family(b->dtype) || !b->data) return NULL;
  bool tb = gemm && oxrt_attr_int(pc->node, "transB", 0) != 0;
  size_t K = (size_t)b->dims[tb ? 1 : 0], N = (size_t)b->dims[tb ? 0 : 1];
  int64_t M = la_static_rows(pc, gemm);
  double kn = (double)K * (double)N;
  /* the bf16 compute mode packs every constant B: then every such product rounds as the emulation does, and a
   * one-row product streams half the bytes of B */
  if (!st->bf16 && (M >= 0 ? M < 4 || (double)M * kn < 65536.0 : kn < 262144.0)) return NULL;
  la_bpack_arg a = {b, tb, K, N, st->bf16};
  st->packed = la_bpack_make(&a);
  if (!st->packed) return OXRT_OOM();
  oxrt_prepare_consume(pc, 1);
  return NULL;
}
static inline oxrt_status *la_gemm_prepare(const oxrt_prepare_ctx *pc, void **state) {
  return la_bpack_prepare_for(pc, state, true);
}
static inline oxrt_status *la_matmul_prepare(const oxrt_prepare_ctx *pc, void **state) {
  return la_bpack_prepare_for(pc, state, false);
}

/* B (input `idx`, a float-family matrix read as op(B) [K,N]) packed: at session creation, or once on first use
 * when it is the graph's initializer and the product is big enough to take the packed path; NULL otherwise (use
 * B itself). */
static inline const oxrt_sgemm_bpack *la_const_bpack(const oxrt_kernel_ctx *ctx, int idx, const oxrt_value *b,
                                                     bool tb, size_t M, size_t K, size_t N) {
  la_bpack_state *st = ctx->state;
  if (!st || !la_is_f32_family(b->dtype) || !oxrt_input_is_constant(ctx, idx, b)) return NULL;
  if (st->packed) {
    const la_bpack_item *it = st->packed;
    return it->tb == tb && it->bp.K == K && it->bp.N == N ? &it->bp : NULL;
  }
  if (!st->bf16 && (M < 4 || (double)M * (double)N * (double)K < 65536.0)) return NULL;
  la_bpack_arg a = {b, tb, K, N, st->bf16};
  const la_bpack_item *it = la_once_get(&st->lazy.cache, la_bpack_make, &a);
  if (!it || it->data != b->data || it->tb != tb || it->bp.K != K || it->bp.N != N) return NULL;
  return &it->bp;
}

/* An error instead of a read through NULL when an input's data was released after prepare packed it and the
 * packed copy does not fit this run (a kernel whose packing rule disagrees with its prepare: a bug). */
static inline oxrt_status *la_check_data(const oxrt_value *v, int idx) {
  if (v->data || !v->count) return NULL;
  return oxrt_error(OXRT_ERR_RUNTIME, "input %d: its data was released after being packed at session creation, "
                    "and the packed copy does not fit this run", idx);
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


/* Shapes of a numpy matmul of a by b: M, N, K, the output dims, and per output batch the element offsets
 * of its A and B matrices (offs[0..nb) for A, offs[nb..2nb) for B; malloc'd, free it). */
typedef struct {
  size_t M, N, K, nb;
  int yr;
  int64_t yd[OXRT_MAX_RANK];
  size_t b_total; /* matrices in B (1: every batch shares it) */
  size_t *offs;
} la_mm_plan;

static inline oxrt_status *la_mm_plan_make(const oxrt_value *a, const oxrt_value *b, la_mm_plan *p) {
  memset(p, 0, sizeof *p);
  if (a->rank < 1 || b->rank < 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "matrix product needs inputs of rank >= 1, got %d and %d", a->rank,
                      b->rank);
  int ra = a->rank, rb = b->rank;
  int64_t M = ra == 1 ? 1 : a->dims[ra - 2], K = a->dims[ra - 1];
  int64_t K2 = rb == 1 ? b->dims[0] : b->dims[rb - 2], N = rb == 1 ? 1 : b->dims[rb - 1];
  if (K != K2) {
    char s1[128], s2[128];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "inner dimensions differ: A %s, B %s",
                      oxrt_dims_str(a->dims, a->rank, s1, sizeof s1), oxrt_dims_str(b->dims, b->rank, s2, sizeof s2));
  }
  int bra = ra > 2 ? ra - 2 : 0, brb = rb > 2 ? rb - 2 : 0, br = bra > brb ? bra : brb;
  int64_t bd[OXRT_MAX_RANK], xa[OXRT_MAX_RANK], xb[OXRT_MAX_RANK], sa[OXRT_MAX_RANK], sb[OXRT_MAX_RANK];
  for (int d = 0; d < br; d++) {
    int da = d - (br - bra), db = d - (br - brb);
    xa[d] = da >= 0 ? a->dims[da] : 1;
    xb[d] = db >= 0 ? b->dims[db] : 1;
    if (xa[d] != xb[d] && xa[d] != 1 && xb[d] != 1)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "batch dimension %d does not broadcast: %lld vs %lld", d,
                        (long long)xa[d], (long long)xb[d]);
    bd[d] = xa[d] == 1 ? xb[d] : xa[d];
  }
  int64_t st_a = M * K, st_b = K * N;
  for (int d = br - 1; d >= 0; d--) {
    sa[d] = xa[d] == 1 ? 0 : st_a;
    sb[d] = xb[d] == 1 ? 0 : st_b;
    st_a *= xa[d];
    st_b *= xb[d];
  }
  for (int d = 0; d < br; d++) p->yd[p->yr++] = bd[d];
  if (ra > 1) p->yd[p->yr++] = M;
  if (rb > 1) p->yd[p->yr++] = N;
  p->M = (size_t)M, p->N = (size_t)N, p->K = (size_t)K;
  p->nb = 1;
  for (int d = 0; d < br; d++) p->nb *= (size_t)bd[d];
  p->b_total = K * N != 0 ? b->count / (size_t)(K * N) : 1;
  p->offs = malloc(sizeof(size_t) * 2 * (p->nb ? p->nb : 1));
  if (!p->offs) return OXRT_OOM();
  int64_t idx[OXRT_MAX_RANK] = {0};
  size_t oa = 0, ob = 0;
  for (size_t i = 0; i < p->nb; i++) {
    p->offs[i] = oa;
    p->offs[p->nb + i] = ob;
    for (int d = br - 1; d >= 0; d--) {
      oa += (size_t)sa[d];
      ob += (size_t)sb[d];
      if (++idx[d] < bd[d]) break;
      oa -= (size_t)(sa[d] * bd[d]);
      ob -= (size_t)(sb[d] * bd[d]);
      idx[d] = 0;
    }
  }
  return NULL;
}

/* acc[n] = sum_k (A[a_off+k] - azp) * (B[b_off + k*ldb + n] - bzp[n]), n < N, in int32 for 8-bit A and B
 * (uint8, or int8 when *_signed). bzp has N entries (per column) or is NULL for zero. */
static inline void la_q8_row(bool a_signed, const void *A, size_t a_off, size_t K, int32_t azp, bool b_signed,
                             const void *B, size_t b_off, size_t ldb, size_t N, const int32_t *bzp, int32_t *acc) {
  memset(acc, 0, sizeof(int32_t) * N);
  for (size_t k = 0; k < K; k++) {
    int32_t av = (a_signed ? ((const int8_t *)A)[a_off + k] : ((const uint8_t *)A)[a_off + k]) - azp;
    if (!av) continue;
    if (b_signed) {
      const int8_t *b = (const int8_t *)B + b_off + k * ldb;
      for (size_t n = 0; n < N; n++) acc[n] += av * (int32_t)b[n];
    } else {
      const uint8_t *b = (const uint8_t *)B + b_off + k * ldb;
      for (size_t n = 0; n < N; n++) acc[n] += av * (int32_t)b[n];
    }
  }
  if (bzp) {
    /* sum_k a'_k * (b - zp_n) = acc_n - zp_n * sum_k a'_k */
    int32_t asum = 0;
    for (size_t k = 0; k < K; k++)
      asum += (a_signed ? ((const int8_t *)A)[a_off + k] : ((const uint8_t *)A)[a_off + k]) - azp;
    for (size_t n = 0; n < N; n++) acc[n] -= bzp[n] * asum;
  }
}

#endif
