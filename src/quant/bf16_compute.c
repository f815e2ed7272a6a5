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
#include "bf16_compute.h"
#include "quant.h"
#include <stdlib.h>
#include <string.h>

int oxrt_cpu_has_bf16(void) { return oxrt_cpu_has(OXRT_CPU_AVX512BF16) || oxrt_cpu_has(OXRT_CPU_AMXBF16); }

int oxrt_bf16_compute_native(void) { return oxrt_sgemm_bf16_native(); }

/* Inputs of a heavy op that take bfloat16 (the rest, e.g. biases, stay float32). */
static int heavy_inputs(const oxrt_node *n) {
  static const char *const two[] = {"Conv", "MatMul", "Gemm", "FusedConv", "FusedMatMul", "FusedGemm", "Attention"};
  if (!*n->domain && !strcmp(n->op_type, "Attention")) return 3; /* ai.onnx Attention: Q, K, V */
  if (*n->domain && strcmp(n->domain, "com.microsoft")) return 0;
  for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
    if (!strcmp(n->op_type, two[i])) return 2;
  return 0;
}

oxrt_status *oxrt_bf16_prepare_model(oxrt_model *m, int mode, int *n_rounded) {
  *n_rounded = 0;
  if (mode != 2) return NULL;
  qg_ctx c = {.opt = {.model = m}, .g = m->graph};
  oxrt_graph *g = m->graph;
  int n0 = g->n_nodes, nv = g->n_values;
  int *rounded = malloc(sizeof(int) * ((size_t)nv + 1)); /* per value: its rounded copy */
  if (!rounded) return OXRT_OOM();
  for (int i = 0; i < nv; i++) rounded[i] = -1;
  oxrt_status *st = NULL;
  for (int i = 0; !st && i < n0; i++) {
    int k_max = heavy_inputs(&g->nodes[i]);
    for (int k = 0; !st && k < k_max && k < g->nodes[i].n_inputs; k++) {
      int x = g->nodes[i].inputs[k];
      if (x < 0 || x >= nv || opt_value_type(g, x) != OXRT_FLOAT) continue;
      if (rounded[x] < 0) {
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
