/* Conv.c - N-D convolution (1-D/2-D/3-D and beyond) with groups, dilations, strides, pads and auto_pad.
 * Lowered to im2col + oxrt_sgemm (pointwise kernels skip im2col; depthwise 2-D runs direct loops).
 * float16/bfloat16 are computed through float32, double through the double path. */
#include "conv_util.h"
#include "../infer_rules.h"
#include "linalg_util.h"
#include "../../kernels/winograd.h"
#include <math.h>

/* Per node: float weights packed for the GEMM at session creation when W is a constant (`packed`, fixed from then
 * on; W's data may have been released), else on the first run that sees W as the graph's initializer. */
typedef struct {
  oxrt_conv_wpack wp;
  const void *wdata; /* the initializer it was made from */
} conv_packed;

typedef struct {
  conv_packed *packed;
  la_once_cache cache;
  bool bf16; /* the session's bf16 compute mode: weights packed in bfloat16 (oxrt_prepare_ctx.bf16) */
} conv_state;

static void conv_packed_free(conv_packed *p) {
  if (!p) return;
  oxrt_conv_wpack_free(&p->wp);
  free(p);
}

static void conv_release(void *state) {
  conv_state *st = state;
  if (!st) return;
  conv_packed_free(st->packed);
  conv_packed_free(atomic_load(&st->cache.item));
  pthread_mutex_destroy(&st->cache.mu);
  free(st);
}

typedef struct {
  const oxrt_conv_shape *s;
  const oxrt_value *w;
  bool bf16;
} conv_pack_arg;

static void *conv_make_pack(void *varg) {
  conv_pack_arg *a = varg;
  conv_packed *p = calloc(1, sizeof *p);
  const float *wf = NULL;
  float *wt = NULL;
  if (!p) return NULL;
  oxrt_status *st = oxrt_f32_view(a->w, &wf, &wt);
  if (st) {
    oxrt_status_free(st);
    free(p);
    return NULL;
  }
  bool ok = a->bf16 ? oxrt_conv_f32_pack_bf16(a->s, wf, &p->wp) : oxrt_conv_f32_pack(a->s, wf, &p->wp);
  free(wt);
  if (!ok) {
    free(p);
    return NULL;
  }
  p->wdata = a->w->data;
  return p;
}

/* The geometry prepare packs for: X as the static shape says when it is fully known, else a stand-in of one image
 * with the smallest valid spatial sizes (the packed layout depends only on W, group and the kernel). */
static bool conv_static_geometry(const oxrt_prepare_ctx *pc, const oxrt_value *w, oxrt_conv_shape *s) {
  if (w->rank < 3 || w->rank > OXRT_MAX_RANK) return false;
  oxrt_value x;
  memset(&x, 0, sizeof x);
  x.kind = OXRT_KIND_TENSOR;
  x.dtype = w->dtype;
  x.rank = w->rank;
  const oxrt_type *t = oxrt_prepare_input_type(pc, 0);
  bool known = t && t->kind == OXRT_KIND_TENSOR && t->rank == w->rank && t->dims;
  for (int d = 1; known && d < t->rank; d++) known = t->dims[d] > 0; /* a symbolic batch does not matter */
  int64_t group = oxrt_attr_int(pc->node, "group", 1);
  size_t nd = 0;
  const int64_t *dil = oxrt_attr_ints(pc->node, "dilations", &nd);
  x.dims[0] = 1;
  x.dims[1] = w->dims[1] * (group > 0 ? group : 1);
  for (int d = 2; d < w->rank; d++)
    x.dims[d] = known ? t->dims[d] : (w->dims[d] - 1) * (dil && nd == (size_t)(w->rank - 2) ? dil[d - 2] : 1) + 1;
  if (known) memcpy(x.dims + 1, t->dims + 1, sizeof(int64_t) * (size_t)(t->rank - 1));
  oxrt_status *st = conv_geometry(pc->node, &x, w, s);
  oxrt_status_free(st); /* a bad geometry is reported by the run, with the real X */
  /* Winograd or the GEMM is picked by the real plane size (oxrt_wino_pays): packed at the first run then */
  return !st && (known || !oxrt_wino_shape_ok(s));
}

/* A constant float-family W is packed now and consumed when the kernels take the packed path for it. */
static oxrt_status *conv_prepare(const oxrt_prepare_ctx *pc, void **state) {
  conv_state *st = calloc(1, sizeof *st);
  if (!st) return OXRT_OOM();
  la_once_init(&st->cache);
  *state = st;
  st->bf16 = pc->bf16;
  const oxrt_value *w = oxrt_prepare_constant(pc, 1);
  oxrt_conv_shape s;
  if (!w || w->kind != OXRT_KIND_TENSOR || !la_is_f32_family(w->dtype) || !w->data || !w->count ||
      !conv_static_geometry(pc, w, &s) || !oxrt_conv_f32_uses_pack(&s))
    return NULL;
  conv_pack_arg pa = {&s, w, st->bf16};
  st->packed = conv_make_pack(&pa);
  if (!st->packed) return OXRT_OOM();
  oxrt_prepare_consume(pc, 1);
  return NULL;
}

static oxrt_status *conv_compute(oxrt_kernel_ctx *ctx, bool fused) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 1), *b = oxrt_input(ctx, 2);
  const oxrt_value *z = fused ? oxrt_input(ctx, 3) : NULL;
  oxrt_activation fa = {OXRT_ACT_NONE, 0, 0};
  if (fused) OXRT_TRY(conv_fused_act_parse(ctx->node, &fa));
  if (z) OXRT_TRY(oxrt_check_tensor(z, 3, "Z"));
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(w, 1, "W"));
  if (b) OXRT_TRY(oxrt_check_tensor(b, 2, "B"));
  if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "X, W and B must share an element type");
  oxrt_conv_shape s;
  OXRT_TRY(conv_geometry(ctx->node, x, w, &s));
  if (b && (b->rank != 1 || (size_t)b->dims[0] != s.M))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2 (B): expected shape [%zu]", s.M);
  int64_t yd[OXRT_MAX_RANK];
  int yr = conv_out_dims(&s, yd);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, yr, yd, &y));
  if (y->count == 0) return NULL;
  if (z && (z->dtype != x->dtype || z->rank != y->rank || memcmp(z->dims, y->dims, sizeof(int64_t) * (size_t)y->rank)))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 3 (Z): expected the shape and type of Y");
  if (fused && x->dtype == OXRT_DOUBLE) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "FusedConv on double");
  if (x->dtype == OXRT_DOUBLE) {
    if (!oxrt_conv_f64(&s, x->data, w->data, b ? b->data : NULL, y->data, ctx->pool)) return OXRT_OOM();
    return NULL;
  }
  /* Constant W: packed once per session (only for the shapes that run through the packed GEMM). */
  const conv_packed *pk = NULL;
  conv_state *cs = ctx->state;
  bool uses_pack = oxrt_conv_f32_uses_pack(&s);
  if (cs && uses_pack && oxrt_input_is_constant(ctx, 1, w)) {
    conv_pack_arg pa = {&s, w, cs->bf16};
    pk = cs->packed ? cs->packed : la_once_get(&cs->cache, conv_make_pack, &pa);
    if (pk && ((!cs->packed && pk->wdata != w->data) || pk->wp.group != s.group || pk->wp.Mg != s.M / s.group ||
               pk->wp.Kg != (size_t)(w->count / (s.M ? s.M : 1))))
      pk = NULL;
  }
  /* W packed at session creation may have no data left: it is viewed only when not packed */
  if (!pk) OXRT_TRY(la_check_data(w, 1));
  const float *xf = NULL, *wf = NULL, *bf = NULL;
  float *xt = NULL, *wt = NULL, *bt = NULL, *yf, *yt = NULL;
  oxrt_status *st = NULL;
  if (!(st = oxrt_f32_view(x, &xf, &xt)) && !(!pk && (st = oxrt_f32_view(w, &wf, &wt))) &&
      !(b && (st = oxrt_f32_view(b, &bf, &bt))) && !(st = la_f32_out(y, &yf, &yt))) {
    /* Bias, Z and the activation run in the kernels' output pass, while each output tile is in cache. */
    const float *zf = NULL;
    float *zt = NULL;
    if (z) st = oxrt_f32_view(z, &zf, &zt);
    if (pk && w->dtype == OXRT_FLOAT) wf = w->data; /* NULL once released: the packed path does not read it */
    if (!st && !oxrt_conv_f32_ex(&s, xf, wf, pk ? &pk->wp : NULL, bf, zf, fa, yf, ctx->pool)) st = OXRT_OOM();
    free(zt);
  }
  free(xt);
  free(wt);
  free(bt);
  if (yt) {
    if (!st) la_f32_commit(y, yt);
    else free(yt);
  }
  return st;
}

static oxrt_status *conv_run(oxrt_kernel_ctx *ctx) { return conv_compute(ctx, false); }
static oxrt_status *fused_conv_run(oxrt_kernel_ctx *ctx) { return conv_compute(ctx, true); }

#define CONV_T1 (OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_DOUBLE) | OXRT_TBIT(OXRT_FLOAT16))
static const oxrt_op_impl conv_impls[] = {
    {.since_version = 1, .type_mask = CONV_T1, .prepare = conv_prepare, .run = conv_run, .release = conv_release},
    {.since_version = 11, .type_mask = CONV_T1, .prepare = conv_prepare, .run = conv_run, .release = conv_release},
    {.since_version = 22, .type_mask = CONV_T1 | OXRT_TBIT(OXRT_BFLOAT16), .prepare = conv_prepare, .run = conv_run,
     .release = conv_release},
};
OXRT_REGISTER_OP(Conv) = {"", "Conv", OXRT_IMPLS(conv_impls), .infer = oxrt_infer_conv,
                          .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};

/* com.microsoft FusedConv (what graph optimizers emit for Conv followed by an activation, or by a residual Add):
 * Z and the activation are applied in the kernels' output pass, while each output tile is in cache. */
static const oxrt_op_impl fused_conv_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_FLOAT16), .prepare = conv_prepare,
     .run = fused_conv_run, .release = conv_release},
};
OXRT_REGISTER_OP(ms_FusedConv) = {"com.microsoft", "FusedConv", OXRT_IMPLS(fused_conv_impls), .infer = oxrt_infer_conv,
                                  .flags = OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE};
