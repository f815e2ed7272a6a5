/* cmd_diff.c - dumps of every intermediate value (`oxrt run --dump-all DIR`) and `oxrt diff`, which walks two
 * dumps (or a model and a dump) in execution order and names the first node whose output departs.
 *
 * A dump folder holds index.tsv, one line per value in the order the values were computed:
 *   order <TAB> node name <TAB> op type (<input> for model inputs) <TAB> value name <TAB> file <TAB> type <TAB> shape
 * and one .npy file per tensor, named NNNNN_<value name with characters other than [A-Za-z0-9._-] as '_'>.npy.
 */
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool npy_type(oxrt_elem_type t) {
  switch (t) {
  case OXRT_FLOAT: case OXRT_DOUBLE: case OXRT_FLOAT16: case OXRT_INT64: case OXRT_INT32: case OXRT_INT16:
  case OXRT_INT8: case OXRT_UINT8: case OXRT_UINT16: case OXRT_UINT32: case OXRT_UINT64: case OXRT_BOOL: return true;
  default: return false;
  }
}

int cli_dump_open(cli_dump *d, const char *dir) {
  memset(d, 0, sizeof *d);
  d->dir = dir;
  if (mkdir(dir, 0777) && errno != EEXIST) {
    fprintf(stderr, "error: cannot create dump folder '%s': %s\n", dir, strerror(errno));
    return 1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/index.tsv", dir);
  d->index = fopen(path, "w");
  if (!d->index) {
    fprintf(stderr, "error: cannot write '%s': %s\n", path, strerror(errno));
    return 1;
  }
  fprintf(d->index, "# oxrt dump: order\tnode\top\tvalue\tfile\ttype\tshape\n");
  return 0;
}

/* Tabs and newlines would break the index's columns. */
static void put_field(FILE *f, const char *s) {
  for (; *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
  fputc('\t', f);
}

void cli_dump_value(cli_dump *d, const char *node, const char *op, const char *name, const oxrt_value *v) {
  if (!d->index) return;
  int k = d->count++;
  if (oxrt_value_get_kind(v) != OXRT_KIND_TENSOR || !npy_type(oxrt_value_get_elem_type(v))) {
    d->skipped++; /* sequences, maps, strings, 8-bit floats: nothing numpy reads back */
    return;
  }
  char file[300], path[4400];
  int n = snprintf(file, sizeof file, "%05d_", k);
  for (const char *c = name; *c && n < 200; c++)
    file[n++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                        *c == '-' || *c == '_' ? *c : '_';
  snprintf(file + n, sizeof file - (size_t)n, ".npy");
  snprintf(path, sizeof path, "%s/%s", d->dir, file);
  if (npy_write(path, v)) {
    d->failed++;
    return;
  }
  fprintf(d->index, "%d\t", k);
  put_field(d->index, node ? node : "");
  put_field(d->index, op);
  put_field(d->index, name);
  fprintf(d->index, "%s\t%s\t", file, oxrt_elem_type_name(oxrt_value_get_elem_type(v)));
  const int64_t *dims = oxrt_value_get_dims(v);
  for (size_t i = 0; i < oxrt_value_get_rank(v); i++) fprintf(d->index, "%s%lld", i ? "," : "", (long long)dims[i]);
  fputc('\n', d->index);
}

void cli_dump_node_output(void *user, const char *node, const char *op, const char *name, const oxrt_value *v) {
  cli_dump_value(user, node, op, name, v);
}

int cli_dump_close(cli_dump *d) {
  int bad = fclose(d->index) != 0 || d->failed;
  d->index = NULL;
  printf("dump: %d values written to %s/ (index.tsv)", d->count - d->skipped - d->failed, d->dir);
  if (d->skipped) printf(", %d not tensors numpy reads (skipped)", d->skipped);
  if (d->failed) printf(", %d failed", d->failed);
  printf("\n");
  return bad;
}

/* ------------------------------------------------------------------ reading dumps */
typedef struct {
  char *node, *op, *name, *file;
} entry;

typedef struct {
  char dir[4096];
  entry *e;
  int n;
} dump_index;

static char *field(char **p) {
  char *s = *p, *t = strchr(s, '\t');
  if (t) {
    *t = 0;
    *p = t + 1;
  } else {
    *p = s + strlen(s);
  }
  return strdup(s);
}

static int read_index(const char *dir, dump_index *x) {
  memset(x, 0, sizeof *x);
  snprintf(x->dir, sizeof x->dir, "%s", dir);
  char path[4200], line[8192];
  snprintf(path, sizeof path, "%s/index.tsv", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "error: '%s' is no dump: cannot read %s (make one with oxrt run MODEL --dump-all DIR)\n", dir, path);
    return 1;
  }
  int cap = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    if (line[0] == '#' || !line[0]) continue;
    if (x->n == cap) {
      cap = cap ? cap * 2 : 256;
      entry *ne = realloc(x->e, sizeof *ne * (size_t)cap);
      if (!ne) break;
      x->e = ne;
    }
    char *p = line;
    free(field(&p)); /* order: the line order is the order */
    entry *e = &x->e[x->n++];
    e->node = field(&p);
    e->op = field(&p);
    e->name = field(&p);
    e->file = field(&p);
  }
  fclose(f);
  return 0;
}

static void free_index(dump_index *x) {
  for (int i = 0; i < x->n; i++) {
    free(x->e[i].node);
    free(x->e[i].op);
    free(x->e[i].name);
    free(x->e[i].file);
  }
  free(x->e);
}

static const entry *find(const dump_index *x, const char *name) {
  for (int i = 0; i < x->n; i++)
    if (!strcmp(x->e[i].name, name)) return &x->e[i];
  return NULL;
}

static oxrt_value *load(const dump_index *x, const entry *e) {
  char path[8300];
  snprintf(path, sizeof path, "%s/%s", x->dir, e->file);
  oxrt_value *v = NULL;
  return npy_read(path, &v) ? NULL : v;
}

static double elem(const oxrt_value *v, size_t i) {
  const void *d = oxrt_value_get_data(v);
  switch (oxrt_value_get_elem_type(v)) {
  case OXRT_FLOAT: return ((const float *)d)[i];
  case OXRT_DOUBLE: return ((const double *)d)[i];
  case OXRT_INT64: return (double)((const int64_t *)d)[i];
  case OXRT_INT32: return ((const int32_t *)d)[i];
  case OXRT_INT16: return ((const int16_t *)d)[i];
  case OXRT_INT8: return ((const int8_t *)d)[i];
  case OXRT_UINT8: case OXRT_BOOL: return ((const uint8_t *)d)[i];
  case OXRT_UINT16: return ((const uint16_t *)d)[i];
  case OXRT_UINT32: return ((const uint32_t *)d)[i];
  case OXRT_UINT64: return (double)((const uint64_t *)d)[i];
  case OXRT_FLOAT16: {
    uint16_t h = ((const uint16_t *)d)[i];
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
  }
  default: return NAN;
  }
}

static void print_shape(const oxrt_value *v) {
  const int64_t *d = oxrt_value_get_dims(v);
  printf("[");
  for (size_t i = 0; i < oxrt_value_get_rank(v); i++) printf("%s%lld", i ? "," : "", (long long)d[i]);
  printf("]");
}

static void print_values(const char *label, const oxrt_value *v, size_t at) {
  size_t n = oxrt_value_get_elem_count(v), lo = at > 3 ? at - 3 : 0;
  printf("    %s[%zu..]:", label, lo);
  for (size_t i = lo; i < n && i < lo + 8; i++) printf(" %.6g", elem(v, i));
  printf("%s\n", lo + 8 < n ? " ..." : "");
}

typedef struct {
  size_t bad, worst;
  double max_abs, max_rel;
} cmp_result;

/* Elements beyond atol + rtol * |b| (NaN against a number counts; NaN against NaN does not). */
static cmp_result compare(const oxrt_value *a, const oxrt_value *b, double rtol, double atol) {
  cmp_result r = {0, 0, 0, 0};
  size_t n = oxrt_value_get_elem_count(a);
  for (size_t i = 0; i < n; i++) {
    double x = elem(a, i), y = elem(b, i);
    if (isnan(x) && isnan(y)) continue;
    double d = isnan(x) || isnan(y) ? INFINITY : x == y ? 0 : fabs(x - y);
    if (d > atol + rtol * fabs(y)) r.bad++;
    if (d > r.max_abs || (r.max_abs == 0 && d > 0)) {
      r.max_abs = d;
      r.worst = i;
    }
    if (y != 0 && d / fabs(y) > r.max_rel) r.max_rel = d / fabs(y);
  }
  return r;
}

static bool same_shape(const oxrt_value *a, const oxrt_value *b) {
  size_t r = oxrt_value_get_rank(a);
  return r == oxrt_value_get_rank(b) && !memcmp(oxrt_value_get_dims(a), oxrt_value_get_dims(b), r * sizeof(int64_t));
}

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Runs `model` on the inputs stored in dump `ref` and dumps it into a fresh temporary folder (written to out). */
static int dump_model(const char *model, const dump_index *ref, char *out, size_t cap) {
  snprintf(out, cap, "/tmp/oxrt_diff_XXXXXX");
  if (!mkdtemp(out)) {
    fprintf(stderr, "error: cannot create a temporary folder: %s\n", strerror(errno));
    return 1;
  }
  char **argv = calloc((size_t)ref->n * 2 + 8, sizeof *argv);
  if (!argv) return 1;
  int argc = 0, rc;
  argv[argc++] = (char *)model;
  argv[argc++] = "--dump-all";
  argv[argc++] = out;
  for (int i = 0; i < ref->n; i++)
    if (!strcmp(ref->e[i].op, "<input>")) {
      size_t len = strlen(ref->e[i].name) + strlen(ref->dir) + strlen(ref->e[i].file) + 4;
      char *s = malloc(len);
      if (!s) break;
      snprintf(s, len, "%s=%s/%s", ref->e[i].name, ref->dir, ref->e[i].file);
      argv[argc++] = "--input";
      argv[argc++] = s;
    }
  printf("running %s on the inputs of %s:\n", model, ref->dir);
  rc = cmd_run(argc, argv);
  for (int i = 4; i < argc; i += 2) free(argv[i]);
  free(argv);
  return rc;
}

/* Deletes a dump folder this command made: its files, the index, the folder. */
static void remove_dump(const dump_index *x) {
  char path[8300];
  for (int i = 0; i < x->n; i++) {
    snprintf(path, sizeof path, "%s/%s", x->dir, x->e[i].file);
    remove(path);
  }
  snprintf(path, sizeof path, "%s/index.tsv", x->dir);
  remove(path);
  rmdir(x->dir);
}

int cmd_diff(int argc, char **argv) {
  const char *pa = NULL, *pb = NULL;
  double rtol = 1e-3, atol = 1e-4;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--rtol") && i + 1 < argc) rtol = atof(argv[++i]);
    else if (!strcmp(argv[i], "--atol") && i + 1 < argc) atol = atof(argv[++i]);
    else if (argv[i][0] == '-') {
      fprintf(stderr, "error: unknown option '%s' for oxrt diff\n", argv[i]);
      return 2;
    } else if (!pa) pa = argv[i];
    else if (!pb) pb = argv[i];
    else {
      fprintf(stderr, "error: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!pa || !pb || (!is_dir(pa) && !is_dir(pb))) {
    fprintf(stderr, "usage: oxrt diff DUMP_A DUMP_B [--rtol R] [--atol A]   (dumps from oxrt run --dump-all DIR)\n"
                    "       oxrt diff MODEL DUMP                         (runs MODEL on DUMP's inputs, then compares)\n");
    return 2;
  }
  dump_index a, b;
  char tmp[64];
  if (!is_dir(pb)) { /* DUMP MODEL: the same, the other way round */
    const char *t = pa;
    pa = pb;
    pb = t;
  }
  if (read_index(pb, &b)) return 1;
  if (!is_dir(pa)) {
    if (dump_model(pa, &b, tmp, sizeof tmp)) {
      free_index(&b);
      return 1;
    }
    pa = tmp;
  }
  if (read_index(pa, &a)) {
    free_index(&b);
    return 1;
  }
  int compared = 0, only_a = 0, rc = 0;
  for (int i = 0; i < a.n && !rc; i++) {
    const entry *ea = &a.e[i], *eb = find(&b, ea->name);
    if (!eb) {
      only_a++;
      continue;
    }
    oxrt_value *va = load(&a, ea), *vb = load(&b, eb);
    if (!va || !vb) rc = 1;
    else {
      compared++;
      bool shape_ok = same_shape(va, vb);
      cmp_result r = shape_ok ? compare(va, vb, rtol, atol) : (cmp_result){0, 0, 0, 0};
      if (!shape_ok || r.bad) {
        rc = 1;
        bool input = !strcmp(ea->op, "<input>");
        printf("first difference (in execution order, rtol %g, atol %g): %s '%s'%s%s%s, value '%s'\n", rtol, atol,
               input ? "model input" : "node", input ? ea->name : ea->node, input ? "" : " (", input ? "" : ea->op,
               input ? "" : ")", ea->name);
        printf("  A %s: ", a.dir);
        print_shape(va);
        printf("  B %s: ", b.dir);
        print_shape(vb);
        printf("\n");
        if (!shape_ok) printf("  the shapes differ\n");
        else {
          printf("  %zu of %zu elements differ; max |A-B| %.6g at flat index %zu (A %.6g, B %.6g); max relative %.3g\n",
                 r.bad, oxrt_value_get_elem_count(va), r.max_abs, r.worst, elem(va, r.worst), elem(vb, r.worst),
                 r.max_rel);
          print_values("A", va, r.worst);
          print_values("B", vb, r.worst);
        }
        printf("  %d earlier values matched\n", compared - 1);
      }
    }
    oxrt_value_free(va);
    oxrt_value_free(vb);
  }
  if (!rc) {
    int only_b = 0;
    for (int i = 0; i < b.n; i++) only_b += find(&a, b.e[i].name) == NULL;
    printf("all %d values present in both dumps match (rtol %g, atol %g)", compared, rtol, atol);
    if (only_a || only_b) printf("; %d only in A, %d only in B (renamed or fused away)", only_a, only_b);
    printf("\n");
  }
  if (pa == tmp) remove_dump(&a); /* the model's dump was only a means to compare */
  free_index(&a);
  free_index(&b);
  return rc;
}
