/* c_consumer.c - a C program built only from the installed oxrt.h and library (-std=c11 -Wall -Wextra -pedantic):
 * version, run, allocator hooks in a fresh process (and back to the default once everything is freed), the setters
 * that return a status, the size-versioned option structs, a shared intra-op pool (threads counted in
 * /proc/self/task), end_profiling's failures and values adopted once. Prints "N passed, M failed".
 * Usage: c_consumer model.onnx */
#define _POSIX_C_SOURCE 200809L
#include <oxrt.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
  EXPECT(oxrt_session_options_disable_profiling(o) == NULL);
  expect_invalid(oxrt_session_options_disable_profiling(NULL), "NULL");
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

/* Creation functions adopt their items: a value given twice (it would be freed twice) is refused, and the
 * caller still owns everything after a refusal. */
static void adoption(void) {
  int64_t n = 2;
  oxrt_value *a = NULL, *b = NULL, *out = NULL;
  EXPECT(oxrt_value_create_tensor(OXRT_INT64, &n, 1, &a) == NULL);
  EXPECT(oxrt_value_create_tensor(OXRT_INT64, &n, 1, &b) == NULL);
  oxrt_value *items[3] = {a, b, a};
  expect_invalid(oxrt_value_create_sequence(OXRT_INT64, items, 3, &out), "items 0 and 2 are the same value");
  expect_invalid(oxrt_value_create_map(a, a, &out), "same value");
  EXPECT(out == NULL);
  oxrt_value *pair[2] = {a, b};
  EXPECT(oxrt_value_create_sequence(OXRT_INT64, pair, 2, &out) == NULL && oxrt_value_get_item_count(out) == 2);
  oxrt_value_free(out); /* frees a and b once each */
  oxrt_run_options *ro = NULL;
  EXPECT(oxrt_run_options_create(&ro) == NULL);
  expect_invalid(oxrt_run_options_set_terminate(ro, 5), "0 or 1");
  EXPECT(oxrt_run_options_get_terminate(ro) == 0);
  oxrt_run_options_free(ro);
}

/* Entries of a folder other than . and ..; -1 if it cannot be read. */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static oxrt_status *run_once(oxrt_session *s) {
  float x[64] = {0};
  const int64_t dims[4] = {1, 1, 8, 8};
  oxrt_value *in = NULL, *out = NULL;
  oxrt_status *st = oxrt_value_wrap_tensor(OXRT_FLOAT, dims, 4, x, sizeof x, &in);
  const char *names[] = {"image"};
  const oxrt_value *feeds[] = {in};
  if (!st) st = oxrt_session_run(s, NULL, names, feeds, 1, NULL, 1, &out);
  oxrt_value_free(out);
  oxrt_value_free(in);
  return st;
}

/* Sessions given one pool start no threads of their own; the pool lives until its last user is freed. */
static void shared_pool(const char *model) {
  int t0 = count_entries("/proc/self/task");
  if (t0 < 1) {
    printf("shared pool: /proc/self/task unreadable, thread counts not checked\n");
    return;
  }
  oxrt_thread_pool *pool = NULL;
  EXPECT(oxrt_thread_pool_create(4, &pool) == NULL && oxrt_thread_pool_get_size(pool) == 4);
  EXPECT(count_entries("/proc/self/task") == t0 + 3); /* the calling thread is the fourth */
  oxrt_session_options *o = NULL;
  EXPECT(oxrt_session_options_create(&o) == NULL);
  EXPECT(oxrt_session_options_set_thread_pool(o, pool) == NULL);
  oxrt_session *a = NULL, *b = NULL;
  EXPECT(oxrt_session_create(model, o, &a) == NULL && oxrt_session_create(model, o, &b) == NULL);
  oxrt_session_options_free(o);
  oxrt_thread_pool_free(pool); /* the sessions keep it */
  EXPECT(count_entries("/proc/self/task") == t0 + 3);
  EXPECT(a && b && run_once(a) == NULL && run_once(b) == NULL);
  oxrt_session_free(a);
  EXPECT(count_entries("/proc/self/task") == t0 + 3);
  oxrt_session_free(b); /* the last user: the workers end */
  EXPECT(count_entries("/proc/self/task") == t0);
  /* against that: a session with a pool of its own starts its workers */
  EXPECT(oxrt_session_options_create(&o) == NULL && oxrt_session_options_set_intra_op_threads(o, 4) == NULL);
  oxrt_session *own = NULL;
  EXPECT(oxrt_session_create(model, o, &own) == NULL);
  EXPECT(count_entries("/proc/self/task") == t0 + 3);
  oxrt_session_free(own);
  oxrt_session_options_free(o);
  EXPECT(count_entries("/proc/self/task") == t0);
}

/* end_profiling fails without writing a file or the caller's buffer. */
static void profiling_errors(const char *model) {
  char dir[] = "/tmp/oxrt_consumer_prof_XXXXXX";
  if (!mkdtemp(dir)) {
    failed++;
    printf("FAIL mkdtemp\n");
    return;
  }
  char prefix[128];
  snprintf(prefix, sizeof prefix, "%s/p", dir);
  oxrt_session_options *o = NULL;
  EXPECT(oxrt_session_options_create(&o) == NULL && oxrt_session_options_enable_profiling(o, prefix) == NULL);
  oxrt_session *s = NULL;
  EXPECT(oxrt_session_create(model, o, &s) == NULL);
  EXPECT(s && run_once(s) == NULL && oxrt_session_get_profile_count(s) > 0);
  char small[8], path[512];
  memset(small, 'x', sizeof small);
  expect_invalid(oxrt_session_end_profiling(s, small, sizeof small), "too small");
  EXPECT(small[0] == 'x' && small[7] == 'x' && count_entries(dir) == 0);
  EXPECT(oxrt_session_get_profile_count(s) > 0); /* the failed call kept the events */
  /* a folder that does not exist: an IO error, nothing written */
  oxrt_session *s2 = NULL;
  snprintf(prefix, sizeof prefix, "%s/missing/p", dir);
  EXPECT(oxrt_session_options_enable_profiling(o, prefix) == NULL && oxrt_session_create(model, o, &s2) == NULL);
  memset(path, 'x', sizeof path);
  oxrt_status *st = oxrt_session_end_profiling(s2, path, sizeof path);
  EXPECT(st && oxrt_status_get_code(st) == OXRT_ERR_IO && path[0] == 'x' && count_entries(dir) == 0);
  oxrt_status_free(st);
  /* and the successful call writes the file it names */
  EXPECT(oxrt_session_end_profiling(s, path, sizeof path) == NULL && count_entries(dir) == 1 &&
         !strncmp(path, dir, strlen(dir)));
  remove(path);
  rmdir(dir);
  oxrt_session_free(s2);
  oxrt_session_free(s);
  oxrt_session_options_free(o);
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
  /* everything freed: every block went back through the hooks, and the default allocator can return */
  EXPECT(n_free == n_alloc && oxrt_allocated_bytes() == 0);
  EXPECT(oxrt_set_allocator(NULL) == NULL);
  size_t hooked = n_alloc;
  st = oxrt_session_create(argv[1], NULL, &s);
  EXPECT(st == NULL && run_once(s) == NULL && n_alloc == hooked);
  oxrt_status_free(st);
  oxrt_session_free(s);
  options_abi(argv[1]);
  shared_pool(argv[1]);
  profiling_errors(argv[1]);
  adoption();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
