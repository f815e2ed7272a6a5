/* conv_util.h - private to the Conv family (Conv, ConvInteger, QLinearConv, DeformConv): geometry from the
 * attributes (kernel_shape, strides, dilations, pads, auto_pad, group) checked against X and W. */
#ifndef OXRT_OPS_CONV_UTIL_H
#define OXRT_OPS_CONV_UTIL_H
#include "../../kernels/im2col.h"
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reads an ints attribute of `n` entries (or `dflt` everywhere when absent) into out; checks each >= lo. */
static inline oxrt_status *conv_ints_attr(const oxrt_node *node, const char *name, int n, int64_t dflt, int64_t lo,
                                          int64_t *out) {
  size_t cnt = 0;
  const int64_t *v = oxrt_attr_ints(node, name, &cnt);
  if (!v) {
    for (int i = 0; i < n; i++) out[i] = dflt;
    return NULL;
  }
  if (cnt != (size_t)n)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute %s has %zu values, expected %d", name, cnt, n);
  for (int i = 0; i < n; i++) {
    if (v[i] < lo) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute %s[%d] = %lld, must be >= %lld", name, i,
                                     (long long)v[i], (long long)lo);
    out[i] = v[i];
  }
  return NULL;
}

/* Input and kernel spatial sizes from X and W, checked against a kernel_shape attribute if present
 * (shared by Conv and ConvTranspose). */
static inline oxrt_status *conv_spatial_dims(const oxrt_node *node, const oxrt_value *x, const oxrt_value *w, int nd,
                                             oxrt_conv_shape *s) {
  size_t kc = 0;
  const int64_t *ks = oxrt_attr_ints(node, "kernel_shape", &kc);
  if (ks && kc != (size_t)nd)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute kernel_shape has %zu values, expected %d", kc, nd);
  for (int d = 0; d < nd; d++) {
    s->in[d] = x->dims[d + 2];
    s->k[d] = w->dims[d + 2];
    if (ks && ks[d] != s->k[d])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "kernel_shape[%d] = %lld but W has %lld", d, (long long)ks[d],
                        (long long)s->k[d]);
  }
  return NULL;
}

/* Geometry of a forward convolution of X [N, C, in...] by W [M, C/group, k...]. */
static inline oxrt_status *conv_geometry(const oxrt_node *node, const oxrt_value *x, const oxrt_value *w,
                                         oxrt_conv_shape *s) {
  memset(s, 0, sizeof *s);
  if (x->rank < 3) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (X): expected rank >= 3, got %d", x->rank);
  if (w->rank != x->rank)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (W): expected rank %d like X, got %d", x->rank, w->rank);
  int nd = x->rank - 2;
  if (nd > OXRT_CONV_MAX_DIMS) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "%d spatial dimensions (at most %d)", nd,
                                                 OXRT_CONV_MAX_DIMS);
  s->nd = nd;
  int64_t group = oxrt_attr_int(node, "group", 1);
  if (group < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute group = %lld, must be >= 1", (long long)group);
  s->N = (size_t)x->dims[0];
  s->C = (size_t)x->dims[1];
  s->M = (size_t)w->dims[0];
  s->group = (size_t)group;
  if (s->C % s->group || s->M % s->group)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "channels in (%zu) and out (%zu) must be multiples of group %zu", s->C,
                      s->M, s->group);
  if ((size_t)w->dims[1] != s->C / s->group)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (W): dim 1 is %lld, expected C/group = %zu",
                      (long long)w->dims[1], s->C / s->group);
  OXRT_TRY(conv_spatial_dims(node, x, w, nd, s));
  OXRT_TRY(conv_ints_attr(node, "strides", nd, 1, 1, s->stride));
  OXRT_TRY(conv_ints_attr(node, "dilations", nd, 1, 1, s->dil));
  int64_t pads[2 * OXRT_CONV_MAX_DIMS];
  OXRT_TRY(conv_ints_attr(node, "pads", 2 * nd, 0, 0, pads));
  const char *ap = oxrt_attr_string(node, "auto_pad", "NOTSET");
  bool same_u = !strcmp(ap, "SAME_UPPER"), same_l = !strcmp(ap, "SAME_LOWER"), valid = !strcmp(ap, "VALID");
  if (!same_u && !same_l && !valid && strcmp(ap, "NOTSET") && *ap)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute auto_pad = '%s' is not supported", ap);
  for (int d = 0; d < nd; d++) {
    int64_t ek = (s->k[d] - 1) * s->dil[d] + 1; /* dilated kernel extent */
    if (same_u || same_l) {
      int64_t o = (s->in[d] + s->stride[d] - 1) / s->stride[d];
      int64_t total = (o - 1) * s->stride[d] + ek - s->in[d];
      if (total < 0) total = 0;
      s->pad[d] = same_u ? total / 2 : total - total / 2;
      s->out[d] = o;
    } else {
      int64_t pb = valid ? 0 : pads[d], pe = valid ? 0 : pads[d + nd];
      int64_t span = s->in[d] + pb + pe - ek;
      s->pad[d] = pb;
      s->out[d] = span < 0 ? 0 : span / s->stride[d] + 1;
      if (span < 0 && s->in[d] > 0)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                          "spatial dim %d: padded input %lld is smaller than the dilated kernel %lld", d,
                          (long long)(s->in[d] + pb + pe), (long long)ek);
    }
  }
  return NULL;
}

/* Output dims [N, M, out...]. */
static inline int conv_out_dims(const oxrt_conv_shape *s, int64_t *dims) {
  dims[0] = (int64_t)s->N;
  dims[1] = (int64_t)s->M;
  for (int d = 0; d < s->nd; d++) dims[d + 2] = s->out[d];
  return s->nd + 2;
}

/* The activation of com.microsoft FusedConv (and com.microsoft.nchwc Conv) from its attributes: Conv, then + Z, then
 * the activation, all in the kernels' output pass. Beyond ONNX Runtime's set (Relu, Tanh, Sigmoid, LeakyRelu, Clip,
 * HardSigmoid) the names of oxrt's fused activations are accepted too (HardSwish, Silu/Swish, Gelu, FastGelu), for
 * the optimizer's fusions. */
static inline oxrt_status *conv_fused_act_parse(const oxrt_node *node, oxrt_activation *fa) {
  const char *name = oxrt_attr_string(node, "activation", "");
  size_t np = 0;
  const float *pv = oxrt_attr_floats(node, "activation_params", &np);
  static const struct {
    const char *name;
    oxrt_act kind;
    int nparams;
    float a, b;
  } tab[] = {{"", OXRT_ACT_NONE, 0, 0, 0},
             {"Relu", OXRT_ACT_RELU, 0, 0, 0},
             {"Tanh", OXRT_ACT_TANH, 0, 0, 0},
             {"Sigmoid", OXRT_ACT_SIGMOID, 0, 0, 0},
             {"LeakyRelu", OXRT_ACT_LEAKY_RELU, 1, 0.01f, 0},
             {"Clip", OXRT_ACT_CLIP, 2, -INFINITY, INFINITY},
             {"HardSigmoid", OXRT_ACT_HARD_SIGMOID, 2, 0.2f, 0.5f},
             {"HardSwish", OXRT_ACT_HARD_SWISH, 0, 0, 0},
             {"Silu", OXRT_ACT_SILU, 0, 0, 0},
             {"Swish", OXRT_ACT_SILU, 0, 0, 0},
             {"Gelu", OXRT_ACT_GELU, 0, 0, 0},
             {"FastGelu", OXRT_ACT_GELU_TANH, 0, 0, 0}};
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
    if (!strcmp(name, tab[i].name)) {
      if (pv && np != (size_t)tab[i].nparams)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "activation %s takes %d activation_params, got %zu", name,
                          tab[i].nparams, np);
      fa->kind = tab[i].kind;
      fa->a = pv && np > 0 ? pv[0] : tab[i].a;
      fa->b = pv && np > 1 ? pv[1] : tab[i].b;
      return NULL;
    }
  return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "activation '%s' is not supported", name);
}

#endif
