/* DynamicQuantizeLinear.c - uint8 quantization with scale and zero point computed from the data range
 * (which always includes 0): scale = (max - min) / 255, zero_point = saturate(round(-min / scale)). */
#include "quant_util.h"
#include "../infer_rules.h"
#include "../../kernels/qdynamic.h"
#include "../../core/cpu.h"

typedef struct {
  const float *x;
  uint8_t *y;
  float scale, zp;
  float *mins, *maxs; /* per chunk, for the range pass */
  size_t chunk;
} dql_job;

/* Locals and restrict so the loop vectorizes (through j the compiler must assume y aliases the job). */
#if defined(__GNUC__) && !defined(__clang__)
#define DQL_VEC __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define DQL_VEC
#endif
/* Sixteen independent running minima / maxima (a vector of lanes; min / max need no reassociation, so the
 * result is the scalar loop's) and then across lanes; a function of locals so it vectorizes per ISA clone. */
OXRT_SIMD_CLONES DQL_VEC static void dql_minmax(const float *restrict x, size_t n, float *mn, float *mx) {
  float lo[16] = {0}, hi[16] = {0}; /* the range always contains 0 */
  oxrt_qdyn_minmax_lanes(x, 0, n, lo, hi, mn, mx);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define DQL_AVX512 1
#endif

static void dql_range_of(const float *x, size_t n, float *mn, float *mx) {
#ifdef DQL_AVX512
  if (oxrt_cpu_isa() >= OXRT_ISA_AVX512) {
    oxrt_qdyn_minmax_avx512(x, n, mn, mx);
    return;
  }
#endif
  dql_minmax(x, n, mn, mx);
}

static void dql_range(void *arg, size_t c0, size_t c1) {
  dql_job *j = arg;
  for (size_t c = c0; c < c1; c++) dql_range_of(j->x + c * j->chunk, j->chunk, &j->mins[c], &j->maxs[c]);
}

OXRT_SIMD_CLONES DQL_VEC static void dql_quant_run(const float *restrict x, uint8_t *restrict y, size_t n, float scale,
                                                   float zp) {
  for (size_t i = 0; i < n; i++) y[i] = (uint8_t)(int32_t)q_rne_sat(x[i] / scale, zp, 0.0f, 255.0f);
}

static void dql_quant(void *arg, size_t i0, size_t i1) {
  const dql_job *j = arg;
#ifdef DQL_AVX512
  if (oxrt_cpu_isa() >= OXRT_ISA_AVX512) {
    oxrt_qdyn_quant_avx512(j->x + i0, j->y + i0, i1 - i0, j->scale, j->zp);
    return;
  }
#endif
  dql_quant_run(j->x + i0, j->y + i0, i1 - i0, j->scale, j->zp);
}

static oxrt_status *dql_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "x"));
  if (x->dtype != OXRT_FLOAT)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (x) must be float, got %s", oxrt_elem_type_name(x->dtype));
  oxrt_value *y, *ys, *yz;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_UINT8, x->rank, x->dims, &y));
  OXRT_TRY(oxrt_output_tensor(ctx, 1, OXRT_FLOAT, 0, NULL, &ys));
  OXRT_TRY(oxrt_output_tensor(ctx, 2, OXRT_UINT8, 0, NULL, &yz));
  dql_job j = {.x = x->data, .y = y->data, .chunk = 16384};
  size_t n = x->count, nchunks = n / j.chunk;
  float lo = 0, hi = 0;
  if (nchunks) {
    j.mins = malloc(sizeof(float) * nchunks * 2);
    if (!j.mins) return OXRT_OOM();
    j.maxs = j.mins + nchunks;
    oxrt_parallel(ctx, nchunks, 1, dql_range, &j);
    for (size_t c = 0; c < nchunks; c++) {
      lo = j.mins[c] < lo ? j.mins[c] : lo;
      hi = j.maxs[c] > hi ? j.maxs[c] : hi;
    }
    free(j.mins);
  }
  if (n > nchunks * j.chunk) {
    float tl, th;
    dql_range_of(j.x + nchunks * j.chunk, n - nchunks * j.chunk, &tl, &th);
    lo = tl < lo ? tl : lo;
    hi = th > hi ? th : hi;
  }
  q_dynamic_params(lo, hi, &j.scale, &j.zp);
  *(float *)ys->data = j.scale;
  *(uint8_t *)yz->data = (uint8_t)j.zp;
  oxrt_parallel(ctx, n, 16384, dql_quant, &j);
  return NULL;
}

static const oxrt_op_impl dql_impls[] = {{.since_version = 11, .type_mask = OXRT_TBIT(OXRT_FLOAT), .run = dql_run}};
/* y: uint8 in x's shape; y_scale, y_zero_point: scalars */
static oxrt_status *infer_dql(oxrt_infer_ctx *ctx) {
  OXRT_TRY(q_infer_same_shape(ctx, OXRT_UINT8));
  oxrt_tshape t;
  oxrt_tshape_clear(&t);
  t.rank = 0, t.elem = OXRT_FLOAT;
  OXRT_TRY(oxrt_infer_output(ctx, 1, &t));
  t.elem = OXRT_UINT8;
  return oxrt_infer_output(ctx, 2, &t);
}

OXRT_REGISTER_OP(DynamicQuantizeLinear) = {"", "DynamicQuantizeLinear", OXRT_IMPLS(dql_impls), .infer = infer_dql,
                                           .flags = OXRT_OP_NO_FOLD};
