/* test_opt.c - the model writer and the graph optimizer: round trips, fusions, the public entry points. */
#include "core/dtype.h"
#include "onnx/onnx_reader.h"
#include "onnx/onnx_writer.h"
#include "opt/opt.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ IR builder */
typedef struct {
  oxrt_model *m;
  oxrt_graph *g;
} builder;

static void b_init(builder *b, int64_t opset) {
  b->m = calloc(1, sizeof *b->m);
  b->m->arena = oxrt_arena_create();
  b->m->ir_version = 8;
  b->m->n_opsets = 1;
  b->m->opsets = oxrt_arena_alloc(b->m->arena, sizeof(oxrt_opset));
  b->m->opsets[0].domain = "";
  b->m->opsets[0].version = opset;
  b->m->producer_name = "test_opt";
  b->m->producer_version = b->m->domain = b->m->doc = "";
  b->g = b->m->graph = oxrt_graph_new(b->m->arena, NULL);
  b->g->name = "g";
}

static oxrt_type *tensor_type(builder *b, oxrt_elem_type t, int rank, const int64_t *dims) {
  oxrt_type *ty = oxrt_arena_alloc(b->m->arena, sizeof *ty);
  ty->kind = OXRT_KIND_TENSOR;
  ty->elem_type = t;
  ty->rank = rank;
  ty->dims = oxrt_arena_alloc(b->m->arena, sizeof(int64_t) * (size_t)(rank + 1));
  ty->dim_params = oxrt_arena_alloc(b->m->arena, sizeof(char *) * (size_t)(rank + 1));
  memcpy(ty->dims, dims, sizeof(int64_t) * (size_t)rank);
  return ty;
}

static void add_io(builder *b, const char *name, oxrt_type *t, bool input) {
  int id = oxrt_graph_intern(b->g, name);
  b->g->values[id].type = t;
  int **arr = input ? &b->g->inputs : &b->g->outputs;
  int *n = input ? &b->g->n_inputs : &b->g->n_outputs;
  int *na = oxrt_arena_alloc(b->m->arena, sizeof(int) * (size_t)(*n + 1));
  if (*n) memcpy(na, *arr, sizeof(int) * (size_t)*n);
  na[(*n)++] = id;
  *arr = na;
  if (input) b->g->values[id].is_input = true;
  else b->g->values[id].is_output = true;
}

/* A float initializer with values v[i] = start + i * step. */
static void add_init(builder *b, const char *name, oxrt_elem_type t, int rank, const int64_t *dims, double start,
                     double step) {
  oxrt_value *v;
  oxrt_tensor_new(t, rank, dims, &v);
  for (size_t i = 0; i < v->count; i++) oxrt_store_f64(t, v->data, i, start + (double)i * step);
  b->g->values[oxrt_graph_intern(b->g, name)].init = v;
}

/* Node from space-separated input/output names ("-" = omitted). */
static oxrt_node *add_node(builder *b, const char *op, const char *ins, const char *outs) {
  int k = oxrt_graph_add_node(b->g);
  oxrt_node *n = &b->g->nodes[k];
  n->op_type = op;
  n->name = op;
  n->inputs = oxrt_arena_alloc(b->m->arena, sizeof(int) * 8);
  n->outputs = oxrt_arena_alloc(b->m->arena, sizeof(int) * 8);
  n->attrs = oxrt_arena_alloc(b->m->arena, sizeof(oxrt_attr) * 8);
  for (int pass = 0; pass < 2; pass++) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", pass ? outs : ins);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
      int id = strcmp(t, "-") ? oxrt_graph_intern(b->g, t) : -1;
      if (pass) {
        n->outputs[n->n_outputs++] = id;
        if (id >= 0) b->g->values[id].producer = k;
      } else {
        n->inputs[n->n_inputs++] = id;
      }
    }
  }
  return n;
}

static void attr_ints(builder *b, oxrt_node *n, const char *name, const int64_t *v, size_t c) {
  oxrt_attr *a = &n->attrs[n->n_attrs++];
  memset(a, 0, sizeof *a);
  a->name = name;
  a->type = OXRT_ATTR_INTS;
  a->ints = oxrt_arena_alloc(b->m->arena, sizeof(int64_t) * (c + 1));
  memcpy(a->ints, v, sizeof(int64_t) * c);
  a->n = c;
}

static void attr_float(oxrt_node *n, const char *name, float f) {
  oxrt_attr *a = &n->attrs[n->n_attrs++];
  memset(a, 0, sizeof *a);
  a->name = name;
  a->type = OXRT_ATTR_FLOAT;
  a->f = f;
}

/* x[1,2,5,5] -> Conv(3x3, pad 1) -> BatchNormalization -> Identity -> Add(per-channel const)
 *           -> Transpose -> Transpose (identity pair) -> Relu -> y;  plus a dead Neg and a foldable Unsqueeze. */
static void build_conv_model(builder *b) {
  b_init(b, 13);
  int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3}, cd[1] = {3}, ad[3] = {3, 1, 1}, sd[1] = {4};
  add_io(b, "x", tensor_type(b, OXRT_FLOAT, 4, xd), true);
  add_init(b, "W", OXRT_FLOAT, 4, wd, -0.5, 0.02);
  add_init(b, "B", OXRT_FLOAT, 1, cd, 0.1, 0.1);
  add_init(b, "scale", OXRT_FLOAT, 1, cd, 0.5, 0.25);
  add_init(b, "beta", OXRT_FLOAT, 1, cd, -0.2, 0.3);
  add_init(b, "mean", OXRT_FLOAT, 1, cd, 0.05, 0.05);
  add_init(b, "var", OXRT_FLOAT, 1, cd, 0.5, 0.5);
  add_init(b, "addc", OXRT_FLOAT, 3, ad, 1.0, -0.5);
  add_init(b, "s", OXRT_FLOAT, 1, sd, 1.0, 1.0);
  int64_t one = 1;
  oxrt_value *axes;
  oxrt_tensor_new(OXRT_INT64, 1, &one, &axes);
  ((int64_t *)axes->data)[0] = 0;
  b->g->values[oxrt_graph_intern(b->g, "axes")].init = axes;
  oxrt_node *conv = add_node(b, "Conv", "x W B", "c");
  int64_t pads[4] = {1, 1, 1, 1};
  attr_ints(b, conv, "pads", pads, 4);
  oxrt_node *bn = add_node(b, "BatchNormalization", "c scale beta mean var", "bn");
  attr_float(bn, "epsilon", 1e-3f);
  add_node(b, "Identity", "bn", "id");
  add_node(b, "Add", "id addc", "a");
  int64_t p1[4] = {0, 2, 3, 1}, p2[4] = {0, 3, 1, 2};
  attr_ints(b, add_node(b, "Transpose", "a", "t1"), "perm", p1, 4);
  attr_ints(b, add_node(b, "Transpose", "t1", "t2"), "perm", p2, 4);
  add_node(b, "Relu", "t2", "y");
  add_node(b, "Neg", "t2", "dead");
  add_node(b, "Unsqueeze", "s axes", "s2");
  add_node(b, "Mul", "s2 s2", "z");
  int64_t yd[4] = {1, 3, 5, 5}, zd[2] = {1, 4};
  add_io(b, "y", tensor_type(b, OXRT_FLOAT, 4, yd), false);
  add_io(b, "z", tensor_type(b, OXRT_FLOAT, 2, zd), false);
}

static oxrt_session *session_from(const uint8_t *data, size_t size, oxrt_opt_level level) {
  oxrt_session_options *o;
  oxrt_session *s = NULL;
  oxrt_session_options_create(&o);
  oxrt_session_options_set_opt_level(o, level);
  oxrt_status *st = oxrt_session_create_from_memory(data, size, o, &s);
  oxrt_session_options_free(o);
  if (st) {
    fprintf(stderr, "  session: %s\n", oxrt_status_get_message(st));
    oxrt_status_free(st);
    unit_failures++;
  }
  return s;
}

static float xin[50];

static void run_conv_model(oxrt_session *s, float *y, float *z) {
  for (int i = 0; i < 50; i++) xin[i] = sinf((float)i);
  int64_t xd[4] = {1, 2, 5, 5};
  oxrt_value *x, *outs[2] = {NULL, NULL};
  oxrt_value_wrap_tensor(OXRT_FLOAT, xd, 4, xin, sizeof xin, &x);
  const char *in_names[1] = {"x"}, *out_names[2] = {"y", "z"};
  const oxrt_value *ins[1] = {x};
  oxrt_status *st = oxrt_session_run(s, NULL, in_names, ins, 1, out_names, 2, outs);
  CHECK(st == NULL);
  if (st) {
    fprintf(stderr, "  run: %s\n", oxrt_status_get_message(st));
    oxrt_status_free(st);
  } else {
    CHECK(oxrt_value_get_elem_count(outs[0]) == 75 && oxrt_value_get_elem_count(outs[1]) == 4);
    memcpy(y, oxrt_value_get_data(outs[0]), 75 * sizeof(float));
    memcpy(z, oxrt_value_get_data(outs[1]), 4 * sizeof(float));
  }
  oxrt_value_free(outs[0]);
  oxrt_value_free(outs[1]);
  oxrt_value_free(x);
}

static size_t node_count(oxrt_session *s) {
  oxrt_model_stats ms = OXRT_INIT(oxrt_model_stats);
  oxrt_session_get_model_stats(s, &ms);
  return ms.node_count;
}

/* The same outputs with and without optimisation; the optimized graph is one FusedConv. */
void test_opt_conv_bn_fusion(void) {
  builder b;
  build_conv_model(&b);
  uint8_t *data;
  size_t size;
  CHECK(oxrt_serialize_model(b.m, &data, &size) == NULL);
  oxrt_model_free(b.m);
  oxrt_session *s0 = session_from(data, size, OXRT_OPT_DISABLE), *s1 = session_from(data, size, OXRT_OPT_ALL);
  free(data);
  if (!s0 || !s1) {
    oxrt_session_free(s0);
    oxrt_session_free(s1);
    return;
  }
  CHECK(node_count(s0) == 10);
  CHECK(node_count(s1) == 1); /* one FusedConv: Conv with BN and Add folded in, Relu fused */
  float y0[75], y1[75], z0[4], z1[4];
  run_conv_model(s0, y0, z0);
  run_conv_model(s1, y1, z1);
  for (int i = 0; i < 75; i++) CHECK(fabsf(y0[i] - y1[i]) <= 1e-5f + 1e-4f * fabsf(y0[i]));
  for (int i = 0; i < 4; i++) CHECK(z0[i] == z1[i] && z0[i] == (float)((i + 1) * (i + 1)));
  oxrt_session_free(s0);
  oxrt_session_free(s1);
}

/* Each level runs only its passes; a disabled pass does nothing. */
void test_opt_levels_and_disable(void) {
  builder b;
  build_conv_model(&b);
  oxrt_opt_options o = {OXRT_OPT_BASIC, 0, "fuse_conv_bn,eliminate_dead_nodes", NULL, NULL, false, 0, NULL, NULL};
  CHECK(oxrt_optimize_model(b.m, &o) == NULL);
  bool has_bn = false, has_neg = false, has_identity = false;
  for (int i = 0; i < b.g->n_nodes; i++) {
    has_bn |= !strcmp(b.g->nodes[i].op_type, "BatchNormalization");
    has_neg |= !strcmp(b.g->nodes[i].op_type, "Neg");
    has_identity |= !strcmp(b.g->nodes[i].op_type, "Identity");
  }
  CHECK(has_bn && has_neg && !has_identity);
  /* graph outputs keep their names */
  CHECK(!strcmp(b.g->values[b.g->outputs[0]].name, "y") && !strcmp(b.g->values[b.g->outputs[1]].name, "z"));
  oxrt_model_free(b.m);
  CHECK(oxrt_opt_pass_info(0, NULL, NULL) != NULL);
  const char *summary = NULL;
  oxrt_opt_level level;
  size_t n = 0;
  while (oxrt_opt_pass_info(n, &summary, &level)) n++;
  CHECK(n >= 8 && oxrt_opt_pass_info(n, NULL, NULL) == NULL);
}

/* Serialise -> parse keeps names, types, attributes and every tensor byte (sub-byte types packed). */
void test_opt_writer_roundtrip(void) {
  builder b;
  build_conv_model(&b);
  int64_t d5 = 5;
  oxrt_value *i4, *str;
  oxrt_tensor_new(OXRT_INT4, 1, &d5, &i4);
  int8_t vals[5] = {-8, -1, 0, 3, 7};
  memcpy(i4->data, vals, 5);
  b.g->values[oxrt_graph_intern(b.g, "int4c")].init = i4;
  int64_t d2 = 2;
  oxrt_tensor_new(OXRT_STRING, 1, &d2, &str);
  oxrt_value_set_string(str, 0, "hello", 5);
  oxrt_value_set_string(str, 1, "", 0);
  b.g->values[oxrt_graph_intern(b.g, "strc")].init = str;
  b.m->n_meta = 1;
  b.m->meta_keys = oxrt_arena_alloc(b.m->arena, sizeof(char *));
  b.m->meta_values = oxrt_arena_alloc(b.m->arena, sizeof(char *));
  b.m->meta_keys[0] = "k";
  b.m->meta_values[0] = "v";
  uint8_t *data;
  size_t size;
  CHECK(oxrt_serialize_model(b.m, &data, &size) == NULL);
  oxrt_tensor_src src = {false, NULL, NULL, false, NULL};
  oxrt_model *m2 = NULL;
  oxrt_status *st = oxrt_read_model(data, size, &src, &m2);
  CHECK(st == NULL);
  if (st) {
    fprintf(stderr, "  %s\n", oxrt_status_get_message(st));
    oxrt_status_free(st);
  }
  if (m2) {
    oxrt_graph *g2 = m2->graph;
    CHECK(g2->n_nodes == b.g->n_nodes && g2->n_inputs == 1 && g2->n_outputs == 2);
    CHECK(m2->n_meta == 1 && !strcmp(m2->meta_keys[0], "k") && !strcmp(m2->meta_values[0], "v"));
    CHECK(m2->n_opsets == 1 && m2->opsets[0].version == 13 && !strcmp(m2->producer_name, "test_opt"));
    int id = oxrt_graph_find(g2, "int4c");
    CHECK(id >= 0 && g2->values[id].init && g2->values[id].init->dtype == OXRT_INT4);
    if (id >= 0 && g2->values[id].init) CHECK(memcmp(g2->values[id].init->data, vals, 5) == 0);
    id = oxrt_graph_find(g2, "strc");
    CHECK(id >= 0 && g2->values[id].init && g2->values[id].init->count == 2);
    if (id >= 0 && g2->values[id].init) CHECK(!strcmp(((char **)g2->values[id].init->data)[0], "hello"));
    id = oxrt_graph_find(g2, "W");
    CHECK(id >= 0 && g2->values[id].init && g2->values[id].init->nbytes == 54 * 4);
    if (id >= 0 && g2->values[id].init)
      CHECK(memcmp(g2->values[id].init->data, b.g->values[oxrt_graph_find(b.g, "W")].init->data, 54 * 4) == 0);
    const oxrt_node *conv = &g2->nodes[0];
    size_t np;
    const int64_t *pads = oxrt_attr_ints(conv, "pads", &np);
    CHECK(pads && np == 4 && pads[0] == 1);
    CHECK(oxrt_attr_float(&g2->nodes[1], "epsilon", 0) == 1e-3f);
    const oxrt_type *xt = g2->values[g2->inputs[0]].type;
    CHECK(xt && xt->rank == 4 && xt->dims[1] == 2 && xt->elem_type == OXRT_FLOAT);
    /* a second serialisation is byte-identical */
    uint8_t *data2;
    size_t size2;
    CHECK(oxrt_serialize_model(m2, &data2, &size2) == NULL);
    CHECK(size2 == size && memcmp(data, data2, size) == 0);
    free(data2);
    oxrt_model_free(m2);
  }
  free(data);
  oxrt_model_free(b.m);
}

static char tmpdir[256];

static const char *tmp_path(const char *name, char *buf, size_t cap) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/oxrt_test_opt_XXXXXX");
    if (!mkdtemp(tmpdir)) snprintf(tmpdir, sizeof tmpdir, "/tmp");
  }
  snprintf(buf, cap, "%s/%s", tmpdir, name);
  return buf;
}

static float digits_in[64];

static oxrt_status *run_digits(const char *path, float *probs10) {
  oxrt_session *s;
  OXRT_TRY(oxrt_session_create(path, NULL, &s));
  for (int i = 0; i < 64; i++) digits_in[i] = (float)((i * 7) % 17);
  int64_t dims[4] = {1, 1, 8, 8};
  oxrt_value *x, *outs[8] = {0};
  oxrt_value_wrap_tensor(OXRT_FLOAT, dims, 4, digits_in, sizeof digits_in, &x);
  oxrt_value_info info = OXRT_INIT(oxrt_value_info);
  oxrt_session_get_input_info(s, 0, &info);
  const char *in_names[1] = {info.name};
  const oxrt_value *ins[1] = {x};
  size_t n_out = oxrt_session_get_output_count(s);
  oxrt_status *st = oxrt_session_run(s, NULL, in_names, ins, 1, NULL, n_out, outs);
  if (!st) {
    size_t best = 0;
    for (size_t k = 0; k < n_out; k++)
      if (oxrt_value_get_elem_type(outs[k]) == OXRT_FLOAT && oxrt_value_get_elem_count(outs[k]) >= 10) best = k;
    memcpy(probs10, oxrt_value_get_data(outs[best]), 10 * sizeof(float));
  }
  for (size_t k = 0; k < n_out; k++) oxrt_value_free(outs[k]);
  oxrt_value_free(x);
  oxrt_session_free(s);
  return st;
}

/* oxrt_optimize_model_file with external data, and the session's optimized_model_path. */
void test_opt_save_files(void) {
  char src[1024], out[512], out2[512], data_file[600];
  snprintf(src, sizeof src, "%s/examples/digits/model.onnx", unit_root);
  oxrt_optimize_options o = {sizeof o, OXRT_OPT_ALL, 64, NULL, NULL, NULL};
  oxrt_status *st = oxrt_optimize_model_file(src, tmp_path("digits_opt.onnx", out, sizeof out), &o);
  CHECK(st == NULL);
  if (st) {
    fprintf(stderr, "  %s\n", oxrt_status_get_message(st));
    oxrt_status_free(st);
    return;
  }
  snprintf(data_file, sizeof data_file, "%s.data", out);
  CHECK(access(data_file, R_OK) == 0);
  float p0[10], p1[10], p2[10];
  st = run_digits(src, p0);
  CHECK(st == NULL);
  if (st) fprintf(stderr, "  %s\n", oxrt_status_get_message(st));
  oxrt_status_free(st);
  st = run_digits(out, p1);
  CHECK(st == NULL);
  oxrt_status_free(st);
  for (int i = 0; i < 10; i++) CHECK(fabsf(p0[i] - p1[i]) <= 1e-5f);

  oxrt_session_options *so;
  oxrt_session_options_create(&so);
  CHECK(oxrt_session_options_set_optimized_model_path(so, tmp_path("digits_sess.onnx", out2, sizeof out2)) == NULL);
  char long_path[5000];
  memset(long_path, 'a', sizeof long_path - 1);
  long_path[sizeof long_path - 1] = 0;
  oxrt_status *bad = oxrt_session_options_set_optimized_model_path(so, long_path);
  CHECK(bad && oxrt_status_get_code(bad) == OXRT_ERR_INVALID_ARGUMENT);
  oxrt_status_free(bad);
  oxrt_session *s = NULL;
  st = oxrt_session_create(src, so, &s);
  CHECK(st == NULL);
  oxrt_status_free(st);
  oxrt_session_free(s);
  oxrt_session_options_free(so);
  st = run_digits(out2, p2);
  CHECK(st == NULL);
  oxrt_status_free(st);
  for (int i = 0; i < 10; i++) CHECK(fabsf(p0[i] - p2[i]) <= 1e-5f);
  remove(out);
  remove(out2);
  remove(data_file);
  rmdir(tmpdir);

  /* errors: a missing model, an unwritable destination */
  st = oxrt_optimize_model_file("/nonexistent/model.onnx", "/tmp/x.onnx", NULL);
  CHECK(st && oxrt_status_get_code(st) == OXRT_ERR_IO);
  oxrt_status_free(st);
  st = oxrt_optimize_model_file(src, "/nonexistent/dir/out.onnx", NULL);
  CHECK(st && oxrt_status_get_code(st) == OXRT_ERR_IO);
  oxrt_status_free(st);
  st = oxrt_optimize_model_file(NULL, "x", NULL);
  CHECK(st && oxrt_status_get_code(st) == OXRT_ERR_INVALID_ARGUMENT);
  oxrt_status_free(st);
}

/* A Reshape chain collapses; MatMul + Add becomes Gemm at EXTENDED but not at BASIC. */
void test_opt_matmul_add_and_reshape(void) {
  for (int level = 0; level < 2; level++) {
    builder b;
    b_init(&b, 13);
    int64_t xd[2] = {2, 3}, wd[2] = {3, 4}, cd[1] = {4}, s1d[1] = {3}, s2d[1] = {2};
    add_io(&b, "x", tensor_type(&b, OXRT_FLOAT, 2, xd), true);
    add_init(&b, "Wm", OXRT_FLOAT, 2, wd, 0.1, 0.1);
    add_init(&b, "c", OXRT_FLOAT, 1, cd, 1, 1);
    oxrt_value *s1, *s2;
    oxrt_tensor_new(OXRT_INT64, 1, s1d, &s1);
    oxrt_tensor_new(OXRT_INT64, 1, s2d, &s2);
    int64_t v1[3] = {2, 2, 2}, v2[2] = {4, -1};
    memcpy(s1->data, v1, sizeof v1);
    memcpy(s2->data, v2, sizeof v2);
    b.g->values[oxrt_graph_intern(b.g, "s1")].init = s1;
    b.g->values[oxrt_graph_intern(b.g, "s2")].init = s2;
    add_node(&b, "MatMul", "x Wm", "m");
    add_node(&b, "Add", "m c", "a");
    add_node(&b, "Reshape", "a s1", "r1");
    add_node(&b, "Reshape", "r1 s2", "y");
    int64_t yd[2] = {4, 2};
    add_io(&b, "y", tensor_type(&b, OXRT_FLOAT, 2, yd), false);
    oxrt_opt_options o = {level ? OXRT_OPT_EXTENDED : OXRT_OPT_BASIC, 0, NULL, NULL, NULL, false, 0, NULL, NULL};
    CHECK(oxrt_optimize_model(b.m, &o) == NULL);
    CHECK(b.g->n_nodes == (level ? 2 : 3));
    CHECK(!strcmp(b.g->nodes[0].op_type, level ? "Gemm" : "MatMul"));
    CHECK(!strcmp(b.g->nodes[b.g->n_nodes - 1].op_type, "Reshape"));
    CHECK(!strcmp(b.g->values[b.g->nodes[b.g->n_nodes - 1].outputs[0]].name, "y"));
    oxrt_model_free(b.m);
  }
}
