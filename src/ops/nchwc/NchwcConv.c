/* NchwcConv.c - com.microsoft.nchwc Conv: a 2-D convolution of a blocked X (nchwc.h) into a blocked Y, group 1
 * (oxrt_nchwc_conv) or depthwise (group = C = M, oxrt_nchwc_dwconv). Attributes as ONNX Conv plus FusedConv's
 * activation / activation_params; inputs X, W (a constant [M, C/group, kh, kw] with the real channel counts), B
 * (optional, constant), Sum (optional, blocked like Y: added before the activation). Y is [N, padded M, OH, OW].
 * With nchw_input = 1, X is plain NCHW with at most B channels (an RGB stem writes blocked Y with no reorder).
 * W and B are packed at session creation and released. post_scale / post_shift (floats, defaults 1 and -0: each
 * absent one changes nothing, -0 included): Y = act(..) * post_scale + post_shift, a scalar Mul and Add that
 * pass_nchwc_layout.c folded in; the group-1 direct kernels apply it before the store, other routes over Y after.
 *
 * A 3x3 stride-1 group-1 conv whose static plane size makes Winograd pay (winograd.h: about 1.7x the direct
 * kernel's rate on the Xeon) runs through the NCHW Winograd path instead, between two reorders of its own, so that
 * the region around it stays blocked (with 16-channel blocks, from 32 input channels); it then has no blocked pack. */
#include "../onnx/conv_util.h"
#include "../../kernels/nchwc_conv.h"
#include "../../kernels/scratch.h"
#include "../../kernels/winograd.h"
#include "nchwc_util.h"
#include <stdatomic.h>

typedef struct {
  oxrt_nchwc_geom g; /* C, M, kernel, strides, dilations, B; the spatial part is set per run */
  size_t C_real, M_real;
  bool depthwise;
  bool nchw_input; /* attribute nchw_input = 1: X is plain NCHW with at most B channels (an RGB stem) */
  oxrt_activation act;
  bool has_post; /* post_scale / post_shift given: Y = act(..) * post[0] + post[1] */
  float post[2];
  float *w, *bias; /* packed weights; bias padded to M (NULL: none) */
  uint16_t *wh; /* instead of w, bfloat16 weights for the session's bf16 compute mode (group 1, blocked X) */
  oxrt_conv_wpack wino; /* .wino set: the Winograd route (chosen for the static plane size), w then NULL */
} nchwc_conv_state;

static void conv_state_clear(nchwc_conv_state *st) {
  oxrt_aligned_free(st->w);
  free(st->wh);
  free(st->bias);
  oxrt_conv_wpack_free(&st->wino);
}

static void nchwc_conv_release(void *state) {
  if (!state) return;
  conv_state_clear(state);
  free(state);
}

/* The static shape of a conv over an H x W plane (one image) with explicit pads [top, left, bottom, right]. */
static void branch_shape(size_t C, const int64_t *wd, int64_t H, int64_t W, const int64_t *str, const int64_t *dil,
                         const int64_t *pads, oxrt_conv_shape *s) {
  *s = (oxrt_conv_shape){.nd = 2, .N = 1, .C = C, .M = (size_t)wd[0], .group = 1, .in = {H, W}, .k = {wd[2], wd[3]},
                         .stride = {str[0], str[1]}, .dil = {dil[0], dil[1]}, .pad = {pads[0], pads[1]}};
  for (int d = 0; d < 2; d++) {
    const int64_t span = s->in[d] + pads[d] + pads[d + 2] - ((s->k[d] - 1) * s->dil[d] + 1);
    s->out[d] = span < 0 || s->stride[d] < 1 ? 0 : span / s->stride[d] + 1;
  }
}

/* Packs one conv's W (input wi, already checked: a constant float [M, C/group, kh, kw]) and B (input bi, NULL when
 * absent) into st, whose act and nchw_input are set. cs: its shape on the static plane, or NULL when unknown. */
static oxrt_status *conv_setup(const oxrt_prepare_ctx *pc, nchwc_conv_state *st, int64_t group, const oxrt_value *w,
                               int wi, const oxrt_value *b, int bi, const oxrt_conv_shape *cs) {
  const int B = nchwc_block();
  st->M_real = (size_t)w->dims[0];
  st->depthwise = group > 1;
  st->C_real = st->depthwise ? (size_t)group : (size_t)w->dims[1];
  if (st->nchw_input && (st->depthwise || st->C_real > (size_t)B))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "nchw_input: only group 1 with at most %d input channels", B);
  if (st->depthwise && (w->dims[1] != 1 || (size_t)group != st->M_real))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "group %lld: only group 1 or depthwise (group = C = M) convolutions",
                      (long long)group);
  st->g = (oxrt_nchwc_geom){.C = oxrt_nchwc_padded(st->C_real, B), .M = oxrt_nchwc_padded(st->M_real, B),
                            .kh = w->dims[2], .kw = w->dims[3], .B = B};
  const bool bf16 = pc->bf16 && !st->depthwise; /* depthwise stays float32 */
  if (!bf16 && !st->depthwise && !st->nchw_input && cs) {
    /* With 16-channel blocks not under 32 input channels: the transforms and the two reorders, whose cost grows with
     * C + M against the products' C * M, then outweigh the multiplies saved (AMD Zen 4, squeezenet1_1's 16 -> 64 3x3
     * convs on 55x55, 1 thread, in-process interleaved: 7.37 -> 7.11 ms for the model with the direct kernel; its
     * 32 -> 128 ones on 27x27 still gain from Winograd: 7.11 -> 7.30 ms without it). Not measured with 8.
     * Against this direct kernel (not the GEMM that oxrt_wino_pays was measured against), planes of 13-16 (16 tiles)
     * gain too once C * M is large (Zen 4, min of 150 interleaved runs, 1 / 2 threads, us: 256 -> 256 on 14x14
     * 2213 / 1113 direct, 1446 / 749 Winograd; 128 -> 128 518 / 298, 366 / 218; 64 -> 256 on 13x13 443 / 246,
     * 361 / 220; 48 -> 192 247 / 132, 224 / 145 and 64 -> 64 126 / 71, 134 / 116 lose; resnet18's layer3 convs in
     * the model at 1 thread 2.20 -> 1.35-1.43 ms), at four times the weight memory (resnet18 +21 MB). */
    if (oxrt_wino_shape_ok(cs) && (B < 16 || cs->C >= 32)) {
      const int64_t tiles = ((cs->out[0] + 3) / 4) * ((cs->out[1] + 3) / 4);
      const bool pays = oxrt_wino_pays(cs) || (B >= 16 && tiles >= 16 && cs->C >= 64 && cs->C * cs->M >= 16384);
      if (pays && !oxrt_conv_f32_pack_method(cs, w->data, true, &st->wino)) return OXRT_OOM();
    }
  }
  /* The blocked pack only where the Winograd route is not taken: a run on another plane size (a symbolic dim fed
   * differently) still goes through Winograd, which serves every 3x3 stride-1 plane, rather than having both packs
   * made at session creation for a case that never comes. */
  size_t n = st->depthwise ? oxrt_nchwc_dw_packed_floats(&st->g) : oxrt_nchwc_conv_packed_floats(&st->g);
  if (bf16) {
    st->wh = malloc(sizeof(uint16_t) * (n ? n : 1));
    if (!st->wh) return OXRT_OOM();
    oxrt_nchwc_conv_pack_bf16(&st->g, st->M_real, st->C_real, w->data, st->wh);
  } else if (!st->wino.wino) {
    /* the session allocator: in prepare mode its pages come in one call, or from a weight copy just released */
    st->w = oxrt_aligned_alloc(sizeof(float) * (n ? n : 1));
    if (!st->w) return OXRT_OOM();
    if (st->depthwise) oxrt_nchwc_dw_pack(&st->g, st->C_real, w->data, st->w);
    else oxrt_nchwc_conv_pack(&st->g, st->M_real, st->C_real, w->data, st->w);
  }
  oxrt_prepare_consume(pc, wi);
  if (b) {
    st->bias = calloc(st->g.M, sizeof(float));
    if (!st->bias) return OXRT_OOM();
    memcpy(st->bias, b->data, sizeof(float) * st->M_real);
    oxrt_prepare_consume(pc, bi);
  }
  return NULL;
}

static bool is_weight(const oxrt_value *w) {
  return w && w->kind == OXRT_KIND_TENSOR && w->dtype == OXRT_FLOAT && w->rank == 4 && w->data;
}

static bool is_bias(const oxrt_value *b, const oxrt_value *w) {
  return b && b->dtype == OXRT_FLOAT && b->rank == 1 && b->dims[0] == w->dims[0] && b->data;
}

/* The static plane [H, W] of input 0, or false when unknown. */
static bool static_plane(const oxrt_prepare_ctx *pc, int64_t *hw) {
  const oxrt_type *xt = oxrt_prepare_input_type(pc, 0);
  if (!xt || xt->kind != OXRT_KIND_TENSOR || xt->rank != 4 || !xt->dims || xt->dims[2] <= 0 || xt->dims[3] <= 0)
    return false;
  hw[0] = xt->dims[2], hw[1] = xt->dims[3];
  return true;
}

static oxrt_status *nchwc_conv_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_value *w = oxrt_prepare_constant(pc, 1), *b = oxrt_prepare_constant(pc, 2);
  if (!is_weight(w))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (W): expected a constant float [M, C, kh, kw]");
  if (pc->n_inputs > 2 && pc->node->inputs[2] >= 0 && !is_bias(b, w))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2 (B): expected a constant float [M]");
  nchwc_conv_state *st = calloc(1, sizeof *st);
  if (!st) return OXRT_OOM();
  *state = st;
  OXRT_TRY(conv_fused_act_parse(pc->node, &st->act));
  st->has_post = oxrt_node_attr(pc->node, "post_scale") || oxrt_node_attr(pc->node, "post_shift");
  st->post[0] = oxrt_attr_float(pc->node, "post_scale", 1.0f);
  st->post[1] = oxrt_attr_float(pc->node, "post_shift", -0.0f);
  const int64_t group = oxrt_attr_int(pc->node, "group", 1);
  st->nchw_input = oxrt_attr_int(pc->node, "nchw_input", 0) != 0;
  int64_t hw[2];
  oxrt_conv_shape cs;
  bool known = group == 1 && !st->nchw_input && static_plane(pc, hw);
  if (known) {
    oxrt_value xs = {.kind = OXRT_KIND_TENSOR, .dtype = OXRT_FLOAT, .rank = 4, .dims = {1, w->dims[1], hw[0], hw[1]}};
    oxrt_status *gs = conv_geometry(pc->node, &xs, w, &cs);
    known = !gs;
    oxrt_status_free(gs);
  }
  return conv_setup(pc, st, group, w, 1, b && pc->node->inputs[2] >= 0 ? b : NULL, 2, known ? &cs : NULL);
}

/* The Winograd conv straight on the blocked X, Z and Y (oxrt_wino_run_blocked): its transforms read and write one
 * channel of a block at a time, instead of two reorders around an NCHW conv (resnet18 at 1 thread: the reorders
 * were 5% of its time). */
static oxrt_status *wino_route(oxrt_kernel_ctx *ctx, const nchwc_conv_state *st, oxrt_conv_shape *s,
                               const oxrt_nchwc_geom *g, const float *x, const float *z, float *y) {
  const size_t OHW = (size_t)(g->OH * g->OW), B = (size_t)g->B;
  s->C = st->C_real;
  if (!oxrt_wino_run_blocked(s, (int)B, x, st->wino.wino, st->bias, z, st->act, y, ctx->pool)) return OXRT_OOM();
  /* pad channels: act(0), as the direct kernel leaves them (finite) */
  if (st->M_real % B) {
    float pad = 0.0f;
    oxrt_act_apply(st->act, &pad, 1);
    for (size_t n = 0; n < g->N; n++) {
      float *last = y + ((n + 1) * (g->M / B) - 1) * OHW * B;
      for (size_t p = 0; p < OHW; p++)
        for (size_t b = st->M_real % B; b < B; b++) last[p * B + b] = pad;
    }
  }
  return NULL;
}

/* The geometry of st's conv from the shape s of one run. */
static oxrt_nchwc_geom run_geom(const nchwc_conv_state *st, const oxrt_conv_shape *s) {
  oxrt_nchwc_geom g = st->g;
  g.N = s->N, g.H = s->in[0], g.W = s->in[1], g.OH = s->out[0], g.OW = s->out[1];
  g.sh = s->stride[0], g.sw = s->stride[1], g.dh = s->dil[0], g.dw = s->dil[1], g.pt = s->pad[0], g.pl = s->pad[1];
  g.pb = (g.OH - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.H - g.pt;
  g.pr = (g.OW - 1) * g.sw + (g.kw - 1) * g.dw + 1 - g.W - g.pl;
  if (g.pb < 0) g.pb = 0;
  if (g.pr < 0) g.pr = 0;
  return g;
}

/* The direct routes of conv_exec; *done: post was applied. */
static oxrt_status *conv_exec_direct(oxrt_kernel_ctx *ctx, const nchwc_conv_state *st, const oxrt_nchwc_geom *g,
                                     const float *x, const float *z, const float *post, float *y, bool *done) {
  if (st->wh && !oxrt_sgemm_bf16_native())
    return oxrt_error(OXRT_ERR_RUNTIME, "weights were packed in bfloat16 at session creation, but AVX512_BF16 is not "
                                        "usable now (OXRT_ISA capped below AVX-512 since?)");
  if (st->nchw_input && st->wh) {
    if (!oxrt_nchwc_conv_nchw_input_bf16(g, st->C_real, x, st->wh, st->bias, z, st->act, y, ctx->pool))
      return OXRT_OOM();
  } else if (st->nchw_input)
    oxrt_nchwc_conv_nchw_input(g, st->C_real, x, st->w, st->bias, z, st->act, y, nchwc_isa(), ctx->pool);
  else if (st->depthwise) oxrt_nchwc_dwconv(g, x, st->w, st->bias, z, st->act, y, nchwc_isa(), ctx->pool);
  else if (st->wh) {
    if (!oxrt_nchwc_conv_bf16_post(g, x, st->wh, st->bias, z, st->act, post, y, ctx->pool)) return OXRT_OOM();
    *done = true;
  } else {
    oxrt_nchwc_conv_post(g, x, st->w, st->bias, z, st->act, post, y, nchwc_isa(), ctx->pool);
    *done = true;
  }
  return NULL;
}

typedef struct {
  float *y;
  float a, b;
} post_job;

static void post_range(void *arg, size_t begin, size_t end) {
  const post_job *p = arg;
  for (size_t i = begin; i < end; i++) p->y[i] = p->y[i] * p->a + p->b;
}

/* Y = act(conv(X) + bias + Z) with st's weights, Y of g->N images of g->M channels (blocked); then * post[0] +
 * post[1] where st->has_post, in the kernel (group-1 direct routes) or over Y (the others). */
static oxrt_status *conv_exec(oxrt_kernel_ctx *ctx, const nchwc_conv_state *st, oxrt_conv_shape *s,
                              const oxrt_nchwc_geom *g, const float *x, const float *z, float *y) {
  const float *post = st->has_post ? st->post : NULL;
  bool done = false;
  if (st->wino.wino) {
    if (!oxrt_wino_shape_ok(s)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "expected a 3x3 stride-1 convolution");
    OXRT_TRY(wino_route(ctx, st, s, g, x, z, y));
  } else
    OXRT_TRY(conv_exec_direct(ctx, st, g, x, z, post, y, &done));
  if (post && !done) {
    post_job p = {y, post[0], post[1]};
    oxrt_parallel_for(ctx->pool, g->N * g->M * (size_t)(g->OH * g->OW), 65536, post_range, &p);
  }
  return NULL;
}

/* Checks X and W of a run and gives the conv's shape and blocked geometry. */
static oxrt_status *conv_run_geom(oxrt_kernel_ctx *ctx, const nchwc_conv_state *st, oxrt_conv_shape *s,
                                  oxrt_nchwc_geom *g) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 1);
  if (st->nchw_input) {
    OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
    if (x->dtype != OXRT_FLOAT || x->rank != 4 || (size_t)x->dims[1] != st->C_real)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (X): expected a float [N, %zu, H, W]", st->C_real);
  } else {
    OXRT_TRY(nchwc_check_blocked(x, 0, "X", st->g.B));
    if ((size_t)x->dims[1] != st->g.C)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (X): %lld channels, expected %zu (blocked)",
                        (long long)x->dims[1], st->g.C);
  }
  OXRT_TRY(oxrt_check_tensor(w, 1, "W"));
  /* the geometry of the real channel counts: conv_geometry checks W against them */
  oxrt_value xr = *x;
  xr.dims[1] = (int64_t)(st->depthwise ? st->C_real : (size_t)w->dims[1]);
  OXRT_TRY(conv_geometry(ctx->node, &xr, w, s));
  if (s->nd != 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "expected a 2-D convolution");
  *g = run_geom(st, s);
  return NULL;
}

static oxrt_status *nchwc_conv_run(oxrt_kernel_ctx *ctx) {
  const nchwc_conv_state *st = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0), *z = oxrt_input(ctx, 3);
  oxrt_conv_shape s;
  oxrt_nchwc_geom g;
  OXRT_TRY(conv_run_geom(ctx, st, &s, &g));
  const int64_t yd[4] = {(int64_t)g.N, (int64_t)g.M, g.OH, g.OW};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 4, yd, &y));
  if (z) {
    OXRT_TRY(nchwc_check_blocked(z, 3, "Sum", st->g.B));
    if (memcmp(z->dims, yd, sizeof yd))
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 3 (Sum): expected the shape of Y");
  }
  if (!y->count) return NULL;
  return conv_exec(ctx, st, &s, &g, x->data, z ? z->data : NULL, y->data);
}

/* The ONNX window rule, with the output channels padded to the block. */
static bool conv_out_shape(oxrt_infer_ctx *ctx, oxrt_tshape *out) {
  oxrt_tshape x, w;
  if (!oxrt_infer_input(ctx, 0, &x) || !oxrt_infer_input(ctx, 1, &w) || x.rank != 4 || w.rank != 4) return false;
  const oxrt_node *n = ctx->node;
  size_t ns, nd, np;
  const int64_t *str = oxrt_attr_ints(n, "strides", &ns), *dl = oxrt_attr_ints(n, "dilations", &nd);
  const int64_t *pd = oxrt_attr_ints(n, "pads", &np);
  const char *auto_pad = oxrt_attr_string(n, "auto_pad", "NOTSET");
  oxrt_tshape y = x;
  y.dims[1] = w.dims[0] < 0 ? -1 : (int64_t)oxrt_nchwc_padded((size_t)w.dims[0], nchwc_block());
  y.names[1] = NULL;
  for (int i = 0; i < 2; i++) {
    y.dims[2 + i] = oxrt_window_out(x.dims[2 + i], w.dims[2 + i], str && ns == 2 ? str[i] : 1,
                                    dl && nd == 2 ? dl[i] : 1, pd && np == 4 ? pd[i] : 0, pd && np == 4 ? pd[2 + i] : 0,
                                    auto_pad, false);
    y.names[2 + i] = NULL;
  }
  *out = y;
  return true;
}

static oxrt_status *nchwc_conv_infer(oxrt_infer_ctx *ctx) {
  oxrt_tshape y;
  return conv_out_shape(ctx, &y) ? oxrt_infer_output(ctx, 0, &y) : NULL;
}

static const oxrt_op_impl nchwc_conv_impls[] = {{.since_version = 1, .type_mask = OXRT_TBIT(OXRT_FLOAT),
                                                 .prepare = nchwc_conv_prepare, .run = nchwc_conv_run,
                                                 .release = nchwc_conv_release}};
OXRT_REGISTER_OP(nchwc_Conv) = {"com.microsoft.nchwc", "Conv", OXRT_IMPLS(nchwc_conv_impls),
                                .infer = nchwc_conv_infer, .flags = OXRT_OP_SAME_ELEM_TYPE};

/* ---- ConvConcat: Y = Concat(conv_0(X), ..., conv_K-1(X)) along the blocked channels, each conv written straight
 * into its slice of Y (a fire module's expand1x1 / expand3x3 pair: the Concat's copy was 2.4% of squeezenet1_1).
 * Inputs X (blocked), then W_k, B_k per conv (B_k may be omitted); attributes strides, dilations, activation and
 * activation_params shared by all, pads [top, left, bottom, right] per conv (4K ints). Each conv is a group-1
 * blocked Conv (Winograd where it pays); its output takes padded M_k channels: the layout pass merges a Concat only
 * when every conv but the last fills whole blocks, where this equals the plain channel Concat. */
#define CC_MAX 16

typedef struct {
  int K;
  int64_t str[2], dil[2], pads[CC_MAX][4];
  nchwc_conv_state br[CC_MAX];
} conv_concat_state;

static void conv_concat_release(void *state) {
  conv_concat_state *cc = state;
  if (!cc) return;
  for (int k = 0; k < cc->K; k++) conv_state_clear(&cc->br[k]);
  free(cc);
}

/* strides, dilations (2 each, default 1) and K pads into cc; false when malformed. */
static bool cc_attrs(const oxrt_node *n, int K, int64_t *str, int64_t *dil, int64_t (*pads)[4]) {
  size_t ns = 0, nd = 0, np = 0;
  const int64_t *s = oxrt_attr_ints(n, "strides", &ns), *d = oxrt_attr_ints(n, "dilations", &nd);
  const int64_t *p = oxrt_attr_ints(n, "pads", &np);
  if ((s && ns != 2) || (d && nd != 2) || (p && np != 4 * (size_t)K)) return false;
  for (int i = 0; i < 2; i++) {
    str[i] = s ? s[i] : 1, dil[i] = d ? d[i] : 1;
    if (str[i] < 1 || dil[i] < 1) return false;
  }
  for (int k = 0; k < K; k++)
    for (int i = 0; i < 4; i++) {
      pads[k][i] = p ? p[4 * k + i] : 0;
      if (pads[k][i] < 0) return false;
    }
  return true;
}

static oxrt_status *conv_concat_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const int K = (pc->n_inputs - 1) / 2;
  if (pc->n_inputs % 2 != 1 || K < 1 || K > CC_MAX)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "expected X and 1 to %d (W, B) pairs, got %d inputs", CC_MAX,
                      pc->n_inputs);
  conv_concat_state *cc = calloc(1, sizeof *cc);
  if (!cc) return OXRT_OOM();
  *state = cc;
  if (!cc_attrs(pc->node, K, cc->str, cc->dil, cc->pads))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "expected strides and dilations of 2 ints >= 1, %d pads >= 0", 4 * K);
  oxrt_activation act;
  OXRT_TRY(conv_fused_act_parse(pc->node, &act));
  int64_t hw[2] = {0, 0};
  const bool known = static_plane(pc, hw);
  for (int k = 0; k < K; k++) {
    const oxrt_value *w = oxrt_prepare_constant(pc, 1 + 2 * k), *b = oxrt_prepare_constant(pc, 2 + 2 * k);
    if (!is_weight(w) || (k && w->dims[1] != (int64_t)cc->br[0].C_real))
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (W): expected a constant float [M, C, kh, kw], C alike",
                        1 + 2 * k);
    if (pc->node->inputs[2 + 2 * k] >= 0 && !is_bias(b, w))
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (B): expected a constant float [M]", 2 + 2 * k);
    oxrt_conv_shape cs;
    if (known) branch_shape((size_t)w->dims[1], w->dims, hw[0], hw[1], cc->str, cc->dil, cc->pads[k], &cs);
    cc->br[k].act = act;
    cc->K = k + 1; /* released from here on */
    OXRT_TRY(conv_setup(pc, &cc->br[k], 1, w, 1 + 2 * k, pc->node->inputs[2 + 2 * k] >= 0 ? b : NULL, 2 + 2 * k,
                        known && cs.out[0] > 0 && cs.out[1] > 0 ? &cs : NULL));
  }
  return NULL;
}

static oxrt_status *conv_concat_run(oxrt_kernel_ctx *ctx) {
  const conv_concat_state *cc = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  const size_t B = (size_t)cc->br[0].g.B;
  OXRT_TRY(nchwc_check_blocked(x, 0, "X", (int)B));
  if ((size_t)x->dims[1] != cc->br[0].g.C)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (X): %lld channels, expected %zu (blocked)",
                      (long long)x->dims[1], cc->br[0].g.C);
  oxrt_conv_shape s[CC_MAX] = {{0}};
  size_t mtot = 0;
  for (int k = 0; k < cc->K; k++) {
    const oxrt_value *w = oxrt_input(ctx, 1 + 2 * k);
    OXRT_TRY(oxrt_check_tensor(w, 1 + 2 * k, "W"));
    branch_shape(cc->br[k].C_real, w->dims, x->dims[2], x->dims[3], cc->str, cc->dil, cc->pads[k], &s[k]);
    if (s[k].out[0] < 1 || s[k].out[1] < 1 || s[k].out[0] != s[0].out[0] || s[k].out[1] != s[0].out[1])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "conv %d: output plane %lldx%lld, expected a non-empty one alike",
                        k, (long long)s[k].out[0], (long long)s[k].out[1]);
    mtot += cc->br[k].g.M;
  }
  const size_t N = (size_t)x->dims[0], OHW = (size_t)(s[0].out[0] * s[0].out[1]);
  const size_t xstride = (size_t)x->dims[1] * (size_t)(x->dims[2] * x->dims[3]);
  const int64_t yd[4] = {(int64_t)N, (int64_t)mtot, s[0].out[0], s[0].out[1]};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 4, yd, &y));
  if (!y->count) return NULL;
  /* one image at a time: each conv's slice of Y is then one contiguous [M_k/B, OH, OW, B] run */
  for (size_t n = 0; n < N; n++) {
    size_t moff = 0;
    for (int k = 0; k < cc->K; k++) {
      oxrt_conv_shape sk = s[k];
      const oxrt_nchwc_geom g = run_geom(&cc->br[k], &sk);
      OXRT_TRY(conv_exec(ctx, &cc->br[k], &sk, &g, (const float *)x->data + n * xstride, NULL,
                         (float *)y->data + (n * mtot + moff) * OHW));
      moff += cc->br[k].g.M;
    }
  }
  return NULL;
}

static oxrt_status *conv_concat_infer(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  const int K = (n->n_inputs - 1) / 2;
  int64_t str[2], dil[2], pads[CC_MAX][4];
  oxrt_tshape x, w;
  if (n->n_inputs % 2 != 1 || K < 1 || K > CC_MAX || !cc_attrs(n, K, str, dil, pads) || !oxrt_infer_input(ctx, 0, &x) ||
      x.rank != 4)
    return NULL;
  oxrt_tshape y = x;
  y.dims[1] = 0;
  for (int k = 0; k < K; k++) {
    if (!oxrt_infer_input(ctx, 1 + 2 * k, &w) || w.rank != 4) return NULL;
    if (y.dims[1] >= 0)
      y.dims[1] = w.dims[0] < 0 ? -1 : y.dims[1] + (int64_t)oxrt_nchwc_padded((size_t)w.dims[0], nchwc_block());
    for (int i = 0; i < 2 && !k; i++)
      y.dims[2 + i] = oxrt_window_out(x.dims[2 + i], w.dims[2 + i], str[i], dil[i], pads[0][i], pads[0][2 + i],
                                      "NOTSET", false);
  }
  for (int i = 1; i < 4; i++) y.names[i] = NULL;
  return oxrt_infer_output(ctx, 0, &y);
}

static const oxrt_op_impl conv_concat_impls[] = {{.since_version = 1, .type_mask = OXRT_TBIT(OXRT_FLOAT),
                                                  .prepare = conv_concat_prepare, .run = conv_concat_run,
                                                  .release = conv_concat_release}};
OXRT_REGISTER_OP(nchwc_ConvConcat) = {"com.microsoft.nchwc", "ConvConcat", OXRT_IMPLS(conv_concat_impls),
                                      .infer = conv_concat_infer, .flags = OXRT_OP_SAME_ELEM_TYPE};

/* ---- ConvMaxPool: MaxPool(Conv(X)) a band of output rows at a time: each band's conv rows go to the thread's
 * scratch (L2-sized) and are pooled from there, so the conv's full-size output (squeezenet1_1's stem: 3.2 MB) is never
 * written to memory and read back. Attributes: the Conv's, and the MaxPool's as pool_kernel, pool_strides, pool_pads,
 * pool_dilations, pool_ceil_mode. Bands overlap by the pool window's extra rows, which are computed twice: the layout
 * pass fuses only convs cheap per output value (a stem), where that costs less than the memory traffic saved. */
typedef struct {
  const nchwc_conv_state *st;
  oxrt_nchwc_geom cg, pg; /* the conv's and the pool's geometry of one image */
  const float *x;
  size_t xstride; /* floats per image of X */
  float *y;
  int64_t rows;   /* pool output rows per band */
  size_t bands;   /* per image */
  atomic_bool oom;
} conv_pool_job;

static void conv_pool_range(void *arg, size_t b, size_t e) {
  conv_pool_job *j = arg;
  const oxrt_nchwc_geom *cg = &j->cg, *pg = &j->pg;
  const size_t B = (size_t)cg->B, Mb = cg->M / B, OW = (size_t)cg->OW, pOW = (size_t)pg->OW;
  const int64_t span = (pg->kh - 1) * pg->dh + 1;
  for (size_t it = b; it < e; it++) {
    const size_t n = it / j->bands;
    const int64_t p0 = (int64_t)(it % j->bands) * j->rows, p1 = p0 + j->rows < pg->OH ? p0 + j->rows : pg->OH;
    int64_t c0 = p0 * pg->sh - pg->pt, c1 = (p1 - 1) * pg->sh - pg->pt + span;
    c0 = c0 < 0 ? 0 : c0 > cg->OH ? cg->OH : c0;
    c1 = c1 < c0 ? c0 : c1 > cg->OH ? cg->OH : c1;
    float *yn = j->y + n * Mb * (size_t)(pg->OH * pg->OW) * B;
    if (c1 == c0) { /* every window of the band in the padding: MaxPool gives 0 there */
      for (size_t m = 0; m < Mb; m++)
        memset(yn + (m * (size_t)pg->OH + (size_t)p0) * pOW * B, 0, sizeof(float) * (size_t)(p1 - p0) * pOW * B);
      continue;
    }
    float *buf = oxrt_scratch_get(OXRT_SCRATCH_GEMM, sizeof(float) * Mb * (size_t)(c1 - c0) * OW * B);
    if (!buf) {
      atomic_store(&j->oom, true);
      return;
    }
    /* the conv over rows [c0, c1): the same input, the output origin moved down by c0 rows */
    oxrt_nchwc_geom g = *cg;
    g.OH = c1 - c0, g.pt = cg->pt - c0 * cg->sh, g.pb = 0;
    const float *xn = j->x + n * j->xstride;
    if (j->st->nchw_input)
      oxrt_nchwc_conv_nchw_input(&g, j->st->C_real, xn, j->st->w, j->st->bias, NULL, j->st->act, buf, nchwc_isa(),
                                 NULL);
    else oxrt_nchwc_conv(&g, xn, j->st->w, j->st->bias, NULL, j->st->act, buf, nchwc_isa(), NULL);
    /* the pool of output rows [p0, p1), one block at a time (the band's block stride is its own) */
    oxrt_nchwc_geom q = *pg;
    q.C = q.M = B, q.H = c1 - c0, q.OH = p1 - p0, q.pt = pg->pt + c0 - p0 * pg->sh, q.pb = 0;
    for (size_t m = 0; m < Mb; m++)
      oxrt_nchwc_pool(&q, OXRT_NCHWC_MAX, buf + m * (size_t)(c1 - c0) * OW * B,
                      yn + (m * (size_t)pg->OH + (size_t)p0) * pOW * B, nchwc_isa(), NULL);
  }
}

/* The pool's attributes (pool_*) over the conv's output plane; false when malformed. */
static bool pool_attrs(const oxrt_node *n, int64_t *k, int64_t *s, int64_t *d, int64_t *p, bool *ceil_mode) {
  size_t nk = 0, ns = 0, nd = 0, np = 0;
  const int64_t *vk = oxrt_attr_ints(n, "pool_kernel", &nk), *vs = oxrt_attr_ints(n, "pool_strides", &ns);
  const int64_t *vd = oxrt_attr_ints(n, "pool_dilations", &nd), *vp = oxrt_attr_ints(n, "pool_pads", &np);
  if (!vk || nk != 2 || (vs && ns != 2) || (vd && nd != 2) || (vp && np != 4)) return false;
  for (int i = 0; i < 2; i++) {
    k[i] = vk[i], s[i] = vs ? vs[i] : 1, d[i] = vd ? vd[i] : 1;
    if (k[i] < 1 || s[i] < 1 || d[i] < 1) return false;
  }
  for (int i = 0; i < 4; i++)
    if ((p[i] = vp ? vp[i] : 0) < 0) return false;
  *ceil_mode = oxrt_attr_int(n, "pool_ceil_mode", 0) != 0;
  return true;
}

static oxrt_status *conv_pool_run(oxrt_kernel_ctx *ctx) {
  const nchwc_conv_state *st = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  oxrt_conv_shape s;
  oxrt_nchwc_geom g;
  OXRT_TRY(conv_run_geom(ctx, st, &s, &g));
  int64_t k[2], str[2], dil[2], pads[4], out[2];
  bool ceil_mode;
  if (!pool_attrs(ctx->node, k, str, dil, pads, &ceil_mode))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "pool_kernel: 2 ints >= 1; pool_strides, pool_dilations: 2 ints >= 1; "
                                                 "pool_pads: 4 ints >= 0");
  const int64_t in[2] = {g.OH, g.OW};
  for (int i = 0; i < 2; i++) {
    out[i] = oxrt_window_out(in[i], k[i], str[i], dil[i], pads[i], pads[i + 2], "NOTSET", ceil_mode);
    if (out[i] < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "the pool window is larger than the padded input");
  }
  const oxrt_nchwc_geom pg = {.N = 1, .C = g.M, .M = g.M, .H = g.OH, .W = g.OW, .OH = out[0], .OW = out[1],
                              .kh = k[0], .kw = k[1], .sh = str[0], .sw = str[1], .dh = dil[0], .dw = dil[1],
                              .pt = pads[0], .pl = pads[1], .pb = pads[2], .pr = pads[3], .B = g.B};
  const int64_t yd[4] = {(int64_t)g.N, (int64_t)g.M, out[0], out[1]};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 4, yd, &y));
  if (!y->count) return NULL;
  const size_t conv_floats = g.N * g.M * (size_t)(g.OH * g.OW);
  if (st->wino.wino || st->wh || st->depthwise || !conv_floats) { /* whole: the conv's output, then the pool */
    float *t = oxrt_aligned_alloc(sizeof(float) * (conv_floats ? conv_floats : 1));
    if (!t) return OXRT_OOM();
    oxrt_status *e = conv_floats ? conv_exec(ctx, st, &s, &g, x->data, NULL, t) : NULL;
    oxrt_nchwc_geom q = pg;
    q.N = g.N;
    if (!e) oxrt_nchwc_pool(&q, OXRT_NCHWC_MAX, t, y->data, nchwc_isa(), ctx->pool);
    oxrt_aligned_free(t);
    return e;
  }
  /* bands of about 256 KB of conv output, at least two per thread */
  const int64_t row_bytes = g.OW * (int64_t)g.M * (int64_t)sizeof(float), nthr = oxrt_threadpool_size(ctx->pool);
  int64_t rows = (262144 / (row_bytes ? row_bytes : 1)) / pg.sh;
  const int64_t most = (pg.OH + 2 * nthr - 1) / (2 * nthr);
  rows = rows > most ? most : rows;
  rows = rows < 1 ? 1 : rows;
  conv_pool_job j = {.st = st, .cg = g, .pg = pg, .x = x->data, .y = y->data, .rows = rows,
                     .bands = (size_t)((pg.OH + rows - 1) / rows)};
  j.cg.N = 1;
  j.xstride = (size_t)(x->dims[1] * x->dims[2] * x->dims[3]);
  oxrt_parallel_for(ctx->pool, g.N * j.bands, 1, conv_pool_range, &j);
  return atomic_load(&j.oom) ? OXRT_OOM() : NULL;
}

static oxrt_status *conv_pool_infer(oxrt_infer_ctx *ctx) {
  oxrt_tshape y;
  int64_t k[2], str[2], dil[2], pads[4];
  bool ceil_mode;
  if (!conv_out_shape(ctx, &y) || !pool_attrs(ctx->node, k, str, dil, pads, &ceil_mode)) return NULL;
  for (int i = 0; i < 2; i++)
    y.dims[2 + i] = oxrt_window_out(y.dims[2 + i], k[i], str[i], dil[i], pads[i], pads[i + 2], "NOTSET", ceil_mode);
  return oxrt_infer_output(ctx, 0, &y);
}

static const oxrt_op_impl conv_pool_impls[] = {{.since_version = 1, .type_mask = OXRT_TBIT(OXRT_FLOAT),
                                                .prepare = nchwc_conv_prepare, .run = conv_pool_run,
                                                .release = nchwc_conv_release}};
OXRT_REGISTER_OP(nchwc_ConvMaxPool) = {"com.microsoft.nchwc", "ConvMaxPool", OXRT_IMPLS(conv_pool_impls),
                                       .infer = conv_pool_infer, .flags = OXRT_OP_SAME_ELEM_TYPE};
