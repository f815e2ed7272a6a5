/* pass_fuse_conv_add.c - a residual Add after a convolution goes into the convolution's output tiles.
 *
 *   Add(Conv(x, W, B), z)       -> FusedConv(x, W, B, z)                       (com.microsoft: Y = conv + z)
 *   Relu(Add(Conv(x, W, B), z)) -> FusedConv(x, W, B, z; activation="Relu")   (Y = relu(conv + z))
 * Also from a FusedConv without an activation and without Z. The Add may take the convolution on either side.
 * FusedConv requires z of exactly the convolution's shape, so the pass fuses only where that is proven: from
 * declared shapes when both are fully known, else from the graph itself (ResNet's blocks): z and the
 * convolution output descend from one value through convolutions and shape-keeping elementwise nodes, the two
 * paths end with the same channel count, and their spatial sizes agree for every input size tried (the output
 * size of a convolution is a floor of an affine function of its input size, so agreement over a wide range of
 * sizes is agreement). Only float, and only when the convolution output and the Add result (with Relu) have no
 * other reader.
 */
#include "opt.h"
#include <string.h>

#define MAX_PATH 8
#define MAX_SPATIAL 6

/* One step of a path: a convolution (with its geometry) or a node that keeps its input's shape. */
typedef struct {
  bool conv;
  int nd;
  int64_t k[MAX_SPATIAL], s[MAX_SPATIAL], d[MAX_SPATIAL], pb[MAX_SPATIAL], pe[MAX_SPATIAL];
  int same; /* auto_pad SAME_UPPER / SAME_LOWER: out = ceil(in / s) */
  int64_t c_in, c_out;
} step;

static bool is_conv(const oxrt_node *n) {
  if (!n || !n->op_type) return false;
  if (!*n->domain) return !strcmp(n->op_type, "Conv");
  return !strcmp(n->domain, "com.microsoft") && !strcmp(n->op_type, "FusedConv");
}

/* Elementwise nodes whose output has the shape of input 0 whatever the other inputs are. */
static bool keeps_shape(const oxrt_graph *g, const oxrt_node *n) {
  static const char *const unary[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu",
                                      "Selu", "Softplus", "Identity", NULL};
  if (!n || !n->op_type || *n->domain) return false;
  for (const char *const *u = unary; *u; u++)
    if (!strcmp(n->op_type, *u)) return n->n_inputs == 1;
  if (!strcmp(n->op_type, "Clip")) return true; /* min/max are scalars */
  if (!strcmp(n->op_type, "BatchNormalization")) return n->n_outputs == 1 || (n->n_outputs > 1 && n->outputs[1] < 0);
  (void)g;
  return false;
}

/* The geometry of convolution node n, or false if not a plain (fixed-geometry, constant-weight) one. */
static bool conv_step(const oxrt_graph *g, const oxrt_node *n, step *st) {
  memset(st, 0, sizeof *st);
  if (n->n_inputs < 2) return false;
  int64_t wd[OXRT_MAX_RANK];
  int wr = opt_shape(g, n->inputs[1], wd);
  if (wr < 3 || wr - 2 > MAX_SPATIAL) return false;
  for (int i = 0; i < wr; i++)
    if (wd[i] < 0) return false;
  int nd = wr - 2;
  int64_t group = oxrt_attr_int(n, "group", 1);
  if (group < 1) return false;
  st->conv = true;
  st->nd = nd;
  st->c_out = wd[0];
  st->c_in = wd[1] * group;
  size_t nk = 0, ns = 0, ndl = 0, np = 0;
  const int64_t *ks = oxrt_attr_ints(n, "kernel_shape", &nk), *ss = oxrt_attr_ints(n, "strides", &ns);
  const int64_t *ds = oxrt_attr_ints(n, "dilations", &ndl), *ps = oxrt_attr_ints(n, "pads", &np);
  if ((ks && nk != (size_t)nd) || (ss && ns != (size_t)nd) || (ds && ndl != (size_t)nd) || (ps && np != 2 * (size_t)nd))
    return false;
  const char *ap = oxrt_attr_string(n, "auto_pad", "NOTSET");
  bool valid = !strcmp(ap, "VALID");
  if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) st->same = 1;
  else if (!valid && strcmp(ap, "NOTSET") != 0) return false;
  for (int i = 0; i < nd; i++) {
    st->k[i] = ks ? ks[i] : wd[2 + i];
    if (st->k[i] != wd[2 + i]) return false;
    st->s[i] = ss ? ss[i] : 1;
    st->d[i] = ds ? ds[i] : 1;
    st->pb[i] = ps && !valid ? ps[i] : 0;
    st->pe[i] = ps && !valid ? ps[nd + i] : 0;
    if (st->s[i] < 1 || st->d[i] < 1) return false;
  }
  return true;
}

/* Walks back from value `id` through convolutions (input 0) and shape-keeping nodes: vals[0] = id, then each
 * node's input; steps[i] maps vals[i + 1] to vals[i]. Returns the number of values. */
static int walk(oxrt_graph *g, int id, int *vals, step *steps) {
  int n = 0;
  vals[n++] = id;
  while (n < MAX_PATH + 1) {
    oxrt_node *p = opt_producer(g, vals[n - 1]);
    if (!p || p->n_inputs < 1 || p->inputs[0] < 0 || p->outputs[0] != vals[n - 1]) break;
    if (is_conv(p)) {
      if (!conv_step(g, p, &steps[n - 1])) break;
    } else if (keeps_shape(g, p)) {
      memset(&steps[n - 1], 0, sizeof steps[n - 1]);
    } else {
      break;
    }
    vals[n++] = p->inputs[0];
  }
  return n;
}

/* Spatial size along dim i after steps[0..n) applied from the root (last step first); -1 if empty. */
static int64_t apply(const step *steps, int n, int i, int64_t in) {
  for (int q = n - 1; q >= 0 && in > 0; q--) {
    const step *s = &steps[q];
    if (!s->conv) continue;
    if (s->same) in = (in + s->s[i] - 1) / s->s[i];
    else {
      int64_t span = in + s->pb[i] + s->pe[i] - s->d[i] * (s->k[i] - 1) - 1;
      in = span < 0 ? -1 : span / s->s[i] + 1;
    }
  }
  return in;
}

/* Channel count after steps[0..n) from a root of c channels (0: the root's own, unknown). */
static int64_t channels(const step *steps, int n, int64_t root_c) {
  for (int q = 0; q < n; q++)
    if (steps[q].conv) return steps[q].c_out;
  return root_c;
}

/* The root's channel count as the first convolution above it on either path requires (0 if none). */
static int64_t root_channels(const step *a, int na, const step *b, int nb) {
  for (int q = na - 1; q >= 0; q--)
    if (a[q].conv) return a[q].c_in;
  for (int q = nb - 1; q >= 0; q--)
    if (b[q].conv) return b[q].c_in;
  return 0;
}

static bool fixed_shape(const oxrt_graph *g, int id, int64_t *dims, int *rank) {
  *rank = opt_shape(g, id, dims);
  if (*rank < 0) return false;
  for (int i = 0; i < *rank; i++)
    if (dims[i] < 0) return false;
  return true;
}

/* True when values y (a convolution output) and z are proven to have one shape. */
static bool same_shape(oxrt_graph *g, int y, int z) {
  int64_t yd[OXRT_MAX_RANK], zd[OXRT_MAX_RANK];
  int yr, zr;
  bool yk = fixed_shape(g, y, yd, &yr), zk = fixed_shape(g, z, zd, &zr);
  if (yk && zk) return yr == zr && !memcmp(yd, zd, sizeof(int64_t) * (size_t)yr);
  if ((yr >= 0 && zr >= 0 && yr != zr)) return false;
  int va[MAX_PATH + 1], vb[MAX_PATH + 1];
  step sa[MAX_PATH], sb[MAX_PATH];
  int na = walk(g, y, va, sa), nb = walk(g, z, vb, sb);
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++) {
      if (va[i] != vb[j]) continue;
      /* common root va[i]: paths sa[0..i) and sb[0..j) */
      if (i == 0 || !sa[0].conv) return false; /* y itself must be the convolution's output */
      int nd = sa[0].nd;
      for (int q = 0; q < i; q++)
        if (sa[q].conv && sa[q].nd != nd) return false;
      for (int q = 0; q < j; q++)
        if (sb[q].conv && sb[q].nd != nd) return false;
      int64_t rc = root_channels(sa, i, sb, j);
      int64_t ca = channels(sa, i, rc), cb = channels(sb, j, rc);
      if (ca <= 0 || ca != cb) return false;
      for (int d = 0; d < nd; d++)
        for (int64_t in = 1; in <= 600; in++)
          if (apply(sa, i, d, in) != apply(sb, j, d, in)) return false;
      return true;
    }
  return false;
}

static bool plain_conv(const oxrt_node *n) {
  if (!is_conv(n) || n->n_outputs != 1 || n->n_inputs > 3) return false;
  if (!*n->domain) return true;
  const char *act = oxrt_attr_string(n, "activation", "");
  return !*act; /* FusedConv without an activation (Z would come after it) */
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    oxrt_node *add = &g->nodes[i];
    if (!add->op_type || *add->domain || strcmp(add->op_type, "Add") != 0 || add->n_inputs != 2 ||
        add->n_outputs != 1 || add->inputs[0] < 0 || add->inputs[1] < 0 || add->inputs[0] == add->inputs[1])
      continue;
    for (int side = 0; side < 2; side++) {
      int y = add->inputs[side], z = add->inputs[1 - side];
      oxrt_node *conv = opt_producer(g, y);
      if (!plain_conv(conv) || conv->outputs[0] != y || u.count[y] != 1 || u.pinned[y]) continue;
      if (opt_elem_type(g, conv->inputs[1]) != OXRT_FLOAT) continue;
      if (!same_shape(g, y, z)) continue;
      int sum = add->outputs[0];
      oxrt_node *relu = opt_sole_reader(g, &u, sum);
      if (relu && (*relu->domain || strcmp(relu->op_type, "Relu") != 0 || relu->n_inputs != 1 ||
                   relu->n_outputs != 1 || relu->outputs[0] < 0))
        relu = NULL;
      if ((st = opt_import_domain(ctx->model, "com.microsoft", 1))) break;
      int ins[4] = {conv->inputs[0], conv->inputs[1], conv->n_inputs > 2 ? conv->inputs[2] : -1, z};
      if ((st = opt_set_inputs(g, conv, ins, 4))) break;
      if (relu) {
        oxrt_attr act = {.name = "activation", .type = OXRT_ATTR_STRING, .s = "Relu", .s_len = 4};
        if ((st = opt_set_attr(g, conv, &act))) break;
      }
      conv->op_type = "FusedConv";
      conv->domain = "com.microsoft";
      opt_absorb_consumer(g, &u, conv, add, y);
      if (relu) opt_absorb_consumer(g, &u, conv, relu, sum);
      *changed = true;
      break;
    }
  }
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_conv_add = {
    "fuse_conv_add", OXRT_OPT_EXTENDED, true, run,
    "Conv (+ a residual Add of the same shape, + Relu) becomes com.microsoft FusedConv with input Z"};
