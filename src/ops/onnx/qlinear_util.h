/* qlinear_util.h - private to the quantized matrix-product and convolution operators (QLinearConv, ConvInteger,
 * QLinearMatMul, MatMulInteger and the com.microsoft ones: MatMulIntegerToFloat, DynamicQuantizeMatMul, QGemm,
 * QAttention): constant weights packed once per session for the 8-bit GEMM, zero points as int32 vectors, and
 * the numpy-batched product through oxrt_qgemm_run. */
#ifndef OXRT_OPS_QLINEAR_UTIL_H
#define OXRT_OPS_QLINEAR_UTIL_H
#include "../../kernels/qgemm_conv.h"
#include "linalg_util.h"
#include "quant_util.h"

static inline bool ql_is8(oxrt_elem_type t) { return t == OXRT_UINT8 || t == OXRT_INT8; }

/* Zero point input `zi` as n int32 values (absent: zeros; one value: repeated; else exactly n). */
static inline oxrt_status *ql_zp_vec(const oxrt_value *zp, oxrt_elem_type want, int zi, size_t n, int32_t **out) {
  int32_t *v = calloc(n ? n : 1, sizeof(int32_t));
  if (!v) return OXRT_OOM();
  if (zp) {
    if (zp->dtype != want || (zp->count != 1 && zp->count != n)) {
      free(v);
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (zero point): expected %s with 1 or %zu values, got %s with %zu",
                        zi, oxrt_elem_type_name(want), n, oxrt_elem_type_name(zp->dtype), zp->count);
    }
    for (size_t i = 0; i < n; i++) v[i] = (int32_t)oxrt_load_i64(zp->dtype, zp->data, zp->count == 1 ? 0 : i);
  }
  *out = v;
  return NULL;
}

/* Scale input `si` as n floats (1 value repeated, else exactly n). */
static inline oxrt_status *ql_scale_vec(const oxrt_value *sc, int si, size_t n, float **out) {
  if (!sc || !oxrt_dtype_is_float(sc->dtype) || (sc->count != 1 && sc->count != n))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (scale): expected a float tensor with 1 or %zu values", si, n);
  float *v = malloc(sizeof(float) * (n ? n : 1));
  if (!v) return OXRT_OOM();
  for (size_t i = 0; i < n; i++)
    v[i] = sc->dtype == OXRT_FLOAT ? ((const float *)sc->data)[sc->count == 1 ? 0 : i]
                                   : (float)oxrt_load_f64(sc->dtype, sc->data, sc->count == 1 ? 0 : i);
  *out = v;
  return NULL;
}

/* A per-tensor scale (float input si) and zero point (input zi of type t, or absent: 0). */
static inline oxrt_status *ql_scalar_param(const oxrt_kernel_ctx *ctx, int si, int zi, oxrt_elem_type t, float *s,
                                           float *z) {
  const oxrt_value *sv = oxrt_input(ctx, si), *zv = oxrt_input(ctx, zi);
  if (!sv || sv->count != 1 || !oxrt_dtype_is_float(sv->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (scale) must be one float value", si);
  if (zv && (zv->count != 1 || zv->dtype != t))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (zero point) must be one %s value", zi, oxrt_elem_type_name(t));
  *s = (float)oxrt_load_f64(sv->dtype, sv->data, 0);
  *z = zv ? (float)oxrt_load_i64(zv->dtype, zv->data, 0) : 0.0f;
  return NULL;
}

/* round_half_even(v) + z saturated to the 8-bit type of the given signedness, as its byte. */
static inline uint8_t ql_sat8(float v, float z, bool is_signed) {
  v = q_rne_sat(v, z, is_signed ? -128.0f : 0.0f, is_signed ? 127.0f : 255.0f);
  return is_signed ? (uint8_t)(int8_t)v : (uint8_t)v;
}

/* 8-bit value i of a tensor as float. */
static inline float ql_ld8(const void *p, size_t i, bool is_signed) {
  return is_signed ? (float)((const int8_t *)p)[i] : (float)((const uint8_t *)p)[i];
}

/* QLinearAdd of 8-bit tensors a and b (numpy broadcasting) into c, already shaped to the broadcast shape and of
 * a's type (qlinear_binary.c): the fallback of the fused convolution + residual where shapes differ. */
void ql_add_broadcast(const oxrt_value *a, float as, float az, const oxrt_value *b, float bs, float bz, float cs,
                      float cz, oxrt_value *c);

/* ------------------------------------------------------------ weights packed once per session */

/* Node state: the packed weight (B of a product, or W of a convolution), made on the first run that sees the
 * weight and its zero point as the graph's initializers. */
typedef struct {
  la_once_cache cache;
} ql_state;

typedef struct {
  bool conv;
  oxrt_qpack bp;
  oxrt_qconv_wpack wp;
  const void *wdata, *zdata; /* what it was made from */
  size_t K, N;
  bool trans;
} ql_item;

static inline oxrt_status *ql_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)node, (void)opset;
  ql_state *st = calloc(1, sizeof *st);
  if (!st) return OXRT_OOM();
  la_once_init(&st->cache);
  *state = st;
  return NULL;
}

static inline void ql_item_free(ql_item *it) {
  if (!it) return;
  oxrt_qpack_free(&it->bp);
  oxrt_qconv_wpack_free(&it->wp);
  free(it);
}

static inline void ql_release(void *state) {
  ql_state *st = state;
  if (!st) return;
  ql_item_free(atomic_load(&st->cache.item));
  pthread_mutex_destroy(&st->cache.mu);
  free(st);
}

typedef struct {
  const oxrt_conv_shape *s; /* convolution, or NULL for a matrix B */
  const oxrt_value *w, *zp;
  const int32_t *zv; /* zero points, 1 or per output channel / column */
  size_t nz, K, N;
  bool trans;
} ql_make_arg;

static inline void *ql_make(void *varg) {
  const ql_make_arg *a = varg;
  ql_item *it = calloc(1, sizeof *it);
  if (!it) return NULL;
  bool ok;
  if (a->s) {
    it->conv = true;
    ok = oxrt_qconv_pack(a->s, a->w->data, a->w->dtype == OXRT_INT8, a->zv, a->nz, &it->wp);
  } else {
    oxrt_qmat m = {a->w->data,        a->w->dtype == OXRT_INT8, a->trans ? a->K : 1, a->trans ? 1 : a->N,
                   a->zv, a->nz != 1, NULL};
    ok = oxrt_qpack_make_weight(false, a->N, a->K, &m, &it->bp);
  }
  if (!ok) {
    ql_item_free(it);
    return NULL;
  }
  it->wdata = a->w->data, it->zdata = a->zp ? a->zp->data : NULL, it->K = a->K, it->N = a->N, it->trans = a->trans;
  return it;
}

/* The packed weight (input wi, zero point input zi) from the node's cache when both are initializers; else
 * packed now into *tmp (the caller frees it with ql_item_free). NULL when out of memory. */
static inline const ql_item *ql_weight(const oxrt_kernel_ctx *ctx, int wi, int zi, const ql_make_arg *a,
                                       ql_item **tmp) {
  *tmp = NULL;
  ql_state *st = ctx->state;
  if (st && oxrt_input_is_constant(ctx, wi, a->w) && (!a->zp || oxrt_input_is_constant(ctx, zi, a->zp))) {
    const ql_item *it = la_once_get(&st->cache, ql_make, (void *)a);
    if (it && it->wdata == a->w->data && it->zdata == (a->zp ? a->zp->data : NULL) && it->K == a->K &&
        it->N == a->N && it->trans == a->trans)
      return it;
  }
  *tmp = ql_make((void *)a);
  return *tmp;
}

/* ------------------------------------------------------------ batched matrix product */

/* y = out-stage((A - za) (B - zb)) with numpy batching, A [..., M, K], B [..., K, N] (input bi of the node,
 * zero point input zi); za: 1 value or M (per row); zb: 1 or N. `out` carries the per-column vectors (or
 * per-row with per_row) and the output kind; C and ldc are set here from y (element size es). */
static inline oxrt_status *ql_matmul(oxrt_kernel_ctx *ctx, const la_mm_plan *p, const oxrt_value *a,
                                     const int32_t *za, size_t nza, const oxrt_value *b, int bi, int zi,
                                     const int32_t *zb, size_t nzb, const oxrt_qgemm_out *out, void *y, size_t es) {
  size_t M = p->M, N = p->N, K = p->K;
  const ql_item *it = NULL;
  ql_item *tmp = NULL;
  if (p->b_total == 1) {
    ql_make_arg arg = {NULL, b, oxrt_input(ctx, zi), zb, nzb, K, N, false};
    if (!(it = ql_weight(ctx, bi, zi, &arg, &tmp))) return OXRT_OOM();
  }
  /* A's batches one after another over one shared B: a single product of nb*M rows. */
  bool merge = it && nza == 1 && p->nb > 1;
  for (size_t i = 0; merge && i < p->nb; i++) merge = p->offs[i] == i * M * K;
  size_t rounds = merge ? 1 : p->nb, rows = merge ? p->nb * M : M;
  bool ok = true;
  for (size_t bt = 0; bt < rounds && ok; bt++) {
    oxrt_qgemm_ex g = {.M = rows, .N = N, .K = K, .out = *out};
    g.a = (oxrt_qmat){(const uint8_t *)a->data + p->offs[bt], a->dtype == OXRT_INT8, K, 1, za, nza != 1, NULL};
    if (it) g.bp = &it->bp;
    else
      g.b = (oxrt_qmat){(const uint8_t *)b->data + p->offs[p->nb + bt], b->dtype == OXRT_INT8, 1, N, zb, nzb != 1, NULL};
    g.out.C = (uint8_t *)y + bt * M * N * es;
    g.out.ldc = N;
    ok = oxrt_qgemm_run(&g, ctx->pool);
  }
  ql_item_free(tmp);
  return ok ? NULL : OXRT_OOM();
}

#endif
