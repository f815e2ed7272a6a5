/* cmd_run.c - `oxrt run` and `oxrt bench`: run a model on given or random inputs. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <errno.h>
#include <sys/stat.h>

typedef struct {
  const char *model;
  int n_inputs;
  char *in_names[64], *in_files[64];
  int n_dims;
  char *dim_names[64];
  long long dim_values[64];
  const char *out_dir;
  int threads, runs, warmup;
  unsigned seed;
  int profile;              /* bench --profile: per-operator time table */
  int denormal_as_zero;
  int bf16; /* session bf16 compute mode: 1 hardware, 2 emulated */
  const char *profile_file; /* --profile-file PREFIX: Chrome trace */
  const char *dump_dir;     /* run --dump-all DIR: every intermediate tensor */
  cli_dump dump;
  int dims_guessed;         /* symbolic dims given values by cli_guess_dims */
  int n_dims_given;         /* once guessing ran: dim_names[0..n_dims_given) point into argv, the rest are owned */
  int guessing;
} run_args;

static void free_guessed_dims(run_args *a) {
  if (!a->guessing) return;
  for (int i = a->n_dims_given; i < a->n_dims; i++) free(a->dim_names[i]);
  a->n_dims = a->n_dims_given;
  a->guessing = 0;
}

static int parse_args(int argc, char **argv, run_args *a, const char *cmd) {
  memset(a, 0, sizeof *a);
  a->runs = 20;
  a->warmup = 3;
  a->seed = 42;
  for (int i = 0; i < argc; i++) {
    const char *o = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if ((!strcmp(o, "--input") || !strcmp(o, "-i") || !strcmp(o, "--dim")) && v) {
      char *eq = strchr(argv[++i], '=');
      if (!eq) {
        fprintf(stderr, "error: %s wants NAME=VALUE, got '%s'\n", o, v);
        return 2;
      }
      *eq = 0;
      if (!strcmp(o, "--dim")) {
        if (a->n_dims == 64) return 2;
        a->dim_names[a->n_dims] = argv[i];
        a->dim_values[a->n_dims++] = atoll(eq + 1);
      } else {
        if (a->n_inputs == 64) return 2;
        a->in_names[a->n_inputs] = argv[i];
        a->in_files[a->n_inputs++] = eq + 1;
      }
    } else if (!strcmp(o, "--output-dir") && v) a->out_dir = argv[++i];
    else if (!strcmp(o, "--threads") && v) a->threads = atoi(argv[++i]);
    else if (!strcmp(o, "--runs") && v) a->runs = atoi(argv[++i]);
    else if (!strcmp(o, "--warmup") && v) a->warmup = atoi(argv[++i]);
    else if (!strcmp(o, "--seed") && v) a->seed = (unsigned)atoi(argv[++i]);
    else if (!strcmp(o, "--profile")) a->profile = 1;
    else if (!strcmp(o, "--denormal-as-zero")) a->denormal_as_zero = 1;
    else if (!strcmp(o, "--bf16")) a->bf16 = 1;
    else if (!strcmp(o, "--bf16-emulate")) a->bf16 = 2;
    else if (!strcmp(o, "--profile-file") && v) a->profile_file = argv[++i];
    else if (!strcmp(o, "--dump-all") && v && !strcmp(cmd, "run")) a->dump_dir = argv[++i];
    else if (o[0] == '-') {
      fprintf(stderr, "error: unknown option '%s' for oxrt %s\n", o, cmd);
      return 2;
    } else if (!a->model) a->model = o;
    else {
      fprintf(stderr, "error: unexpected argument '%s'\n", o);
      return 2;
    }
  }
  if (!a->model) {
    fprintf(stderr, "usage: oxrt %s MODEL [options] (see oxrt help)\n", cmd);
    return 2;
  }
  return 0;
}

/* Builds the feed: named .npy files, then random tensors for the rest. */
static int make_feed(oxrt_session *s, run_args *a, const char **names, oxrt_value **vals, size_t *n) {
  size_t nin = oxrt_session_get_input_count(s);
  *n = 0;
  for (int i = 0; i < a->n_inputs; i++) {
    oxrt_value *v;
    if (npy_read(a->in_files[i], &v)) return 1;
    names[*n] = a->in_names[i];
    vals[(*n)++] = v;
  }
  a->n_dims_given = a->n_dims;
  a->guessing = 1;
  int guessed = cli_guess_dims(s, a->model, a->n_inputs, a->in_names, &a->n_dims, a->dim_names, a->dim_values, 64);
  if (guessed < 0) {
    fprintf(stderr, "error: more than 64 symbolic dimensions\n");
    return 1;
  }
  a->dims_guessed = guessed;
  for (size_t k = 0; k < nin; k++) {
    oxrt_value_info info = OXRT_INIT(oxrt_value_info);
    oxrt_session_get_input_info(s, k, &info);
    bool given = false;
    for (int i = 0; i < a->n_inputs; i++) given |= strcmp(a->in_names[i], info.name) == 0;
    if (given) continue;
    oxrt_value *v;
    if (cli_random_input(&info, a->n_dims, a->dim_names, a->dim_values, &a->seed, &v)) return 1;
    names[*n] = info.name;
    vals[(*n)++] = v;
  }
  return 0;
}

static oxrt_status *open_session(run_args *a, oxrt_session **s) {
  oxrt_session_options *o;
  oxrt_status *st = oxrt_session_options_create(&o);
  if (st) return st;
  oxrt_session_options_set_intra_op_threads(o, a->threads);
  oxrt_session_options_set_denormal_as_zero(o, a->denormal_as_zero);
  if (a->bf16) st = oxrt_session_options_set_bf16_compute(o, a->bf16);
  if (!st && (a->profile || a->profile_file)) st = oxrt_session_options_enable_profiling(o, a->profile_file);
  if (a->dump_dir) {
    /* every node of the model as written, so that dumps of different runtimes line up */
    oxrt_session_options_set_opt_level(o, OXRT_OPT_DISABLE);
    if (!st) st = oxrt_session_options_set_node_output_callback(o, cli_dump_node_output, &a->dump);
  }
  if (!st) st = oxrt_session_create(a->model, o, s);
  oxrt_session_options_free(o);
  return st;
}

/* A run that fails after dims were guessed most likely failed because of them: say so. */
static int fail_hint(oxrt_status *st, const run_args *a) {
  int rc = cli_fail(st);
  if (a->dims_guessed)
    fprintf(stderr, "hint: %d symbolic dimension%s of the inputs %s guessed (see the note above); give the sizes the "
                    "model expects with --dim NAME=VALUE\n", a->dims_guessed, a->dims_guessed == 1 ? "" : "s",
            a->dims_guessed == 1 ? "was" : "were");
  return rc;
}

int cmd_run(int argc, char **argv) {
  run_args a;
  int rc = parse_args(argc, argv, &a, "run");
  if (rc) return rc;
  oxrt_session *s;
  oxrt_status *st = open_session(&a, &s);
  if (st) return cli_fail(st);
  const char *names[200];
  oxrt_value *vals[200] = {0};
  size_t n = 0;
  rc = make_feed(s, &a, names, vals, &n);
  size_t nout = oxrt_session_get_output_count(s);
  oxrt_value **outs = calloc(nout + 1, sizeof *outs);
  if (!rc && a.dump_dir) {
    rc = cli_dump_open(&a.dump, a.dump_dir);
    for (size_t i = 0; !rc && i < n; i++) cli_dump_value(&a.dump, "", "<input>", names[i], vals[i]);
  }
  if (!rc) {
    double t0 = cli_now();
    st = oxrt_session_run(s, NULL, names, (const oxrt_value *const *)vals, n, NULL, nout, outs);
    double t1 = cli_now();
    if (st) rc = fail_hint(st, &a);
    else {
      if (a.out_dir && mkdir(a.out_dir, 0777) != 0 && errno != EEXIST) /* one level, like numpy.save's caller */
        fprintf(stderr, "error: %s: cannot create the output folder: %s\n", a.out_dir, strerror(errno)), rc = 1;
      for (size_t i = 0; i < nout; i++) {
        oxrt_value_info info = OXRT_INIT(oxrt_value_info);
        oxrt_session_get_output_info(s, i, &info);
        cli_print_value_summary(stdout, info.name, outs[i]);
        if (a.out_dir) {
          char path[4096], safe[1024];
          snprintf(safe, sizeof safe, "%s", info.name);
          for (char *c = safe; *c; c++)
            if (*c == '/' || *c == ':') *c = '_';
          snprintf(path, sizeof path, "%s/%s.npy", a.out_dir, safe);
          if (oxrt_value_get_kind(outs[i]) == OXRT_KIND_TENSOR) {
            if (npy_write(path, outs[i])) rc = 1;
          } else {
            fprintf(stderr, "note: output '%s' is not a tensor; not written\n", info.name);
          }
        }
      }
      printf("time: %.3f ms\n", (t1 - t0) * 1e3);
    }
  }
  if (a.dump_dir && a.dump.index && cli_dump_close(&a.dump) && !rc) rc = 1;
  for (size_t i = 0; i < nout; i++) oxrt_value_free(outs[i]);
  for (size_t i = 0; i < n; i++) oxrt_value_free(vals[i]);
  free(outs);
  free_guessed_dims(&a);
  oxrt_session_free(s);
  return rc;
}

/* Resident memory in MiB from /proc/self/status ("VmHWM" = peak, "VmRSS" = now). Unlike
 * getrusage's ru_maxrss, the peak is this program's own, not inherited across exec. */
static double proc_status_mb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
  }
  char line[256];
  double kb = 0;
  size_t n = strlen(key);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0 && line[n] == ':') kb = atof(line + n + 1);
  fclose(f);
  return kb / 1024.0;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

typedef struct {
  const char *key;
  double ns;
  long count;
} time_row;

static int cmp_row(const void *x, const void *y) {
  double a = ((const time_row *)x)->ns, b = ((const time_row *)y)->ns;
  return a > b ? -1 : a < b;
}

/* Adds `ns` to the row named `key`, creating it; rows is sized for every event. */
static void row_add(time_row *rows, size_t *n, const char *key, double ns) {
  for (size_t i = 0; i < *n; i++)
    if (!strcmp(rows[i].key, key)) {
      rows[i].ns += ns;
      rows[i].count++;
      return;
    }
  rows[(*n)++] = (time_row){key, ns, 1};
}

static void print_rows(const char *title, time_row *rows, size_t n, size_t limit, double total_ns, int runs) {
  qsort(rows, n, sizeof *rows, cmp_row);
  printf("\n%-40s %10s %7s %8s\n", title, "ms/run", "share", "calls");
  for (size_t i = 0; i < n && i < limit; i++)
    printf("%-40.40s %10.3f %6.1f%% %8.1f\n", rows[i].key, rows[i].ns / runs / 1e6, 100.0 * rows[i].ns / total_ns,
           (double)rows[i].count / runs);
}

/* Per-operator-type and per-node time over the measured runs (events from `first` on). */
static void print_profile(oxrt_session *s, size_t first, int runs) {
  size_t n = oxrt_session_get_profile_count(s);
  if (n <= first || runs <= 0) return;
  time_row *by_op = calloc(n - first, sizeof *by_op), *by_node = calloc(n - first, sizeof *by_node);
  size_t n_op = 0, n_node = 0;
  double total = 0;
  for (size_t i = first; by_op && by_node && i < n; i++) {
    oxrt_profile_event e = OXRT_INIT(oxrt_profile_event);
    if (oxrt_session_get_profile_event(s, i, &e)) continue;
    row_add(by_op, &n_op, e.op_type, (double)e.duration_ns);
    row_add(by_node, &n_node, *e.node_name ? e.node_name : e.op_type, (double)e.duration_ns);
    total += (double)e.duration_ns;
  }
  printf("\nprofile: %.3f ms/run inside kernels over %d runs\n", total / runs / 1e6, runs);
  print_rows("operator", by_op, n_op, n_op, total, runs);
  print_rows("slowest nodes", by_node, n_node, 15, total, runs);
  free(by_op);
  free(by_node);
}

int cmd_bench(int argc, char **argv) {
  run_args a;
  int rc = parse_args(argc, argv, &a, "bench");
  if (rc) return rc;
  double baseline_mb = proc_status_mb("VmRSS");
  double t0 = cli_now();
  oxrt_session *s;
  oxrt_status *st = open_session(&a, &s);
  if (st) return cli_fail(st);
  double load = cli_now() - t0;
  const char *names[200];
  oxrt_value *vals[200] = {0};
  size_t n = 0;
  rc = make_feed(s, &a, names, vals, &n);
  size_t nout = oxrt_session_get_output_count(s);
  oxrt_value **outs = calloc(nout + 1, sizeof *outs);
  double *times = calloc((size_t)(a.runs > 0 ? a.runs : 1), sizeof(double));
  size_t first_event = 0;
  for (int r = 0; !rc && r < a.warmup + a.runs; r++) {
    if (r == a.warmup) first_event = oxrt_session_get_profile_count(s);
    double s0 = cli_now();
    st = oxrt_session_run(s, NULL, names, (const oxrt_value *const *)vals, n, NULL, nout, outs);
    double dt = cli_now() - s0;
    if (st) {
      rc = fail_hint(st, &a);
      break;
    }
    for (size_t i = 0; i < nout; i++) {
      oxrt_value_free(outs[i]);
      outs[i] = NULL; /* a non-NULL output would be filled in place */
    }
    if (r >= a.warmup) times[r - a.warmup] = dt;
  }
  if (!rc && a.runs > 0) {
    qsort(times, (size_t)a.runs, sizeof(double), cmp_double);
    printf("model:        %s\n", a.model);
    printf("threads:      %d\n", a.threads);
    printf("load_ms:      %.3f\n", load * 1e3);
    printf("runs:         %d (after %d warm-up)\n", a.runs, a.warmup);
    printf("median_ms:    %.3f\n", times[a.runs / 2] * 1e3);
    printf("p90_ms:       %.3f\n", times[(a.runs * 9) / 10 < a.runs ? (a.runs * 9) / 10 : a.runs - 1] * 1e3);
    printf("min_ms:       %.3f\n", times[0] * 1e3);
    printf("peak_rss_mb:  %.1f\n", proc_status_mb("VmHWM"));
    printf("baseline_rss_mb: %.1f\n", baseline_mb);
    if (a.profile) print_profile(s, first_event, a.runs);
    if (a.profile_file) {
      char path[4200];
      st = oxrt_session_end_profiling(s, path, sizeof path);
      if (st) rc = cli_fail(st);
      else printf("profile_file: %s\n", path);
    }
  }
  free(times);
  free(outs);
  for (size_t i = 0; i < n; i++) oxrt_value_free(vals[i]);
  free_guessed_dims(&a);
  oxrt_session_free(s);
  return rc;
}
