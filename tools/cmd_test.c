/* cmd_test.c - `oxrt test`: runs folders in the ONNX backend test layout. */
#include "cli.h"
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  double rtol, atol;
  bool random; /* outputs are random: compare type and shape only */
} tolerance;

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *base_name(const char *p) {
  size_t n = strlen(p);
  while (n > 1 && p[n - 1] == '/') n--;
  static _Thread_local char buf[1024];
  size_t b = n;
  while (b > 0 && p[b - 1] != '/') b--;
  size_t len = n - b < sizeof buf - 1 ? n - b : sizeof buf - 1;
  memcpy(buf, p + b, len);
  buf[len] = 0;
  return buf;
}

static tolerance tolerance_for(const char *test_name) {
  tolerance t = {1e-3, 1e-7, false};
  if (strstr(test_name, "densenet")) t.rtol = 2e-3;
  /* Tests whose expected values come from a random generator. */
  static const char *random_tests[] = {"test_bernoulli", "test_randomnormal", "test_randomuniform",
                                       "test_training_dropout", NULL};
  for (int i = 0; random_tests[i]; i++)
    if (strncmp(test_name, random_tests[i], strlen(random_tests[i])) == 0) t.random = true;
  return t;
}

/* --------------------------------------------------------------- compare */
static bool is_float_type(oxrt_elem_type t) {
  return t == OXRT_FLOAT || t == OXRT_DOUBLE || t == OXRT_FLOAT16 || t == OXRT_BFLOAT16 || t == OXRT_COMPLEX64 ||
         t == OXRT_COMPLEX128 || (t >= OXRT_FLOAT8E4M3FN && t <= OXRT_FLOAT8E5M2FNUZ) || t == OXRT_FLOAT4E2M1 ||
         t == OXRT_FLOAT8E8M0;
}

static double f16_to_double(uint16_t h) {
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 31) v = m ? NAN : INFINITY;
  else if (e == 0) v = ldexp(m, -24);
  else v = ldexp(m + 1024, e - 25);
  return s ? -v : v;
}

static double fp8_to_double(oxrt_elem_type t, uint8_t b) {
  int ebits, mbits, bias;
  bool fnuz = false, has_inf = false;
  switch (t) {
  case OXRT_FLOAT8E4M3FN: ebits = 4, mbits = 3, bias = 7; break;
  case OXRT_FLOAT8E4M3FNUZ: ebits = 4, mbits = 3, bias = 8, fnuz = true; break;
  case OXRT_FLOAT8E5M2: ebits = 5, mbits = 2, bias = 15, has_inf = true; break;
  case OXRT_FLOAT8E5M2FNUZ: ebits = 5, mbits = 2, bias = 16, fnuz = true; break;
  case OXRT_FLOAT4E2M1: ebits = 2, mbits = 1, bias = 1, b &= 15; break;
  case OXRT_FLOAT8E8M0: return b == 255 ? NAN : ldexp(1.0, b - 127);
  default: return 0;
  }
  int bits = 1 + ebits + mbits;
  int s = (b >> (bits - 1)) & 1, e = (b >> mbits) & ((1 << ebits) - 1), m = b & ((1 << mbits) - 1);
  if (fnuz && b == 0x80) return NAN;
  if (t == OXRT_FLOAT8E4M3FN && e == 15 && m == 7) return NAN;
  if (has_inf && e == (1 << ebits) - 1) return m ? NAN : (s ? -INFINITY : INFINITY);
  double v = e ? ldexp(m + (1 << mbits), e - bias - mbits) : ldexp(m, 1 - bias - mbits);
  return s ? -v : v;
}

static double elem_as_double(oxrt_elem_type t, const void *data, size_t i) {
  switch (t) {
  case OXRT_FLOAT: return ((const float *)data)[i];
  case OXRT_DOUBLE: return ((const double *)data)[i];
  case OXRT_FLOAT16: return f16_to_double(((const uint16_t *)data)[i]);
  case OXRT_BFLOAT16: {
    uint32_t u = (uint32_t)((const uint16_t *)data)[i] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  case OXRT_COMPLEX64: return ((const float *)data)[i];
  case OXRT_COMPLEX128: return ((const double *)data)[i];
  default: return fp8_to_double(t, ((const uint8_t *)data)[i]);
  }
}

static bool compare_values(const oxrt_value *want, const oxrt_value *got, tolerance tol, char *why, size_t cap);

static bool compare_tensors(const oxrt_value *want, const oxrt_value *got, tolerance tol, char *why, size_t cap) {
  oxrt_elem_type wt = oxrt_value_get_elem_type(want), gt = oxrt_value_get_elem_type(got);
  if (wt != gt) {
    snprintf(why, cap, "element type %s, expected %s", oxrt_elem_type_name(gt), oxrt_elem_type_name(wt));
    return false;
  }
  size_t wr = oxrt_value_get_rank(want), gr = oxrt_value_get_rank(got);
  const int64_t *wd = oxrt_value_get_dims(want), *gd = oxrt_value_get_dims(got);
  bool same = wr == gr;
  for (size_t i = 0; same && i < wr; i++) same = wd[i] == gd[i];
  if (!same) {
    char a[256] = "[", b[256] = "[";
    for (size_t i = 0; i < gr; i++) snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", i ? "," : "", (long long)gd[i]);
    for (size_t i = 0; i < wr; i++) snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", i ? "," : "", (long long)wd[i]);
    snprintf(why, cap, "shape %s], expected %s]", a, b);
    return false;
  }
  if (tol.random) return true;
  size_t n = oxrt_value_get_elem_count(want);
  const void *w = oxrt_value_get_data(want), *g = oxrt_value_get_data(got);
  if (wt == OXRT_STRING) {
    for (size_t i = 0; i < n; i++) {
      const char *a = oxrt_value_get_string(want, i, NULL), *b = oxrt_value_get_string(got, i, NULL);
      if (strcmp(a, b) != 0) {
        snprintf(why, cap, "element %zu is \"%.40s\", expected \"%.40s\"", i, b, a);
        return false;
      }
    }
    return true;
  }
  if (is_float_type(wt)) {
    size_t m = (wt == OXRT_COMPLEX64 || wt == OXRT_COMPLEX128) ? n * 2 : n;
    size_t bad = 0, first = 0;
    double worst = 0;
    for (size_t i = 0; i < m; i++) {
      double a = elem_as_double(wt, w, i), b = elem_as_double(wt, g, i);
      if (isnan(a) && isnan(b)) continue;
      if (isinf(a) || isinf(b)) {
        if (a == b) continue;
      } else if (fabs(a - b) <= tol.atol + tol.rtol * fabs(a)) {
        continue;
      }
      if (!bad) first = i;
      bad++;
      double d = fabs(a - b);
      if (d > worst || isnan(d)) worst = d;
    }
    if (bad) {
      snprintf(why, cap, "%zu of %zu values differ (first at %zu: got %.9g, expected %.9g; max abs diff %.3g)", bad, m,
               first, elem_as_double(wt, g, first), elem_as_double(wt, w, first), worst);
      return false;
    }
    return true;
  }
  size_t nb = oxrt_value_get_nbytes(want);
  if (memcmp(w, g, nb) != 0) {
    size_t es = oxrt_elem_type_size(wt), i = 0;
    while (i < n && memcmp((const char *)w + i * es, (const char *)g + i * es, es) == 0) i++;
    snprintf(why, cap, "integer values differ (first at element %zu)", i);
    return false;
  }
  return true;
}

static bool compare_values(const oxrt_value *want, const oxrt_value *got, tolerance tol, char *why, size_t cap) {
  oxrt_value_kind wk = oxrt_value_get_kind(want), gk = oxrt_value_get_kind(got);
  /* An optional holding a value compares equal to that value, as in the ONNX runner. */
  if (wk == OXRT_KIND_OPTIONAL && gk != OXRT_KIND_OPTIONAL) {
    if (oxrt_value_get_item_count(want) != 1) {
      snprintf(why, cap, "expected an empty optional, got a value");
      return false;
    }
    return compare_values(oxrt_value_get_item(want, 0), got, tol, why, cap);
  }
  if (gk == OXRT_KIND_OPTIONAL && wk != OXRT_KIND_OPTIONAL) {
    if (oxrt_value_get_item_count(got) != 1) {
      snprintf(why, cap, "got an empty optional, expected a value");
      return false;
    }
    return compare_values(want, oxrt_value_get_item(got, 0), tol, why, cap);
  }
  if (wk != gk) {
    snprintf(why, cap, "value kind %d, expected %d", (int)gk, (int)wk);
    return false;
  }
  if (wk == OXRT_KIND_TENSOR) return compare_tensors(want, got, tol, why, cap);
  size_t wn = oxrt_value_get_item_count(want), gn = oxrt_value_get_item_count(got);
  if (wn != gn) {
    snprintf(why, cap, "%zu items, expected %zu", gn, wn);
    return false;
  }
  for (size_t i = 0; i < wn; i++) {
    char inner[400];
    if (!compare_values(oxrt_value_get_item(want, i), oxrt_value_get_item(got, i), tol, inner, sizeof inner)) {
      snprintf(why, cap, "item %zu: %s", i, inner);
      return false;
    }
  }
  return true;
}

/* ------------------------------------------------------------- one test */
static oxrt_status *load_pb(const char *path, oxrt_value_kind kind, oxrt_value **out) {
  size_t size;
  void *data = cli_read_file(path, &size);
  if (!data) return NULL;
  if (kind == OXRT_KIND_UNKNOWN) kind = OXRT_KIND_TENSOR;
  oxrt_status *st = oxrt_value_parse_proto(kind == OXRT_KIND_SPARSE_TENSOR ? OXRT_KIND_TENSOR : kind, data, size, out);
  free(data);
  return st;
}

/* ONNX 1.12's test data stores bfloat16 tensors as uint16 bit patterns (numpy has no
 * bfloat16): reinterpret them as the bfloat16 the model declares. */
static oxrt_value *as_bfloat16(oxrt_value *v, oxrt_elem_type declared) {
  if (!v || declared != OXRT_BFLOAT16 || oxrt_value_get_kind(v) != OXRT_KIND_TENSOR ||
      oxrt_value_get_elem_type(v) != OXRT_UINT16)
    return v;
  oxrt_value *b = NULL;
  if (oxrt_value_create_tensor(OXRT_BFLOAT16, oxrt_value_get_dims(v), oxrt_value_get_rank(v), &b)) return v;
  memcpy(oxrt_value_get_mutable_data(b), oxrt_value_get_data(v), oxrt_value_get_nbytes(v));
  oxrt_value_free(v);
  return b;
}

/* How sessions are optimized: the default level unless --opt-level says otherwise, and the passes to skip while
 * a failure is bisected. */
static int opt_level = -1;
static const char *skip_passes = NULL;
static int runs = 2; /* runs per test data set (--runs N) */

static oxrt_status *open_session(const char *path, oxrt_session **s) {
  if (opt_level < 0 && !skip_passes) return oxrt_session_create(path, NULL, s);
  oxrt_session_options *o;
  oxrt_status *st = oxrt_session_options_create(&o);
  if (st) return st;
  if (opt_level >= 0) oxrt_session_options_set_opt_level(o, (oxrt_opt_level)opt_level);
  if (skip_passes) st = oxrt_session_options_set_disabled_passes(o, skip_passes);
  if (!st) st = oxrt_session_create(path, o, s);
  oxrt_session_options_free(o);
  return st;
}

/* Runs one test folder; returns true on pass, with the reason in `why` otherwise. */
static bool run_one(const char *dir, char *why, size_t cap) {
  char path[8192];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  oxrt_session *s = NULL;
  oxrt_status *st = open_session(path, &s);
  if (st) {
    snprintf(why, cap, "load: %s", oxrt_status_get_message(st));
    oxrt_status_free(st);
    return false;
  }
  tolerance tol = tolerance_for(base_name(dir));
  size_t nin = oxrt_session_get_input_count(s), nout = oxrt_session_get_output_count(s);
  bool ok = true;
  int sets = 0;
  for (int set = 0; ok; set++) {
    char sdir[6144];
    snprintf(sdir, sizeof sdir, "%s/test_data_set_%d", dir, set);
    if (!is_dir(sdir)) break;
    sets++;
    oxrt_value **ins = calloc(nin + 1, sizeof *ins), **outs = calloc(nout + 1, sizeof *outs),
               **exp = calloc(nout + 1, sizeof *exp);
    const char **names = calloc(nin + 1, sizeof *names);
    size_t fed = 0;
    for (size_t i = 0; ok && i < nin; i++) {
      oxrt_value_info info = OXRT_INIT(oxrt_value_info);
      oxrt_session_get_input_info(s, i, &info);
      snprintf(path, sizeof path, "%s/input_%zu.pb", sdir, i);
      if (!is_file(path)) continue; /* omitted optional input */
      st = load_pb(path, info.kind, &ins[fed]);
      if (st) {
        snprintf(why, cap, "set %d: reading %s: %s", set, path, oxrt_status_get_message(st));
        oxrt_status_free(st);
        ok = false;
        break;
      }
      ins[fed] = as_bfloat16(ins[fed], info.elem_type);
      names[fed++] = info.name;
    }
    size_t n_exp = 0;
    for (size_t i = 0; ok && i < nout; i++) {
      oxrt_value_info info = OXRT_INIT(oxrt_value_info);
      oxrt_session_get_output_info(s, i, &info);
      snprintf(path, sizeof path, "%s/output_%zu.pb", sdir, i);
      if (!is_file(path)) break;
      st = load_pb(path, info.kind, &exp[i]);
      if (st) {
        snprintf(why, cap, "set %d: reading %s: %s", set, path, oxrt_status_get_message(st));
        oxrt_status_free(st);
        ok = false;
        break;
      }
      exp[i] = as_bfloat16(exp[i], info.elem_type);
      n_exp++;
    }
    /* each set runs twice on the same session: the second run replays the memory plan the first one recorded */
    for (int r = 0; ok && r < runs; r++) {
      const char *which = r ? " (run again)" : "";
      for (size_t i = 0; r && i < nout; i++) {
        oxrt_value_free(outs[i]);
        outs[i] = NULL;
      }
      st = oxrt_session_run(s, NULL, names, (const oxrt_value *const *)ins, fed, NULL, nout, outs);
      if (st) {
        snprintf(why, cap, "set %d%s: run: %s", set, which, oxrt_status_get_message(st));
        oxrt_status_free(st);
        ok = false;
      }
      for (size_t i = 0; ok && i < n_exp; i++) {
        oxrt_value_info info = OXRT_INIT(oxrt_value_info);
        oxrt_session_get_output_info(s, i, &info);
        char inner[600];
        if (!compare_values(exp[i], outs[i], tol, inner, sizeof inner)) {
          snprintf(why, cap, "set %d%s: output %zu '%s': %s", set, which, i, info.name, inner);
          ok = false;
        }
      }
    }
    for (size_t i = 0; i < nin; i++) oxrt_value_free(ins[i]);
    for (size_t i = 0; i < nout; i++) {
      oxrt_value_free(outs[i]);
      oxrt_value_free(exp[i]);
    }
    free(ins), free(outs), free(exp), free(names);
  }
  if (ok && sets == 0) {
    snprintf(why, cap, "no test_data_set_N folder");
    ok = false;
  }
  oxrt_session_free(s);
  return ok;
}

/* Runs a test in a child process so a crash or hang is one failure, not the end of the run. */
static bool run_isolated(const char *dir, char *why, size_t cap, bool fork_tests) {
  if (!fork_tests) return run_one(dir, why, cap);
  int fds[2];
  if (pipe(fds) != 0) return run_one(dir, why, cap);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return run_one(dir, why, cap);
  }
  if (pid == 0) {
    close(fds[0]);
    alarm(120);
    char msg[2048] = "";
    bool ok = run_one(dir, msg, sizeof msg);
    size_t len = strlen(msg);
    ssize_t wr = write(fds[1], &ok, 1);
    wr = write(fds[1], msg, len);
    (void)wr;
    _exit(0);
  }
  close(fds[1]);
  char buf[2049];
  size_t got = 0;
  ssize_t k;
  while (got < sizeof buf - 1 && (k = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)k;
  close(fds[0]);
  buf[got] = 0;
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    snprintf(why, cap, sig == SIGALRM ? "timed out after 120 s" : "crashed with signal %d (%s)", sig, strsignal(sig));
    return false;
  }
  if (got == 0) {
    snprintf(why, cap, "test process exited without a result");
    return false;
  }
  snprintf(why, cap, "%s", buf + 1);
  return buf[0] != 0;
}

/* A test that fails with optimization on: if it passes with optimization off, name the pass whose removal makes
 * it pass, so an optimizer bug is reported as one (appended to `why`). */
static void blame_pass(const char *dir, char *why, size_t cap, bool fork_tests) {
  if (opt_level == 0) return;
  int saved = opt_level;
  char scratch[2048];
  opt_level = 0;
  bool off_ok = run_isolated(dir, scratch, sizeof scratch, fork_tests);
  opt_level = saved;
  if (!off_ok) return;
  size_t n = strlen(why);
  for (size_t i = 0; oxrt_opt_pass_info(i, NULL, NULL); i++) {
    skip_passes = oxrt_opt_pass_info(i, NULL, NULL);
    bool ok = run_isolated(dir, scratch, sizeof scratch, fork_tests);
    skip_passes = NULL;
    if (ok) {
      snprintf(why + n, cap - n, " [optimizer: passes with optimization off, and with pass '%s' disabled]",
               oxrt_opt_pass_info(i, NULL, NULL));
      return;
    }
  }
  snprintf(why + n, cap - n, " [optimizer: passes with optimization off; no single pass disabled fixes it]");
}

/* ------------------------------------------------------------- driver */
typedef struct {
  char **items;
  size_t n, cap;
} strlist;

static void strlist_add(strlist *l, const char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->items = realloc(l->items, l->cap * sizeof *l->items);
  }
  l->items[l->n++] = strdup(s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void collect(const char *dir, strlist *tests) {
  char p[4096];
  snprintf(p, sizeof p, "%s/model.onnx", dir);
  if (is_file(p)) {
    strlist_add(tests, dir);
    return;
  }
  DIR *d = opendir(dir);
  if (!d) return;
  strlist subs = {0};
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (is_dir(p)) strlist_add(&subs, p);
  }
  closedir(d);
  if (subs.n) qsort(subs.items, subs.n, sizeof *subs.items, cmp_str);
  for (size_t i = 0; i < subs.n; i++) {
    collect(subs.items[i], tests);
    free(subs.items[i]);
  }
  free(subs.items);
}

static bool listed(const strlist *l, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i], name) == 0) return true;
  return false;
}

/* Test identity used in failure lists: "<suite>/<test>" (last two path parts). */
static const char *test_key(const char *dir, char *buf, size_t cap) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  int slashes = 0;
  size_t b = n;
  while (b > 0) {
    if (dir[b - 1] == '/' && ++slashes == 2) break;
    b--;
  }
  snprintf(buf, cap, "%.*s", (int)(n - b), dir + b);
  return buf;
}

int cmd_test(int argc, char **argv) {
  bool verbose = false, fork_tests = true;
  const char *expect_file = NULL, *write_file = NULL;
  strlist dirs = {0}, tests = {0}, expected = {0};
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) verbose = true;
    else if (!strcmp(argv[i], "--no-fork")) fork_tests = false;
    else if (!strcmp(argv[i], "--expect-failures") && i + 1 < argc) expect_file = argv[++i];
    else if (!strcmp(argv[i], "--write-failures") && i + 1 < argc) write_file = argv[++i];
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 1 || v > 100) {
        fprintf(stderr, "error: --runs must be 1..100 (got '%s')\n", argv[i]);
        return 2;
      }
      runs = (int)v;
    } else if (!strcmp(argv[i], "--opt-level") && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || (v != 0 && v != 1 && v != 2 && v != 99)) {
        fprintf(stderr, "error: --opt-level must be 0, 1, 2 or 99 (got '%s')\n", argv[i]);
        return 2;
      }
      opt_level = (int)v;
    }
    else if (argv[i][0] == '-') {
      fprintf(stderr, "error: unknown option '%s' for oxrt test\n", argv[i]);
      return 2;
    } else strlist_add(&dirs, argv[i]);
  }
  if (!dirs.n) {
    fprintf(stderr, "usage: oxrt test [--opt-level 0|1|2|99] [--runs N] [--expect-failures FILE] [--write-failures FILE] "
                    "[--no-fork] [-v] DIR... (folders with model.onnx and test_data_set_N)\n"
                    "A test that fails only with optimization on names the optimizer pass responsible.\n");
    return 2;
  }
  for (size_t i = 0; i < dirs.n; i++) collect(dirs.items[i], &tests);
  if (expect_file) {
    FILE *f = fopen(expect_file, "r");
    if (!f) {
      fprintf(stderr, "error: cannot open %s\n", expect_file);
      return 2;
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
      char *h = strchr(line, '#');
      if (h) *h = 0;
      size_t n = strlen(line);
      while (n && (line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r')) line[--n] = 0;
      if (n) strlist_add(&expected, line);
    }
    fclose(f);
  }
  FILE *wf = write_file ? fopen(write_file, "w") : NULL;
  size_t passed = 0, failed = 0, unexpected = 0;
  for (size_t i = 0; i < tests.n; i++) {
    char why[2048] = "", key[1024];
    bool ok = run_isolated(tests.items[i], why, sizeof why, fork_tests);
    test_key(tests.items[i], key, sizeof key);
    if (ok) {
      passed++;
      if (verbose) printf("PASS %s\n", tests.items[i]);
    } else {
      failed++;
      blame_pass(tests.items[i], why, sizeof why, fork_tests);
      bool known = expect_file && listed(&expected, key);
      if (!known) unexpected++;
      printf("FAIL %s: %s%s\n", tests.items[i], why, known ? " [known]" : "");
      if (wf) fprintf(wf, "%s\n", key);
    }
    fflush(stdout);
  }
  if (wf) fclose(wf);
  if (expect_file)
    printf("conformance gate: %zu failure%s not in %s\n", unexpected, unexpected == 1 ? "" : "s", expect_file);
  printf("%zu passed, %zu failed\n", passed, failed);
  for (size_t i = 0; i < tests.n; i++) free(tests.items[i]);
  for (size_t i = 0; i < dirs.n; i++) free(dirs.items[i]);
  for (size_t i = 0; i < expected.n; i++) free(expected.items[i]);
  free(tests.items), free(dirs.items), free(expected.items);
  if (expect_file) return unexpected ? 1 : 0;
  return failed ? 1 : 0;
}
