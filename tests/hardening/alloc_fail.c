/* alloc_fail.c - allocation-failure injection over load and run of a set of models.
 *
 * The binary links the static library with -Wl,--wrap=malloc,calloc,realloc,posix_memalign,aligned_alloc,free,
 * so every allocation the library makes passes through the wrappers below. For each model, a counting pass
 * measures the number N of allocations that opening it and running it once take; then for k = 0, stride,
 * 2*stride, ... < N the k-th allocation fails and the test checks that
 *   - open or run returns a status whose code is OUT_OF_MEMORY (or succeeds, when the failed allocation
 *     was optional, with outputs identical to the reference run),
 *   - every allocation made in the attempt has been freed again (the wrappers track live blocks),
 *   - a second session, opened before the sweep, still runs and gives the reference outputs.
 * Usage: oxrt_alloc_fail [--stride N] [--model-dir DIR] [MODEL_DIR ...]
 * Each MODEL_DIR is a conformance-style folder (model.onnx, optional test_data_set_0/input_K.pb) or a .onnx file.
 * Ends with "N passed, M failed" (one check per injected failure). */
#include "oxrt.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the wrappers */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void __real_free(void *p);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long n_allocs;       /* allocations seen since the last reset */
static long fail_at = -1;   /* index of the allocation to fail, -1 for none */
static bool failed;         /* the injected failure happened */
static long live;           /* tracked blocks not yet freed */

/* Live blocks, in an open-addressing table with linear probing (deletion by backward shift). */
enum { TABLE_BITS = 21 };
#define TABLE_SIZE ((size_t)1 << TABLE_BITS)
static void **table;

static size_t slot_of(const void *p) { return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull >> (64 - TABLE_BITS)); }

static void track(void *p) {
  if (!p || !table) return;
  size_t i = slot_of(p);
  while (table[i]) i = (i + 1) & (TABLE_SIZE - 1);
  table[i] = p;
  live++;
}

static bool untrack(void *p) {
  if (!p || !table) return false;
  size_t i = slot_of(p);
  while (table[i] && table[i] != p) i = (i + 1) & (TABLE_SIZE - 1);
  if (!table[i]) return false;
  table[i] = NULL;
  live--;
  for (size_t j = (i + 1) & (TABLE_SIZE - 1); table[j]; j = (j + 1) & (TABLE_SIZE - 1)) {
    void *q = table[j];
    size_t home = slot_of(q);
    /* move q into the hole if the hole lies on its probe path */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      table[i] = q;
      table[j] = NULL;
      i = j;
    }
  }
  return true;
}

/* True when this allocation must fail. Called with the lock held. */
static bool inject(void) {
  long k = n_allocs++;
  if (k == fail_at) {
    failed = true;
    return true;
  }
  return false;
}

void *__wrap_malloc(size_t n) {
  pthread_mutex_lock(&lock);
  void *p = inject() ? NULL : __real_malloc(n);
  track(p);
  pthread_mutex_unlock(&lock);
  return p;
}

void *__wrap_calloc(size_t n, size_t m) {
  pthread_mutex_lock(&lock);
  void *p = inject() ? NULL : __real_calloc(n, m);
  track(p);
  pthread_mutex_unlock(&lock);
  return p;
}

void *__wrap_realloc(void *old, size_t n) {
  pthread_mutex_lock(&lock);
  void *p = NULL;
  if (!inject()) {
    bool was_tracked = untrack(old);
    p = __real_realloc(old, n);
    if (p) track(p);
    else if (was_tracked) track(old); /* a failed realloc leaves the old block alive */
  }
  pthread_mutex_unlock(&lock);
  return p;
}

int __wrap_posix_memalign(void **out, size_t align, size_t n) {
  pthread_mutex_lock(&lock);
  int rc = 12; /* ENOMEM */
  if (!inject()) {
    rc = __real_posix_memalign(out, align, n);
    if (rc == 0) track(*out);
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

void *__wrap_aligned_alloc(size_t align, size_t n) {
  pthread_mutex_lock(&lock);
  void *p = inject() ? NULL : __real_aligned_alloc(align, n);
  track(p);
  pthread_mutex_unlock(&lock);
  return p;
}

void __wrap_free(void *p) {
  if (!p) return;
  pthread_mutex_lock(&lock);
  untrack(p);
  pthread_mutex_unlock(&lock);
  __real_free(p);
}

static void arm(long k) {
  pthread_mutex_lock(&lock);
  n_allocs = 0;
  fail_at = k;
  failed = false;
  pthread_mutex_unlock(&lock);
}

static long disarm(void) {
  pthread_mutex_lock(&lock);
  long n = n_allocs;
  fail_at = -1;
  pthread_mutex_unlock(&lock);
  return n;
}

static long live_now(void) {
  pthread_mutex_lock(&lock);
  long n = live;
  pthread_mutex_unlock(&lock);
  return n;
}

/* ------------------------------------------------------------------ models */
typedef struct {
  char path[1024];
  size_t n_in;
  const char *names[16];
  oxrt_value *inputs[16];
  size_t n_out;
  oxrt_value *ref[16];
} model_case;

static char *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return b;
}

/* Input k: test_data_set_0/input_k.pb next to the model when present, else a small pattern tensor. */
static oxrt_value *make_input(const char *dir, size_t k, const oxrt_value_info *info) {
  char p[1200];
  snprintf(p, sizeof p, "%s/test_data_set_0/input_%zu.pb", dir, k);
  size_t size;
  char *bytes = read_all(p, &size);
  oxrt_value *v = NULL;
  if (bytes) {
    oxrt_value_kind kind = info->kind == OXRT_KIND_UNKNOWN ? OXRT_KIND_TENSOR : info->kind;
    oxrt_status *st = oxrt_value_parse_proto(kind, bytes, size, &v);
    free(bytes);
    if (st) fprintf(stderr, "%s: %s\n", p, oxrt_status_get_message(st));
    oxrt_status_free(st);
    return v;
  }
  if (info->kind != OXRT_KIND_TENSOR || info->rank < 0 || info->rank > 8) return NULL;
  int64_t dims[8];
  for (int i = 0; i < info->rank; i++) dims[i] = info->dims[i] < 0 ? 1 : info->dims[i];
  oxrt_status *st = oxrt_value_create_tensor(info->elem_type, dims, (size_t)info->rank, &v);
  if (st) {
    oxrt_status_free(st);
    return NULL;
  }
  if (info->elem_type == OXRT_FLOAT) {
    float *d = oxrt_value_get_mutable_data(v);
    for (size_t i = 0; i < oxrt_value_get_elem_count(v); i++) d[i] = (float)((i * 37) % 11) * 0.25f - 1.0f;
  }
  return v;
}

static bool same_value(const oxrt_value *a, const oxrt_value *b) {
  if (!a || !b) return a == b;
  if (oxrt_value_get_kind(a) != oxrt_value_get_kind(b) || oxrt_value_get_elem_type(a) != oxrt_value_get_elem_type(b))
    return false;
  if (oxrt_value_get_kind(a) != OXRT_KIND_TENSOR) {
    if (oxrt_value_get_item_count(a) != oxrt_value_get_item_count(b)) return false;
    for (size_t i = 0; i < oxrt_value_get_item_count(a); i++)
      if (!same_value(oxrt_value_get_item(a, i), oxrt_value_get_item(b, i))) return false;
    return true;
  }
  size_t r = oxrt_value_get_rank(a);
  if (r != oxrt_value_get_rank(b) || memcmp(oxrt_value_get_dims(a), oxrt_value_get_dims(b), r * sizeof(int64_t)))
    return false;
  if (oxrt_value_get_elem_type(a) == OXRT_STRING) {
    for (size_t i = 0; i < oxrt_value_get_elem_count(a); i++)
      if (strcmp(oxrt_value_get_string(a, i, NULL), oxrt_value_get_string(b, i, NULL))) return false;
    return true;
  }
  return oxrt_value_get_nbytes(a) == oxrt_value_get_nbytes(b) &&
         memcmp(oxrt_value_get_data(a), oxrt_value_get_data(b), oxrt_value_get_nbytes(a)) == 0;
}

static oxrt_status *open_session(const char *path, oxrt_session **s) {
  oxrt_session_options *o = NULL;
  oxrt_status *st = oxrt_session_options_create(&o);
  if (st) return st;
  oxrt_session_options_set_intra_op_threads(o, 1);
  st = oxrt_session_create(path, o, s);
  oxrt_session_options_free(o);
  return st;
}

/* Runs `s` on the case's inputs; outputs into out[] (caller frees). */
static oxrt_status *run_case(oxrt_session *s, const model_case *mc, oxrt_value **out) {
  return oxrt_session_run(s, NULL, mc->names, (const oxrt_value *const *)mc->inputs, mc->n_in, NULL, mc->n_out, out);
}

static bool outputs_match(const model_case *mc, oxrt_value **out) {
  bool ok = true;
  for (size_t i = 0; i < mc->n_out; i++) ok = ok && same_value(mc->ref[i], out[i]);
  return ok;
}

static void free_outputs(oxrt_value **out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    oxrt_value_free(out[i]);
    out[i] = NULL;
  }
}

static int n_pass, n_fail;

static void fail(const char *model, long k, const char *fmt, const char *detail) {
  n_fail++;
  printf("FAIL %s k=%ld: ", model, k);
  printf(fmt, detail);
  printf("\n");
}

/* Load + run `mc` with allocation k failing; the checks described at the top. */
static void attempt(model_case *mc, oxrt_session *witness, long k) {
  long live_before = live_now();
  oxrt_session *s = NULL;
  oxrt_value *out[16] = {0};
  arm(k);
  oxrt_status *st = open_session(mc->path, &s);
  if (!st) st = run_case(s, mc, out);
  disarm();
  bool ok = true;
  if (st) {
    if (oxrt_status_get_code(st) != OXRT_ERR_OUT_OF_MEMORY) {
      fail(mc->path, k, "expected OUT_OF_MEMORY, got: %s", oxrt_status_get_message(st));
      ok = false;
    }
  } else if (!outputs_match(mc, out)) {
    fail(mc->path, k, "%s", "run succeeded despite the failed allocation but the outputs differ");
    ok = false;
  }
  oxrt_status_free(st);
  free_outputs(out, mc->n_out);
  oxrt_session_free(s);
  long leaked = live_now() - live_before;
  if (leaked != 0) {
    char d[64];
    snprintf(d, sizeof d, "%ld", leaked);
    fail(mc->path, k, "%s blocks leaked", d);
    ok = false;
  }
  /* the process and other sessions stay usable */
  st = run_case(witness, mc, out);
  if (st || !outputs_match(mc, out)) {
    fail(mc->path, k, "the other session then failed: %s", st ? oxrt_status_get_message(st) : "wrong outputs");
    ok = false;
  }
  oxrt_status_free(st);
  free_outputs(out, mc->n_out);
  if (ok) n_pass++;
}

static void sweep(const char *arg, long stride) {
  model_case mc;
  memset(&mc, 0, sizeof mc);
  char dir[1024];
  size_t len = strlen(arg);
  if (len > 5 && strcmp(arg + len - 5, ".onnx") == 0) {
    snprintf(mc.path, sizeof mc.path, "%s", arg);
    snprintf(dir, sizeof dir, "%s", arg);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
  } else {
    snprintf(dir, sizeof dir, "%s", arg);
    snprintf(mc.path, sizeof mc.path, "%s/model.onnx", arg);
  }
  oxrt_session *witness = NULL;
  oxrt_status *st = open_session(mc.path, &witness);
  if (st) {
    fail(mc.path, -1, "cannot open the model: %s", oxrt_status_get_message(st));
    oxrt_status_free(st);
    return;
  }
  mc.n_in = oxrt_session_get_input_count(witness);
  mc.n_out = oxrt_session_get_output_count(witness);
  if (mc.n_in > 16 || mc.n_out > 16) {
    fail(mc.path, -1, "%s", "more than 16 inputs or outputs");
    oxrt_session_free(witness);
    return;
  }
  for (size_t i = 0; i < mc.n_in; i++) {
    oxrt_value_info info = OXRT_INIT(oxrt_value_info);
    oxrt_status_free(oxrt_session_get_input_info(witness, i, &info));
    mc.names[i] = strdup(info.name);
    mc.inputs[i] = make_input(dir, i, &info);
  }
  st = run_case(witness, &mc, mc.ref);
  if (st) {
    fail(mc.path, -1, "reference run failed: %s", oxrt_status_get_message(st));
    oxrt_status_free(st);
  } else {
    /* the counting pass: how many allocations do open + run take? */
    oxrt_session *s = NULL;
    oxrt_value *out[16] = {0};
    arm(-1);
    st = open_session(mc.path, &s);
    if (!st) st = run_case(s, &mc, out);
    long total = disarm();
    oxrt_status_free(st);
    free_outputs(out, mc.n_out);
    oxrt_session_free(s);
    int before = n_pass + n_fail;
    for (long k = 0; k < total; k += stride) attempt(&mc, witness, k);
    printf("%s: %ld allocations in open + run, %d injected failures checked\n", mc.path, total, n_pass + n_fail - before);
    fflush(stdout);
  }
  free_outputs(mc.ref, mc.n_out);
  for (size_t i = 0; i < mc.n_in; i++) {
    free((void *)mc.names[i]);
    oxrt_value_free(mc.inputs[i]);
  }
  oxrt_session_free(witness);
}

int main(int argc, char **argv) {
  table = __real_calloc(TABLE_SIZE, sizeof *table);
  if (!table) return 2;
  long stride = 1;
  int first = 1;
  if (argc > 2 && strcmp(argv[1], "--stride") == 0) {
    stride = atol(argv[2]);
    if (stride < 1) stride = 1;
    first = 3;
  }
  if (first >= argc) {
    fprintf(stderr, "usage: %s [--stride N] MODEL_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  for (int i = first; i < argc; i++) sweep(argv[i], stride);
  printf("%d passed, %d failed\n", n_pass, n_fail);
  return n_fail ? 1 : 0;
}
