/* test_engine.c - decisions at session creation (src/exec/plan.c): prepare packs constant weights (Conv, Gemm,
 * MatMul) and an initializer every reader consumed is released; results match a plain reference at every ISA
 * level the machine has, with the model in heap memory (data freed) and memory-mapped from a file (pages
 * dropped), and equal a session that keeps its weights and one with the optimizer off. An initializer that is
 * also a graph input is overridable: never packed at creation, and a feed wins. */
#include "core/dtype.h"
#include "exec/engine.h"
#include "kernels/gemm.h"
#include "onnx/onnx_writer.h"
#include "onnx/text_format.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const char *name;
  oxrt_elem_type t;
  int rank;
  int64_t dims[4];
} tensor_spec;

static size_t spec_count(const tensor_spec *s) {
  size_t n = 1;
  for (int i = 0; i < s->rank; i++) n *= (size_t)s->dims[i];
  return n;
}

/* Deterministic values in [-1, 1), rounded to float16 for float16 tensors (so the float reference sees them). */
static void fill(float *f, size_t n, unsigned seed, oxrt_elem_type t) {
  unsigned x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x = x * 1664525u + 1013904223u;
    f[i] = (float)((x >> 8) & 0xffff) / 32768.0f - 1.0f;
    if (t == OXRT_FLOAT16) {
      uint16_t h;
      oxrt_convert(OXRT_FLOAT16, &h, OXRT_FLOAT, &f[i], 1, false);
      oxrt_convert(OXRT_FLOAT, &f[i], OXRT_FLOAT16, &h, 1, false);
    }
  }
}

/* A tensor of spec `s` holding f (converted to its type). */
static oxrt_value *make_value(const tensor_spec *s, const float *f) {
  oxrt_value *v = NULL;
  oxrt_status *st = oxrt_tensor_new(s->t, s->rank, s->dims, &v);
  if (st) {
    oxrt_status_free(st);
    return NULL;
  }
  oxrt_convert(s->t, v->data, OXRT_FLOAT, f, v->count, false);
  return v;
}

/* The model of `text` with each initializer of `inits` replaced by one of its spec (values seeded by index),
 * serialised; *w receives the float values of the initializers, in order. */
static bool build(const char *text, const tensor_spec *inits, int n_inits, float **w, uint8_t **bytes, size_t *size) {
  oxrt_model *m = NULL;
  oxrt_status *st = oxrt_text_parse(text, &m);
  if (st) {
    fprintf(stderr, "  parse: %s\n", oxrt_status_get_message(st));
    oxrt_status_free(st);
    return false;
  }
  bool ok = true;
  for (int i = 0; ok && i < n_inits; i++) {
    int id = oxrt_graph_find(m->graph, inits[i].name);
    w[i] = malloc(sizeof(float) * spec_count(&inits[i]));
    ok = id >= 0 && w[i] && m->graph->values[id].init;
    if (!ok) break;
    fill(w[i], spec_count(&inits[i]), 100 + (unsigned)i, inits[i].t);
    oxrt_value_free(m->graph->values[id].init);
    m->graph->values[id].init = make_value(&inits[i], w[i]);
    ok = m->graph->values[id].init != NULL;
  }
  if (ok) {
    st = oxrt_serialize_model(m, bytes, size);
    ok = !st;
    oxrt_status_free(st);
  }
  oxrt_model_free(m);
  return ok;
}

enum { FROM_MEMORY, FROM_FILE, KEEP_WEIGHTS, UNOPTIMIZED, N_WAYS };

static oxrt_session *open_session(const uint8_t *bytes, size_t size, int way) {
  oxrt_session_options *o = NULL;
  oxrt_session *s = NULL;
  oxrt_status *st = oxrt_session_options_create(&o);
  if (!st && way == KEEP_WEIGHTS) o->keep_weights = 1;
  if (!st && way == UNOPTIMIZED) st = oxrt_session_options_set_opt_level(o, OXRT_OPT_DISABLE);
  if (!st && way == FROM_FILE) {
    char path[] = "/tmp/oxrt_engine_XXXXXX";
    int fd = mkstemp(path);
    bool wrote = fd >= 0 && write(fd, bytes, size) == (ssize_t)size;
    if (fd >= 0) close(fd);
    if (wrote) st = oxrt_session_create(path, o, &s);
    unlink(path);
  } else if (!st) {
    st = oxrt_session_create_from_memory(bytes, size, o, &s);
  }
  if (st) fprintf(stderr, "  session: %s\n", oxrt_status_get_message(st));
  oxrt_status_free(st);
  oxrt_session_options_free(o);
  return s;
}

/* Runs s on inputs (specs and float values) and returns output Y as floats (malloc'd), or NULL. */
static float *run(oxrt_session *s, const tensor_spec *ins, float *const *vals, int n_ins, size_t n_out) {
  oxrt_value *feeds[4] = {0}, *out = NULL;
  const char *names[4], *out_name = "Y";
  for (int i = 0; i < n_ins; i++) {
    names[i] = ins[i].name;
    feeds[i] = make_value(&ins[i], vals[i]);
  }
  oxrt_status *st = oxrt_session_run(s, NULL, names, (const oxrt_value *const *)feeds, (size_t)n_ins, &out_name, 1, &out);
  float *y = NULL;
  if (st) fprintf(stderr, "  run: %s\n", oxrt_status_get_message(st));
  else if (out->count == n_out && (y = malloc(sizeof(float) * n_out)))
    oxrt_convert(OXRT_FLOAT, y, out->dtype, out->data, n_out, false);
  oxrt_status_free(st);
  oxrt_value_free(out);
  for (int i = 0; i < n_ins; i++) oxrt_value_free(feeds[i]);
  return y;
}

static bool close_to(const float *a, const float *b, size_t n, float tol) {
  for (size_t i = 0; i < n; i++)
    if (!(fabsf(a[i] - b[i]) <= tol * (1.0f + fabsf(b[i])))) {
      fprintf(stderr, "  element %zu: %g vs %g\n", i, a[i], b[i]);
      return false;
    }
  return true;
}

typedef void (*reference_fn)(float *const *in, float *const *w, float *y);

typedef struct {
  const char *what, *text;
  tensor_spec ins[2], inits[3];
  int n_ins, n_inits;
  size_t n_out;
  reference_fn ref;
  float tol;
  size_t consumed;         /* node inputs prepare must consume */
  size_t released_inits;   /* initializers that must be released */
} engine_case;

static void ref_matmul(float *const *in, float *const *w, float *y) { /* [8,128] x [128,96] */
  for (int m = 0; m < 8; m++)
    for (int n = 0; n < 96; n++) {
      double s = 0;
      for (int k = 0; k < 128; k++) s += (double)in[0][m * 128 + k] * w[0][k * 96 + n];
      y[m * 96 + n] = (float)s;
    }
}

static void ref_gemm(float *const *in, float *const *w, float *y) { /* [5,512] x [512,512]^T + C[512] */
  for (int m = 0; m < 5; m++)
    for (int n = 0; n < 512; n++) {
      double s = w[1][n];
      for (int k = 0; k < 512; k++) s += (double)in[0][m * 512 + k] * w[0][n * 512 + k];
      y[m * 512 + n] = (float)s;
    }
}

static void ref_row(float *const *in, float *const *w, float *y) { /* [1,512] x [512,512] */
  for (int n = 0; n < 512; n++) {
    double s = 0;
    for (int k = 0; k < 512; k++) s += (double)in[0][k] * w[0][k * 512 + n];
    y[n] = (float)s;
  }
}

static void ref_small_row(float *const *in, float *const *w, float *y) { /* [2,128] x [128,160] */
  for (int m = 0; m < 2; m++)
    for (int n = 0; n < 160; n++) {
      double s = 0;
      for (int k = 0; k < 128; k++) s += (double)in[0][m * 128 + k] * w[0][k * 160 + n];
      y[m * 160 + n] = (float)s;
    }
}

static void ref_gemm_t(float *const *in, float *const *w, float *y) { /* 0.5 * A[512,3]^T x W[512,512]^T + 2 C */
  for (int m = 0; m < 3; m++)
    for (int n = 0; n < 512; n++) {
      double s = 0;
      for (int k = 0; k < 512; k++) s += (double)in[0][k * 3 + m] * w[0][n * 512 + k];
      y[m * 512 + n] = (float)(0.5 * s + 2.0 * w[1][n]);
    }
}

static void ref_conv(float *const *in, float *const *w, float *y) { /* X[1,16,12,12] * W[32,16,3,3] + B, pad 1 */
  for (int o = 0; o < 32; o++)
    for (int i = 0; i < 12; i++)
      for (int j = 0; j < 12; j++) {
        double s = w[1][o];
        for (int c = 0; c < 16; c++)
          for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
              int r = i + a - 1, q = j + b - 1;
              if (r >= 0 && r < 12 && q >= 0 && q < 12) s += (double)in[0][(c * 12 + r) * 12 + q] * w[0][((o * 16 + c) * 3 + a) * 3 + b];
            }
        y[(o * 12 + i) * 12 + j] = (float)s;
      }
}

static const engine_case cases[] = {
    {"MatMul, static M", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
     "g (float[8,128] A) => (float[8,96] Y)\n<float[1] W = {0}>\n{\n  Y = MatMul(A, W)\n}\n",
     {{"A", OXRT_FLOAT, 2, {8, 128}}}, {{"W", OXRT_FLOAT, 2, {128, 96}}}, 1, 1, 8 * 96, ref_matmul, 1e-4f, 1, 1},
    {"Gemm transB with bias, symbolic M", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
     "g (float[N,512] A) => (float[N,512] Y)\n<float[1] W = {0}, float[1] C = {0}>\n"
     "{\n  Y = Gemm<transB = 1>(A, W, C)\n}\n",
     {{"A", OXRT_FLOAT, 2, {5, 512}}}, {{"W", OXRT_FLOAT, 2, {512, 512}}, {"C", OXRT_FLOAT, 1, {512}}}, 1, 2,
     5 * 512, ref_gemm, 1e-4f, 1, 1},
    {"Conv 3x3 with bias", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
     "g (float[1,16,12,12] X) => (float[1,32,12,12] Y)\n<float[1] W = {0}, float[1] B = {0}>\n"
     "{\n  Y = Conv<pads = [1, 1, 1, 1]>(X, W, B)\n}\n",
     {{"X", OXRT_FLOAT, 4, {1, 16, 12, 12}}}, {{"W", OXRT_FLOAT, 4, {32, 16, 3, 3}}, {"B", OXRT_FLOAT, 1, {32}}}, 1,
     2, 32 * 144, ref_conv, 1e-4f, 1, 1},
    {"MatMul float16", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
     "g (float16[8,128] A) => (float16[8,96] Y)\n<float16[1] W = {0}>\n{\n  Y = MatMul(A, W)\n}\n",
     {{"A", OXRT_FLOAT16, 2, {8, 128}}}, {{"W", OXRT_FLOAT16, 2, {128, 96}}}, 1, 1, 8 * 96, ref_matmul, 4e-3f, 1, 1},
    {"MatMul, one row at run time (symbolic M)", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
     "g (float[M,512] A) => (float[M,512] Y)\n<float[1] W = {0}>\n{\n  Y = MatMul(A, W)\n}\n",
     {{"A", OXRT_FLOAT, 2, {1, 512}}}, {{"W", OXRT_FLOAT, 2, {512, 512}}}, 1, 1, 512, ref_row, 1e-4f, 1, 1},
    {"MatMul, small B and symbolic M: left to the run", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
     "g (float[M,128] A) => (float[M,160] Y)\n<float[1] W = {0}>\n{\n  Y = MatMul(A, W)\n}\n",
     {{"A", OXRT_FLOAT, 2, {2, 128}}}, {{"W", OXRT_FLOAT, 2, {128, 160}}}, 1, 1, 2 * 160, ref_small_row, 1e-4f, 0,
     0},
    {"Gemm transA transB alpha beta, three rows", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
     "g (float[512,M] A) => (float[M,512] Y)\n<float[1] W = {0}, float[1] C = {0}>\n"
     "{\n  Y = Gemm<transA = 1, transB = 1, alpha = 0.5, beta = 2.0>(A, W, C)\n}\n",
     {{"A", OXRT_FLOAT, 2, {512, 3}}}, {{"W", OXRT_FLOAT, 2, {512, 512}}, {"C", OXRT_FLOAT, 1, {512}}}, 1, 2,
     3 * 512, ref_gemm_t, 1e-4f, 1, 1},
    {"W also a graph output (kept)", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
     "g (float[8,128] A) => (float[8,96] Y, float[128,96] W)\n<float[1] W = {0}>\n{\n  Y = MatMul(A, W)\n}\n",
     {{"A", OXRT_FLOAT, 2, {8, 128}}}, {{"W", OXRT_FLOAT, 2, {128, 96}}}, 1, 1, 8 * 96, ref_matmul, 1e-4f, 1, 0},
    {"W also read by Add (kept)", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
     "g (float[8,128] A, float[1] S) => (float[8,96] Y, float[128,96] Z)\n<float[1] W = {0}>\n"
     "{\n  Y = MatMul(A, W)\n  Z = Add(W, S)\n}\n",
     {{"A", OXRT_FLOAT, 2, {8, 128}}, {"S", OXRT_FLOAT, 1, {1}}}, {{"W", OXRT_FLOAT, 2, {128, 96}}}, 2, 1, 8 * 96,
     ref_matmul, 1e-4f, 1, 0},
};

/* (a) packed at creation, (b) released and still equal, at every ISA level. */
void test_engine_prepare_packs(void) {
  oxrt_isa top = oxrt_cpu_isa();
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const engine_case *k = &cases[c];
    float *w[3] = {0}, *in[2] = {0}, *want = malloc(sizeof(float) * k->n_out);
    uint8_t *bytes = NULL;
    size_t size = 0;
    bool ok = want && build(k->text, k->inits, k->n_inits, w, &bytes, &size);
    CHECK(ok);
    for (int i = 0; ok && i < k->n_ins; i++) {
      in[i] = malloc(sizeof(float) * spec_count(&k->ins[i]));
      fill(in[i], spec_count(&k->ins[i]), 7 + (unsigned)i, k->ins[i].t);
    }
    if (ok) k->ref(in, w, want);
    for (int isa = 0; ok && isa <= (int)top; isa++) {
      oxrt_cpu_isa_cap((oxrt_isa)isa);
      float *got[N_WAYS] = {0};
      for (int way = 0; way < N_WAYS; way++) {
        oxrt_session *s = open_session(bytes, size, way);
        CHECK(s != NULL);
        if (!s) continue;
        if (way == FROM_MEMORY || way == FROM_FILE) {
          if (s->weights.consumed != k->consumed || s->weights.released != k->released_inits)
            fprintf(stderr, "  %s, way %d: consumed %zu, released %zu\n", k->what, way, s->weights.consumed,
                    s->weights.released);
          CHECK(s->weights.consumed == k->consumed);       /* packed in prepare, before any run */
          CHECK(s->weights.released == k->released_inits); /* and given back */
          /* heap data is freed whole; a file mapping drops the whole pages inside the weight (64 KB and up) */
          if (k->released_inits) CHECK(s->weights.released_bytes >= (way == FROM_MEMORY ? 16384u : 4096u));
        }
        if (way == KEEP_WEIGHTS) CHECK(s->weights.released == 0);
        got[way] = run(s, k->ins, in, k->n_ins, k->n_out);
        float *again = run(s, k->ins, in, k->n_ins, k->n_out); /* a second run reads the same packed weights */
        CHECK(got[way] && again && !memcmp(got[way], again, sizeof(float) * k->n_out));
        free(again);
        oxrt_session_free(s);
      }
      for (int way = 0; way < N_WAYS; way++) {
        if (!got[way]) continue;
        if (!close_to(got[way], want, k->n_out, k->tol))
          fprintf(stderr, "  %s: way %d at ISA %s differs from the reference\n", k->what, way,
                  oxrt_isa_name((oxrt_isa)isa));
        CHECK(close_to(got[way], want, k->n_out, k->tol));
        /* released weights change nothing: the same kernels on the same packed panels */
        if (got[KEEP_WEIGHTS]) CHECK(!memcmp(got[way], got[KEEP_WEIGHTS], sizeof(float) * k->n_out) || way == UNOPTIMIZED);
      }
      for (int way = 0; way < N_WAYS; way++) free(got[way]);
    }
    oxrt_cpu_isa_cap(top);
    for (int i = 0; i < 3; i++) free(w[i]);
    for (int i = 0; i < 2; i++) free(in[i]);
    free(want);
    free(bytes);
  }
}

/* (c) W is an initializer and a graph input: no feed -> the initializer, a feed -> the feed; never consumed. */
void test_engine_overridable_initializer(void) {
  static const char text[] = "<ir_version: 8, opset_import: [\"\" : 17]>\n"
                             "g (float[8,128] A, float[128,96] W) => (float[8,96] Y)\n<float[1] W = {0}>\n"
                             "{\n  Y = MatMul(A, W)\n}\n";
  tensor_spec wspec = {"W", OXRT_FLOAT, 2, {128, 96}};
  tensor_spec ins[2] = {{"A", OXRT_FLOAT, 2, {8, 128}}, wspec};
  float *w = NULL, *a = malloc(sizeof(float) * 8 * 128), *w2 = malloc(sizeof(float) * 128 * 96);
  float *want = malloc(sizeof(float) * 8 * 96), *want2 = malloc(sizeof(float) * 8 * 96);
  uint8_t *bytes = NULL;
  size_t size = 0;
  bool ok = a && w2 && want && want2 && build(text, &wspec, 1, &w, &bytes, &size);
  CHECK(ok);
  if (ok) {
    fill(a, 8 * 128, 3, OXRT_FLOAT);
    fill(w2, 128 * 96, 4, OXRT_FLOAT);
    float *in[1] = {a}, *wv[1] = {w}, *wv2[1] = {w2};
    ref_matmul(in, wv, want);
    ref_matmul(in, wv2, want2);
    for (int way = FROM_MEMORY; way <= FROM_FILE; way++) {
      oxrt_session *s = open_session(bytes, size, way);
      CHECK(s != NULL);
      if (!s) continue;
      CHECK(s->weights.consumed == 0 && s->weights.released == 0);
      float *vals[2] = {a, w2};
      for (int rep = 0; rep < 2; rep++) { /* alternate: a lazily packed W must not stick to a fed one */
        float *y = run(s, ins, vals, 1, 8 * 96);
        CHECK(y && close_to(y, want, 8 * 96, 1e-4f));
        free(y);
        y = run(s, ins, vals, 2, 8 * 96);
        CHECK(y && close_to(y, want2, 8 * 96, 1e-4f));
        free(y);
      }
      oxrt_session_free(s);
    }
  }
  free(w), free(a), free(w2), free(want), free(want2), free(bytes);
}

/* LSTM and GRU with constant W, R, B: the float path's weights are made at creation, the originals released, and
 * they give what the same model computes when the weights are fed. */
void test_engine_rnn_prepared(void) {
  static const char *const cells[2][2] = {
      {"LSTM", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
               "g (float[5,2,4] X%s) => (float[5,1,2,8] Y)\n<float[1] W = {0}, float[1] R = {0}, float[1] B = {0}>\n"
               "{\n  Y, Yh, Yc = LSTM<hidden_size = 8>(X, W, R, B)\n}\n"},
      {"GRU", "<ir_version: 8, opset_import: [\"\" : 17]>\n"
              "g (float[5,2,4] X%s) => (float[5,1,2,8] Y)\n<float[1] W = {0}, float[1] R = {0}, float[1] B = {0}>\n"
              "{\n  Y, Yh = GRU<hidden_size = 8, linear_before_reset = 1>(X, W, R, B)\n}\n"}};
  for (int c = 0; c < 2; c++) {
    int64_t G = c == 0 ? 4 : 3;
    tensor_spec inits[3] = {{"W", OXRT_FLOAT, 3, {1, G * 8, 4}}, {"R", OXRT_FLOAT, 3, {1, G * 8, 8}},
                            {"B", OXRT_FLOAT, 2, {1, 2 * G * 8}}};
    tensor_spec ins[4] = {{"X", OXRT_FLOAT, 3, {5, 2, 4}}, inits[0], inits[1], inits[2]};
    char text[1024], fed_text[1024];
    snprintf(text, sizeof text, cells[c][1], "");
    char fed_inputs[128];
    snprintf(fed_inputs, sizeof fed_inputs, ", float[1,%lld,4] W, float[1,%lld,8] R, float[1,%lld] B", (long long)(G * 8),
             (long long)(G * 8), (long long)(2 * G * 8));
    snprintf(fed_text, sizeof fed_text, cells[c][1], fed_inputs);
    float *w[3] = {0}, *w2[3] = {0}, *x = malloc(sizeof(float) * 40);
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t s1 = 0, s2 = 0;
    bool ok = x && build(text, inits, 3, w, &b1, &s1) && build(fed_text, inits, 3, w2, &b2, &s2);
    CHECK(ok);
    oxrt_session *s = ok ? open_session(b1, s1, FROM_MEMORY) : NULL, *f = ok ? open_session(b2, s2, FROM_MEMORY) : NULL;
    CHECK(s && f);
    if (s && f) {
      fill(x, 40, 9, OXRT_FLOAT);
      CHECK(s->weights.released == 3); /* packed at creation: W, R and B released */
      float *vals[4] = {x, w[0], w[1], w[2]};
      float *y1 = run(s, ins, vals, 1, 5 * 2 * 8), *y2 = run(f, ins, vals, 4, 5 * 2 * 8);
      if (!(y1 && y2 && close_to(y1, y2, 80, 1e-5f))) fprintf(stderr, "  %s differs\n", cells[c][0]);
      CHECK(y1 && y2 && close_to(y1, y2, 80, 1e-5f));
      free(y1), free(y2);
    }
    oxrt_session_free(s), oxrt_session_free(f);
    for (int i = 0; i < 3; i++) free(w[i]), free(w2[i]);
    free(x), free(b1), free(b2);
  }
}

static void ref_chain(const float *a, float *const *w, float *y) { /* A[4,256] W1[256,512] W2[512,256] ... */
  static const int dims[5] = {256, 512, 256, 512, 256};
  double cur[4 * 512], nxt[4 * 512];
  for (int i = 0; i < 4 * 256; i++) cur[i] = a[i];
  for (int l = 0; l < 4; l++) {
    int K = dims[l], N = dims[l + 1];
    for (int m = 0; m < 4; m++)
      for (int n = 0; n < N; n++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += cur[m * K + k] * w[l][k * N + n];
        nxt[m * N + n] = (float)s; /* each MatMul rounds to float */
      }
    memcpy(cur, nxt, sizeof(double) * 4 * (size_t)N);
  }
  for (int i = 0; i < 4 * 256; i++) y[i] = (float)cur[i];
}

/* Prepare on the session's threads (plan.c, largest weights first, the allocator's bin of value.c): with 1, 2
 * and 3 threads every weight is packed and released as on one, the results match, and no tensor memory is left
 * behind once the sessions are freed (parked blocks are given back at the end of prepare). */
void test_engine_prepare_threads(void) {
  static const char text[] = "<ir_version: 8, opset_import: [\"\" : 17]>\n"
                             "g (float[4,256] A) => (float[4,256] Y)\n"
                             "<float[1] W1 = {0}, float[1] W2 = {0}, float[1] W3 = {0}, float[1] W4 = {0}>\n"
                             "{\n  B = MatMul(A, W1)\n  C = MatMul(B, W2)\n  D = MatMul(C, W3)\n  Y = MatMul(D, W4)\n}\n";
  /* 512 KB each: large enough for the bin, the same shape twice */
  tensor_spec inits[4] = {{"W1", OXRT_FLOAT, 2, {256, 512}}, {"W2", OXRT_FLOAT, 2, {512, 256}},
                          {"W3", OXRT_FLOAT, 2, {256, 512}}, {"W4", OXRT_FLOAT, 2, {512, 256}}};
  tensor_spec ins[1] = {{"A", OXRT_FLOAT, 2, {4, 256}}};
  float *w[4] = {0}, *a = malloc(sizeof(float) * 4 * 256), *want = malloc(sizeof(float) * 4 * 256);
  uint8_t *bytes = NULL;
  size_t size = 0;
  bool ok = a && want && build(text, inits, 4, w, &bytes, &size);
  CHECK(ok);
  if (ok) {
    fill(a, 4 * 256, 11, OXRT_FLOAT);
    ref_chain(a, w, want);
    double scale = 0;
    for (int i = 0; i < 4 * 256; i++) scale = fmax(scale, fabs((double)want[i]));
    uint64_t base = oxrt_allocated_bytes();
    for (int threads = 1; threads <= 3; threads++) {
      oxrt_session_options *o = NULL;
      oxrt_session *s = NULL;
      oxrt_status *st = oxrt_session_options_create(&o);
      if (!st) st = oxrt_session_options_set_intra_op_threads(o, threads);
      if (!st) st = oxrt_session_create_from_memory(bytes, size, o, &s);
      if (st) fprintf(stderr, "  %d threads: %s\n", threads, oxrt_status_get_message(st));
      CHECK(!st && s);
      oxrt_status_free(st);
      oxrt_session_options_free(o);
      if (!s) continue;
      CHECK(s->weights.consumed == 4 && s->weights.released == 4);
      float *in[1] = {a}, *y = run(s, ins, in, 1, 4 * 256);
      double err = 0; /* against the largest output: four products of 256-512 terms cancel in places */
      for (int i = 0; y && i < 4 * 256; i++) err = fmax(err, fabs((double)y[i] - want[i]));
      if (y && !(err <= 1e-5 * scale)) fprintf(stderr, "  %d threads: error %g of %g\n", threads, err, scale);
      CHECK(y && err <= 1e-5 * scale);
      free(y);
      oxrt_session_free(s);
      CHECK(oxrt_allocated_bytes() == base);
    }
  }
  for (int i = 0; i < 4; i++) free(w[i]);
  free(a), free(want), free(bytes);
}

static void ref_grad(float *const *in, float *const *w, float *y) { /* d(sum x W)/dx = row sums of W, per row of x */
  (void)in;
  for (int m = 0; m < 4; m++)
    for (int k = 0; k < 512; k++) {
      double s = 0;
      for (int n = 0; n < 512; n++) s += w[0][k * 512 + n];
      y[m * 512 + k] = (float)s;
    }
}

/* Gradient evaluates the graph's own nodes and reads their weights itself: nothing of its graph is released. */
void test_engine_gradient_keeps_weights(void) {
  static const char text[] = "<ir_version: 8, opset_import: [\"\" : 17, \"ai.onnx.preview.training\" : 1]>\n"
                             "g (float[4,512] X) => (float[4,512] Y)\n<float[1] W = {0}>\n{\n  Z = MatMul(X, W)\n"
                             "  Y = ai.onnx.preview.training.Gradient<xs = [\"X\"], y = \"Z\">(X)\n}\n";
  tensor_spec ins[1] = {{"X", OXRT_FLOAT, 2, {4, 512}}}, inits[1] = {{"W", OXRT_FLOAT, 2, {512, 512}}};
  float *w[1] = {0}, *x = malloc(sizeof(float) * 4 * 512), *want = malloc(sizeof(float) * 4 * 512);
  uint8_t *bytes = NULL;
  size_t size = 0;
  bool ok = x && want && build(text, inits, 1, w, &bytes, &size);
  CHECK(ok);
  oxrt_session *s = ok ? open_session(bytes, size, FROM_MEMORY) : NULL;
  CHECK(s != NULL);
  if (s) {
    fill(x, 4 * 512, 5, OXRT_FLOAT);
    float *in[1] = {x};
    ref_grad(in, w, want);
    CHECK(s->weights.released == 0);
    float *y = run(s, ins, in, 1, 4 * 512);
    CHECK(y && close_to(y, want, 4 * 512, 1e-4f));
    free(y);
  }
  oxrt_session_free(s);
  free(w[0]), free(x), free(want), free(bytes);
}

#define OK(e) UNIT_OK(e)

/* Memory plans (src/exec/mem_plan.c): a session records one per input shape on its first run and replays it after;
 * set_memory_pattern(0) or, as a default only, OXRT_MEM_PLAN=0 turns them off. */
static int plans_after_two_runs(const oxrt_session_options *o) {
  char path[1024];
  snprintf(path, sizeof path, "%s/examples/digits/model.onnx", unit_root);
  oxrt_session *s = NULL;
  if (!OK(oxrt_session_create(path, o, &s))) return -1;
  static float image[2 * 64];
  const int64_t dims[4] = {2, 1, 8, 8};
  for (int i = 0; i < 2 * 64; i++) image[i] = (float)(i % 17) / 16.0f;
  oxrt_value *x = NULL, *out[2] = {NULL, NULL};
  int n = -1;
  if (OK(oxrt_value_wrap_tensor(OXRT_FLOAT, dims, 4, image, sizeof image, &x))) {
    const char *in_names[] = {"image"};
    const oxrt_value *feeds[] = {x};
    for (int r = 0; r < 2; r++) {
      oxrt_value_free(out[r]);
      OK(oxrt_session_run(s, NULL, in_names, feeds, 1, NULL, 1, &out[r]));
    }
    if (out[0] && out[1]) CHECK(!memcmp(oxrt_value_get_data(out[0]), oxrt_value_get_data(out[1]), 2 * 10 * sizeof(float)));
    n = oxrt_mem_plan_count(s->mem_plans);
  }
  oxrt_value_free(x);
  oxrt_value_free(out[0]);
  oxrt_value_free(out[1]);
  oxrt_session_free(s);
  return n;
}

void test_engine_memory_plan(void) {
  const char *old = getenv("OXRT_MEM_PLAN");
  char saved[16] = "";
  if (old) snprintf(saved, sizeof saved, "%s", old);
  unsetenv("OXRT_MEM_PLAN");
  CHECK(plans_after_two_runs(NULL) == 1);
  oxrt_session_options *off = NULL, *on = NULL;
  OK(oxrt_session_options_create(&off));
  OK(oxrt_session_options_create(&on));
  OK(oxrt_session_options_set_memory_pattern(off, 0));
  OK(oxrt_session_options_set_memory_pattern(on, 1));
  oxrt_status *bad = oxrt_session_options_set_memory_pattern(on, 2);
  CHECK(bad != NULL);
  oxrt_status_free(bad);
  CHECK(plans_after_two_runs(off) == 0);
  setenv("OXRT_MEM_PLAN", "0", 1);
  CHECK(plans_after_two_runs(NULL) == 0); /* the environment's default */
  CHECK(plans_after_two_runs(on) == 1);   /* the explicit setting wins */
  if (old) setenv("OXRT_MEM_PLAN", saved, 1);
  else unsetenv("OXRT_MEM_PLAN");
  oxrt_session_options_free(off);
  oxrt_session_options_free(on);
}
