/* ConvTranspose.c - transposed (fractionally strided) convolution, N-D, with groups, dilations, strides,
 * pads, output_padding, output_shape and auto_pad. Computed as one GEMM per image-group (W^T * X) followed
 * by col2im, through float32 for float/float16/bfloat16 and double for double. */
#include "conv_util.h"
#include "../infer_rules.h"
#include "linalg_util.h"

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

static oxrt_status *convt_geometry(const oxrt_node *node, const oxrt_value *x, const oxrt_value *w,
                                   oxrt_conv_shape *s) {
  memset(s, 0, sizeof *s);
  if (x->rank < 3) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (X): expected rank >= 3, got %d", x->rank);
  if (w->rank != x->rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (W): expected rank %d like X, got %d", x->rank, w->rank);
  int nd = x->rank - 2;
  if (nd > OXRT_CONV_MAX_DIMS) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "%d spatial dimensions", nd);
  s->nd = nd;
  int64_t group = oxrt_attr_int(node, "group", 1);
  if (group < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute group = %lld, must be >= 1", (long long)group);
  s->group = (size_t)group;
  s->N = (size_t)x->dims[0];
  s->C = (size_t)x->dims[1];
  if ((size_t)w->dims[0] != s->C || s->C % s->group)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "W dim 0 (%lld) must equal the input channels %zu, a multiple of group %zu",
                      (long long)w->dims[0], s->C, s->group);
  s->M = (size_t)w->dims[1] * s->group;
  OXRT_TRY(conv_spatial_dims(node, x, w, nd, s));
  int64_t opad[OXRT_CONV_MAX_DIMS], pads[2 * OXRT_CONV_MAX_DIMS];
  OXRT_TRY(conv_ints_attr(node, "strides", nd, 1, 1, s->stride));
  OXRT_TRY(conv_ints_attr(node, "dilations", nd, 1, 1, s->dil));
  OXRT_TRY(conv_ints_attr(node, "output_padding", nd, 0, 0, opad));
  bool have_pads = oxrt_node_attr(node, "pads") != NULL;
  OXRT_TRY(conv_ints_attr(node, "pads", 2 * nd, 0, INT64_MIN, pads));
  size_t osc = 0;
  const int64_t *os = oxrt_attr_ints(node, "output_shape", &osc);
  if (os && osc != (size_t)nd && osc != (size_t)nd + 2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute output_shape has %zu values, expected %d", osc, nd);
  if (os && osc == (size_t)nd + 2) os += 2; /* given with batch and channels */
  const char *ap = oxrt_attr_string(node, "auto_pad", "NOTSET");
  bool same_u = !strcmp(ap, "SAME_UPPER"), same_l = !strcmp(ap, "SAME_LOWER"), valid = !strcmp(ap, "VALID");
  if (!same_u && !same_l && !valid && strcmp(ap, "NOTSET") && *ap)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute auto_pad = '%s' is not supported", ap);
  for (int d = 0; d < nd; d++) {
    if (opad[d] >= s->stride[d] && opad[d] >= s->dil[d])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output_padding[%d] = %lld must be smaller than stride or dilation",
                        d, (long long)opad[d]);
    int64_t ek = (s->k[d] - 1) * s->dil[d] + 1;
    int64_t full = s->stride[d] * (s->in[d] - 1) + opad[d] + ek;
    if (os || ((same_u || same_l) && !have_pads)) {
      /* Output size fixed: the total padding follows; SAME_UPPER puts the odd unit at the end. */
      int64_t out = os ? os[d] : s->in[d] * s->stride[d];
      int64_t total = full - out;
      s->pad[d] = same_u ? floor_div(total, 2) : total - floor_div(total, 2);
      s->out[d] = out;
    } else {
      int64_t pb = valid ? 0 : pads[d], pe = valid ? 0 : pads[d + nd];
      s->pad[d] = pb;
      s->out[d] = full - pb - pe;
    }
    if (s->out[d] < 0)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "spatial dim %d: output size %lld is negative", d,
                        (long long)s->out[d]);
  }
  return NULL;
}

static oxrt_status *convt_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 1), *b = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(w, 1, "W"));
  if (b) OXRT_TRY(oxrt_check_tensor(b, 2, "B"));
  if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "X, W and B must share an element type");
  oxrt_conv_shape s;
  OXRT_TRY(convt_geometry(ctx->node, x, w, &s));
  if (b && (b->rank != 1 || (size_t)b->dims[0] != s.M))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2 (B): expected shape [%zu]", s.M);
  int64_t yd[OXRT_MAX_RANK];
  int yr = conv_out_dims(&s, yd);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, yr, yd, &y));
  if (y->count == 0) return NULL;
  if (x->dtype == OXRT_DOUBLE) {
    if (!oxrt_conv_transpose_f64(&s, x->data, w->data, b ? b->data : NULL, y->data, ctx->pool)) return OXRT_OOM();
    return NULL;
  }
  const float *xf = NULL, *wf = NULL, *bf = NULL;
  float *xt = NULL, *wt = NULL, *bt = NULL, *yf = NULL, *yt = NULL;
  oxrt_status *st = NULL;
  if (!(st = oxrt_f32_view(x, &xf, &xt)) && !(st = oxrt_f32_view(w, &wf, &wt)) && !(b && (st = oxrt_f32_view(b, &bf, &bt))) &&
      !(st = la_f32_out(y, &yf, &yt))) {
    if (!oxrt_conv_transpose_f32(&s, xf, wf, bf, yf, ctx->pool)) st = OXRT_OOM();
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

#define CONVT_T1 (OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_DOUBLE) | OXRT_TBIT(OXRT_FLOAT16))
static const oxrt_op_impl convt_impls[] = {
    {.since_version = 1, .type_mask = CONVT_T1, .run = convt_run},
    {.since_version = 11, .type_mask = CONVT_T1, .run = convt_run},
    {.since_version = 22, .type_mask = CONVT_T1 | OXRT_TBIT(OXRT_BFLOAT16), .run = convt_run},
};
/* [N, W.dims[1] * group, stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - pads], or output_shape. */
static oxrt_status *infer_conv_transpose(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  oxrt_tshape x, w, out;
  if (!oxrt_infer_input(ctx, 0, &x) || !oxrt_infer_input(ctx, 1, &w) || x.rank < 3 || w.rank != x.rank) return NULL;
  int sp = x.rank - 2;
  size_t nk, ns, nd, np, nop, nos;
  const int64_t *ks = oxrt_attr_ints(n, "kernel_shape", &nk), *st = oxrt_attr_ints(n, "strides", &ns);
  const int64_t *dl = oxrt_attr_ints(n, "dilations", &nd), *pd = oxrt_attr_ints(n, "pads", &np);
  const int64_t *op = oxrt_attr_ints(n, "output_padding", &nop), *os = oxrt_attr_ints(n, "output_shape", &nos);
  const char *auto_pad = oxrt_attr_string(n, "auto_pad", "NOTSET");
  int64_t group = oxrt_attr_int(n, "group", 1);
  out = x;
  out.names[1] = NULL;
  if (w.dims[1] < 0 || __builtin_mul_overflow(w.dims[1], group, &out.dims[1])) out.dims[1] = -1;
  for (int i = 0; i < sp; i++) {
    int64_t in = x.dims[2 + i], k = ks && (int)nk == sp ? ks[i] : w.dims[2 + i];
    int64_t s = st && (int)ns == sp ? st[i] : 1, d = dl && (int)nd == sp ? dl[i] : 1;
    int64_t o = op && (int)nop == sp ? op[i] : 0, v = -1;
    /* hostile attributes leave the size unknown; the kernel reports them */
    bool hostile = o < -(1 << 30) || o > (1 << 30);
    int64_t pads = 0;
    if (pd && (int)np == 2 * sp && strcmp(auto_pad, "VALID") != 0) {
      hostile |= pd[i] < 0 || pd[i] > (1 << 30) || pd[sp + i] < 0 || pd[sp + i] > (1 << 30);
      if (!hostile) pads = pd[i] + pd[sp + i];
    }
    out.names[2 + i] = NULL;
    if (os && (int)nos == sp) v = os[i];
    else if (os) v = -1;
    else if (hostile || in < 0 || k < 0 || s < 1 || d < 1 || in > (1 << 30) || k > (1 << 20) || s > (1 << 20) ||
             d > (1 << 20))
      v = -1;
    else if (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER"))
      v = in * s;
    else
      v = s * (in - 1) + o + (k - 1) * d + 1 - pads;
    out.dims[2 + i] = v < 0 ? -1 : v;
  }
  return oxrt_infer_output(ctx, 0, &out);
}

OXRT_REGISTER_OP(ConvTranspose) = {"", "ConvTranspose", OXRT_IMPLS(convt_impls), .infer = infer_conv_transpose};
