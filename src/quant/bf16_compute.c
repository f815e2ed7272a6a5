/* bf16_compute.c - the session option that runs a float32 model's heavy ops (Conv, MatMul, Gemm, Attention)
 * with bfloat16 inputs and float32 accumulation.
 *
 * Mode 1 asks for hardware bfloat16: on a CPU with AVX512_BF16 (at the AVX-512 level) the session's prepare packs
 * the constant weights of Conv, MatMul and Gemm (and their fused forms) in bfloat16, and the GEMM then converts the
 * other operand while packing it and multiplies with VDPBF16PS into float32 sums (kernels/gemm_avx512bf16.c); no
 * graph rewrite. Elsewhere mode 1 runs in float32 (the documented fallback).
 * Mode 2 emulates bfloat16 hardware on any CPU: at session creation each float input of those ops is
 * routed through Cast(bfloat16) -> Cast(float), which rounds it to nearest even as VDPBF16PS's inputs are;
 * the product then accumulates in float32, so the numbers match bfloat16 hardware up to summation order. */
#include "../core/cpu.h"
#include "../kernels/gemm.h"
#include "../kernels/winograd.h"
#include "../exec/infer.h"
#include "bf16_compute.h"
#include "quant.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int oxrt_cpu_has_bf16(void) { return oxrt_cpu_has(OXRT_CPU_AVX512BF16) || oxrt_cpu_has(OXRT_CPU_AMXBF16); }

int oxrt_bf16_compute_native(void) { return oxrt_sgemm_bf16_native(); }

/* A Conv that runs float32 Winograd in mode 1 (oxrt_conv_f32_pack_bf16): 2-D, 3x3, stride 1, its static input
 * shape known and Winograd paying for it. */
static bool conv_stays_winograd(const oxrt_graph *g, const oxrt_node *n) {
  if (n->n_inputs < 2 || oxrt_attr_int(n, "group", 1) != 1) return false;
  int64_t x[OXRT_MAX_RANK], w[OXRT_MAX_RANK];
  if (opt_shape(g, n->inputs[0], x) != 4 || opt_shape(g, n->inputs[1], w) != 4) return false;
  size_t ns = 0, nd = 0, np = 0;
  const int64_t *st = oxrt_attr_ints(n, "strides", &ns), *dl = oxrt_attr_ints(n, "dilations", &nd);
  const int64_t *pd = oxrt_attr_ints(n, "pads", &np);
  const char *ap = oxrt_attr_string(n, "auto_pad", "NOTSET");
  oxrt_conv_shape s = {.nd = 2, .N = 1, .C = (size_t)x[1], .M = (size_t)w[0], .group = 1};
  for (int d = 0; d < 2; d++) {
    s.in[d] = x[2 + d], s.k[d] = w[2 + d], s.stride[d] = st && ns == 2 ? st[d] : 1, s.dil[d] = dl && nd == 2 ? dl[d] : 1;
    int64_t total = pd && np == 4 ? pd[d] + pd[2 + d] : 0;
    s.pad[d] = pd && np == 4 ? pd[d] : 0;
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) total = s.k[d] - 1, s.pad[d] = strcmp(ap, "SAME_LOWER") ? total / 2 : (total + 1) / 2;
    s.out[d] = x[2 + d] > 0 ? (x[2 + d] + total - s.dil[d] * (s.k[d] - 1) - 1) / s.stride[d] + 1 : 0;
  }
  return x[1] > 0 && w[0] > 0 && oxrt_wino_pays(&s);
}

/* Whether input k of node n takes bfloat16: the data inputs of a heavy op (biases and the like stay float32). */
static bool heavy_input(const oxrt_graph *g, const oxrt_node *n, int k) {
  static const char *const two[] = {"Conv", "MatMul", "Gemm", "FusedConv", "FusedMatMul", "FusedGemm", "Attention"};
  if (!*n->domain && !strcmp(n->op_type, "Attention")) return k < 3; /* ai.onnx Attention: Q, K, V */
  /* the blocked-layout convs that mode 1 runs in bfloat16: group 1 (not depthwise), the NCHW-input stem too, the
   * stem fused with its MaxPool, and the convs of a ConvConcat (X, then each conv's W and bias) */
  if (!strcmp(n->domain, "com.microsoft.nchwc")) {
    if (!strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "ConvMaxPool"))
      return k < 2 && oxrt_attr_int(n, "group", 1) == 1;
    return !strcmp(n->op_type, "ConvConcat") && (k == 0 || k % 2 == 1);
  }
  if (!strcmp(n->domain, "oxrt.session") && !strcmp(n->op_type, "MatMulBiasAct")) return k < 2; /* not its bias */
  if (*n->domain && strcmp(n->domain, "com.microsoft")) return false;
  if ((!strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "FusedConv")) && conv_stays_winograd(g, n)) return false;
  for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
    if (!strcmp(n->op_type, two[i])) return k < 2;
  return false;
}

/* x rounded to bfloat16 and back, to nearest even (NaN and infinities kept), as Cast(bfloat16) does */
static float bf16_round(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return x;
  u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
  memcpy(&x, &u, sizeof x);
  return x;
}

oxrt_status *oxrt_bf16_prepare_model(oxrt_model *m, int mode, int *n_rounded) {
  *n_rounded = 0;
  if (mode != 2) return NULL;
  qg_ctx c = {.opt = {.model = m}, .g = m->graph};
  oxrt_graph *g = m->graph;
  /* static shapes of the values the optimizer made, for conv_stays_winograd (a failure leaves them unknown: the
   * session's own inference reports it) */
  oxrt_status_free(oxrt_infer_graph(m, g, 0));
  int n0 = g->n_nodes, nv = g->n_values;
  int *rounded = malloc(sizeof(int) * ((size_t)nv + 1)); /* per value: its rounded copy */
  if (!rounded) return OXRT_OOM();
  for (int i = 0; i < nv; i++) rounded[i] = -1;
  oxrt_status *st = NULL;
  for (int i = 0; !st && i < n0; i++) {
    for (int k = 0; !st && k < g->nodes[i].n_inputs; k++) {
      int x = g->nodes[i].inputs[k];
      if (x < 0 || x >= nv || !heavy_input(g, &g->nodes[i], k) || opt_value_type(g, x) != OXRT_FLOAT) continue;
      const oxrt_value *cv = opt_const(g, x);
      if (rounded[x] < 0 && cv && cv->kind == OXRT_KIND_TENSOR && cv->data) {
        /* a constant (weights): a rounded copy, so that kernels which pack constants still see one */
        oxrt_value *r = NULL;
        if ((st = oxrt_value_clone(cv, &r))) break;
        float *f = r->data;
        for (size_t e = 0; e < r->count; e++) f[e] = bf16_round(f[e]);
        int id = qg_const_tensor(&c, g->values[x].name, r);
        if (id < 0) {
          st = OXRT_OOM();
          break;
        }
        g = c.g;
        rounded[x] = id;
        (*n_rounded)++;
      } else if (rounded[x] < 0) {
        const char *name = g->values[x].name;
        int b = qg_new_value(&c, name, "_bf16"), r = qg_new_value(&c, name, "_bf16_rounded");
        int c1 = b < 0 || r < 0 ? -1 : qg_add_node(&c, "Cast", "", name, &x, 1, &b, 1);
        int c2 = c1 < 0 ? -1 : qg_add_node(&c, "Cast", "", name, &b, 1, &r, 1);
        if (c2 < 0 || (st = qg_attr_int(&c, c1, "to", OXRT_BFLOAT16)) || (st = qg_attr_int(&c, c2, "to", OXRT_FLOAT))) {
          if (!st) st = OXRT_OOM();
          break;
        }
        rounded[x] = r;
        (*n_rounded)++;
      }
      g->nodes[i].inputs[k] = rounded[x];
    }
  }
  free(rounded);
  return st ? st : qg_topo_sort(g);
}
