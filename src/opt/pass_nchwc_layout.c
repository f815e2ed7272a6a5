/* pass_nchwc_layout.c - the blocked-channel layout (kernels/nchwc.h) for the CNN parts of a float model, run by the
 * session only (opt_session.c), after the fusions: the block size depends on the CPU, so the result is never saved.
 *
 * Nodes are taken in topological order. A 2-D float Conv / FusedConv with constant weights (group 1, or depthwise)
 * becomes com.microsoft.nchwc Conv and starts or extends a region (group 1 with fewer than B/2 input channels, an
 * RGB stem, reads its NCHW input as it is: nchw_input); these extend a region when their input is blocked:
 * MaxPool / AveragePool (2-D, no Indices), GlobalAveragePool / GlobalMaxPool (-> com.microsoft.nchwc), the unary
 * ops that keep finite values finite (Relu, Clip, Sigmoid, HardSigmoid, HardSwish, LeakyRelu, Tanh, com.microsoft
 * QuickGelu / Gelu / FastGelu without bias: unchanged, they run elementwise on the blocked tensor), Add / Mul of two
 * blocked tensors of one shape (unchanged), Concat along the channels when every input but the last fills whole
 * blocks (unchanged: then the blocked concat is the plain one), and Mul / Add of a blocked [N, C, H, W] by an
 * [N, C, 1, 1] (squeeze-excitation: -> com.microsoft.nchwc ChannelMul / ChannelAdd), Add / Mul of a blocked tensor and
 * a finite constant scalar (unchanged: it broadcasts over the blocked tensor). Anything else ends the region.
 * A converted node writes a new blocked value; ReorderInput makes the blocked form of an NCHW input (once per
 * value), ReorderOutput (channels = the real count) gives the original value back to every reader outside the
 * region and to graph outputs. A blocked channel Concat of group-1 convs that read one input and nothing else reads
 * becomes one ConvConcat (merge_concat); a MaxPool of a cheap group-1 conv (a stem) one ConvMaxPool (fuse_conv_pool);
 * a scalar Mul and / or Add after a blocked Conv its post_scale / post_shift (fold_affine).
 * Regions holding a depthwise conv are converted, and with 16-channel blocks (AVX-512) the regions of two convs or
 * more that Winograd does not dominate (pick_regions says why); OXRT_NCHWC=all converts every region, OXRT_NCHWC=dw
 * only those with a depthwise conv, 0 none. */
#include "../kernels/nchwc.h"
#include "../kernels/winograd.h"
#include "opt.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { NK_NONE, NK_CONV, NK_CONV_NCHW_IN, NK_POOL, NK_GLOBAL_POOL, NK_KEEP, NK_CHANNEL, NK_SCALAR } nchwc_kind;

typedef struct {
  oxrt_opt_ctx *ctx;
  oxrt_graph *g;
  int B, n_orig;
  int *twin;  /* per original value: its blocked twin, or -1 */
  int *creal; /* per original value with a twin: the real channel count */
  int *rin;   /* per original value: the output of its ReorderInput, or -1 */
} nchwc_pass;

static bool is_float4(oxrt_graph *g, int id, int64_t *dims) {
  return id >= 0 && opt_shape(g, id, dims) == 4 && dims[1] > 0 && opt_value_type(g, id) == OXRT_FLOAT;
}

static bool blocked(const nchwc_pass *p, int id) { return id >= 0 && id < p->n_orig && p->twin[id] >= 0; }

static bool is_unary_keep(const oxrt_node *n) {
  static const char *const ops[] = {"Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Tanh"};
  static const char *const ms_ops[] = {"QuickGelu", "Gelu", "FastGelu"}; /* SiLU after fuse_silu; no bias input */
  if (n->n_inputs < 1 || n->n_outputs != 1) return false;
  if (!strcmp(n->domain, "com.microsoft")) {
    for (size_t i = 0; i < sizeof ms_ops / sizeof ms_ops[0]; i++)
      if (!strcmp(n->op_type, ms_ops[i])) return n->n_inputs == 1;
    return false;
  }
  if (*n->domain) return false;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(n->op_type, ops[i])) return true;
  return false;
}

/* ai.onnx Add / Mul of two inputs (no legacy broadcast attribute) */
static bool is_binary(const oxrt_node *n) {
  return !*n->domain && (!strcmp(n->op_type, "Add") || !strcmp(n->op_type, "Mul")) && n->n_inputs == 2 &&
         n->n_outputs == 1 && !oxrt_node_attr(n, "broadcast");
}

/* A finite float constant of one element and rank <= 4: Add / Mul by it keeps a blocked tensor's shape and its pad
 * channels finite (PP-LCNetV3's learnable affine x * a + b after each activation: at 320x320 each one cost PP-OCR det
 * a ReorderOutput / ReorderInput pair around it) */
static bool is_scalar_const(oxrt_graph *g, int id) {
  const oxrt_value *c = id >= 0 ? opt_const(g, id) : NULL;
  return c && c->dtype == OXRT_FLOAT && c->data && c->rank <= 4 && c->count == 1 && isfinite(*(const float *)c->data);
}

/* ai.onnx Concat along the channels of rank-4 tensors */
static bool is_channel_concat(const oxrt_node *n) {
  if (*n->domain || strcmp(n->op_type, "Concat") || n->n_outputs != 1 || n->n_inputs < 1 || n->n_inputs > 16)
    return false;
  int64_t axis = oxrt_attr_int(n, "axis", 0);
  return axis == 1 || axis == -3;
}

/* Whether node n becomes blocked, and how. */
static nchwc_kind classify(nchwc_pass *p, const oxrt_node *n) {
  oxrt_graph *g = p->g;
  int64_t x[OXRT_MAX_RANK], y[OXRT_MAX_RANK]; /* opt_shape writes up to OXRT_MAX_RANK dims */
  if (!n->op_type || n->n_outputs < 1 || n->n_inputs < 1 || opt_has_subgraph(n)) return NK_NONE;
  const int in0 = n->inputs[0];
  bool conv = (!*n->domain && !strcmp(n->op_type, "Conv")) ||
              (!strcmp(n->domain, "com.microsoft") && !strcmp(n->op_type, "FusedConv"));
  if (conv) {
    if (n->n_inputs < 2 || n->n_outputs != 1 || !is_float4(g, in0, x)) return NK_NONE;
    const oxrt_value *w = opt_const(g, n->inputs[1]);
    if (!w || w->dtype != OXRT_FLOAT || w->rank != 4 || !w->data) return NK_NONE;
    if (n->n_inputs > 2 && n->inputs[2] >= 0) {
      const oxrt_value *b = opt_const(g, n->inputs[2]);
      if (!b || b->dtype != OXRT_FLOAT || b->rank != 1 || !b->data) return NK_NONE;
    }
    if (n->n_inputs > 3 && n->inputs[3] >= 0 && !is_float4(g, n->inputs[3], y)) return NK_NONE;
    if (n->n_inputs > 4) return NK_NONE;
    int64_t group = oxrt_attr_int(n, "group", 1);
    /* a group-1 conv with few input channels (an RGB stem) would waste most of a block of input: it reads NCHW
     * (nchw_input), except on one pixel (squeeze-excitation's reduced channels: the same memory either way) */
    const bool pixel = x[2] == 1 && x[3] == 1; /* [N, C, 1, 1]: the same memory in both layouts, nothing wasted */
    if (group == 1 && w->dims[1] == x[1] && x[1] <= p->B && 2 * x[1] < p->B && !pixel && !blocked(p, in0))
      return NK_CONV_NCHW_IN; /* reads its NCHW input as it is */
    if (group == 1) return w->dims[1] == x[1] && (2 * x[1] >= p->B || pixel) ? NK_CONV : NK_NONE;
    return group == x[1] && w->dims[0] == x[1] && w->dims[1] == 1 ? NK_CONV : NK_NONE;
  }
  if (is_binary(n)) {
    const int in1 = n->inputs[1];
    if ((blocked(p, in0) && is_float4(g, in0, x) && is_scalar_const(g, in1)) ||
        (blocked(p, in1) && is_float4(g, in1, y) && is_scalar_const(g, in0)))
      return NK_SCALAR;
    if (!is_float4(g, in0, x) || !is_float4(g, in1, y)) return NK_NONE;
    if (x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[2] > 0 && x[3] > 0)
      return blocked(p, in0) && blocked(p, in1) ? NK_KEEP : NK_NONE;
    /* squeeze-excitation: a blocked [N, C, H, W] and a scale [N, C, 1, 1], NCHW or blocked, in either order */
    const int64_t *big = x[2] == 1 && x[3] == 1 ? y : x, *s = big == x ? y : x;
    /* the batch: equal, 1 (one scale for every image), or unknown on both sides (checked by the op at run time) */
    const bool batch = s[0] == big[0] || s[0] == 1;
    return blocked(p, big == x ? in0 : in1) && batch && s[1] == big[1] && s[2] == 1 && s[3] == 1 && big[2] > 0 &&
                   big[3] > 0
               ? NK_CHANNEL
               : NK_NONE;
  }
  if (!blocked(p, in0)) return NK_NONE;
  if (!*n->domain && (!strcmp(n->op_type, "MaxPool") || !strcmp(n->op_type, "AveragePool"))) {
    if (n->n_outputs > 1 && n->outputs[1] >= 0) return NK_NONE; /* MaxPool's Indices are NCHW positions */
    size_t nk = 0;
    return oxrt_attr_ints(n, "kernel_shape", &nk) && nk == 2 && is_float4(g, in0, x) ? NK_POOL : NK_NONE;
  }
  if (!*n->domain && (!strcmp(n->op_type, "GlobalAveragePool") || !strcmp(n->op_type, "GlobalMaxPool")))
    return n->n_outputs == 1 && is_float4(g, in0, x) ? NK_GLOBAL_POOL : NK_NONE;
  if (is_unary_keep(n)) return is_float4(g, in0, x) ? NK_KEEP : NK_NONE;
  if (is_channel_concat(n)) {
    /* blocked, the channel concat is the plain one when every input but the last fills whole blocks */
    for (int i = 0; i < n->n_inputs; i++)
      if (!blocked(p, n->inputs[i]) || !is_float4(g, n->inputs[i], x) || (i + 1 < n->n_inputs && x[1] % p->B))
        return NK_NONE;
    return NK_KEEP;
  }
  return NK_NONE;
}

/* A new value named after `base`, unique in this graph and the enclosing ones; -1 on OOM. */
static int new_value(nchwc_pass *p, const char *base) {
  char name[512];
  for (int k = 0;; k++) {
    snprintf(name, sizeof name, "%s_nchwc%s%d", base, k ? "_" : "", k);
    if (!k) name[strlen(name) - 1] = 0; /* no number on the first try */
    bool taken = false;
    for (oxrt_graph *q = p->g; q && !taken; q = q->parent) taken = oxrt_graph_find(q, name) >= 0;
    if (!taken) break;
  }
  const char *s = oxrt_arena_strndup(p->g->arena, name, strlen(name));
  int id = s ? oxrt_graph_intern(p->g, s) : -1;
  if (id >= 0) p->g->values[id].producer = -1;
  return id;
}

/* Appends a one-input one-output node op(in) -> out in com.microsoft.nchwc; channels >= 0 sets that attribute. */
static oxrt_status *add_reorder(nchwc_pass *p, const char *op, int in, int out, int64_t channels) {
  oxrt_graph *g = p->g;
  int id = oxrt_graph_add_node(g);
  if (id < 0) return OXRT_OOM();
  oxrt_node *n = &g->nodes[id];
  char name[512];
  snprintf(name, sizeof name, "%s_%s", g->values[out].name, op);
  n->name = oxrt_arena_strndup(g->arena, name, strlen(name));
  n->op_type = op;
  n->domain = "com.microsoft.nchwc";
  n->outputs = oxrt_arena_alloc(g->arena, sizeof(int));
  if (!n->name || !n->outputs) return OXRT_OOM();
  n->outputs[0] = out;
  n->n_outputs = 1;
  OXRT_TRY(opt_set_inputs(g, n, &in, 1));
  if (channels >= 0) {
    oxrt_attr at = {.name = "channels", .type = OXRT_ATTR_INT, .i = channels};
    OXRT_TRY(opt_set_attr(g, &g->nodes[id], &at));
  }
  g->values[out].producer = id;
  return NULL;
}

/* The blocked form of value v: its twin, or (made once) ReorderInput(v). */
static oxrt_status *blocked_input(nchwc_pass *p, int v, int *out) {
  if (blocked(p, v)) return *out = p->twin[v], NULL;
  if (v < p->n_orig && p->rin[v] >= 0) return *out = p->rin[v], NULL;
  int r = new_value(p, p->g->values[v].name);
  if (r < 0) return OXRT_OOM();
  OXRT_TRY(add_reorder(p, "ReorderInput", v, r, -1));
  if (v < p->n_orig) p->rin[v] = r;
  *out = r;
  return NULL;
}

static oxrt_status *convert(nchwc_pass *p, int idx, nchwc_kind k) {
  oxrt_graph *g = p->g;
  const int y = g->nodes[idx].outputs[0];
  int64_t yd[OXRT_MAX_RANK];
  if (opt_shape(g, y, yd) != 4 || yd[1] <= 0) return NULL; /* unknown channels: left as it is */
  /* the inputs in the blocked layout: X (and Z of a FusedConv), both operands of Add / Mul */
  int ins[16]; /* classify admits at most 16 inputs */
  const int n_in = g->nodes[idx].n_inputs;
  const bool binary = is_binary(&g->nodes[idx]);
  memcpy(ins, g->nodes[idx].inputs, sizeof(int) * (size_t)n_in);
  if (k == NK_CHANNEL) { /* the blocked [N, C, H, W] first, the [N, C, 1, 1] scale second */
    int64_t d[OXRT_MAX_RANK];
    if (opt_shape(g, ins[0], d) == 4 && d[2] == 1 && d[3] == 1)
      ins[0] = g->nodes[idx].inputs[1], ins[1] = g->nodes[idx].inputs[0];
  }
  if (k == NK_SCALAR && is_scalar_const(g, ins[0])) /* the blocked operand first (float + and * commute exactly) */
    ins[0] = g->nodes[idx].inputs[1], ins[1] = g->nodes[idx].inputs[0];
  for (int i = 0; i < n_in; i++) {
    bool layout = (i == 0 && k != NK_CONV_NCHW_IN) || ((k == NK_CONV || k == NK_CONV_NCHW_IN) && i == 3) ||
                  (binary && i == 1 && k != NK_SCALAR) || is_channel_concat(&g->nodes[idx]);
    if (layout && ins[i] >= 0) OXRT_TRY(blocked_input(p, ins[i], &ins[i]));
  }
  int t = new_value(p, g->values[y].name);
  if (t < 0) return OXRT_OOM();
  oxrt_node *n = &g->nodes[idx];
  OXRT_TRY(opt_set_inputs(g, n, ins, n_in));
  n->outputs[0] = t;
  g->values[t].producer = idx;
  g->values[y].producer = -1;
  p->twin[y] = t;
  p->creal[y] = (int)yd[1];
  switch (k) {
  case NK_CONV: n->op_type = "Conv", n->domain = "com.microsoft.nchwc"; break;
  case NK_CONV_NCHW_IN: {
    n->op_type = "Conv", n->domain = "com.microsoft.nchwc";
    oxrt_attr at = {.name = "nchw_input", .type = OXRT_ATTR_INT, .i = 1};
    OXRT_TRY(opt_set_attr(g, n, &at));
    break;
  }
  case NK_POOL:
  case NK_GLOBAL_POOL: n->domain = "com.microsoft.nchwc"; break;
  case NK_CHANNEL:
    n->op_type = !strcmp(n->op_type, "Mul") ? "ChannelMul" : "ChannelAdd";
    n->domain = "com.microsoft.nchwc";
    break;
  default: break;
  }
  return NULL;
}

/* Kahn's order over the graph's nodes; false on OOM or a cycle (then nothing is converted). */
/* Nodes in dependency order into `order`: 1, 0 when the graph has a cycle, -1 out of memory. */
static int topo(const oxrt_graph *g, int *order) {
  int *indeg = calloc((size_t)g->n_nodes + 1, sizeof(int));
  if (!indeg) return -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
      int v = g->nodes[i].inputs[k];
      if (v >= 0 && g->values[v].producer >= 0) indeg[i]++;
    }
  int head = 0, tail = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (!indeg[i]) order[tail++] = i;
  while (head < tail) {
    const oxrt_node *n = &g->nodes[order[head++]];
    for (int o = 0; o < n->n_outputs; o++) {
      int v = n->outputs[o];
      if (v < 0) continue;
      for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
          if (g->nodes[i].inputs[k] == v && !--indeg[i]) order[tail++] = i;
    }
  }
  free(indeg);
  return tail == g->n_nodes;
}

static int uf_find(int *parent, int a) {
  while (parent[a] != a) a = parent[a] = parent[parent[a]];
  return a;
}

/* Dry run in topological order: the kind of every node as if all regions were converted (kind[]), and the regions
 * as sets of nodes joined by the blocked values between them (parent[]). */
static void plan_regions(nchwc_pass *p, const int *order, nchwc_kind *kind, int *parent) {
  oxrt_graph *g = p->g;
  for (int i = 0; i < g->n_nodes; i++) parent[i] = i;
  for (int k = 0; k < g->n_nodes; k++) {
    const int i = order[k];
    const oxrt_node *n = &g->nodes[i];
    int64_t yd[OXRT_MAX_RANK];
    kind[i] = classify(p, n);
    if (kind[i] == NK_NONE) continue;
    if (opt_shape(g, n->outputs[0], yd) != 4 || yd[1] <= 0) { /* convert() leaves such a node alone */
      kind[i] = NK_NONE;
      continue;
    }
    p->twin[n->outputs[0]] = n->outputs[0];
    for (int j = 0; j < n->n_inputs; j++) {
      int v = n->inputs[j];
      if (blocked(p, v) && g->values[v].producer >= 0) {
        int a = uf_find(parent, i), b = uf_find(parent, g->values[v].producer);
        if (a != b) parent[a] = b;
      }
    }
  }
}

/* A group-1 conv's multiply-adds, and whether the blocked Conv sends it through NCHW Winograd between reorders of its
 * own (NchwcConv.c: where oxrt_wino_pays, with 16-channel blocks from 32 input channels; this counts only for those);
 * false when a size is not known. */
static bool conv_work(const oxrt_graph *g, const oxrt_node *n, double *macs, bool *wino) {
  int64_t y[OXRT_MAX_RANK];
  const oxrt_value *w = opt_const(g, n->inputs[1]);
  if (!w || w->rank != 4 || opt_shape(g, n->outputs[0], y) != 4 || y[2] <= 0 || y[3] <= 0) return false;
  *macs = (double)w->dims[0] * (double)w->dims[1] * (double)(w->dims[2] * w->dims[3]) * (double)(y[2] * y[3]);
  oxrt_conv_shape cs = {.nd = 2, .N = 1, .C = (size_t)w->dims[1], .M = (size_t)w->dims[0], .group = 1,
                        .k = {w->dims[2], w->dims[3]}, .stride = {1, 1}, .dil = {1, 1}, .out = {y[2], y[3]}};
  size_t ns = 0, nd = 0, np = 0;
  const int64_t *st = oxrt_attr_ints(n, "strides", &ns), *dl = oxrt_attr_ints(n, "dilations", &nd);
  const int64_t *pd = oxrt_attr_ints(n, "pads", &np);
  for (int d = 0; d < 2; d++) {
    if (st && ns == 2) cs.stride[d] = st[d];
    if (dl && nd == 2) cs.dil[d] = dl[d];
    if (pd && np == 4) cs.pad[d] = pd[d];
  }
  *wino = oxrt_wino_pays(&cs) && cs.C >= 32;
  return true;
}

/* Which regions to convert. With depthwise convs the blocked layout wins everywhere measured (Xeon, 1 thread,
 * oxrt/oxrt NCHW CPU time: mobilenet_v2 0.89, efficientnet_b0 0.86, PP-LCNet 0.70). Regions of group-1 convs alone
 * depend on the block and on Winograd. With 16-channel blocks (AVX-512) the direct kernel beats the NCHW GEMM on 1x1
 * and strided convs (AMD Zen 4, 1 thread, thread CPU time, interleaved, against the NCHW rule: resnet50 89.2 -> 79.6
 * ms, squeezenet1_1 7.56 -> 7.35, resnet18 32.9 -> 32.0), but where most of the work is 3x3 stride-1 convs that
 * Winograd serves, the reorders around each of them cost more (vgg16 169 -> 196 ms, ppocr_det 61 -> 83): so such a
 * region is converted when it holds two convs or more (a lone one would only add its two reorders) and Winograd's
 * convs do at most half of its multiply-adds. With 8-channel blocks (AVX2, portable) they lose (Zen 4 at
 * OXRT_ISA=avx2: resnet18 36.0 -> 38.5 ms, squeezenet1_1 8.64 -> 8.75) and stay NCHW. OXRT_NCHWC=all converts every
 * region at any block size, OXRT_NCHWC=dw only those with a depthwise conv. */
static bool pick_regions(const nchwc_pass *p, const nchwc_kind *kind, int *parent, bool *keep) {
  const oxrt_graph *g = p->g;
  const char *e = getenv("OXRT_NCHWC");
  const bool all = e && !strcmp(e, "all"), count = p->B >= 16 && !(e && !strcmp(e, "dw"));
  /* per region root: convs, multiply-adds of the direct kernel and of Winograd, and whether every size was known */
  int *convs = NULL;
  double *direct = NULL, *wino = NULL;
  bool *unknown = NULL;
  if (count) {
    convs = calloc((size_t)g->n_nodes + 1, sizeof(int));
    direct = calloc((size_t)g->n_nodes + 1, sizeof(double));
    wino = calloc((size_t)g->n_nodes + 1, sizeof(double));
    unknown = calloc((size_t)g->n_nodes + 1, sizeof(bool));
    if (!convs || !direct || !wino || !unknown) { /* out of memory: no other choice of regions than asked for */
      free(convs), free(direct), free(wino), free(unknown);
      return false;
    }
  }
  for (int i = 0; i < g->n_nodes; i++) {
    keep[i] = all;
    if (!count || (kind[i] != NK_CONV && kind[i] != NK_CONV_NCHW_IN)) continue;
    const int r = uf_find(parent, i);
    double macs = 0;
    bool w = false;
    convs[r]++;
    if (!conv_work(g, &g->nodes[i], &macs, &w)) unknown[r] = true;
    else *(w ? &wino[r] : &direct[r]) += macs;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    if (kind[i] == NK_CONV && oxrt_attr_int(&g->nodes[i], "group", 1) > 1) keep[uf_find(parent, i)] = true;
    if (count && convs[i] >= 2 && !unknown[i] && wino[i] <= direct[i]) keep[i] = true;
  }
  free(convs), free(direct), free(wino), free(unknown);
  return true;
}

/* Attribute `name` is the same on a and b (both absent, or equal ints / floats / string). */
static bool same_attr(const oxrt_node *a, const oxrt_node *b, const char *name) {
  const oxrt_attr *x = NULL, *y = NULL;
  for (int i = 0; i < a->n_attrs; i++)
    if (!strcmp(a->attrs[i].name, name)) x = &a->attrs[i];
  for (int i = 0; i < b->n_attrs; i++)
    if (!strcmp(b->attrs[i].name, name)) y = &b->attrs[i];
  if (!x || !y) return !x && !y;
  if (x->type != y->type || x->n != y->n || x->i != y->i || x->f != y->f) return false;
  if (x->type == OXRT_ATTR_INTS) return !x->n || !memcmp(x->ints, y->ints, x->n * sizeof *x->ints);
  if (x->type == OXRT_ATTR_FLOATS) return !x->n || !memcmp(x->floats, y->floats, x->n * sizeof *x->floats);
  if (x->type == OXRT_ATTR_STRING) return x->s && y->s && !strcmp(x->s, y->s);
  return x->type == OXRT_ATTR_INT || x->type == OXRT_ATTR_FLOAT;
}

/* Reads of value v by the graph's nodes. */
static int readers(const oxrt_graph *g, int v) {
  int r = 0;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; g->nodes[i].op_type && k < g->nodes[i].n_inputs; k++) r += g->nodes[i].inputs[k] == v;
  return r;
}

/* Whether an original value whose blocked twin is t is still wanted (pinned, or read): t must then stay. */
static bool twin_wanted(const nchwc_pass *p, const opt_uses *u, int t) {
  for (int v = 0; v < p->n_orig; v++)
    if (p->twin[v] == t && (u->pinned[v] || readers(p->g, v))) return true;
  return false;
}

/* Node qi takes over the output of node di, its only reader through value t; t and node di are gone. */
static void absorb_reader(nchwc_pass *p, int qi, int di, int t) {
  oxrt_graph *g = p->g;
  oxrt_node *q = &g->nodes[qi], *d = &g->nodes[di];
  q->outputs[0] = d->outputs[0];
  g->values[d->outputs[0]].producer = qi;
  g->values[t].producer = -1;
  for (int v = 0; v < p->n_orig; v++)
    if (p->twin[v] == t) p->twin[v] = -1;
  d->op_type = NULL;
  d->n_inputs = 0;
}

/* A blocked channel Concat of group-1 blocked Convs that all read the same X and are read by nothing else becomes
 * one com.microsoft.nchwc ConvConcat, whose convs write their slices of the output: the Concat's copy disappears
 * (squeezenet1_1's fire modules: 2.4% of the model at 1 thread). */
static oxrt_status *merge_concat(nchwc_pass *p, const opt_uses *u, int ci) {
  oxrt_graph *g = p->g;
  oxrt_node *c = &g->nodes[ci];
  const int K = c->n_inputs;
  if (K < 2 || K > 16 || c->outputs[0] < p->n_orig) return NULL; /* not converted */
  oxrt_node *q[16];
  int x = -1;
  for (int k = 0; k < K; k++) {
    const int t = c->inputs[k];
    oxrt_node *n = t >= p->n_orig ? opt_producer(g, t) : NULL;
    if (!n || strcmp(n->domain, "com.microsoft.nchwc") || strcmp(n->op_type, "Conv") || n->n_outputs != 1 ||
        n->n_inputs < 2 || (n->n_inputs > 3 && n->inputs[3] >= 0) || oxrt_attr_int(n, "group", 1) != 1 ||
        oxrt_attr_int(n, "nchw_input", 0) || strcmp(oxrt_attr_string(n, "auto_pad", "NOTSET"), "NOTSET") ||
        readers(g, t) != 1 || (k && n->inputs[0] != x))
      return NULL;
    x = n->inputs[0];
    if (k && (!same_attr(n, q[0], "strides") || !same_attr(n, q[0], "dilations") ||
              !same_attr(n, q[0], "activation") || !same_attr(n, q[0], "activation_params")))
      return NULL;
    /* the original output must have no reader left (a ReorderOutput would read the merged value) */
    if (twin_wanted(p, u, t)) return NULL;
    q[k] = n;
  }
  int *ins = oxrt_arena_alloc(g->arena, sizeof(int) * (size_t)(2 * K + 1));
  int64_t *pads = oxrt_arena_alloc(g->arena, sizeof(int64_t) * (size_t)(4 * K));
  if (!ins || !pads) return OXRT_OOM();
  ins[0] = x;
  for (int k = 0; k < K; k++) {
    size_t np = 0;
    const int64_t *pd = oxrt_attr_ints(q[k], "pads", &np);
    for (int i = 0; i < 4; i++) pads[4 * k + i] = pd && np == 4 ? pd[i] : 0;
    ins[1 + 2 * k] = q[k]->inputs[1];
    ins[2 + 2 * k] = q[k]->n_inputs > 2 ? q[k]->inputs[2] : -1;
  }
  static const char *const shared[] = {"strides", "dilations", "activation", "activation_params"};
  c->n_attrs = 0; /* the Concat's axis */
  for (size_t a = 0; a < sizeof shared / sizeof shared[0]; a++)
    for (int i = 0; i < q[0]->n_attrs; i++)
      if (!strcmp(q[0]->attrs[i].name, shared[a])) OXRT_TRY(opt_set_attr(g, c, &q[0]->attrs[i]));
  oxrt_attr at = {.name = "pads", .type = OXRT_ATTR_INTS, .n = (size_t)(4 * K), .ints = pads};
  OXRT_TRY(opt_set_attr(g, c, &at));
  c = &g->nodes[ci];
  c->inputs = ins;
  c->n_inputs = 2 * K + 1;
  c->op_type = "ConvConcat";
  c->domain = "com.microsoft.nchwc";
  for (int k = 0; k < K; k++) {
    for (int v = 0; v < p->n_orig; v++)
      if (p->twin[v] == q[k]->outputs[0]) p->twin[v] = -1;
    g->values[q[k]->outputs[0]].producer = -1;
    q[k]->op_type = NULL;
    q[k]->n_inputs = 0;
  }
  return NULL;
}

/* A blocked MaxPool whose input is a group-1 blocked Conv read by nothing else becomes one ConvMaxPool (NchwcConv.c:
 * the conv's rows are pooled from the thread's scratch, a band at a time, never written out whole), where the conv
 * costs little per output value (C * kh * kw <= 64: an RGB stem's 3x3) since the bands recompute their overlap rows:
 * squeezenet1_1's stem + MaxPool, whose 3.2 MB intermediate cost more in memory traffic than in multiply-adds. */
static oxrt_status *fuse_conv_pool(nchwc_pass *p, const opt_uses *u, int mi) {
  oxrt_graph *g = p->g;
  oxrt_node *mp = &g->nodes[mi];
  size_t nk = 0;
  const int t = mp->n_inputs == 1 ? mp->inputs[0] : -1;
  if (t < p->n_orig || (mp->n_outputs > 1 && mp->outputs[1] >= 0) || !oxrt_attr_ints(mp, "kernel_shape", &nk) ||
      nk != 2 || strcmp(oxrt_attr_string(mp, "auto_pad", "NOTSET"), "NOTSET") || readers(g, t) != 1)
    return NULL;
  oxrt_node *q = opt_producer(g, t);
  if (!q || strcmp(q->domain, "com.microsoft.nchwc") || strcmp(q->op_type, "Conv") || q->n_outputs != 1 ||
      q->n_inputs < 2 || (q->n_inputs > 3 && q->inputs[3] >= 0) || oxrt_attr_int(q, "group", 1) != 1)
    return NULL;
  const oxrt_value *w = opt_const(g, q->inputs[1]);
  if (!w || w->rank != 4 || w->dims[1] * w->dims[2] * w->dims[3] > 64) return NULL;
  if (twin_wanted(p, u, t)) return NULL;
  static const char *const from[] = {"kernel_shape", "strides", "pads", "dilations", "ceil_mode"};
  static const char *const to[] = {"pool_kernel", "pool_strides", "pool_pads", "pool_dilations", "pool_ceil_mode"};
  const int qi = g->values[t].producer;
  for (size_t a = 0; a < sizeof from / sizeof from[0]; a++)
    for (int i = 0; i < mp->n_attrs; i++)
      if (!strcmp(mp->attrs[i].name, from[a])) {
        oxrt_attr at = mp->attrs[i];
        at.name = to[a];
        OXRT_TRY(opt_set_attr(g, &g->nodes[qi], &at));
      }
  g->nodes[qi].op_type = "ConvMaxPool";
  absorb_reader(p, qi, mi, t);
  return NULL;
}

/* A blocked scalar Mul or Add (converted NK_SCALAR: the scalar second) of a blocked Conv read by nothing else
 * becomes the conv's post_scale or post_shift (NchwcConv.c: applied after the activation, before the store), as
 * act(conv) * a + b: a Mul only onto a conv with neither yet, an Add onto one without post_shift, so the rounding
 * is that of the separate ops. PP-LCNetV3's learnable affine after each activation (PP-OCR det in bf16 mode: the
 * scalar Add and Mul passes were 10 of its 44 ms). */
static oxrt_status *fold_affine(nchwc_pass *p, const opt_uses *u, int ai) {
  oxrt_graph *g = p->g;
  oxrt_node *a = &g->nodes[ai];
  if (!is_binary(a) || a->outputs[0] < p->n_orig || !is_scalar_const(g, a->inputs[1])) return NULL;
  const int t = a->inputs[0];
  const bool mul = !strcmp(a->op_type, "Mul");
  oxrt_node *q = t >= p->n_orig ? opt_producer(g, t) : NULL;
  if (!q || strcmp(q->domain, "com.microsoft.nchwc") || strcmp(q->op_type, "Conv") || q->n_outputs != 1 ||
      readers(g, t) != 1 || oxrt_node_attr(q, "post_shift") || (mul && oxrt_node_attr(q, "post_scale")))
    return NULL;
  /* the original output must have no reader left (a ReorderOutput would read the folded value) */
  if (twin_wanted(p, u, t)) return NULL;
  const int qi = g->values[t].producer;
  oxrt_attr at = {.name = mul ? "post_scale" : "post_shift", .type = OXRT_ATTR_FLOAT,
                  .f = *(const float *)opt_const(g, a->inputs[1])->data};
  OXRT_TRY(opt_set_attr(g, &g->nodes[qi], &at));
  absorb_reader(p, qi, ai, t);
  return NULL;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  if (ctx->portable || g->parent) return NULL; /* never in a saved model; the main graph only */
  bool convs = false;
  for (int i = 0; i < g->n_nodes && !convs; i++)
    convs = g->nodes[i].op_type && (!strcmp(g->nodes[i].op_type, "Conv") || !strcmp(g->nodes[i].op_type, "FusedConv"));
  if (!convs) return NULL;
  nchwc_pass p = {.ctx = ctx, .g = g, .B = oxrt_nchwc_block(oxrt_cpu_isa()), .n_orig = g->n_values};
  const int n_nodes = g->n_nodes;
  int *order = malloc(sizeof(int) * ((size_t)n_nodes + 1)), *parent = malloc(sizeof(int) * ((size_t)n_nodes + 1));
  nchwc_kind *kind = malloc(sizeof(nchwc_kind) * ((size_t)n_nodes + 1));
  bool *keep = malloc(sizeof(bool) * ((size_t)n_nodes + 1));
  p.twin = malloc(sizeof(int) * ((size_t)p.n_orig + 1));
  p.creal = calloc((size_t)p.n_orig + 1, sizeof(int));
  p.rin = malloc(sizeof(int) * ((size_t)p.n_orig + 1));
  oxrt_status *st = NULL;
  opt_uses u = {0};
  int sorted = order ? topo(g, order) : -1;
  if (!order || !parent || !kind || !keep || !p.twin || !p.creal || !p.rin || sorted < 0) st = OXRT_OOM();
  else if (sorted && !(st = opt_uses_build(g, &u))) {
    for (int v = 0; v < p.n_orig; v++) p.twin[v] = p.rin[v] = -1;
    plan_regions(&p, order, kind, parent);
    if (!pick_regions(&p, kind, parent, keep)) st = OXRT_OOM();
    for (int v = 0; v < p.n_orig; v++) p.twin[v] = -1;
    bool any = false;
    for (int k = 0; k < n_nodes && !st; k++) {
      const int i = order[k];
      if (kind[i] == NK_NONE || !keep[uf_find(parent, i)]) continue;
      if (!any && (st = opt_import_domain(ctx->model, "com.microsoft.nchwc", 1))) break;
      any = true;
      st = convert(&p, i, kind[i]);
    }
    for (int i = 0; i < g->n_nodes && !st; i++)
      if (g->nodes[i].op_type && is_channel_concat(&g->nodes[i]))
        st = merge_concat(&p, &u, i);
    for (int i = 0; i < g->n_nodes && !st; i++)
      if (g->nodes[i].op_type && !strcmp(g->nodes[i].op_type, "MaxPool") &&
          !strcmp(g->nodes[i].domain, "com.microsoft.nchwc"))
        st = fuse_conv_pool(&p, &u, i);
    for (int k = 0; k < n_nodes && !st; k++) /* in order: a Mul folds before the Add after it */
      if (g->nodes[order[k]].op_type) st = fold_affine(&p, &u, order[k]);
    /* the original values for readers outside the regions, graph outputs and values subgraphs capture */
    for (int v = 0; v < p.n_orig && !st; v++) {
      if (p.twin[v] < 0) continue;
      bool read = u.pinned[v];
      for (int i = 0; i < g->n_nodes && !read; i++)
        for (int k = 0; k < g->nodes[i].n_inputs && !read; k++) read = g->nodes[i].inputs[k] == v;
      if (read) st = add_reorder(&p, "ReorderOutput", p.twin[v], v, p.creal[v]);
    }
    *changed = any;
  }
  opt_uses_free(&u);
  free(order), free(parent), free(kind), free(keep), free(p.twin), free(p.creal), free(p.rin);
  return st;
}

const oxrt_opt_pass oxrt_pass_nchwc_layout = {
    "nchwc_layout", OXRT_OPT_EXTENDED, false, run,
    "CNN regions in the blocked-channel layout (com.microsoft.nchwc); session only, never in a saved model"};
