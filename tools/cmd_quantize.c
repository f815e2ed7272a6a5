/* cmd_quantize.c - `oxrt quantize MODEL OUT.onnx`: 8-bit quantization (oxrt_quantize_model_file), with
 * calibration batches for static mode read from a folder of .npy files.
 *
 * Calibration folder layouts (file names are input names with '/' and ':' written as '_'):
 *   DIR/<input>.npy          every sample stacked on axis 0; batches of --batch-size rows (default: the
 *                            input's first dimension when the model fixes it, else 32)
 *   DIR/<batch>/<input>.npy  one subfolder per batch, taken in name order */
#include "cli.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef OXRT_INIT /* headers before versioned structs */
#define OXRT_INIT(type) {0}
#endif

typedef struct {
  size_t n_inputs;
  char **names;
  oxrt_value **whole; /* per input: all samples (flat layout) */
  oxrt_calib_batch *batches;
  size_t n_batches;
  oxrt_value **slices; /* n_batches * n_inputs, owned */
  const oxrt_value **slice_ptrs;
} calib_set;

static void calib_free(calib_set *c) {
  for (size_t i = 0; i < c->n_inputs; i++) {
    free(c->names ? c->names[i] : NULL);
    if (c->whole) oxrt_value_free(c->whole[i]);
  }
  for (size_t i = 0; c->slices && i < c->n_batches * c->n_inputs; i++) oxrt_value_free(c->slices[i]);
  free(c->names), free(c->whole), free(c->batches), free(c->slices), free(c->slice_ptrs);
}

static void file_name(const char *input, char *out, size_t cap) {
  snprintf(out, cap, "%s", input);
  for (char *p = out; *p; p++)
    if (*p == '/' || *p == ':') *p = '_';
}

static int is_dir(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Subfolders of `dir`, sorted; NULL-terminated list (caller frees), or NULL when there are none. */
static char **subfolders(const char *dir, size_t *n) {
  DIR *d = opendir(dir);
  *n = 0;
  if (!d) return NULL;
  char **list = NULL;
  size_t cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (!is_dir(p)) continue;
    if (*n + 1 >= cap) {
      cap = cap ? cap * 2 : 16;
      char **nl = realloc(list, sizeof(char *) * cap);
      if (!nl) break;
      list = nl;
    }
    list[(*n)++] = strdup(p);
  }
  closedir(d);
  if (list) qsort(list, *n, sizeof(char *), cmp_str);
  return list;
}

/* A view of rows [r0, r0 + rows) of `v` along axis 0. */
static int slice_rows(const oxrt_value *v, int64_t r0, int64_t rows, oxrt_value **out) {
  size_t rank = oxrt_value_get_rank(v);
  int64_t dims[16];
  memcpy(dims, oxrt_value_get_dims(v), sizeof(int64_t) * rank);
  size_t row_bytes = oxrt_value_get_nbytes(v) / (size_t)(dims[0] ? dims[0] : 1);
  dims[0] = rows;
  oxrt_status *st = oxrt_value_wrap_tensor(oxrt_value_get_elem_type(v), dims, rank,
                                           (char *)oxrt_value_get_data(v) + (size_t)r0 * row_bytes,
                                           (size_t)rows * row_bytes, out);
  return st ? cli_fail(st) : 0;
}

static int load_calibration(oxrt_session *s, const char *dir, long batch_size, calib_set *c) {
  memset(c, 0, sizeof *c);
  c->n_inputs = oxrt_session_get_input_count(s);
  c->names = calloc(c->n_inputs + 1, sizeof(char *));
  c->whole = calloc(c->n_inputs + 1, sizeof(oxrt_value *));
  if (!c->names || !c->whole) return fprintf(stderr, "error: out of memory\n"), 1;
  long fixed = 0;
  for (size_t i = 0; i < c->n_inputs; i++) {
    oxrt_value_info info = OXRT_INIT(oxrt_value_info);
    oxrt_status *st = oxrt_session_get_input_info(s, i, &info);
    if (st) return cli_fail(st);
    c->names[i] = strdup(info.name);
    if (i == 0 && info.rank > 0 && info.dims[0] > 0) fixed = (long)info.dims[0];
  }
  size_t n_sub;
  char **subs = subfolders(dir, &n_sub);
  int rc = 0;
  char fn[1024], path[4096];
  if (subs && n_sub) { /* one folder per batch */
    c->n_batches = n_sub;
    c->slices = calloc(n_sub * c->n_inputs + 1, sizeof(oxrt_value *));
    for (size_t b = 0; !rc && c->slices && b < n_sub; b++)
      for (size_t i = 0; !rc && i < c->n_inputs; i++) {
        file_name(c->names[i], fn, sizeof fn);
        snprintf(path, sizeof path, "%s/%s.npy", subs[b], fn);
        rc = npy_read(path, &c->slices[b * c->n_inputs + i]);
      }
  } else { /* all samples stacked, cut into batches */
    int64_t rows = -1;
    for (size_t i = 0; !rc && i < c->n_inputs; i++) {
      file_name(c->names[i], fn, sizeof fn);
      snprintf(path, sizeof path, "%s/%s.npy", dir, fn);
      rc = npy_read(path, &c->whole[i]);
      if (rc) break;
      const oxrt_value *v = c->whole[i];
      int64_t r = oxrt_value_get_rank(v) ? oxrt_value_get_dims(v)[0] : -1;
      if (r <= 0 || (rows >= 0 && r != rows)) {
        fprintf(stderr, "error: %s: expected samples stacked on axis 0, %s every input file\n", path,
                r <= 0 ? "at least one," : "the same count in");
        rc = 1;
      }
      rows = r;
    }
    long bs = batch_size > 0 ? batch_size : fixed > 0 ? fixed : 32;
    if (!rc) {
      c->n_batches = (size_t)((rows + bs - 1) / bs);
      c->slices = calloc(c->n_batches * c->n_inputs + 1, sizeof(oxrt_value *));
      for (size_t b = 0; c->slices && !rc && b < c->n_batches; b++) {
        int64_t r0 = (int64_t)b * bs, nr = rows - r0 < bs ? rows - r0 : bs;
        if (fixed > 0 && nr != fixed) { /* a fixed batch dimension: drop the short tail */
          c->n_batches = b;
          break;
        }
        for (size_t i = 0; !rc && i < c->n_inputs; i++) rc = slice_rows(c->whole[i], r0, nr, &c->slices[b * c->n_inputs + i]);
      }
    }
  }
  for (size_t i = 0; subs && i < n_sub; i++) free(subs[i]);
  free(subs);
  if (rc) return rc;
  if (!c->slices || !c->n_batches) return fprintf(stderr, "error: %s: no calibration batches\n", dir), 1;
  c->batches = calloc(c->n_batches, sizeof(oxrt_calib_batch));
  if (!c->batches) return fprintf(stderr, "error: out of memory\n"), 1;
  for (size_t b = 0; b < c->n_batches; b++) {
    c->batches[b].size = sizeof(oxrt_calib_batch);
    c->batches[b].n_inputs = c->n_inputs;
    c->batches[b].names = (const char *const *)c->names;
    c->batches[b].values = (const oxrt_value *const *)&c->slices[b * c->n_inputs];
  }
  return 0;
}

static void progress_bar(void *user, const char *stage, size_t done, size_t total) {
  (void)user;
  int width = 30, fill = total ? (int)(done * (size_t)width / total) : width;
  fprintf(stderr, "\rcalibrating %-10s [%.*s%*s] %zu/%zu batches", stage, fill, "##############################",
          width - fill, "", done, total);
  if (done == total) fputc('\n', stderr);
  fflush(stderr);
}

static int parse_type(const char *s, oxrt_elem_type *t) {
  if (!strcmp(s, "int8") || !strcmp(s, "s8") || !strcmp(s, "QInt8")) *t = OXRT_INT8;
  else if (!strcmp(s, "uint8") || !strcmp(s, "u8") || !strcmp(s, "QUInt8")) *t = OXRT_UINT8;
  else return 1;
  return 0;
}

static int usage_error(const char *msg, const char *arg) {
  fprintf(stderr, "error: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
  fprintf(stderr, "usage: oxrt quantize MODEL OUT.onnx --mode dynamic|static --format qdq|qoperator [--per-channel] [--reduce-range]\n"
                  "       [--weight-type int8|uint8] [--activation-type int8|uint8] [--calibration DIR]\n"
                  "       [--batch-size N] [--method minmax|entropy|percentile] [--percentile P]\n"
                  "       [--exclude-nodes A,B] [--op-types Conv,MatMul,Gemm] [--progress]\n");
  return 2;
}

int cmd_quantize(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *calib = NULL;
  oxrt_quantize_options o;
  memset(&o, 0, sizeof o);
  o.size = sizeof o;
  o.format = OXRT_QUANT_QDQ;
  int mode_set = 0, progress = isatty(2);
  long batch_size = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--per-channel")) o.per_channel = 1;
    else if (!strcmp(a, "--reduce-range")) o.reduce_range = 1;
    else if (!strcmp(a, "--progress")) progress = 1;
    else if (!strcmp(a, "--no-progress")) progress = 0;
    else if (a[0] == '-' && a[1] == '-' && !v) return usage_error("option needs a value", a);
    else if (!strcmp(a, "--mode")) {
      i++, mode_set = 1;
      if (!strcmp(v, "dynamic")) o.mode = OXRT_QUANT_DYNAMIC;
      else if (!strcmp(v, "static")) o.mode = OXRT_QUANT_STATIC;
      else return usage_error("--mode must be dynamic or static", v);
    } else if (!strcmp(a, "--format")) {
      i++;
      if (!strcmp(v, "qdq") || !strcmp(v, "QDQ")) o.format = OXRT_QUANT_QDQ;
      else if (!strcmp(v, "qoperator") || !strcmp(v, "QOperator")) o.format = OXRT_QUANT_QOPERATOR;
      else return usage_error("--format must be qdq or qoperator", v);
    } else if (!strcmp(a, "--weight-type")) {
      if (parse_type(argv[++i], &o.weight_type)) return usage_error("--weight-type must be int8 or uint8", v);
    } else if (!strcmp(a, "--activation-type")) {
      if (parse_type(argv[++i], &o.activation_type)) return usage_error("--activation-type must be int8 or uint8", v);
    } else if (!strcmp(a, "--method")) {
      i++;
      if (!strcmp(v, "minmax")) o.method = OXRT_CALIB_MINMAX;
      else if (!strcmp(v, "entropy")) o.method = OXRT_CALIB_ENTROPY;
      else if (!strcmp(v, "percentile")) o.method = OXRT_CALIB_PERCENTILE;
      else return usage_error("--method must be minmax, entropy or percentile", v);
    } else if (!strcmp(a, "--percentile")) {
      o.percentile = strtof(argv[++i], NULL);
      if (!(o.percentile > 0 && o.percentile <= 100)) return usage_error("--percentile must be in (0, 100]", v);
    } else if (!strcmp(a, "--calibration")) calib = argv[++i];
    else if (!strcmp(a, "--batch-size")) batch_size = strtol(argv[++i], NULL, 10);
    else if (!strcmp(a, "--exclude-nodes")) o.exclude_nodes = argv[++i];
    else if (!strcmp(a, "--op-types")) o.op_types = argv[++i];
    else if (a[0] == '-') return usage_error("unknown option", a);
    else if (!in) in = a;
    else if (!out) out = a;
    else return usage_error("unexpected argument", a);
  }
  if (!in || !out) return usage_error("MODEL and OUT.onnx are required", NULL);
  if (!mode_set) o.mode = calib ? OXRT_QUANT_STATIC : OXRT_QUANT_DYNAMIC;
  if (o.mode == OXRT_QUANT_STATIC && !calib) return usage_error("--mode static needs --calibration DIR", NULL);
  calib_set cs;
  memset(&cs, 0, sizeof cs);
  if (o.mode == OXRT_QUANT_STATIC) {
    oxrt_session_options *so;
    oxrt_session *s = NULL;
    oxrt_status *st = oxrt_session_options_create(&so);
    if (!st) oxrt_session_options_set_load_only(so, 1);
    if (!st) st = oxrt_session_create(in, so, &s);
    oxrt_session_options_free(so);
    if (st) return cli_fail(st);
    int rc = load_calibration(s, calib, batch_size, &cs);
    oxrt_session_free(s);
    if (rc) {
      calib_free(&cs);
      return rc;
    }
    o.batches = cs.batches;
    o.n_batches = cs.n_batches;
    if (progress) o.on_progress = progress_bar;
  }
  double t0 = cli_now();
  oxrt_status *st = oxrt_quantize_model_file(in, out, &o);
  calib_free(&cs);
  if (st) return cli_fail(st);
  printf("quantized %s -> %s (%s, %s%s, %.2f s)\n", in, out, o.mode == OXRT_QUANT_STATIC ? "static" : "dynamic",
         o.format == OXRT_QUANT_QDQ ? "QDQ" : "QOperator", o.per_channel ? ", per-channel" : "", cli_now() - t0);
  return 0;
}
