/* cli_common.c - helpers shared by the subcommands: files, random inputs, summaries. */
#include "cli.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

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

/* ---------------------------------------------------- sizes stated by the model's value_info and outputs */
/* The types the model declares for intermediate values (value_info) and outputs are compared with the types shape
 * inference gives them from the inputs alone: where inference carries an input's dim name (say "height") to an axis
 * the declaration states as a number, that number is the model's own size for the dim. The model is read here
 * (a protobuf walk: the tools see the library only through its public API) and handed to oxrt_infer_shapes_bytes
 * without value_info, without output types, and with large or external initializers turned into typed graph inputs,
 * so no weight is read. */
typedef struct prd {
  const unsigned char *p, *end;
  bool err;
} prd;

static bool prd_varint(prd *r, uint64_t *v) {
  *v = 0;
  for (int sh = 0; sh < 64 && r->p < r->end; sh += 7) {
    unsigned char b = *r->p++;
    *v |= (uint64_t)(b & 0x7f) << sh;
    if (!(b & 0x80)) return true;
  }
  return !(r->err = true);
}

static bool prd_next(prd *r, uint32_t *f, uint32_t *w) {
  uint64_t key;
  if (r->err || r->p >= r->end || !prd_varint(r, &key)) return false;
  *f = (uint32_t)(key >> 3), *w = (uint32_t)(key & 7);
  return *f ? true : !(r->err = true);
}

/* Skips the field's value; for a length-delimited one, *sub gets it. */
static bool prd_value(prd *r, uint32_t w, uint64_t *v, prd *sub) {
  uint64_t n;
  switch (w) {
  case 0: return prd_varint(r, v);
  case 1: n = 8; break;
  case 5: n = 4; break;
  case 2:
    if (!prd_varint(r, &n)) return false;
    if (sub) *sub = (prd){r->p, r->p + (n <= (uint64_t)(r->end - r->p) ? n : 0), false};
    break;
  default: return !(r->err = true);
  }
  if (n > (uint64_t)(r->end - r->p)) return !(r->err = true);
  r->p += n;
  return true;
}

typedef struct pbuf {
  unsigned char *p;
  size_t n, cap;
  bool oom;
} pbuf;

static void pb_put(pbuf *b, const void *s, size_t n) {
  if (b->oom || !n) return;
  if (b->n + n > b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 4096;
    while (nc < b->n + n) nc *= 2;
    unsigned char *np = realloc(b->p, nc);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np, b->cap = nc;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void pb_varint(pbuf *b, uint64_t v) {
  unsigned char t[10];
  size_t n = 0;
  do t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
  while (v >>= 7);
  pb_put(b, t, n);
}

static void pb_field(pbuf *b, uint32_t f, const void *s, size_t n) {
  pb_varint(b, (uint64_t)f << 3 | 2);
  pb_varint(b, n);
  pb_put(b, s, n);
}

#define SHAPE_RANK 16
typedef struct vshape {
  prd name;
  int rank; /* -1: no tensor shape */
  long long dims[SHAPE_RANK];
  prd params[SHAPE_RANK];
} vshape;

static bool prd_eq(prd a, prd b) {
  return a.end - a.p == b.end - b.p && (a.end == a.p || !memcmp(a.p, b.p, (size_t)(a.end - a.p)));
}

/* A ValueInfoProto's name and tensor shape (dims: the value, or -1 with the param when named). */
static void read_vshape(prd vi, vshape *out) {
  uint32_t f, w;
  uint64_t v;
  prd sub, t, tt, sh, d;
  memset(out, 0, sizeof *out);
  out->rank = -1;
  while (prd_next(&vi, &f, &w) && prd_value(&vi, w, &v, &sub)) {
    if (f == 1 && w == 2) out->name = sub;
    if (f != 2 || w != 2) continue;
    for (t = sub; prd_next(&t, &f, &w) && prd_value(&t, w, &v, &tt);) {
      if (f != 1 || w != 2) continue; /* tensor_type */
      for (; prd_next(&tt, &f, &w) && prd_value(&tt, w, &v, &sh);) {
        if (f != 2 || w != 2) continue; /* shape */
        out->rank = 0;
        while (prd_next(&sh, &f, &w) && prd_value(&sh, w, &v, &d)) {
          if (f != 1 || w != 2) continue;
          if (out->rank == SHAPE_RANK) {
            out->rank = -1;
            return;
          }
          int k = out->rank++;
          out->dims[k] = -1;
          out->params[k] = (prd){0};
          prd dd;
          while (prd_next(&d, &f, &w) && prd_value(&d, w, &v, &dd))
            if (f == 1 && w == 0) out->dims[k] = (long long)v;
            else if (f == 2 && w == 2) out->params[k] = dd;
        }
      }
    }
  }
}

typedef struct vshapes {
  vshape *v;
  int n, cap;
} vshapes;

static void vs_add(vshapes *l, const vshape *s) {
  if (l->n == l->cap) {
    int nc = l->cap ? l->cap * 2 : 32;
    vshape *nv = realloc(l->v, sizeof *nv * (size_t)nc);
    if (!nv) return;
    l->v = nv, l->cap = nc;
  }
  l->v[l->n++] = *s;
}

/* A ValueInfoProto {name, tensor(elem_type, dims)} for an initializer given as a graph input. */
static void put_input_of(pbuf *b, prd tensor) {
  uint32_t f, w;
  uint64_t v, dt = 0;
  prd sub, name = {0};
  pbuf shape = {0}, tt = {0}, tp = {0}, vi = {0};
  while (prd_next(&tensor, &f, &w) && prd_value(&tensor, w, &v, &sub)) {
    if (f == 2 && w == 0) dt = v;
    else if (f == 8 && w == 2) name = sub;
    else if (f == 1 && w == 0) {
      pbuf dim = {0};
      pb_varint(&dim, 1 << 3), pb_varint(&dim, v);
      pb_field(&shape, 1, dim.p, dim.n);
      shape.oom |= dim.oom;
      free(dim.p);
    } else if (f == 1 && w == 2) {
      while (sub.p < sub.end && prd_varint(&sub, &v)) {
        pbuf dim = {0};
        pb_varint(&dim, 1 << 3), pb_varint(&dim, v);
        pb_field(&shape, 1, dim.p, dim.n);
        shape.oom |= dim.oom;
        free(dim.p);
      }
    }
  }
  pb_varint(&tt, 1 << 3), pb_varint(&tt, dt);
  pb_field(&tt, 2, shape.p, shape.n);
  pb_field(&tp, 1, tt.p, tt.n);
  pb_field(&vi, 1, name.p, (size_t)(name.end - name.p));
  pb_field(&vi, 2, tp.p, tp.n);
  pb_field(b, 11, vi.p, vi.n);
  b->oom |= shape.oom || tt.oom || tp.oom || vi.oom;
  free(shape.p), free(tt.p), free(tp.p), free(vi.p);
}

/* The main graph for inference (see above); its declared value_info and output shapes go to `decl`. */
static void strip_graph(prd g, pbuf *b, vshapes *decl) {
  uint32_t f, w;
  uint64_t v;
  prd sub;
  vshapes inputs = {0};
  for (prd r = g; prd_next(&r, &f, &w) && prd_value(&r, w, &v, &sub);)
    if (f == 11 && w == 2) {
      vshape s;
      read_vshape(sub, &s);
      vs_add(&inputs, &s);
    }
  for (const unsigned char *at = g.p; prd_next(&g, &f, &w); at = g.p) {
    if (!prd_value(&g, w, &v, &sub)) break;
    if (w == 2 && (f == 12 || f == 13)) {
      vshape s;
      read_vshape(sub, &s);
      vs_add(decl, &s);
      if (f == 12) { /* the output by name alone: inference fills its type */
        pbuf vi = {0};
        pb_field(&vi, 1, s.name.p, (size_t)(s.name.end - s.name.p));
        pb_field(b, 12, vi.p, vi.n);
        b->oom |= vi.oom;
        free(vi.p);
      }
      continue;
    }
    if (f == 5 && w == 2) {
      uint32_t tf, tw;
      uint64_t tv, loc = 0;
      prd t = sub, ts, name = {0};
      while (prd_next(&t, &tf, &tw) && prd_value(&t, tw, &tv, &ts))
        if (tf == 14 && tw == 0) loc = tv;
        else if (tf == 8 && tw == 2) name = ts;
      if (loc == 1 || sub.end - sub.p > 1024) { /* weights: their shape is what inference needs */
        bool is_input = false;
        for (int i = 0; i < inputs.n; i++) is_input |= prd_eq(inputs.v[i].name, name);
        if (!is_input) put_input_of(b, sub);
        continue;
      }
    }
    pb_put(b, at, (size_t)(g.p - at));
  }
  free(inputs.v);
}

/* The model at `path` as inference's input (empty on failure); its declarations go to `decl`, which points into
 * the mapping *map of *map_size bytes (the caller unmaps it). */
static pbuf strip_model(const char *path, vshapes *decl, void **map_out, size_t *map_size) {
  pbuf b = {0};
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) || st.st_size <= 0) {
    if (fd >= 0) close(fd);
    return b;
  }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return b;
  prd m = {map, (const unsigned char *)map + st.st_size, false};
  uint32_t f, w;
  uint64_t v;
  prd sub;
  for (const unsigned char *at = m.p; prd_next(&m, &f, &w); at = m.p) {
    if (!prd_value(&m, w, &v, &sub)) break;
    if (f == 7 && w == 2) {
      pbuf g = {0};
      strip_graph(sub, &g, decl);
      pb_field(&b, 7, g.p, g.n);
      b.oom |= g.oom;
      free(g.p);
    } else {
      pb_put(&b, at, (size_t)(m.p - at));
    }
  }
  if (m.err || b.oom) free(b.p), b = (pbuf){0};
  *map_out = map, *map_size = (size_t)st.st_size;
  return b;
}

typedef struct stated_dim {
  char name[128], why[200];
  long long value; /* -1: the model states two sizes */
} stated_dim;

/* Dim names to which the model's declarations give a size (at most `cap`). */
static int stated_dims(const char *path, stated_dim *out, int cap) {
  vshapes decl = {0}, inferred = {0};
  void *map = NULL;
  size_t map_size = 0;
  pbuf stripped = strip_model(path, &decl, &map, &map_size);
  int n = 0;
  bool any = false;
  for (int i = 0; i < decl.n; i++)
    for (int k = 0; k < decl.v[i].rank; k++) any |= decl.v[i].dims[k] > 0;
  void *res = NULL;
  size_t res_size = 0;
  oxrt_status *st = any && stripped.p ? oxrt_infer_shapes_bytes(stripped.p, stripped.n, &res, &res_size) : NULL;
  oxrt_status_free(st);
  if (res) {
    uint32_t f, w, gf, gw;
    uint64_t v;
    prd r = {res, (unsigned char *)res + res_size, false}, g, sub;
    while (prd_next(&r, &f, &w) && prd_value(&r, w, &v, &g)) {
      if (f != 7 || w != 2) continue;
      while (prd_next(&g, &gf, &gw) && prd_value(&g, gw, &v, &sub))
        if ((gf == 12 || gf == 13) && gw == 2) {
          vshape s;
          read_vshape(sub, &s);
          vs_add(&inferred, &s);
        }
    }
  }
  for (int i = 0; i < decl.n; i++) {
    const vshape *d = &decl.v[i];
    for (int j = 0; j < inferred.n; j++) {
      const vshape *t = &inferred.v[j];
      if (t->rank != d->rank || !prd_eq(t->name, d->name)) continue;
      for (int k = 0; k < d->rank; k++) {
        size_t pl = (size_t)(t->params[k].end - t->params[k].p);
        if (d->dims[k] <= 0 || t->dims[k] >= 0 || !pl || pl >= sizeof out->name) continue;
        int at = 0;
        while (at < n && (strlen(out[at].name) != pl || memcmp(out[at].name, t->params[k].p, pl))) at++;
        if (at < n) {
          if (out[at].value != d->dims[k]) out[at].value = -1; /* two sizes: the model does not say */
          continue;
        }
        if (n == cap) continue;
        memcpy(out[n].name, t->params[k].p, pl);
        out[n].name[pl] = 0;
        out[n].value = d->dims[k];
        int nl = (int)(d->name.end - d->name.p);
        snprintf(out[n].why, sizeof out[n].why, "stated by the model: '%.*s' is declared with %lld at axis %d",
                 nl > 60 ? 60 : nl, (const char *)d->name.p, d->dims[k], k);
        n++;
      }
    }
  }
  free(res);
  free(stripped.p);
  if (map) munmap(map, map_size);
  free(decl.v);
  free(inferred.v);
  return n;
}

int cli_guess_dims(oxrt_session *s, const char *model_path, int n_given, char *const *given, int *n_dims, char **names,
                   long long *values, int cap) {
  stated_dim stated[64];
  int n_stated = -1; /* the model is read for them once, when a named dim needs a value */
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
        if (n_stated < 0) n_stated = stated_dims(model_path, stated, 64);
        for (int k = 0; k < n_stated; k++)
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
