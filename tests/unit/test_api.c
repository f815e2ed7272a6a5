/* test_api.c - the public API on the shipped digits model: bad files, bad inputs, concurrency. */
#include "oxrt.h"
#include "unit.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char model_path[1024];
static unsigned char *model_bytes;
static size_t model_size;

static const char *digits_path(void) {
  snprintf(model_path, sizeof model_path, "%s/examples/digits/model.onnx", unit_root);
  return model_path;
}

static void load_bytes(void) {
  if (model_bytes) return;
  FILE *f = fopen(digits_path(), "rb");
  if (!f) return;
  fseek(f, 0, SEEK_END);
  model_size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  model_bytes = malloc(model_size);
  if (fread(model_bytes, 1, model_size, f) != model_size) model_size = 0;
  fclose(f);
}

#define expect_error(st, code, needle) UNIT_WANT_ERROR(st, code, needle)

static oxrt_session *open_digits(void) {
  oxrt_session *s = NULL;
  oxrt_status *st = oxrt_session_create(digits_path(), NULL, &s);
  if (st) {
    fprintf(stderr, "  cannot open digits model: %s\n", oxrt_status_get_message(st));
    oxrt_status_free(st);
    unit_failures++;
  }
  return s;
}

static float image[4 * 64];

/* Runs the model on `batch` images; returns the status, output in *out. */
static oxrt_status *run_digits(oxrt_session *s, const char *name, oxrt_elem_type t, const int64_t *dims, size_t rank,
                               oxrt_value **out) {
  size_t count = 1;
  for (size_t i = 0; i < rank; i++) count *= (size_t)dims[i];
  oxrt_value *x = NULL;
  oxrt_status *st = oxrt_value_wrap_tensor(t, dims, rank, image, count * oxrt_elem_type_size(t), &x);
  if (st) return st;
  const char *names[] = {name};
  const oxrt_value *feeds[] = {x};
  st = oxrt_session_run(s, NULL, names, feeds, 1, NULL, 1, out);
  oxrt_value_free(x);
  return st;
}

void test_api_missing_file(void) {
  oxrt_session *s = NULL;
  expect_error(oxrt_session_create("/nonexistent/model.onnx", NULL, &s), OXRT_ERR_IO, "/nonexistent/model.onnx");
  CHECK(s == NULL);
}

void test_api_empty_and_garbage(void) {
  oxrt_session *s = NULL;
  const char text[] = "this is not a model at all, just some text\n";
  expect_error(oxrt_session_create_from_memory(text, sizeof text, NULL, &s), OXRT_ERR_INVALID_MODEL, NULL);
  expect_error(oxrt_session_create_from_memory(text, 0, NULL, &s), OXRT_ERR_INVALID_MODEL, "empty");
  CHECK(s == NULL);
}

void test_api_truncated_model(void) {
  load_bytes();
  CHECK(model_size > 100);
  oxrt_session *s = NULL;
  size_t cuts[] = {1, 7, model_size / 3, model_size / 2, model_size - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    oxrt_status *st = oxrt_session_create_from_memory(model_bytes, cuts[i], NULL, &s);
    CHECK(st != NULL);
    if (st) CHECK(oxrt_status_get_code(st) == OXRT_ERR_INVALID_MODEL);
    oxrt_status_free(st);
  }
  CHECK(s == NULL);
}

void test_api_corrupted_bytes(void) {
  /* Random byte flips must give an error or a working session, never a crash. */
  load_bytes();
  unsigned char *copy = malloc(model_size);
  unsigned seed = 12345;
  int errors = 0;
  for (int rep = 0; rep < 300; rep++) {
    memcpy(copy, model_bytes, model_size);
    for (int k = 0; k < 1 + rep % 8; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t pos = (seed >> 4) % model_size;
      seed = seed * 1103515245u + 12345u;
      copy[pos] = (unsigned char)(seed >> 16);
    }
    oxrt_session *s = NULL;
    oxrt_status *st = oxrt_session_create_from_memory(copy, model_size, NULL, &s);
    if (st) {
      errors++;
      CHECK(strlen(oxrt_status_get_message(st)) > 10);
      oxrt_status_free(st);
      continue;
    }
    oxrt_value *out = NULL;
    int64_t dims[4] = {1, 1, 8, 8};
    st = run_digits(s, "image", OXRT_FLOAT, dims, 4, &out);
    oxrt_status_free(st);
    oxrt_value_free(out);
    oxrt_session_free(s);
  }
  CHECK(errors > 0);
  free(copy);
}

/* Finds `a` in the model bytes and writes `b` (same length) over it. */
static unsigned char *patched(const char *a, const char *b) {
  load_bytes();
  size_t n = strlen(a);
  unsigned char *copy = malloc(model_size);
  memcpy(copy, model_bytes, model_size);
  for (size_t i = 0; i + n <= model_size; i++)
    if (memcmp(copy + i, a, n) == 0) {
      memcpy(copy + i, b, n);
      return copy;
    }
  free(copy);
  return NULL;
}

void test_api_unsupported_ir(void) {
  load_bytes();
  unsigned char *copy = malloc(model_size);
  memcpy(copy, model_bytes, model_size);
  CHECK(copy[0] == 0x08); /* field 1 (ir_version), varint */
  copy[1] = 99;
  oxrt_session *s = NULL;
  expect_error(oxrt_session_create_from_memory(copy, model_size, NULL, &s), OXRT_ERR_NOT_IMPLEMENTED, "IR version 99");
  free(copy);
}

void test_api_unknown_operator(void) {
  unsigned char *copy = patched("\x22\x04Relu", "\x22\x04Relx"); /* NodeProto.op_type field */
  CHECK(copy != NULL);
  if (!copy) return;
  oxrt_session *s = NULL;
  expect_error(oxrt_session_create_from_memory(copy, model_size, NULL, &s), OXRT_ERR_NOT_IMPLEMENTED, "Relx");
  free(copy);
  copy = patched("ai.onnx", "ai.onnz"); /* the opset_import domain: nothing imports ai.onnx any more */
  if (copy) {
    oxrt_status *st = oxrt_session_create_from_memory(copy, model_size, NULL, &s);
    CHECK(st != NULL);
    oxrt_status_free(st);
    free(copy);
  }
}

void test_api_wrong_input_name(void) {
  oxrt_session *s = open_digits();
  if (!s) return;
  int64_t dims[4] = {1, 1, 8, 8};
  oxrt_value *out = NULL;
  oxrt_status *st = run_digits(s, "imagee", OXRT_FLOAT, dims, 4, &out);
  CHECK(st && strstr(oxrt_status_get_message(st), "'imagee'") && strstr(oxrt_status_get_message(st), "'image'"));
  expect_error(st, OXRT_ERR_INVALID_ARGUMENT, "no input named");
  oxrt_session_free(s);
}

void test_api_wrong_elem_type(void) {
  oxrt_session *s = open_digits();
  if (!s) return;
  int64_t dims[4] = {1, 1, 8, 8};
  oxrt_value *out = NULL;
  expect_error(run_digits(s, "image", OXRT_INT32, dims, 4, &out), OXRT_ERR_INVALID_ARGUMENT,
               "expected element type float, got int32");
  oxrt_session_free(s);
}

void test_api_wrong_rank_and_shape(void) {
  oxrt_session *s = open_digits();
  if (!s) return;
  oxrt_value *out = NULL;
  int64_t d3[3] = {1, 8, 8};
  expect_error(run_digits(s, "image", OXRT_FLOAT, d3, 3, &out), OXRT_ERR_INVALID_ARGUMENT, "expected rank 4");
  int64_t d4[4] = {1, 1, 9, 8};
  expect_error(run_digits(s, "image", OXRT_FLOAT, d4, 4, &out), OXRT_ERR_INVALID_ARGUMENT, "dimension 2 must be 8");
  oxrt_session_free(s);
}

void test_api_missing_input(void) {
  oxrt_session *s = open_digits();
  if (!s) return;
  oxrt_value *out = NULL;
  expect_error(oxrt_session_run(s, NULL, NULL, NULL, 0, NULL, 1, &out), OXRT_ERR_INVALID_ARGUMENT,
               "'image' (index 0, tensor(float)) was not fed");
  oxrt_session_free(s);
}

void test_api_session_stays_usable(void) {
  oxrt_session *s = open_digits();
  if (!s) return;
  int64_t bad[4] = {1, 2, 8, 8}, good[4] = {2, 1, 8, 8};
  for (int i = 0; i < 128; i++) image[i] = (float)(i % 17) / 16.0f;
  oxrt_value *out = NULL;
  oxrt_status_free(run_digits(s, "image", OXRT_FLOAT, bad, 4, &out));
  oxrt_status *st = run_digits(s, "image", OXRT_FLOAT, good, 4, &out);
  CHECK(st == NULL);
  if (!st) {
    CHECK(oxrt_value_get_rank(out) == 2 && oxrt_value_get_dims(out)[0] == 2 && oxrt_value_get_dims(out)[1] == 10);
    oxrt_value_free(out);
  }
  oxrt_status_free(st);
  oxrt_session_free(s);
}

void test_api_from_memory_matches_file(void) {
  load_bytes();
  oxrt_session *a = open_digits(), *b = NULL;
  oxrt_status *st = oxrt_session_create_from_memory(model_bytes, model_size, NULL, &b);
  CHECK(st == NULL && a);
  oxrt_status_free(st);
  if (!a || !b) return;
  int64_t dims[4] = {4, 1, 8, 8};
  for (int i = 0; i < 256; i++) image[i] = (float)((i * 7) % 16) / 16.0f;
  oxrt_value *oa = NULL, *ob = NULL;
  CHECK(run_digits(a, "image", OXRT_FLOAT, dims, 4, &oa) == NULL);
  CHECK(run_digits(b, "image", OXRT_FLOAT, dims, 4, &ob) == NULL);
  if (oa && ob) CHECK(memcmp(oxrt_value_get_data(oa), oxrt_value_get_data(ob), oxrt_value_get_nbytes(oa)) == 0);
  oxrt_value_free(oa);
  oxrt_value_free(ob);
  oxrt_session_free(a);
  oxrt_session_free(b);
}

typedef struct {
  oxrt_session *s;
  float expect[40];
  int bad;
} thread_arg;

static void *worker(void *p) {
  thread_arg *a = p;
  for (int rep = 0; rep < 50; rep++) {
    int64_t dims[4] = {4, 1, 8, 8};
    oxrt_value *out = NULL;
    oxrt_status *st = run_digits(a->s, "image", OXRT_FLOAT, dims, 4, &out);
    if (st || memcmp(oxrt_value_get_data(out), a->expect, sizeof a->expect) != 0) __atomic_fetch_add(&a->bad, 1, __ATOMIC_RELAXED);
    oxrt_status_free(st);
    oxrt_value_free(out);
  }
  return NULL;
}

void test_api_concurrent_runs(void) {
  oxrt_session *s = open_digits();
  if (!s) return;
  for (int i = 0; i < 256; i++) image[i] = (float)((i * 5) % 16) / 16.0f;
  int64_t dims[4] = {4, 1, 8, 8};
  oxrt_value *out = NULL;
  thread_arg arg = {s, {0}, 0};
  CHECK(run_digits(s, "image", OXRT_FLOAT, dims, 4, &out) == NULL);
  if (out) memcpy(arg.expect, oxrt_value_get_data(out), sizeof arg.expect);
  oxrt_value_free(out);
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, &arg);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CHECK(arg.bad == 0);
  oxrt_session_free(s);
}

void test_api_describe_io(void) {
  oxrt_session *s = open_digits();
  if (!s) return;
  CHECK(oxrt_session_get_input_count(s) == 1 && oxrt_session_get_output_count(s) == 1);
  oxrt_value_info in = OXRT_INIT(oxrt_value_info);
  CHECK(oxrt_session_get_input_info(s, 0, &in) == NULL);
  CHECK(strcmp(in.name, "image") == 0 && in.elem_type == OXRT_FLOAT && in.rank == 4);
  CHECK(in.dims[0] == -1 && in.dim_names && in.dim_names[0] && strcmp(in.dim_names[0], "batch") == 0);
  CHECK(in.dims[1] == 1 && in.dims[2] == 8 && strcmp(in.type_string, "tensor(float)") == 0);
  expect_error(oxrt_session_get_input_info(s, 5, &in), OXRT_ERR_INVALID_ARGUMENT, "out of range");
  oxrt_model_meta m = OXRT_INIT(oxrt_model_meta);
  CHECK(oxrt_session_get_model_meta(s, &m) == NULL && strcmp(m.producer_name, "pytorch") == 0);
  oxrt_session_free(s);
}

void test_api_output_selection(void) {
  oxrt_session *s = open_digits();
  if (!s) return;
  int64_t dims[4] = {1, 1, 8, 8};
  oxrt_value *x = NULL, *out = NULL;
  CHECK(oxrt_value_wrap_tensor(OXRT_FLOAT, dims, 4, image, 256, &x) == NULL);
  const char *names[] = {"image"}, *outs[] = {"nope"};
  const oxrt_value *feeds[] = {x};
  expect_error(oxrt_session_run(s, NULL, names, feeds, 1, outs, 1, &out), OXRT_ERR_INVALID_ARGUMENT, "'logits'");
  outs[0] = "logits";
  CHECK(oxrt_session_run(s, NULL, names, feeds, 1, outs, 1, &out) == NULL);
  oxrt_value_free(out);
  oxrt_value_free(x);
  oxrt_session_free(s);
}

/* Profiling: off by default; on, one event per node run, written as a Chrome trace and then cleared. */
void test_api_profiling(void) {
  oxrt_session *s = open_digits();
  if (!s) return;
  char path[4096];
  CHECK(oxrt_session_get_profile_count(s) == 0);
  expect_error(oxrt_session_end_profiling(s, path, sizeof path), OXRT_ERR_INVALID_ARGUMENT, "not enabled");
  oxrt_session_free(s);

  oxrt_session_options *o = NULL;
  CHECK(oxrt_session_options_create(&o) == NULL);
  char prefix[128];
  snprintf(prefix, sizeof prefix, "/tmp/oxrt_unit_profile_%d", (int)getpid());
  CHECK(oxrt_session_options_enable_profiling(o, prefix) == NULL);
  load_bytes();
  s = NULL;
  CHECK(oxrt_session_create(digits_path(), o, &s) == NULL);
  oxrt_session_options_free(o);
  if (!s) return;
  oxrt_model_stats stats = OXRT_INIT(oxrt_model_stats);
  CHECK(oxrt_session_get_model_stats(s, &stats) == NULL);
  int64_t dims[4] = {1, 1, 8, 8};
  oxrt_value *x = NULL, *out = NULL;
  CHECK(oxrt_value_wrap_tensor(OXRT_FLOAT, dims, 4, image, 256, &x) == NULL);
  const char *names[] = {"image"}, *outs[] = {"logits"};
  const oxrt_value *feeds[] = {x};
  for (int r = 0; r < 2; r++) {
    CHECK(oxrt_session_run(s, NULL, names, feeds, 1, outs, 1, &out) == NULL);
    oxrt_value_free(out);
    out = NULL; /* a non-NULL output would be filled in place */
  }
  size_t n = oxrt_session_get_profile_count(s);
  CHECK(n == 2 * stats.node_count);
  oxrt_profile_event e = OXRT_INIT(oxrt_profile_event), prev = {0};
  for (size_t i = 0; i < n; i++) {
    CHECK(oxrt_session_get_profile_event(s, i, &e) == NULL);
    CHECK(e.op_type && *e.op_type && e.node_name && e.duration_ns >= 0 && e.start_ns >= prev.start_ns);
    prev = e;
  }
  expect_error(oxrt_session_get_profile_event(s, n, &e), OXRT_ERR_INVALID_ARGUMENT, "requested");
  CHECK(oxrt_session_get_profiling_start_time_ns(s) > 1600000000LL * 1000000000LL);
  CHECK(oxrt_session_end_profiling(s, path, sizeof path) == NULL);
  CHECK(strncmp(path, prefix, strlen(prefix)) == 0 && strstr(path, ".json"));
  CHECK(oxrt_session_get_profile_count(s) == 0);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  if (f) {
    char buf[256] = {0};
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    CHECK(got > 0 && buf[0] == '[' && strstr(buf, "\"ph\":\"X\"") && strstr(buf, "\"op_name\""));
    remove(path);
  }
  oxrt_value_free(x);
  oxrt_session_free(s);
}
