/* threads.c - concurrency test, meant to run under ThreadSanitizer (make test-tsan) and plainly in the test
 * command.
 *   1. One session (profiling on, 2 intra-op threads) is run from 8 threads at once, each thread with its
 *      own input, many times; every output must be bit-identical to the single-threaded reference run.
 *   2. Sessions are created, run and freed from 4 threads at once.
 *   3. The profile recorded under that load is read and written.
 *   4. Cancellation: a generated model that loops 2^40 times runs on another session during phase 1; setting
 *      its run options' terminate flag from this thread must stop it promptly with CANCELLED; a run started
 *      while the flag is set fails at once; a 100 ms time limit stops it too.
 *   5. Cancellation inside one node: a single MatMul of ~34 GFLOP (hundreds of ms) at 1 and 2 intra-op threads is
 *      stopped part-way by terminate from another thread and by a 10 ms time limit: CANCELLED, no output (the
 *      executor alone checks only between nodes, so it would finish and succeed). Promptness is one chunk of the
 *      GEMM's parallel loop (a tile: a quarter of the node at one thread); the 10 s bound only catches hangs.
 * Usage: oxrt_threads MODEL.onnx [ROUNDS]  (a model with one float input whose symbolic dims become 1).
 * Ends with "N passed, M failed". */
#include "oxrt.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pbwrite.h"

enum { N_THREADS = 8, N_CREATORS = 4, MAX_OUT = 8 };

static const char *model_path;
static int rounds = 6;
static oxrt_session *shared;
static oxrt_value_info in_info = OXRT_INIT(oxrt_value_info);
static size_t n_out;
static oxrt_value *inputs[N_THREADS];
static oxrt_value *refs[N_THREADS][MAX_OUT];
static int n_pass, n_fail;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static void report(bool ok, const char *what, const char *detail) {
  pthread_mutex_lock(&report_lock);
  if (ok) n_pass++;
  else {
    n_fail++;
    printf("FAIL %s: %s\n", what, detail ? detail : "");
  }
  pthread_mutex_unlock(&report_lock);
}

/* A float input of the declared shape (symbolic dims 1) filled from `seed`. */
static oxrt_value *make_input(unsigned seed) {
  int64_t dims[16];
  for (int i = 0; i < in_info.rank; i++) dims[i] = in_info.dims[i] < 0 ? 1 : in_info.dims[i];
  oxrt_value *v = NULL;
  oxrt_status *st = oxrt_value_create_tensor(OXRT_FLOAT, dims, (size_t)in_info.rank, &v);
  if (st) {
    oxrt_status_free(st);
    return NULL;
  }
  float *d = oxrt_value_get_mutable_data(v);
  for (size_t i = 0; i < oxrt_value_get_elem_count(v); i++) {
    seed = seed * 1103515245u + 12345u;
    d[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
  }
  return v;
}

static oxrt_status *run(oxrt_session *s, const oxrt_value *in, oxrt_value **out) {
  const char *name = in_info.name;
  return oxrt_session_run(s, NULL, &name, &in, 1, NULL, n_out, out);
}

static bool identical(oxrt_value *const *a, oxrt_value *const *b) {
  for (size_t i = 0; i < n_out; i++) {
    size_t nb = oxrt_value_get_nbytes(a[i]);
    if (oxrt_value_get_kind(a[i]) != OXRT_KIND_TENSOR || oxrt_value_get_elem_type(a[i]) == OXRT_STRING) continue;
    if (nb != oxrt_value_get_nbytes(b[i]) || memcmp(oxrt_value_get_data(a[i]), oxrt_value_get_data(b[i]), nb)) return false;
  }
  return true;
}

static void *runner(void *arg) {
  size_t t = (size_t)arg;
  for (int r = 0; r < rounds; r++) {
    oxrt_value *out[MAX_OUT] = {0};
    oxrt_status *st = run(shared, inputs[t], out);
    char d[300];
    snprintf(d, sizeof d, "thread %zu round %d: %s", t, r, st ? oxrt_status_get_message(st) : "outputs differ");
    report(!st && identical(out, refs[t]), "concurrent run on one session", d);
    oxrt_status_free(st);
    for (size_t i = 0; i < n_out; i++) oxrt_value_free(out[i]);
  }
  return NULL;
}

static void *creator(void *arg) {
  size_t t = (size_t)arg;
  oxrt_session_options *o = NULL;
  oxrt_session *s = NULL;
  oxrt_status *st = oxrt_session_options_create(&o);
  if (!st) {
    oxrt_session_options_set_intra_op_threads(o, 2);
    st = oxrt_session_create(model_path, o, &s);
  }
  oxrt_session_options_free(o);
  oxrt_value *out[MAX_OUT] = {0};
  if (!st) st = run(s, inputs[t], out);
  char d[300];
  snprintf(d, sizeof d, "creator %zu: %s", t, st ? oxrt_status_get_message(st) : "outputs differ");
  report(!st && identical(out, refs[t]), "concurrent session creation", d);
  oxrt_status_free(st);
  for (size_t i = 0; i < n_out; i++) oxrt_value_free(out[i]);
  oxrt_session_free(s);
  return NULL;
}

/* ------------------------------------------------------------ cancellation */
/* Loop(M = 2^40, cond = true, v0 = zeros[4096]) whose body doubles v: runs until stopped. */
static buf endless_loop_model(void) {
  buf body = {0}, g = {0}, n, at = {0};
  int64_t d4k = 4096;
  const char *ci[] = {"c_in"}, *co[] = {"c_out"}, *vi[] = {"v_in", "v_in"}, *vo[] = {"v_out"};
  buf in1 = value_info_t("i", 7, NULL, 0), in2 = value_info_t("c_in", 9, NULL, 0), in3 = value_info("v_in", &d4k, 1);
  buf o1 = value_info_t("c_out", 9, NULL, 0), o2 = value_info("v_out", &d4k, 1);
  buf n1 = node("Identity", ci, 1, co, 1), n2 = node("Add", vi, 2, vo, 1);
  f_msg(&body, 11, &in1);
  f_msg(&body, 11, &in2);
  f_msg(&body, 11, &in3);
  f_msg(&body, 1, &n1);
  f_msg(&body, 1, &n2);
  f_str(&body, 2, "body");
  f_msg(&body, 12, &o1);
  f_msg(&body, 12, &o2);
  int64_t m = (int64_t)1 << 40;
  buf tm = tensor_i64("M", NULL, 0, &m, 1), tc = {0}, tv = tensor_f32_raw("v0", &d4k, 1, 4096);
  f_int(&tc, 2, 9);
  f_str(&tc, 8, "cond");
  f_bytes(&tc, 9, "\1", 1);
  f_msg(&g, 5, &tm);
  f_msg(&g, 5, &tc);
  f_msg(&g, 5, &tv);
  const char *li[] = {"M", "cond", "v0"}, *lo[] = {"v"};
  n = node("Loop", li, 3, lo, 1);
  f_str(&at, 1, "body");
  f_int(&at, 20, 5);
  f_msg(&at, 6, &body);
  f_msg(&n, 5, &at);
  f_msg(&g, 1, &n);
  f_str(&g, 2, "endless");
  buf out = value_info("v", &d4k, 1);
  f_msg(&g, 12, &out);
  return model(&g, 17);
}

static oxrt_session *loop_session;
static oxrt_run_options *loop_ro;
static oxrt_status *loop_status;
static double loop_end;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static oxrt_status *run_loop(void) {
  oxrt_value *out = NULL;
  oxrt_status *st = oxrt_session_run(loop_session, loop_ro, NULL, NULL, 0, NULL, 1, &out);
  oxrt_value_free(out);
  return st;
}

static void *loop_runner(void *arg) {
  (void)arg;
  loop_status = run_loop();
  loop_end = now_s();
  return NULL;
}

static void expect_cancelled(const char *what, oxrt_status *st, double seconds, double max_seconds) {
  char d[400];
  snprintf(d, sizeof d, "%s after %.3f s (at most %.1f): %s", oxrt_status_code_name(oxrt_status_get_code(st)), seconds,
           max_seconds, st ? oxrt_status_get_message(st) : "(finished)");
  report(oxrt_status_get_code(st) == OXRT_ERR_CANCELLED && seconds <= max_seconds, what, d);
  if (getenv("OXRT_THREADS_VERBOSE")) printf("%s: %s\n", what, d);
  oxrt_status_free(st);
}

/* ------------------------------------------------- cancellation inside one node */
enum { MM_M = 2048, MM_K = 4096, MM_N = 2048 };

/* Y = MatMul(A [M, K], B [K, N]), both graph inputs (nothing to fold or pre-pack). */
static buf matmul_model(void) {
  buf g = {0};
  int64_t da[2] = {MM_M, MM_K}, db[2] = {MM_K, MM_N}, dy[2] = {MM_M, MM_N};
  const char *ins[] = {"A", "B"}, *outs[] = {"Y"};
  buf n = node("MatMul", ins, 2, outs, 1), ia = value_info("A", da, 2), ib = value_info("B", db, 2),
      oy = value_info("Y", dy, 2);
  f_msg(&g, 1, &n);
  f_str(&g, 2, "one_matmul");
  f_msg(&g, 11, &ia);
  f_msg(&g, 11, &ib);
  f_msg(&g, 12, &oy);
  return model(&g, 17);
}

typedef struct {
  oxrt_session *s;
  oxrt_run_options *ro;
  const oxrt_value *in[2];
  oxrt_value *out;
  oxrt_status *st;
  double end;
} mm_run;

static void *mm_runner(void *arg) {
  mm_run *r = arg;
  const char *names[] = {"A", "B"};
  r->st = oxrt_session_run(r->s, r->ro, names, r->in, 2, NULL, 1, &r->out);
  r->end = now_s();
  return NULL;
}

static oxrt_value *zeros(int64_t rows, int64_t cols) {
  int64_t d[2] = {rows, cols};
  oxrt_value *v = NULL;
  oxrt_status *st = oxrt_value_create_tensor(OXRT_FLOAT, d, 2, &v);
  if (st) {
    oxrt_status_free(st);
    return NULL;
  }
  memset(oxrt_value_get_mutable_data(v), 0, oxrt_value_get_nbytes(v));
  return v;
}

static void cancel_inside_node(int threads) {
  char what[160];
  buf m = matmul_model();
  oxrt_session_options *o = NULL;
  mm_run r = {0};
  oxrt_status *st = oxrt_session_options_create(&o);
  if (!st) st = oxrt_session_options_set_intra_op_threads(o, threads);
  if (!st) st = oxrt_session_create_from_memory(m.p, m.n, o, &r.s);
  oxrt_session_options_free(o);
  free(m.p);
  if (!st) st = oxrt_run_options_create(&r.ro);
  oxrt_value *a = zeros(MM_M, MM_K), *b = zeros(MM_K, MM_N);
  snprintf(what, sizeof what, "open the one-MatMul model (%d threads)", threads);
  report(!st && a && b, what, st ? oxrt_status_get_message(st) : "out of memory");
  oxrt_status_free(st);
  r.in[0] = a, r.in[1] = b;
  pthread_t t;
  if (r.s && r.ro && a && b && pthread_create(&t, NULL, mm_runner, &r) == 0) {
    usleep(10 * 1000); /* the run is inside MatMul by now (it starts with that node) */
    double t0 = now_s();
    oxrt_status_free(oxrt_run_options_set_terminate(r.ro, 1));
    pthread_join(t, NULL);
    snprintf(what, sizeof what, "terminate stops one long MatMul part-way (%d threads)", threads);
    report(!r.out, what, "an output was returned");
    expect_cancelled(what, r.st, r.end - t0, 10.0);
    oxrt_value_free(r.out);
    r.out = NULL;
    oxrt_status_free(oxrt_run_options_set_terminate(r.ro, 0));
    oxrt_status_free(oxrt_run_options_set_time_limit_ms(r.ro, 10));
    t0 = now_s();
    mm_runner(&r);
    snprintf(what, sizeof what, "a 10 ms time limit stops one long MatMul part-way (%d threads)", threads);
    report(!r.out, what, "an output was returned");
    expect_cancelled(what, r.st, r.end - t0, 10.0);
    oxrt_value_free(r.out);
  }
  oxrt_value_free(a);
  oxrt_value_free(b);
  oxrt_run_options_free(r.ro);
  oxrt_session_free(r.s);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.onnx [ROUNDS]\n", argv[0]);
    return 2;
  }
  model_path = argv[1];
  if (argc > 2) rounds = atoi(argv[2]) > 0 ? atoi(argv[2]) : rounds;
  char prefix[64];
  snprintf(prefix, sizeof prefix, "/tmp/oxrt_threads_%d", (int)getpid());
  oxrt_session_options *o = NULL;
  oxrt_status *st = oxrt_session_options_create(&o);
  if (!st) st = oxrt_session_options_enable_profiling(o, prefix);
  if (!st) {
    oxrt_session_options_set_intra_op_threads(o, 2);
    st = oxrt_session_create(model_path, o, &shared);
  }
  oxrt_session_options_free(o);
  if (!st) st = oxrt_session_get_input_info(shared, 0, &in_info);
  n_out = shared ? oxrt_session_get_output_count(shared) : 0;
  const char *why = st ? oxrt_status_get_message(st) : n_out > MAX_OUT ? "too many outputs" : NULL;
  if (!why && (in_info.kind != OXRT_KIND_TENSOR || in_info.elem_type != OXRT_FLOAT || in_info.rank < 0 || in_info.rank > 16))
    why = "the model's first input is not a float tensor of known rank";
  if (why) {
    printf("FAIL setup: %s\n0 passed, 1 failed\n", why);
    return 1;
  }
  /* single-threaded references */
  for (size_t t = 0; t < N_THREADS; t++) {
    inputs[t] = make_input(7u + 13u * (unsigned)t);
    st = run(shared, inputs[t], refs[t]);
    if (st) {
      printf("FAIL reference run: %s\n0 passed, 1 failed\n", oxrt_status_get_message(st));
      return 1;
    }
  }
  bool differ = N_THREADS < 2 || !identical(refs[0], refs[1]);
  report(differ, "inputs of different threads give different outputs", "thread 0 and 1 outputs are equal");
  /* the endless loop runs on its own session while the 8 threads use the shared one */
  buf lm = endless_loop_model();
  st = oxrt_session_create_from_memory(lm.p, lm.n, NULL, &loop_session);
  free(lm.p);
  if (!st) st = oxrt_run_options_create(&loop_ro);
  report(!st, "open the endless-loop model", st ? oxrt_status_get_message(st) : NULL);
  oxrt_status_free(st);
  pthread_t lt;
  bool looping = loop_session && loop_ro && pthread_create(&lt, NULL, loop_runner, NULL) == 0;
  pthread_t th[N_THREADS];
  for (size_t t = 0; t < N_THREADS; t++) pthread_create(&th[t], NULL, runner, (void *)t);
  for (size_t t = 0; t < N_THREADS; t++) pthread_join(th[t], NULL);
  if (looping) {
    usleep(100 * 1000);
    double t0 = now_s();
    oxrt_status_free(oxrt_run_options_set_terminate(loop_ro, 1));
    pthread_join(lt, NULL);
    expect_cancelled("terminate stops a running loop from another thread", loop_status, loop_end - t0, 2.0);
    t0 = now_s();
    expect_cancelled("a run started with terminate set fails at once", run_loop(), now_s() - t0, 0.5);
    oxrt_status_free(oxrt_run_options_set_terminate(loop_ro, 0));
    st = oxrt_run_options_set_time_limit_ms(loop_ro, 100);
    report(!st, "set_time_limit_ms", st ? oxrt_status_get_message(st) : NULL);
    oxrt_status_free(st);
    t0 = now_s();
    expect_cancelled("a 100 ms time limit stops the loop", run_loop(), now_s() - t0, 3.0);
  }
  oxrt_run_options_free(loop_ro);
  oxrt_session_free(loop_session);
  cancel_inside_node(1);
  cancel_inside_node(2);
  for (size_t t = 0; t < N_CREATORS; t++) pthread_create(&th[t], NULL, creator, (void *)t);
  for (size_t t = 0; t < N_CREATORS; t++) pthread_join(th[t], NULL);
  /* the profile saw every run */
  size_t events = oxrt_session_get_profile_count(shared);
  char d[200];
  snprintf(d, sizeof d, "%zu events", events);
  report(events >= (size_t)(N_THREADS * (rounds + 1)), "profile recorded the concurrent runs", d);
  char path[4200];
  st = oxrt_session_end_profiling(shared, path, sizeof path);
  report(!st, "end_profiling", st ? oxrt_status_get_message(st) : NULL);
  if (!st) remove(path);
  oxrt_status_free(st);
  for (size_t t = 0; t < N_THREADS; t++) {
    oxrt_value_free(inputs[t]);
    for (size_t i = 0; i < n_out; i++) oxrt_value_free(refs[t][i]);
  }
  oxrt_session_free(shared);
  printf("%d passed, %d failed\n", n_pass, n_fail);
  return n_fail ? 1 : 0;
}
