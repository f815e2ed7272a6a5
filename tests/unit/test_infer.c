/* test_infer.c - the shape/type rules of the operators' infer hooks, through the walker (src/exec/infer.c):
 * broadcasting with symbolic dims, conv/pool windows, Reshape with 0/-1, data propagation, subgraphs. Models
 * are written in ONNX's text syntax; each expectation is the type of one value as "float[N,3,?]". */
#include "unit.h"
#include "exec/infer.h"
#include "exec/registry.h"
#include "onnx/text_format.h"
#include <stdio.h>
#include <string.h>

static const char *type_text(const oxrt_graph *g, const char *name, char *buf, size_t cap) {
  int id = oxrt_graph_find((oxrt_graph *)g, name);
  const oxrt_type *t = id >= 0 ? g->values[id].type : NULL;
  if (!t || t->kind != OXRT_KIND_TENSOR) return snprintf(buf, cap, "(none)"), buf;
  size_t n = (size_t)snprintf(buf, cap, "%s", oxrt_elem_type_name(t->elem_type));
  if (t->rank < 0) return buf;
  n += (size_t)snprintf(buf + n, cap - n, "[");
  for (int i = 0; i < t->rank && n < cap; i++) {
    const char *sym = t->dim_params ? t->dim_params[i] : NULL;
    if (t->dims[i] >= 0) n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    else n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "", sym ? sym : "?");
  }
  if (n < cap) snprintf(buf + n, cap - n, "]");
  return buf;
}

/* Parses `body` (graph text after the header), infers with `flags`; returns the model (NULL on a parse error). */
static oxrt_model *infer_text(const char *graph, unsigned flags, oxrt_status **st) {
  char text[4096];
  snprintf(text, sizeof text, "<ir_version: 8, opset_import: [\"\" : 17]>\n%s", graph);
  oxrt_model *m = NULL;
  oxrt_status *ps = oxrt_text_parse(text, &m);
  if (ps) {
    fprintf(stderr, "  parse: %s\n", ps->message);
    oxrt_status_free(ps);
    return NULL;
  }
  *st = oxrt_infer_graph(m, m->graph, flags);
  return m;
}

static int expect_types(const oxrt_graph *g, const char *const *pairs) {
  int bad = 0;
  char buf[256];
  for (; *pairs; pairs += 2) {
    const char *got = type_text(g, pairs[0], buf, sizeof buf);
    if (strcmp(got, pairs[1]) != 0) {
      fprintf(stderr, "  %s: expected %s, got %s\n", pairs[0], pairs[1], got);
      bad++;
    }
  }
  return bad;
}

static void run_case(const char *graph, const char *const *pairs) {
  oxrt_status *st = NULL;
  oxrt_model *m = infer_text(graph, OXRT_INFER_EXTENDED, &st);
  CHECK(m != NULL);
  if (!m) return;
  if (st) fprintf(stderr, "  infer: %s\n", st->message);
  CHECK(st == NULL);
  oxrt_status_free(st);
  CHECK(expect_types(m->graph, pairs) == 0);
  oxrt_model_free(m);
}

void test_infer_broadcast_symbolic(void) {
  run_case("g (float[N,1,4] x, float[3,1] y, float[N,4] u, float[M,4] v) => (float z) {\n"
           "  a = Add(x, y)\n  b = Mul(u, u)\n  c = Sub(u, v)\n  d = Less(x, y)\n  z = Identity(a)\n}\n",
           (const char *const[]){"a", "float[N,3,4]", "b", "float[N,4]", "c", "float[?,4]", "d", "bool[N,3,4]", NULL});
  /* fixed sizes that differ are a contradiction, named at inference */
  oxrt_status *st = NULL;
  oxrt_model *m = infer_text("g (float[3] x, float[4] y) => (float z) {\n  z = Add(x, y)\n}\n", 0, &st);
  CHECK(m && st && strstr(st->message, "cannot be broadcast"));
  oxrt_status_free(st);
  oxrt_model_free(m);
}

void test_infer_conv_pool_windows(void) {
  run_case("g (float[B,3,224,224] x, float[64,3,7,7] w, float[1,1,6,6] s) => (float z) {\n"
           "  c = Conv <strides = [2, 2], pads = [3, 3, 3, 3]> (x, w)\n"
           "  p = MaxPool <kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]> (c)\n"
           "  q = AveragePool <kernel_shape = [3, 3], strides = [2, 2], auto_pad = \"SAME_UPPER\"> (p)\n"
           "  f = MaxPool <kernel_shape = [3, 3], strides = [2, 2]> (s)\n"
           "  e = MaxPool <kernel_shape = [3, 3], strides = [2, 2], ceil_mode = 1> (s)\n"
           "  gp = GlobalAveragePool (q)\n  z = Identity(gp)\n}\n",
           (const char *const[]){"c", "float[B,64,112,112]", "p", "float[B,64,56,56]", "q", "float[B,64,28,28]",
                                 "f", "float[1,1,2,2]", "e", "float[1,1,3,3]", "gp", "float[B,64,1,1]", NULL});
  /* channels that do not match the weight */
  oxrt_status *st = NULL;
  oxrt_model *m = infer_text("g (float[1,4,8,8] x, float[2,3,3,3] w) => (float z) {\n  z = Conv(x, w)\n}\n", 0, &st);
  CHECK(m && st && strstr(st->message, "input channels"));
  oxrt_status_free(st);
  oxrt_model_free(m);
}

void test_infer_reshape_zero_and_minus_one(void) {
  run_case("g (float[N,12,8] x, float[2,12,8] y) => (float z) {\n"
           "  s1 = Constant <value = int64[3] {0, -1, 4}> ()\n  a = Reshape(x, s1)\n"
           "  s2 = Constant <value = int64[2] {0, -1}> ()\n  b = Reshape(y, s2)\n"
           "  s3 = Constant <value = int64[3] {-1, 3, 0}> ()\n  c = Reshape(y, s3)\n  z = Identity(a)\n}\n",
           /* x's total is unknown: the -1 stays unknown; y's is 192: 192 / 2 and 192 / (3 * 8) */
           (const char *const[]){"a", "float[N,?,4]", "b", "float[2,96]", "c", "float[8,3,8]", NULL});
}

void test_infer_data_propagation(void) {
  /* Shape -> Gather/Slice -> arithmetic -> Concat -> Reshape/Expand/ConstantOfShape keep symbolic names */
  run_case("g (float[batch,seq,8] x) => (float z) {\n"
           "  s = Shape(x)\n  i0 = Constant <value = int64[1] {0}> ()\n  b = Gather <axis = 0> (s, i0)\n"
           "  st = Constant <value = int64[1] {1}> ()\n  en = Constant <value = int64[1] {2}> ()\n"
           "  q = Slice(s, st, en)\n  tail = Constant <value = int64[2] {2, 4}> ()\n"
           "  shp = Concat <axis = 0> (b, q, tail)\n  r = Reshape(x, shp)\n"
           "  two = Constant <value = int64[1] {2}> ()\n  last = Gather <axis = 0> (s, en)\n"
           "  dbl = Mul(last, two)\n  shp2 = Concat <axis = 0> (b, dbl)\n  c = ConstantOfShape(shp2)\n"
           "  e = Expand(x, s)\n  n = Size(x)\n  z = Identity(r)\n}\n",
           (const char *const[]){"s", "int64[3]", "shp", "int64[4]", "r", "float[batch,seq,2,4]", "dbl", "int64[1]",
                                 "c", "float[batch,16]", "e", "float[batch,seq,8]", "n", "int64[]", NULL});
}

void test_infer_matmul_gemm_and_layout(void) {
  run_case("g (float[B,S,768] x, float[768,3072] w, float[N,5] a, float[7,5] b, float[B,3,4,5] t) => (float z) {\n"
           "  m = MatMul(x, w)\n  g1 = Gemm <transB = 1> (a, b)\n  tr = Transpose <perm = [0, 2, 3, 1]> (t)\n"
           "  fl = Flatten <axis = 2> (t)\n  ax = Constant <value = int64[1] {1}> ()\n  un = Unsqueeze(a, ax)\n"
           "  sq = Squeeze(un, ax)\n  rs = ReduceMean <keepdims = 0> (t, ax)\n  am = ArgMax <axis = -1> (t)\n"
           "  z = Identity(m)\n}\n",
           (const char *const[]){"m", "float[B,S,3072]", "g1", "float[N,7]", "tr", "float[B,4,5,3]",
                                 "fl", "float[?,20]", "un", "float[N,1,5]", "sq", "float[N,5]", "rs", "float[B,4,5]",
                                 "am", "int64[B,3,4,1]",
                                 NULL});
}

void test_infer_if_branches_merge(void) {
  /* both branches give [N,4] (declared [?,?]): the If output is [N,4]; values inside the branches are typed too */
  oxrt_status *st = NULL;
  oxrt_model *m = infer_text("g (float[N,4] x, bool c) => (float z) {\n"
                             "  y = If (c) <then_branch = g1 () => (float[?,?] t2) { t1 = Relu(x)  t2 = Neg(t1) },\n"
                             "             else_branch = g2 () => (float[?,?] e1) { e1 = Abs(x) }>\n"
                             "  z = Identity(y)\n}\n",
                             OXRT_INFER_EXTENDED, &st);
  CHECK(m != NULL);
  if (!m) return;
  CHECK(st == NULL);
  oxrt_status_free(st);
  CHECK(expect_types(m->graph, (const char *const[]){"y", "float[N,4]", NULL}) == 0);
  const oxrt_attr *then_g = oxrt_node_attr(&m->graph->nodes[0], "then_branch");
  CHECK(then_g && then_g->g &&
        expect_types(then_g->g, (const char *const[]){"t1", "float[N,4]", "t2", "float[N,4]", NULL}) == 0);
  oxrt_model_free(m);
}

void test_infer_resize_pad_convtranspose_rnn(void) {
  run_case("g (float[1,8,20,30] x, float[8,4,3,3] w, float[B,50,16] s, float[4,64,16] wl, float[4,64,16] rl) "
           "=> (float z) {\n"
           "  sc = Constant <value = float[4] {1.0, 1.0, 2.0, 0.5}> ()\n  r = Resize <mode = \"nearest\"> (x, \"\", sc)\n"
           "  sz = Constant <value = int64[4] {1, 8, 7, 9}> ()\n  r2 = Resize(x, \"\", \"\", sz)\n"
           "  pd = Constant <value = int64[8] {0, 0, 1, 2, 0, 0, 3, 4}> ()\n  p = Pad(x, pd)\n"
           "  ct = ConvTranspose <strides = [2, 2], pads = [1, 1, 1, 1], output_padding = [1, 1], group = 2> (x, w)\n"
           "  y, yh = LSTM <hidden_size = 16, layout = 1> (s, wl, rl)\n"
           "  zero = Constant <value = int64 {0}> ()\n  sh = Shape(s)\n  one = Constant <value = int64[1] {1}> ()\n"
           "  n = Gather <axis = 0> (sh, zero)\n  step = Constant <value = int64 {1}> ()\n  rg = Range(zero, n, step)\n"
           "  z = Identity(r)\n}\n",
           (const char *const[]){"r", "float[1,8,40,15]", "r2", "float[1,8,7,9]", "p", "float[1,8,24,36]",
                                 /* 2 * (20 - 1) + 1 + 3 - 2 = 40, channels 4 * group 2 */
                                 "ct", "float[1,8,40,60]", "y", "float[B,50,1,16]", "yh", "float[B,1,16]",
                                 "rg", "int64[B]", NULL});
}

void test_infer_op_flags(void) {
  /* operator properties the optimizer reads from the schema instead of name lists */
  const struct {
    const char *domain, *op;
    unsigned want, not_want;
  } cases[] = {
      {"", "RandomNormal", OXRT_OP_NONDETERMINISTIC, 0},
      {"", "RandomUniformLike", OXRT_OP_NONDETERMINISTIC, 0},
      {"", "Dropout", OXRT_OP_NONDETERMINISTIC | OXRT_OP_SAME_ELEM_TYPE, 0},
      {"", "DequantizeLinear", OXRT_OP_NO_FOLD, OXRT_OP_NONDETERMINISTIC},
      {"", "Add", OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE, OXRT_OP_NONDETERMINISTIC | OXRT_OP_NO_FOLD},
      {"", "Reshape", OXRT_OP_SAME_ELEM_TYPE, OXRT_OP_INPUT1_SAME_TYPE},
      {"com.microsoft", "FusedConv", OXRT_OP_SAME_ELEM_TYPE | OXRT_OP_INPUT1_SAME_TYPE, 0},
      {"", "Cast", 0, OXRT_OP_SAME_ELEM_TYPE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const oxrt_op_schema *sc = oxrt_registry_find(cases[i].domain, cases[i].op);
    CHECK(sc != NULL);
    if (!sc) continue;
    if ((sc->flags & cases[i].want) != cases[i].want || (sc->flags & cases[i].not_want))
      fprintf(stderr, "  %s: flags %#x\n", cases[i].op, sc->flags);
    CHECK((sc->flags & cases[i].want) == cases[i].want);
    CHECK((sc->flags & cases[i].not_want) == 0);
  }
  /* every ai.onnx operator the old central lists shaped still has a hook */
  const char *const shaped[] = {"Relu", "Add", "Equal", "Where", "Cast", "MatMul", "Gemm", "Conv", "MaxPool",
                                "GlobalAveragePool", "Flatten", "Transpose", "Shape", "Reshape", "Concat", "Constant",
                                "ConstantOfShape", "Expand", "ReduceMean", "ArgMax", "Squeeze", "Unsqueeze", "Slice",
                                "Split", "Size", "Gather", "GatherElements", "Range", "CastLike", "NonZero", "Tile",
                                "RandomNormalLike", "Bernoulli", "Identity", "LayerNormalization", "If", "Loop", "Scan"};
  for (size_t i = 0; i < sizeof shaped / sizeof *shaped; i++) {
    const oxrt_op_schema *sc = oxrt_registry_find("", shaped[i]);
    if (!sc || !sc->infer) fprintf(stderr, "  %s: no infer hook\n", shaped[i]);
    CHECK(sc && sc->infer);
  }
}
