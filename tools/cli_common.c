/* cli_common.c - helpers shared by the subcommands: files, random inputs, summaries. */
#include "cli.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int cli_fail(oxrt_status *st) {
  fprintf(stderr, "error: %s\n", oxrt_status_get_message(st));
  oxrt_status_free(st);
  return 1;
}

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void *cli_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (n < 0) {
    fclose(f);
    return NULL;
  }
  void *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return buf;
}

long long cli_dim_lookup(int n, char **names, long long *values, const char *name) {
  for (int i = 0; i < n; i++)
    if (name && strcmp(names[i], name) == 0) return values[i];
  return -1;
}

/* What --dim calls an unnamed free dim: "INPUT:AXIS". */
static const char *dim_key(const char *input, int axis, char *buf, size_t cap) {
  snprintf(buf, cap, "%s:%d", input, axis);
  return buf;
}

/* A positive integer metadata value for `key` (case-insensitive), or -1. For a list such as "[640, 640]" the
 * element `index`. */
static long long meta_int(const oxrt_model_meta *m, const char *key, int index) {
  for (size_t i = 0; i < m->custom_count; i++) {
    if (strcasecmp(m->custom_keys[i], key)) continue;
    const char *p = m->custom_values[i];
    for (int k = 0; *p; k++) {
      while (*p && (*p < '0' || *p > '9')) p++;
      char *end;
      long long v = strtoll(p, &end, 10);
      if (end == p) break;
      if (k == index || (k == 0 && !strpbrk(end, "0123456789"))) return v > 0 ? v : -1;
      p = end;
    }
  }
  return -1;
}

/* Adds NAME=VALUE to the --dim list unless it is there; false when the list is full. */
static bool add_dim(int *n, char **names, long long *values, int cap, const char *name, long long v) {
  if (cli_dim_lookup(*n, names, values, name) >= 0) return true;
  if (*n == cap) return false;
  names[*n] = strdup(name);
  values[(*n)++] = v;
  return names[*n - 1] != NULL;
}

int cli_guess_dims(oxrt_session *s, const char *model_path, int n_given, char *const *given, int *n_dims, char **names,
                   long long *values, int cap) {
  oxrt_stated_dim stated[64];
  size_t n_stated = 0;
  bool stated_read = false; /* the model is read for them once, when a named dim needs a value */
  oxrt_model_meta meta = OXRT_INIT(oxrt_model_meta);
  oxrt_status_free(oxrt_session_get_model_meta(s, &meta));
  char notes[2048] = "";
  size_t used = 0;
  int guessed = 0;
  for (size_t k = 0; k < oxrt_session_get_input_count(s); k++) {
    oxrt_value_info in = OXRT_INIT(oxrt_value_info);
    if (oxrt_session_get_input_info(s, k, &in) || in.kind != OXRT_KIND_TENSOR || in.rank < 0) continue;
    bool fed = false; /* inputs read from files have their own shape */
    for (int i = 0; i < n_given; i++) fed |= !strcmp(given[i], in.name);
    if (fed) continue;
    /* an image in NCHW (or NHWC) layout: channel count fixed at 1, 3 or 4, height and width free */
    int ch = in.rank == 4 && in.dims[1] >= 1 && in.dims[1] <= 4 ? 1 : in.rank == 4 && in.dims[3] >= 1 && in.dims[3] <= 4 ? 3 : 0;
    for (int i = 0; i < in.rank; i++) {
      if (in.dims[i] >= 0) continue;
      char key[300];
      const char *name = in.dim_names && in.dim_names[i] ? in.dim_names[i] : dim_key(in.name, i, key, sizeof key);
      if (cli_dim_lookup(*n_dims, names, values, name) >= 0) continue; /* set by --dim, or guessed already */
      bool spatial = ch && i != 0 && i != ch;
      int hw = ch == 1 ? i - 2 : i - 1; /* 0 for height, 1 for width */
      long long v = meta_int(&meta, name, 0);
      const char *why = "stated in the model's metadata";
      if (v < 0 && model_path && in.dim_names && in.dim_names[i]) {
        if (!stated_read) oxrt_status_free(oxrt_model_stated_dims(model_path, stated, 64, &n_stated));
        stated_read = true;
        for (size_t k = 0; k < n_stated; k++)
          if (!strcmp(stated[k].name, name) && stated[k].value > 0) v = stated[k].value, why = stated[k].why;
      }
      if (v < 0 && spatial) {
        v = meta_int(&meta, "imgsz", hw);
        why = "the metadata's imgsz";
      }
      if (v < 0 && spatial) {
        v = 640;
        why = "image input, size not stated in the model: a detector's usual 640";
      }
      if (v < 0) {
        v = 1;
        why = i == 0 ? "batch" : "nothing in the model states it";
      }
      if (!add_dim(n_dims, names, values, cap, name, v)) return -1;
      guessed++;
      int w = snprintf(notes + used, sizeof notes - used, "\n  %s=%lld  (input '%s' axis %d: %s)", name, v, in.name, i, why);
      if (w > 0 && (size_t)w < sizeof notes - used) used += (size_t)w;
    }
  }
  if (guessed)
    fprintf(stderr, "note: %d symbolic dimension%s guessed:%s\n  set them with --dim NAME=VALUE (an unnamed one as "
                    "--dim INPUT:AXIS=VALUE)\n", guessed, guessed == 1 ? "" : "s", notes);
  return guessed;
}

static double rnd(unsigned *seed) {
  *seed = *seed * 1103515245u + 12345u;
  return (double)((*seed >> 8) & 0xffffff) / 16777216.0;
}

int cli_random_input(const oxrt_value_info *info, int n_dims, char **dim_names, long long *dim_values,
                     unsigned *seed, oxrt_value **out) {
  if (info->kind != OXRT_KIND_TENSOR) {
    fprintf(stderr, "error: input '%s' is %s: give it with --input (random values are made only for tensors)\n",
            info->name, info->type_string);
    return 1;
  }
  int64_t dims[16];
  int rank = info->rank < 0 ? 1 : info->rank;
  for (int i = 0; i < rank && i < 16; i++) {
    if (info->rank >= 0 && info->dims[i] >= 0) {
      dims[i] = info->dims[i];
      continue;
    }
    char key[300];
    const char *name = info->dim_names && info->dim_names[i] ? info->dim_names[i] : dim_key(info->name, i, key, sizeof key);
    long long v = cli_dim_lookup(n_dims, dim_names, dim_values, name);
    dims[i] = v >= 0 ? v : 1;
  }
  oxrt_value *v;
  oxrt_status *st = oxrt_value_create_tensor(info->elem_type, dims, (size_t)rank, &v);
  if (st) return cli_fail(st);
  size_t n = oxrt_value_get_elem_count(v);
  void *d = oxrt_value_get_mutable_data(v);
  for (size_t i = 0; i < n; i++) {
    double r = rnd(seed);
    switch (info->elem_type) {
    case OXRT_FLOAT: ((float *)d)[i] = (float)(r * 2 - 1); break;
    case OXRT_DOUBLE: ((double *)d)[i] = r * 2 - 1; break;
    case OXRT_INT64: ((int64_t *)d)[i] = (int64_t)(r * 10); break;
    case OXRT_INT32: ((int32_t *)d)[i] = (int32_t)(r * 10); break;
    case OXRT_INT8: ((int8_t *)d)[i] = (int8_t)(r * 20 - 10); break;
    case OXRT_UINT8: ((uint8_t *)d)[i] = (uint8_t)(r * 255); break;
    case OXRT_BOOL: ((uint8_t *)d)[i] = r > 0.5; break;
    case OXRT_STRING: {
      char b[16];
      snprintf(b, sizeof b, "s%d", (int)(r * 100));
      oxrt_value_set_string(v, i, b, strlen(b));
      break;
    }
    default: memset((char *)d + i * oxrt_elem_type_size(info->elem_type), 0, oxrt_elem_type_size(info->elem_type)); break;
    }
  }
  *out = v;
  return 0;
}

static void print_dims(FILE *f, const oxrt_value *v) {
  size_t r = oxrt_value_get_rank(v);
  const int64_t *d = oxrt_value_get_dims(v);
  fputc('[', f);
  for (size_t i = 0; i < r; i++) fprintf(f, "%s%lld", i ? "," : "", (long long)d[i]);
  fputc(']', f);
}

void cli_print_value_summary(FILE *f, const char *name, const oxrt_value *v) {
  oxrt_value_kind k = oxrt_value_get_kind(v);
  if (k == OXRT_KIND_SEQUENCE || k == OXRT_KIND_OPTIONAL || k == OXRT_KIND_MAP) {
    size_t n = oxrt_value_get_item_count(v);
    if (k == OXRT_KIND_MAP) {
      fprintf(f, "%s: map with %zu keys\n", name, oxrt_value_get_elem_count(oxrt_value_get_item(v, 0)));
      return;
    }
    fprintf(f, "%s: %s of %zu item%s\n", name, k == OXRT_KIND_SEQUENCE ? "sequence" : "optional", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n && i < 8; i++) {
      char nm[256];
      snprintf(nm, sizeof nm, "  %s[%zu]", name, i);
      cli_print_value_summary(f, nm, oxrt_value_get_item(v, i));
    }
    return;
  }
  oxrt_elem_type t = oxrt_value_get_elem_type(v);
  size_t n = oxrt_value_get_elem_count(v);
  fprintf(f, "%s: %s", name, oxrt_elem_type_name(t));
  print_dims(f, v);
  const void *d = oxrt_value_get_data(v);
  if (t == OXRT_STRING) {
    fprintf(f, " [");
    for (size_t i = 0; i < n && i < 6; i++) fprintf(f, "%s\"%s\"", i ? ", " : "", oxrt_value_get_string(v, i, NULL));
    fprintf(f, "%s]\n", n > 6 ? ", ..." : "");
    return;
  }
  double mn = INFINITY, mx = -INFINITY, sum = 0;
  fprintf(f, " [");
  for (size_t i = 0; i < n; i++) {
    double x;
    switch (t) {
    case OXRT_FLOAT: x = ((const float *)d)[i]; break;
    case OXRT_DOUBLE: x = ((const double *)d)[i]; break;
    case OXRT_INT64: x = (double)((const int64_t *)d)[i]; break;
    case OXRT_INT32: x = ((const int32_t *)d)[i]; break;
    case OXRT_INT8: x = ((const int8_t *)d)[i]; break;
    case OXRT_UINT8: case OXRT_BOOL: x = ((const uint8_t *)d)[i]; break;
    default: x = NAN;
    }
    if (i < 6) fprintf(f, "%s%.6g", i ? ", " : "", x);
    if (x < mn) mn = x;
    if (x > mx) mx = x;
    sum += x;
  }
  fprintf(f, "%s]", n > 6 ? ", ..." : "");
  if (n > 1) fprintf(f, "  min %.6g max %.6g mean %.6g", mn, mx, sum / (double)n);
  fputc('\n', f);
}
