/* pass_fuse_qdq.c - QDQ groups become integer kernels, so a QDQ model runs without a float round trip:
 *
 *   DequantizeLinear(xq) , DequantizeLinear(wq const) [, DequantizeLinear(bias int32 const)]
 *       -> Conv   -> QuantizeLinear   =>  QLinearConv(xq, .., wq, .., y_scale, y_zp [, bias])
 *       -> MatMul -> QuantizeLinear   =>  QLinearMatMul(xq, .., wq, .., y_scale, y_zp)
 *       -> Gemm   -> QuantizeLinear   =>  com.microsoft QGemm(xq, .., wq, .., bias, y_scale, y_zp)
 *
 * and around the other operators of a quantized graph (per-tensor 8-bit parameters, one type throughout):
 *
 *   DQ(a), DQ(b) -> Add | Mul -> Q                       =>  com.microsoft QLinearAdd | QLinearMul
 *   DQ(x) -> GlobalAveragePool | AveragePool | Sigmoid | LeakyRelu -> Q
 *                                                        =>  com.microsoft QLinearGlobalAveragePool | ...
 *   DQ(x) -> Flatten | Reshape | Transpose | Squeeze | Unsqueeze | MaxPool -> Q, with the same scale and zero
 *            point on both sides                         =>  the operator on x itself (it only moves values, or
 *            picks the largest, which the monotone dequantization keeps: the result is exact; Pool.c has a
 *            native 8-bit MaxPool).
 *
 * and quantize_dynamic's chain after an integer product (the scale of A a one-element value: a
 * DynamicQuantizeLinear's scale output or a constant; the scale of B constant, one value or one per column):
 *
 *   MatMulInteger(a, b, az, bz) -> Cast(float) -> Mul(Mul(a_scale, b_scale)) [-> Add(constant row bias)]
 *                                                        =>  com.microsoft MatMulIntegerToFloat
 *
 * and any elementwise unary float operator between per-tensor 8-bit Q/DQ (Tanh, HardSwish, Relu, Clip, ...; Sigmoid
 * and LeakyRelu where the rules above leave them) => com.microsoft QLinearLookup through a 256-entry table made here
 * (see fuse_lut), and then QLinearConv -> QLinearAdd (from either form) => com.microsoft QLinearConvAdd: the residual Add in the
 * convolution's output stage, bit-identical (see fuse_conv_add).
 *
 * The operator takes over the QuantizeLinear's output (name kept); the DequantizeLinear nodes stay for their
 * other readers and eliminate_dead drops those left unread. Conditions (else the group is left alone):
 * activation and output quantized per tensor, 8-bit, with constant float32 scales and explicit constant zero
 * points; the weight a constant 8-bit initializer quantized per tensor or per output channel (Conv: axis 0;
 * MatMul: axis 1 of a 2-D weight; Gemm: the N axis); the bias, when present, a constant int32 vector dequantized
 * with scale x_scale * w_scale (what ONNX Runtime's quantizer writes) and zero point 0; the float result read by
 * the QuantizeLinear alone and no graph output (so no other reader sees a changed value); no block
 * quantization, no output_dtype / precision attributes. The fused result differs from the float QDQ
 * evaluation only by rounding: within one quantization step of the output.
 */
#include "opt.h"
#include "../ops/onnx/quant_util.h"
#include <math.h>
#include <string.h>

static bool is_onnx(const oxrt_node *n, const char *op) {
  return n && n->op_type && !*n->domain && !strcmp(n->op_type, op);
}

static bool is8(oxrt_elem_type t) { return t == OXRT_UINT8 || t == OXRT_INT8; }

/* A Q or DQ node without block quantization or attributes that change the type or precision. */
static bool plain_qdq(const oxrt_node *n) {
  for (int a = 0; a < n->n_attrs; a++) {
    const char *nm = n->attrs[a].name;
    if (strcmp(nm, "axis") && strcmp(nm, "saturate") && !(n->attrs[a].i == 0 && !strcmp(nm, "block_size")))
      return false;
  }
  return n->n_outputs == 1 && (n->n_inputs == 2 || n->n_inputs == 3);
}

/* Per-tensor 8-bit quantization parameters of a Q/DQ node: constant float32 scale and an explicit 8-bit zero point. */
static bool per_tensor8(oxrt_graph *g, const oxrt_node *n) {
  if (n->n_inputs != 3) return false;
  const oxrt_value *s = opt_const(g, n->inputs[1]), *z = opt_const(g, n->inputs[2]);
  return s && z && s->dtype == OXRT_FLOAT && s->count == 1 && z->count == 1 && is8(z->dtype);
}

/* The DequantizeLinear producing `id` (plain, with 3 inputs), or NULL. */
static oxrt_node *dq_of(oxrt_graph *g, int id) {
  oxrt_node *n = opt_producer(g, id);
  return is_onnx(n, "DequantizeLinear") && plain_qdq(n) && n->n_inputs == 3 ? n : NULL;
}

/* Activation side: DQ per tensor of an 8-bit value whose zero point has its type. */
static bool act_dq(oxrt_graph *g, const oxrt_node *dq) {
  if (!dq || !per_tensor8(g, dq)) return false;
  oxrt_elem_type xt = opt_value_type(g, dq->inputs[0]), zt = opt_const(g, dq->inputs[2])->dtype;
  return xt == OXRT_UNDEFINED || xt == zt;
}

/* Weight side: DQ of a constant 8-bit tensor of rank `rank`, per tensor or along `axis` (n_out channels). */
static bool weight_dq(oxrt_graph *g, const oxrt_node *dq, int rank, int axis, size_t n_out) {
  if (!dq) return false;
  const oxrt_value *w = opt_const(g, dq->inputs[0]), *s = opt_const(g, dq->inputs[1]), *z = opt_const(g, dq->inputs[2]);
  if (!w || !s || !z || !is8(w->dtype) || z->dtype != w->dtype || w->rank != rank || s->dtype != OXRT_FLOAT ||
      s->count != z->count)
    return false;
  if (s->count == 1) return s->rank <= 1;
  int64_t ax = oxrt_attr_int(dq, "axis", 1);
  if (ax < 0) ax += rank;
  return ax == axis && s->rank == 1 && s->count == n_out;
}

/* Bias: DQ of a constant int32 [n] with zero point 0 and scale x_scale * w_scale (per tensor or per channel). */
static bool bias_dq(oxrt_graph *g, const oxrt_node *dq, const oxrt_node *dqx, const oxrt_node *dqw, size_t n) {
  if (!dq) return false;
  const oxrt_value *b = opt_const(g, dq->inputs[0]), *s = opt_const(g, dq->inputs[1]);
  const oxrt_value *z = dq->n_inputs == 3 ? opt_const(g, dq->inputs[2]) : NULL;
  if (!b || !s || b->dtype != OXRT_INT32 || b->rank != 1 || b->count != n || s->dtype != OXRT_FLOAT)
    return false;
  if (dq->n_inputs == 3 && !z) return false;
  for (size_t i = 0; z && i < z->count; i++)
    if (((const int32_t *)z->data)[i] != 0) return false;
  const float xs = *(const float *)opt_const(g, dqx->inputs[1])->data;
  const oxrt_value *ws = opt_const(g, dqw->inputs[1]);
  if (s->count != 1 && s->count != n) return false;
  for (size_t i = 0; i < n; i++) {
    float want = xs * ((const float *)ws->data)[ws->count == 1 ? 0 : i], got = ((const float *)s->data)[s->count == 1 ? 0 : i];
    if (!(fabsf(got - want) <= 1e-6f * fabsf(want))) return false;
  }
  return true;
}

/* The QuantizeLinear that alone reads the float result `id` (no graph output), per tensor 8-bit; else NULL. */
static oxrt_node *q_after(oxrt_graph *g, const opt_uses *u, int id) {
  oxrt_node *q = opt_sole_reader(g, u, id);
  return is_onnx(q, "QuantizeLinear") && plain_qdq(q) && per_tensor8(g, q) ? q : NULL;
}

static oxrt_status *fuse(oxrt_opt_ctx *ctx, oxrt_graph *g, opt_uses *u, oxrt_node *n, bool *changed) {
  if (n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0) return NULL;
  bool conv = is_onnx(n, "Conv"), mm = is_onnx(n, "MatMul"), gemm = is_onnx(n, "Gemm");
  if (!conv && !mm && !gemm) return NULL;
  oxrt_node *dqx = dq_of(g, n->inputs[0]), *dqw = dq_of(g, n->inputs[1]);
  if (!act_dq(g, dqx) || !dqw) return NULL;
  const oxrt_value *w = opt_const(g, dqw->inputs[0]);
  if (!w || w->rank < 1) return NULL;
  size_t n_out;
  int wrank, waxis;
  bool trans_b = gemm && oxrt_attr_int(n, "transB", 0) != 0;
  if (conv) {
    wrank = w->rank, waxis = 0, n_out = (size_t)w->dims[0];
    if (wrank < 3) return NULL;
  } else if (mm) {
    wrank = 2, waxis = 1, n_out = w->rank == 2 ? (size_t)w->dims[1] : 0;
  } else {
    wrank = 2, waxis = trans_b ? 0 : 1, n_out = w->rank == 2 ? (size_t)w->dims[trans_b ? 0 : 1] : 0;
    /* QGemm scales (acc + C) by alpha, Gemm only A*B: with a bias both must be 1 */
    if (n->n_inputs == 3 && n->inputs[2] >= 0 &&
        (oxrt_attr_float(n, "beta", 1.0f) != 1.0f || oxrt_attr_float(n, "alpha", 1.0f) != 1.0f))
      return NULL;
  }
  if (!weight_dq(g, dqw, wrank, waxis, n_out)) return NULL;
  oxrt_node *dqb = NULL;
  if (!mm && n->n_inputs == 3 && n->inputs[2] >= 0) {
    dqb = dq_of(g, n->inputs[2]);
    if (!dqb) {
      dqb = opt_producer(g, n->inputs[2]); /* DQ with 2 inputs (zero point absent) */
      if (!is_onnx(dqb, "DequantizeLinear") || !plain_qdq(dqb)) return NULL;
    }
    if (!bias_dq(g, dqb, dqx, dqw, n_out)) return NULL;
  }
  oxrt_node *q = q_after(g, u, n->outputs[0]);
  if (!q) return NULL;
  if (gemm) OXRT_TRY(opt_import_domain(ctx->model, "com.microsoft", 1));
  int ins[9], k = 0;
  int xs = dqx->inputs[1], xz = dqx->inputs[2], ws = dqw->inputs[1], wz = dqw->inputs[2];
  if (gemm) {
    int v[9] = {dqx->inputs[0], xs, xz, dqw->inputs[0], ws, wz, dqb ? dqb->inputs[0] : -1, q->inputs[1], q->inputs[2]};
    memcpy(ins, v, sizeof v);
    k = 9;
  } else {
    int v[9] = {dqx->inputs[0], xs, xz, dqw->inputs[0], ws, wz, q->inputs[1], q->inputs[2], dqb ? dqb->inputs[0] : -1};
    memcpy(ins, v, sizeof v);
    k = dqb ? 9 : 8;
  }
  OXRT_TRY(opt_set_inputs(g, n, ins, k));
  int mid = n->outputs[0];
  if (gemm) {
    n->op_type = "QGemm";
    n->domain = "com.microsoft";
    /* QGemm takes alpha, transA, transB; beta is 1 (checked) and not one of its attributes */
    int keep = 0;
    for (int a = 0; a < n->n_attrs; a++)
      if (strcmp(n->attrs[a].name, "beta")) n->attrs[keep++] = n->attrs[a];
    n->n_attrs = keep;
  } else {
    n->op_type = conv ? "QLinearConv" : "QLinearMatMul";
  }
  opt_absorb_consumer(g, u, n, q, mid);
  u->count[dqx->outputs[0]]--, u->count[dqw->outputs[0]]--;
  if (dqb) u->count[dqb->outputs[0]]--;
  *changed = true;
  return NULL;
}

/* Same per-tensor parameters on two Q/DQ nodes (constant values compared). */
static bool same_params(oxrt_graph *g, const oxrt_node *a, const oxrt_node *b) {
  const oxrt_value *sa = opt_const(g, a->inputs[1]), *sb = opt_const(g, b->inputs[1]);
  const oxrt_value *za = opt_const(g, a->inputs[2]), *zb = opt_const(g, b->inputs[2]);
  return *(const float *)sa->data == *(const float *)sb->data && za->dtype == zb->dtype &&
         !memcmp(za->data, zb->data, za->nbytes);
}

typedef struct {
  const char *op, *qop; /* qop NULL: the operator runs on the quantized values as they are */
  int n_in;             /* float inputs, each from a DequantizeLinear */
  int min_opset;        /* of ai.onnx, for the 8-bit types (MaxPool) */
} qdq_rule;

static const qdq_rule rules[] = {
    {"Add", "QLinearAdd", 2, 7},
    {"Mul", "QLinearMul", 2, 7},
    {"GlobalAveragePool", "QLinearGlobalAveragePool", 1, 1},
    {"AveragePool", "QLinearAveragePool", 1, 1},
    {"Sigmoid", "QLinearSigmoid", 1, 1},
    {"LeakyRelu", "QLinearLeakyRelu", 1, 1},
    {"Flatten", NULL, 1, 1},
    {"Reshape", NULL, 1, 5},
    {"Transpose", NULL, 1, 1},
    {"Squeeze", NULL, 1, 1},
    {"Unsqueeze", NULL, 1, 1},
    {"MaxPool", NULL, 1, 12},
};

static oxrt_status *fuse_other(oxrt_opt_ctx *ctx, oxrt_graph *g, opt_uses *u, oxrt_node *n, bool *changed) {
  const qdq_rule *r = NULL;
  for (size_t i = 0; i < sizeof rules / sizeof *rules && !r; i++)
    if (is_onnx(n, rules[i].op)) r = &rules[i];
  if (!r || n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs < r->n_in || opt_node_opset(ctx->model, n) < r->min_opset)
    return NULL;
  if (r->qop && n->n_inputs != r->n_in) return NULL;
  size_t nd = 0;
  if (r->qop && oxrt_attr_ints(n, "dilations", &nd)) return NULL; /* QLinearAveragePool has none */
  oxrt_node *dq[2] = {NULL, NULL};
  for (int k = 0; k < r->n_in; k++)
    if (n->inputs[k] < 0 || !act_dq(g, dq[k] = dq_of(g, n->inputs[k]))) return NULL;
  oxrt_node *q = q_after(g, u, n->outputs[0]);
  if (!q) return NULL;
  oxrt_elem_type t = opt_const(g, q->inputs[2])->dtype;
  for (int k = 0; k < r->n_in; k++)
    if (opt_const(g, dq[k]->inputs[2])->dtype != t) return NULL;
  if (!r->qop && !same_params(g, dq[0], q)) return NULL;
  if (!strcmp(r->op, "MaxPool") && !(*(const float *)opt_const(g, q->inputs[1])->data > 0)) return NULL; /* monotone */
  int ins[8], k = 0;
  if (r->qop) {
    for (int i = 0; i < r->n_in; i++) ins[k++] = dq[i]->inputs[0], ins[k++] = dq[i]->inputs[1], ins[k++] = dq[i]->inputs[2];
    ins[k++] = q->inputs[1], ins[k++] = q->inputs[2];
    OXRT_TRY(opt_import_domain(ctx->model, "com.microsoft", 1));
  } else {
    for (int i = 0; i < n->n_inputs; i++) ins[k++] = i == 0 ? dq[0]->inputs[0] : n->inputs[i];
  }
  OXRT_TRY(opt_set_inputs(g, n, ins, k));
  if (r->qop) n->op_type = r->qop, n->domain = "com.microsoft";
  opt_absorb_consumer(g, u, n, q, n->outputs[0]);
  for (int i = 0; i < r->n_in; i++) u->count[dq[i]->outputs[0]]--;
  *changed = true;
  return NULL;
}

/* Value `id` holds one element: a constant of one element, or DynamicQuantizeLinear's scale (output 1). */
static bool one_element(oxrt_graph *g, int id) {
  const oxrt_value *c = opt_const(g, id);
  if (c) return c->count == 1 && c->dtype == OXRT_FLOAT;
  oxrt_node *p = opt_producer(g, id);
  return is_onnx(p, "DynamicQuantizeLinear") && p->n_outputs > 1 && p->outputs[1] == id;
}

static oxrt_status *fuse_dynamic(oxrt_opt_ctx *ctx, oxrt_graph *g, opt_uses *u, oxrt_node *n, bool *changed) {
  if (!is_onnx(n, "MatMulInteger") || n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs < 2) return NULL;
  const oxrt_value *b = opt_const(g, n->inputs[1]);
  if (!b || b->rank != 2) return NULL;
  size_t N = (size_t)b->dims[1];
  oxrt_node *cast = opt_sole_reader(g, u, n->outputs[0]);
  if (!is_onnx(cast, "Cast") || cast->n_outputs != 1 || oxrt_attr_int(cast, "to", 0) != OXRT_FLOAT) return NULL;
  oxrt_node *mul = opt_sole_reader(g, u, cast->outputs[0]);
  if (!opt_is_op(mul, "Mul", 2)) return NULL;
  int sid = opt_other_input(mul, cast->outputs[0]);
  oxrt_node *smul = opt_sole_producer(g, u, sid);
  if (sid == cast->outputs[0] || !opt_is_op(smul, "Mul", 2)) return NULL;
  int as = -1, bs = -1;
  for (int k = 0; k < 2; k++) {
    const oxrt_value *c = opt_const(g, smul->inputs[k]);
    if (c && c->dtype == OXRT_FLOAT && c->rank <= 1 && (c->count == 1 || c->count == N) &&
        one_element(g, smul->inputs[1 - k]))
      as = smul->inputs[1 - k], bs = smul->inputs[k];
  }
  if (as < 0) return NULL;
  oxrt_node *last = mul, *add = opt_sole_reader(g, u, mul->outputs[0]);
  int bias = -1;
  if (opt_is_op(add, "Add", 2)) {
    int other = opt_other_input(add, mul->outputs[0]);
    const oxrt_value *c = opt_const(g, other);
    if (other != mul->outputs[0] && c && c->dtype == OXRT_FLOAT && c->rank == 1 && c->count == N) bias = other, last = add;
  }
  OXRT_TRY(opt_import_domain(ctx->model, "com.microsoft", 1));
  int ins[7] = {n->inputs[0], n->inputs[1], as, bs, n->n_inputs > 2 ? n->inputs[2] : -1,
                n->n_inputs > 3 ? n->inputs[3] : -1, bias};
  OXRT_TRY(opt_set_inputs(g, n, ins, bias >= 0 ? 7 : 6));
  n->op_type = "MatMulIntegerToFloat";
  n->domain = "com.microsoft";
  int y = last->outputs[0], mid = n->outputs[0];
  n->outputs[0] = y;
  g->values[y].producer = g->values[mid].producer;
  g->values[mid].producer = -1;
  u->count[mid] = u->count[cast->outputs[0]] = u->count[sid] = 0;
  if (last == add) u->count[mul->outputs[0]] = 0;
  u->count[smul->inputs[0]]--, u->count[smul->inputs[1]]--;
  cast->op_type = mul->op_type = smul->op_type = NULL;
  if (last == add) add->op_type = NULL;
  *changed = true;
  return NULL;
}

/* Elementwise float operators that map each value on its own (extra inputs, where any, constant): between a
 * per-tensor DequantizeLinear and QuantizeLinear, each of the 256 input bytes has one output byte. */
static const char *const lut_ops[] = {"Tanh",     "HardSwish", "HardSigmoid", "Relu",  "Clip",    "Elu",   "Selu",
                                      "Celu",     "Softplus",  "Softsign",    "Exp",   "Log",     "Neg",   "Abs",
                                      "Erf",      "Gelu",      "Mish",        "Sqrt",  "Sigmoid", "LeakyRelu",
                                      "Reciprocal", "ThresholdedRelu", "Sin", "Cos", "Round", "Floor", "Ceil", "Sign"};

/* DQ(x) -> unary op -> Q => com.microsoft QLinearLookup(xq, table): the table is the unfused graph itself run at
 * session creation on the 256 dequantized input values (oxrt's own kernel for the op), quantized as
 * QuantizeLinear does. The op's vector and scalar paths may differ in the last bit of a transcendental function,
 * so an output can differ from the unfused graph by one step where that bit decides a rounding tie. */
static oxrt_status *fuse_lut(oxrt_opt_ctx *ctx, oxrt_graph *g, opt_uses *u, oxrt_node *n, bool *changed) {
  if (ctx->portable) return NULL; /* oxrt's own operator: not in a model that is saved */
  bool listed = false;
  for (size_t i = 0; i < sizeof lut_ops / sizeof *lut_ops && !listed; i++) listed = is_onnx(n, lut_ops[i]);
  if (!listed || n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs < 1 || n->n_inputs > 3 || n->inputs[0] < 0 ||
      opt_has_subgraph(n))
    return NULL;
  for (int k = 1; k < n->n_inputs; k++)
    if (n->inputs[k] >= 0 && !opt_const(g, n->inputs[k])) return NULL;
  oxrt_node *dq = dq_of(g, n->inputs[0]);
  if (!act_dq(g, dq)) return NULL;
  oxrt_node *q = q_after(g, u, n->outputs[0]);
  if (!q) return NULL;
  const oxrt_value *xs = opt_const(g, dq->inputs[1]), *xz = opt_const(g, dq->inputs[2]);
  const oxrt_value *ys = opt_const(g, q->inputs[1]), *yz = opt_const(g, q->inputs[2]);
  bool xsg = xz->dtype == OXRT_INT8, ysg = yz->dtype == OXRT_INT8;
  const float sx = *(const float *)xs->data, sy = *(const float *)ys->data;
  const float zx = xsg ? *(const int8_t *)xz->data : *(const uint8_t *)xz->data;
  const float zy = ysg ? *(const int8_t *)yz->data : *(const uint8_t *)yz->data;
  int64_t d256 = 256;
  oxrt_value *xin = NULL, *out[1] = {NULL}, *table = NULL;
  OXRT_TRY(oxrt_tensor_new(OXRT_FLOAT, 1, &d256, &xin));
  for (int b = 0; b < 256; b++) { /* input byte b, as DequantizeLinear reads it */
    float v = xsg ? (float)(int8_t)(uint8_t)b : (float)b;
    ((float *)xin->data)[b] = (v - zx) * sx;
  }
  const oxrt_value *ins[3] = {xin, NULL, NULL};
  for (int k = 1; k < n->n_inputs; k++) ins[k] = n->inputs[k] >= 0 ? opt_const(g, n->inputs[k]) : NULL;
  oxrt_status *st = opt_eval_node(ctx->model, n, ins, out);
  oxrt_value_free(xin);
  if (st || !out[0] || out[0]->dtype != OXRT_FLOAT || out[0]->count != 256) { /* not this op's float form */
    oxrt_status_free(st);
    oxrt_value_free(out[0]);
    return NULL;
  }
  st = oxrt_tensor_new(yz->dtype, 1, &d256, &table);
  if (st) {
    oxrt_value_free(out[0]);
    return st;
  }
  for (int b = 0; b < 256; b++) { /* as QuantizeLinear writes it */
    float v = q_rne_sat(((const float *)out[0]->data)[b] / sy, zy, ysg ? -128.0f : 0.0f, ysg ? 127.0f : 255.0f);
    ((uint8_t *)table->data)[b] = ysg ? (uint8_t)(int8_t)v : (uint8_t)v;
  }
  oxrt_value_free(out[0]);
  OXRT_TRY(opt_import_domain(ctx->model, "com.microsoft", 1));
  int tid = opt_add_initializer(ctx, g, "lookup_table", table);
  if (tid < 0) return OXRT_OOM();
  for (int k = 1; k < n->n_inputs; k++)
    if (n->inputs[k] >= 0) u->count[n->inputs[k]]--;
  int ins2[2] = {dq->inputs[0], tid};
  OXRT_TRY(opt_set_inputs(g, n, ins2, 2));
  n->op_type = "QLinearLookup", n->domain = "com.microsoft", n->n_attrs = 0;
  opt_absorb_consumer(g, u, n, q, n->outputs[0]);
  u->count[dq->outputs[0]]--;
  *changed = true;
  return NULL;
}

/* Same constant per-tensor value in two inputs (one id, or equal one-element constants of one type). */
static bool same_scalar(oxrt_graph *g, int a, int b) {
  if (a == b) return true;
  const oxrt_value *va = opt_const(g, a), *vb = opt_const(g, b);
  return va && vb && va->count == 1 && vb->count == 1 && va->dtype == vb->dtype && !memcmp(va->data, vb->data, va->nbytes);
}

/* QLinearConv -> QLinearAdd (the convolution's result read by the Add alone, and read back with the scale and
 * zero point it was written with) => com.microsoft QLinearConvAdd at the Add's place, so the residual joins the
 * convolution's output stage (see QLinearConv.c). The node keeps the convolution's name and attributes. */
static oxrt_status *fuse_conv_add(oxrt_opt_ctx *ctx, oxrt_graph *g, opt_uses *u, oxrt_node *add, bool *changed) {
  if (ctx->portable) return NULL; /* oxrt's own operator: not in a model that is saved */
  if (!add->op_type || strcmp(add->op_type, "QLinearAdd") || strcmp(add->domain, "com.microsoft") ||
      add->n_inputs != 8 || add->n_outputs != 1 || add->outputs[0] < 0)
    return NULL;
  for (int k = 0; k < 8; k++)
    if (add->inputs[k] < 0) return NULL;
  if (add->inputs[0] == add->inputs[3]) return NULL;
  for (int side = 1; side >= 0; side--) { /* the later operand first: ResNet's main path, not the shortcut */
    int ti = side * 3, ri = 3 - ti, mid = add->inputs[ti];
    oxrt_node *conv = opt_producer(g, mid);
    if (!is_onnx(conv, "QLinearConv") || conv->n_outputs != 1 || conv->n_inputs < 8 || conv->inputs[7] < 0 ||
        opt_sole_reader(g, u, mid) != add || !same_scalar(g, conv->inputs[6], add->inputs[ti + 1]) ||
        !same_scalar(g, conv->inputs[7], add->inputs[ti + 2]))
      continue;
    OXRT_TRY(opt_import_domain(ctx->model, "com.microsoft", 1));
    int ins[14];
    for (int k = 0; k < 9; k++) ins[k] = k < conv->n_inputs ? conv->inputs[k] : -1;
    ins[9] = add->inputs[ri], ins[10] = add->inputs[ri + 1], ins[11] = add->inputs[ri + 2];
    ins[12] = add->inputs[6], ins[13] = add->inputs[7];
    u->count[add->inputs[ti + 1]]--, u->count[add->inputs[ti + 2]]--;
    OXRT_TRY(opt_set_inputs(g, conv, ins, 14));
    int *outs = add->outputs;
    oxrt_node fused = *conv; /* at the Add's index: after every producer of the residual */
    fused.outputs = outs, fused.n_outputs = 1;
    fused.op_type = "QLinearConvAdd", fused.domain = "com.microsoft";
    *add = fused;
    conv->op_type = NULL;
    g->values[mid].producer = -1;
    u->count[mid] = 0;
    *changed = true;
    return NULL;
  }
  return NULL;
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  oxrt_status *st = NULL;
  for (int i = 0; i < g->n_nodes && !st; i++)
    if (g->nodes[i].op_type) {
      bool ch = false;
      st = fuse(ctx, g, &u, &g->nodes[i], &ch);
      if (!st && !ch) st = fuse_other(ctx, g, &u, &g->nodes[i], &ch);
      if (!st && !ch) st = fuse_dynamic(ctx, g, &u, &g->nodes[i], &ch);
      if (!st && !ch) st = fuse_lut(ctx, g, &u, &g->nodes[i], &ch);
      *changed |= ch;
    }
  for (int i = 0; i < g->n_nodes && !st; i++) /* after the loop above made the QLinearConv / QLinearAdd pairs */
    if (g->nodes[i].op_type) st = fuse_conv_add(ctx, g, &u, &g->nodes[i], changed);
  opt_uses_free(&u);
  return st;
}

const oxrt_opt_pass oxrt_pass_fuse_qdq = {"fuse_qdq", OXRT_OPT_BASIC, true, run,
                                          "DequantizeLinear -> op -> QuantizeLinear groups into integer "
                                          "operators (QLinearConv, QLinearMatMul, QGemm, QLinearAdd, ...)"};
