/* c_consumer.c - a C program built only from the installed oxrt.h and library (-std=c11 -Wall -Wextra -pedantic):
 * version, run, allocator hooks in a fresh process, the setters that return a status and the size-versioned
 * option structs. Prints "N passed, M failed". Usage: c_consumer model.onnx */
#include <oxrt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
#define EXPECT(cond)                                                                                                   \
  do {                                                                                                                 \
    if (cond) passed++;                                                                                                \
    else {                                                                                                             \
      failed++;                                                                                                        \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                                         \
    }                                                                                                                  \
  } while (0)

static size_t n_alloc, n_free;
static void *my_alloc(void *user, size_t n, size_t align) {
  (void)user;
  void *p = NULL;
  n_alloc++;
  p = aligned_alloc(align, (n + align - 1) / align * align);
  return p;
}
static void my_free(void *user, void *p) {
  (void)user;
  n_free++;
  free(p);
}

/* Expects `st` to be an INVALID_ARGUMENT whose message contains `word`; frees it. */
static void expect_invalid(oxrt_status *st, const char *word) {
  EXPECT(st && oxrt_status_get_code(st) == OXRT_ERR_INVALID_ARGUMENT && strstr(oxrt_status_get_message(st), word));
  if (st && !strstr(oxrt_status_get_message(st), word)) printf("  message: %s\n", oxrt_status_get_message(st));
  oxrt_status_free(st);
}

/* The 0.2 ABI changes: two setters return a status; option structs start with `size` (OXRT_INIT). */
static void options_abi(const char *model) {
  oxrt_session_options *o = NULL;
  EXPECT(oxrt_session_options_create(&o) == NULL);
  EXPECT(oxrt_session_options_set_bf16_compute(o, 2) == NULL);
  expect_invalid(oxrt_session_options_set_bf16_compute(o, 7), "bf16");
  expect_invalid(oxrt_session_options_set_bf16_compute(NULL, 1), "NULL");
  EXPECT(oxrt_session_options_set_node_output_callback(o, NULL, NULL) == NULL);
  expect_invalid(oxrt_session_options_set_node_output_callback(NULL, NULL, NULL), "NULL");
  oxrt_session_options_free(o);

  const char *out = "oxrt_consumer_opt.onnx"; /* in the current folder, removed below */
  oxrt_optimize_options zero;
  memset(&zero, 0, sizeof zero); /* a struct that was not initialised with OXRT_INIT */
  zero.level = OXRT_OPT_ALL;
  expect_invalid(oxrt_optimize_model_file(model, out, &zero), "OXRT_INIT(oxrt_optimize_options)");
  oxrt_optimize_options oo = OXRT_INIT(oxrt_optimize_options);
  oo.level = OXRT_OPT_ALL;
  EXPECT(oxrt_optimize_model_file(model, out, &oo) == NULL);
  oxrt_convert_options cz;
  memset(&cz, 0, sizeof cz);
  expect_invalid(oxrt_convert_float_model_file(model, out, &cz), "OXRT_INIT(oxrt_convert_options)");
  oxrt_convert_options co = OXRT_INIT(oxrt_convert_options);
  EXPECT(oxrt_convert_float_model_file(model, out, &co) == NULL);
  oxrt_quantize_options qz;
  memset(&qz, 0, sizeof qz);
  expect_invalid(oxrt_quantize_model_file(model, out, &qz), "OXRT_INIT(oxrt_quantize_options)");
  oxrt_quantize_options qo = OXRT_INIT(oxrt_quantize_options);
  EXPECT(oxrt_quantize_model_file(model, out, &qo) == NULL); /* dynamic: no batches */
  oxrt_calib_batch batches[2] = {OXRT_INIT(oxrt_calib_batch), {0}};
  qo.mode = OXRT_QUANT_STATIC;
  qo.batches = batches;
  qo.n_batches = 2;
  expect_invalid(oxrt_quantize_model_file(model, out, &qo), "calibration batch 1");
  batches[0].size = 0;
  expect_invalid(oxrt_quantize_model_file(model, out, &qo), "OXRT_INIT(oxrt_calib_batch)");
  remove(out);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  EXPECT(oxrt_version_number() == OXRT_VERSION_NUMBER);
  EXPECT(strcmp(oxrt_version(), OXRT_VERSION) == 0);
  /* allocator hooks: settable in a fresh process, used for every tensor, refused while memory is live */
  oxrt_allocator a = {sizeof a, my_alloc, my_free, NULL};
  EXPECT(oxrt_allocated_bytes() == 0);
  oxrt_status *st = oxrt_set_allocator(&a);
  EXPECT(st == NULL);
  oxrt_session *s = NULL;
  st = oxrt_session_create(argv[1], NULL, &s);
  EXPECT(st == NULL);
  if (st) {
    printf("%s\n", oxrt_status_get_message(st));
    return 1;
  }
  float x[64] = {0};
  const int64_t dims[4] = {1, 1, 8, 8};
  oxrt_value *in = NULL, *out = NULL;
  EXPECT(oxrt_value_wrap_tensor(OXRT_FLOAT, dims, 4, x, sizeof x, &in) == NULL); /* const data, no cast */
  const char *names[] = {"image"};
  const oxrt_value *feeds[] = {in};
  EXPECT(oxrt_session_run(s, NULL, names, feeds, 1, NULL, 1, &out) == NULL);
  EXPECT(oxrt_value_get_elem_count(out) == 10);
  EXPECT(n_alloc > 0 && oxrt_allocated_bytes() > 0);
  oxrt_status *busy = oxrt_set_allocator(NULL);
  EXPECT(busy && oxrt_status_get_code(busy) == OXRT_ERR_INVALID_ARGUMENT);
  oxrt_status_free(busy);
  oxrt_value_free(out);
  oxrt_value_free(in);
  oxrt_session_free(s);
  printf("allocations through the hooks: %zu, frees: %zu, bytes still held: %llu\n", n_alloc, n_free,
         (unsigned long long)oxrt_allocated_bytes());
  options_abi(argv[1]);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
