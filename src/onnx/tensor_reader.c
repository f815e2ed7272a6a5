/* tensor_reader.c - TensorProto, SequenceProto, MapProto, OptionalProto, TypeProto decoding. */
#include "../core/dtype.h"
#include "onnx_reader.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/mman.h>
#include <unistd.h>
#include <errno.h>

#define BAD(...) oxrt_error(OXRT_ERR_INVALID_MODEL, __VA_ARGS__)

/* Elements packed per byte in raw_data for sub-byte types (1 otherwise). */
static int pack_factor(oxrt_elem_type t) {
  if (t == OXRT_INT4 || t == OXRT_UINT4 || t == OXRT_FLOAT4E2M1) return 2;
  if (t == OXRT_INT2 || t == OXRT_UINT2) return 4;
  return 1;
}

/* Unpack sub-byte values (low bits first) to one element per byte, sign-extending ints. */
static void unpack_bits(oxrt_elem_type t, uint8_t *dst, const uint8_t *packed, size_t count) {
  int per = pack_factor(t), bits = 8 / per;
  uint8_t mask = (uint8_t)((1u << bits) - 1);
  bool sign = t == OXRT_INT4 || t == OXRT_INT2;
  for (size_t i = 0; i < count; i++) {
    uint8_t v = (packed[i / (size_t)per] >> ((i % (size_t)per) * (size_t)bits)) & mask;
    if (sign && (v & (1u << (bits - 1)))) v |= (uint8_t)~mask;
    dst[i] = v;
  }
}

typedef struct {
  int64_t dims[OXRT_MAX_RANK];
  int rank;
  int data_type;
  const char *name;
  size_t name_len;
  pb_bytes raw;
  bool has_raw;
  int data_location;
  const char *ext_location;
  size_t ext_location_len;
  int64_t ext_offset, ext_length;
  size_t n_typed; /* elements in the typed field matching data_type */
} tensor_fields;

/* Count values in a packed or unpacked repeated field occurrence. */
static size_t count_field(const uint8_t *p, size_t len, uint32_t wire, int width) {
  if (wire == PB_BYTES) {
    if (width) return len / (size_t)width;
    size_t c = 0;
    for (size_t i = 0; i < len; i++) c += !(p[i] & 0x80);
    return c;
  }
  return 1;
}

static int typed_field_for(int dt) {
  switch (dt) {
  case OXRT_FLOAT: case OXRT_COMPLEX64: return 4;
  case OXRT_DOUBLE: case OXRT_COMPLEX128: return 10;
  case OXRT_INT64: return 7;
  case OXRT_UINT32: case OXRT_UINT64: return 11;
  case OXRT_STRING: return 6;
  default: return 5; /* int32_data */
  }
}

static oxrt_status *scan_tensor(pb_reader r, tensor_fields *f) {
  memset(f, 0, sizeof *f);
  uint32_t field, wire;
  int want = -1;
  /* data_type may follow the data fields, so find it first. */
  pb_reader r0 = r;
  while (pb_next(&r0, &field, &wire)) {
    uint64_t v;
    if (field == 2 && wire == PB_VARINT) {
      if (!pb_varint(&r0, &v)) break;
      f->data_type = (int)v;
    } else if (!pb_skip(&r0, wire)) break;
  }
  if (r0.error) return BAD("truncated or corrupt TensorProto");
  want = typed_field_for(f->data_type);
  while (pb_next(&r, &field, &wire)) {
    uint64_t v;
    pb_bytes b;
    if (field == 1) { /* dims */
      if (wire == PB_BYTES) {
        pb_reader sub;
        if (!pb_sub(&r, &sub)) break;
        while (sub.p < sub.end) {
          if (!pb_varint(&sub, &v)) return BAD("corrupt TensorProto dims");
          if (f->rank >= OXRT_MAX_RANK) return BAD("tensor rank exceeds %d", OXRT_MAX_RANK);
          f->dims[f->rank++] = (int64_t)v;
        }
      } else {
        if (!pb_varint(&r, &v)) break;
        if (f->rank >= OXRT_MAX_RANK) return BAD("tensor rank exceeds %d", OXRT_MAX_RANK);
        f->dims[f->rank++] = (int64_t)v;
      }
    } else if (field == 8 && wire == PB_BYTES) {
      if (!pb_bytes_read(&r, &b)) break;
      f->name = (const char *)b.data;
      f->name_len = b.len;
    } else if (field == 9 && wire == PB_BYTES) {
      if (!pb_bytes_read(&r, &f->raw)) break;
      f->has_raw = true;
    } else if (field == 14 && wire == PB_VARINT) {
      if (!pb_varint(&r, &v)) break;
      f->data_location = (int)v;
    } else if (field == 13 && wire == PB_BYTES) { /* external_data entry */
      pb_reader sub;
      if (!pb_sub(&r, &sub)) break;
      pb_bytes key = {0}, val = {0};
      uint32_t f2, w2;
      while (pb_next(&sub, &f2, &w2)) {
        if (f2 == 1 && w2 == PB_BYTES) pb_bytes_read(&sub, &key);
        else if (f2 == 2 && w2 == PB_BYTES) pb_bytes_read(&sub, &val);
        else pb_skip(&sub, w2);
      }
      if (sub.error) return BAD("corrupt external_data entry");
      char num[32];
      size_t n = val.len < sizeof num - 1 ? val.len : sizeof num - 1;
      if (key.len == 8 && memcmp(key.data, "location", 8) == 0) {
        f->ext_location = (const char *)val.data;
        f->ext_location_len = val.len;
      } else if ((key.len == 6 && memcmp(key.data, "offset", 6) == 0) ||
                 (key.len == 6 && memcmp(key.data, "length", 6) == 0)) {
        /* a decimal number, nothing else: "12abc", "-1" or an overflow would misplace the read */
        if (n) memcpy(num, val.data, n); /* an empty value has no data pointer */
        num[n] = 0;
        char *end = num;
        long long x = n && val.len < sizeof num && num[0] >= '0' && num[0] <= '9' ? strtoll(num, &end, 10) : -1;
        if (*end || x < 0 || x == LLONG_MAX)
          return BAD("external_data %.6s '%.*s' is not a non-negative decimal number", (const char *)key.data,
                     (int)n, num);
        if (key.data[0] == 'o') f->ext_offset = x;
        else f->ext_length = x;
      }
    } else if ((int)field == want) {
      if (wire == PB_BYTES) {
        if (!pb_bytes_read(&r, &b)) break;
        if (want == 6) f->n_typed++;
        else f->n_typed += count_field(b.data, b.len, wire, want == 4 ? 4 : want == 10 ? 8 : 0);
      } else {
        if (!pb_skip(&r, wire)) break;
        f->n_typed++;
      }
    } else if (!pb_skip(&r, wire)) {
      break;
    }
  }
  if (r.error) return BAD("truncated or corrupt TensorProto");
  return NULL;
}

/* Second pass: copy typed values into dst (count elements of type dt). */
static oxrt_status *fill_typed(pb_reader r, int dt, void *dst, size_t count) {
  int want = typed_field_for(dt);
  size_t k = 0;
  uint32_t field, wire;
  int per = pack_factor((oxrt_elem_type)dt);
  size_t scalars = dt == OXRT_COMPLEX64 || dt == OXRT_COMPLEX128 ? count * 2 : count;
  uint8_t *packed = NULL;
  if (per > 1) {
    packed = calloc((count + (size_t)per - 1) / (size_t)per + 1, 1);
    if (!packed) return OXRT_OOM();
    scalars = (count + (size_t)per - 1) / (size_t)per;
  }
  while (pb_next(&r, &field, &wire)) {
    if ((int)field != want) {
      if (!pb_skip(&r, wire)) break;
      continue;
    }
    pb_reader sub;
    bool packed_field = wire == PB_BYTES && want != 6;
    if (want == 6) { /* string */
      pb_bytes b;
      if (!pb_bytes_read(&r, &b)) break;
      if (k < count) {
        char *s = malloc(b.len + 1);
        if (!s) return OXRT_OOM();
        memcpy(s, b.data, b.len);
        s[b.len] = 0;
        char **arr = dst;
        free(arr[k]);
        arr[k++] = s;
      }
      continue;
    }
    if (packed_field) {
      if (!pb_sub(&r, &sub)) break;
    } else {
      sub = r;
    }
    do {
      if (k >= scalars) { /* more values than the shape holds */
        free(packed);
        return BAD("TensorProto holds more values than its shape %s", "allows");
      }
      uint64_t v = 0;
      uint32_t v32;
      if (want == 4) {
        if (!pb_fixed32(&sub, &v32)) break;
        memcpy((float *)dst + k, &v32, 4);
      } else if (want == 10) {
        if (!pb_fixed64(&sub, &v)) break;
        memcpy((double *)dst + k, &v, 8);
      } else {
        if (!pb_varint(&sub, &v)) break;
        if (per > 1) packed[k] = (uint8_t)v;
        else if (want == 7) ((int64_t *)dst)[k] = (int64_t)v;
        else if (dt == OXRT_UINT32) ((uint32_t *)dst)[k] = (uint32_t)v;
        else if (dt == OXRT_UINT64) ((uint64_t *)dst)[k] = v;
        else if (dt == OXRT_FLOAT16 || dt == OXRT_BFLOAT16) ((uint16_t *)dst)[k] = (uint16_t)v;
        else if (oxrt_dtype_is_float((oxrt_elem_type)dt)) ((uint8_t *)dst)[k] = (uint8_t)v; /* float8: raw bits */
        else oxrt_store_i64((oxrt_elem_type)dt, dst, k, (int64_t)(int32_t)v);
      }
      k++;
    } while (packed_field && sub.p < sub.end);
    if (sub.error) break;
    if (!packed_field) r = sub;
  }
  if (r.error) {
    free(packed);
    return BAD("truncated or corrupt TensorProto data");
  }
  if (per > 1) {
    unpack_bits((oxrt_elem_type)dt, dst, packed, count);
    free(packed);
  }
  return NULL;
}

static bool safe_relative_path(const char *p) {
  if (p[0] == '/' || p[0] == '\\') return false;
  const char *s = p;
  while (*s) {
    const char *e = s;
    while (*e && *e != '/' && *e != '\\') e++;
    if (e - s == 2 && s[0] == '.' && s[1] == '.') return false;
    s = *e ? e + 1 : e;
  }
  return true;
}

typedef struct {
  void *base;
  size_t size;
  int kind;
} mapping;

/* An open file and its mapping [base, base + size). */
typedef struct {
  int fd;
  const uint8_t *base;
  size_t size;
} file_bytes;
/* The model file being read on this thread (oxrt_read_model_fd); fd -1: none. */
static _Thread_local file_bytes tl_model_file = {-1, NULL, 0};

/* After copying a misaligned initializer out of a read-only file mapping, its pages
 * are not needed any more: dropping them keeps resident memory near the model size
 * instead of twice it. (Only for file mappings: on anonymous memory this would zero data.) */
static void drop_pages(const void *p, size_t len) {
  long pg = sysconf(_SC_PAGESIZE);
  if (pg <= 0 || len < (size_t)pg * 2) return;
  uintptr_t b = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
  uintptr_t e = ((uintptr_t)p + len) & ~((uintptr_t)pg - 1);
  if (e > b) madvise((void *)b, e - b, MADV_DONTNEED);
}

/* Maps the external file holding a tensor's bytes. With a model to own it the
 * mapping lives as long as the model (m->kind = 0 here); otherwise the caller
 * copies the bytes and releases `m`. */
static oxrt_status *external_bytes(const tensor_fields *f, const oxrt_tensor_src *src, const char *tname,
                                   const uint8_t **data, size_t *len, mapping *m, file_bytes *fb) {
  m->kind = 0;
  fb->fd = -1;
  if (!f->ext_location) return BAD("tensor '%s' has data_location EXTERNAL but no 'location'", tname);
  char loc[1024];
  if (f->ext_location_len >= sizeof loc) return BAD("tensor '%s': external data location too long", tname);
  memcpy(loc, f->ext_location, f->ext_location_len);
  loc[f->ext_location_len] = 0;
  if (!src || !src->base_dir)
    return BAD("tensor '%s' stores its data in external file '%s', but the model was not loaded from a file", tname, loc);
  if (!safe_relative_path(loc))
    return BAD("tensor '%s': external data location '%s' must be a relative path inside the model's folder", tname, loc);
  char path[2048];
  snprintf(path, sizeof path, "%s/%s", src->base_dir, loc);
  /* Symbolic links must not lead out of the model's folder either (ONNX's external data security notes). */
  char real_dir[PATH_MAX], real_file[PATH_MAX];
  if (!realpath(src->base_dir, real_dir) || !realpath(path, real_file))
    return oxrt_error(OXRT_ERR_IO, "tensor '%s': external data file '%s' not found in the model's folder", tname, loc);
  size_t rd = strlen(real_dir);
  if (strncmp(real_file, real_dir, rd) != 0 || (real_file[rd] != '/' && strcmp(real_dir, "/") != 0))
    return BAD("tensor '%s': external data location '%s' resolves to '%s', outside the model's folder '%s'", tname, loc,
               real_file, real_dir);
  void *base;
  size_t size;
  int kind;
  int fd;
  oxrt_status *st = oxrt_map_file_fd(real_file, &base, &size, &kind, &fd);
  if (st) return oxrt_error_prefix(st, "tensor '%s' external data: ", tname);
  if (f->ext_offset < 0 || (uint64_t)f->ext_offset > size ||
      (f->ext_length > 0 && (uint64_t)f->ext_length > size - (uint64_t)f->ext_offset)) {
    if (fd >= 0) close(fd);
    oxrt_unmap_file(base, size, kind);
    return BAD("tensor '%s': external data range offset %lld length %lld is outside '%s' (%zu bytes)", tname,
               (long long)f->ext_offset, (long long)f->ext_length, loc, size);
  }
  *data = (const uint8_t *)base + f->ext_offset;
  *len = f->ext_length > 0 ? (size_t)f->ext_length : size - (size_t)f->ext_offset;
  *fb = (file_bytes){fd, base, size}; /* the caller closes fd */
  oxrt_model *model = src->borrow ? src->model : NULL;
  if (model) {
    void **nb = realloc(model->ext_base, sizeof(void *) * (size_t)(model->n_ext + 1));
    if (nb) model->ext_base = nb;
    size_t *ns = nb ? realloc(model->ext_size, sizeof(size_t) * (size_t)(model->n_ext + 1)) : NULL;
    if (ns) model->ext_size = ns;
    int *nk = ns ? realloc(model->ext_kind, sizeof(int) * (size_t)(model->n_ext + 1)) : NULL;
    if (!nk) {
      if (fd >= 0) close(fd);
      fb->fd = -1;
      oxrt_unmap_file(base, size, kind);
      return OXRT_OOM();
    }
    model->ext_kind = nk;
    model->ext_base[model->n_ext] = base;
    model->ext_size[model->n_ext] = size;
    model->ext_kind[model->n_ext] = kind;
    model->n_ext++;
  } else {
    m->base = base;
    m->size = size;
    m->kind = kind;
  }
  return NULL;
}

oxrt_status *oxrt_read_model_fd(const void *data, size_t size, const oxrt_tensor_src *src, int fd, oxrt_model **out) {
  const file_bytes was = tl_model_file;
  tl_model_file = (file_bytes){fd, data, size};
  oxrt_status *st = oxrt_read_model(data, size, src, out);
  tl_model_file = was;
  return st;
}

/* Copies the len bytes at p, inside file f's mapping, into dst with pread: the page cache straight into dst, so
 * the mapping's pages never come in (no faults on them, nothing to drop afterwards; resnet50's load 6% shorter than
 * copying through the mapping). False when that failed: the caller then copies through the mapping. */
static bool read_from_file(const file_bytes *f, const uint8_t *p, size_t len, void *dst) {
  if (!f || f->fd < 0 || !len || p < f->base || len > f->size || (size_t)(p - f->base) > f->size - len) return false;
  const size_t off = (size_t)(p - f->base);
  for (size_t done = 0; done < len;) {
    ssize_t k = pread(f->fd, (char *)dst + done, len - done, (off_t)(off + done));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    done += (size_t)k;
  }
  return true;
}

oxrt_status *oxrt_read_tensor(pb_reader *r, const oxrt_tensor_src *src, oxrt_arena *a, oxrt_value **out,
                              const char **name_out) {
  pb_reader sub;
  if (!pb_sub(r, &sub)) return BAD("truncated TensorProto");
  tensor_fields f;
  OXRT_TRY(scan_tensor(sub, &f));
  char tname[256];
  size_t nl = f.name_len < sizeof tname - 1 ? f.name_len : sizeof tname - 1;
  memcpy(tname, f.name ? f.name : "", nl);
  tname[nl] = 0;
  if (name_out) *name_out = a ? oxrt_arena_strndup(a, f.name ? f.name : "", f.name_len) : NULL;
  oxrt_elem_type dt = (oxrt_elem_type)f.data_type;
  if (!oxrt_dtype_is_valid(f.data_type))
    return BAD("tensor '%s' has invalid data_type %d", tname, f.data_type);
  for (int i = 0; i < f.rank; i++)
    if (f.dims[i] < 0) return BAD("tensor '%s' has negative dimension %lld", tname, (long long)f.dims[i]);
  size_t count;
  if (!oxrt_dims_count(f.dims, f.rank, &count)) return BAD("tensor '%s' has an absurd shape", tname);
  size_t es = oxrt_elem_type_size(dt);
  int per = pack_factor(dt);
  size_t raw_need = per > 1 ? (count + (size_t)per - 1) / (size_t)per : count * es;

  const uint8_t *raw = NULL;
  size_t raw_len = 0;
  mapping ext = {0};
  file_bytes ext_file = {.fd = -1};
  bool from_ext = false;
  if (f.data_location == 1) {
    OXRT_TRY(external_bytes(&f, src, tname, &raw, &raw_len, &ext, &ext_file));
    from_ext = true;
  } else if (f.has_raw) {
    raw = f.raw.data;
    raw_len = f.raw.len;
  }
  if (raw || from_ext || f.has_raw) {
    oxrt_status *st = NULL;
    if (dt == OXRT_STRING) {
      st = BAD("string tensor '%s' cannot use raw_data", tname);
    } else if (raw_len != raw_need) {
      char b[200];
      st = BAD("tensor '%s' of type %s and shape %s needs %zu data bytes but has %zu", tname, oxrt_elem_type_name(dt),
               oxrt_dims_str(f.dims, f.rank, b, sizeof b), raw_need, raw_len);
    } else if (src && src->borrow && per == 1 && ((uintptr_t)raw % (es ? es : 1)) == 0 && ext.kind == 0) {
      st = oxrt_tensor_view(dt, f.rank, f.dims, (void *)raw, out);
    } else {
      oxrt_value *v;
      bool was = oxrt_alloc_prepare_mode(true); /* written whole right away: its pages in one call */
      st = oxrt_tensor_new(dt, f.rank, f.dims, &v);
      oxrt_alloc_prepare_mode(was);
      if (!st) {
        const file_bytes *fb = from_ext ? &ext_file : src && src->file_backed ? &tl_model_file : NULL;
        const bool via_fd = per == 1 && read_from_file(fb, raw, raw_len, v->data);
        if (per > 1) unpack_bits(dt, v->data, raw, count);
        else if (!via_fd && raw_len) memcpy(v->data, raw, raw_len);
        /* with pread too: parsing the tensor's header faulted its first pages in around it */
        if ((src && src->file_backed && !from_ext) || (from_ext && ext.kind == 1)) drop_pages(raw, raw_len);
        *out = v;
      }
    }
    if (ext_file.fd >= 0) close(ext_file.fd);
    oxrt_unmap_file(ext.base, ext.size, ext.kind);
    return st;
  }
  size_t expect = dt == OXRT_COMPLEX64 || dt == OXRT_COMPLEX128 ? count * 2 : count;
  if (per > 1) expect = (count + (size_t)per - 1) / (size_t)per;
  if (f.n_typed != expect) {
    char b[200];
    return BAD("tensor '%s' of shape %s needs %zu values but holds %zu", tname, oxrt_dims_str(f.dims, f.rank, b, sizeof b),
               expect, f.n_typed);
  }
  oxrt_value *v;
  OXRT_TRY(oxrt_tensor_new_zero(dt, f.rank, f.dims, &v));
  oxrt_status *st = fill_typed(sub, f.data_type, v->data, count);
  if (st) {
    oxrt_value_free(v);
    return oxrt_error_prefix(st, "tensor '%s': ", tname);
  }
  *out = v;
  return NULL;
}

/* -------------------------------------------------------------- TypeProto */
static oxrt_status *read_shape(pb_reader *r, oxrt_arena *a, oxrt_type *t) {
  pb_reader sub;
  if (!pb_sub(r, &sub)) return BAD("truncated TensorShapeProto");
  /* count dims first */
  pb_reader c = sub;
  uint32_t field, wire;
  int n = 0;
  while (pb_next(&c, &field, &wire)) {
    if (field == 1) n++;
    if (!pb_skip(&c, wire)) break;
  }
  if (c.error) return BAD("corrupt TensorShapeProto");
  if (n > OXRT_MAX_RANK) return BAD("shape rank %d exceeds %d", n, OXRT_MAX_RANK);
  t->rank = n;
  t->dims = oxrt_arena_alloc(a, sizeof(int64_t) * (size_t)(n + 1));
  t->dim_params = oxrt_arena_alloc(a, sizeof(char *) * (size_t)(n + 1));
  if (!t->dims || !t->dim_params) return OXRT_OOM();
  int i = 0;
  while (pb_next(&sub, &field, &wire)) {
    if (field != 1 || wire != PB_BYTES) {
      pb_skip(&sub, wire);
      continue;
    }
    pb_reader d;
    if (!pb_sub(&sub, &d)) break;
    t->dims[i] = -1;
    uint32_t f2, w2;
    while (pb_next(&d, &f2, &w2)) {
      uint64_t v;
      pb_bytes b;
      if (f2 == 1 && w2 == PB_VARINT) {
        if (pb_varint(&d, &v)) t->dims[i] = (int64_t)v;
      } else if (f2 == 2 && w2 == PB_BYTES) {
        if (pb_bytes_read(&d, &b)) t->dim_params[i] = oxrt_arena_strndup(a, (const char *)b.data, b.len);
      } else {
        pb_skip(&d, w2);
      }
    }
    if (d.error) return BAD("corrupt shape dimension");
    i++;
  }
  if (sub.error) return BAD("corrupt TensorShapeProto");
  return NULL;
}

oxrt_status *oxrt_read_type(pb_reader *r, oxrt_arena *a, int depth, oxrt_type **out) {
  pb_reader sub;
  if (!pb_sub(r, &sub)) return BAD("truncated TypeProto");
  if (depth <= 0) return BAD("TypeProto nested too deeply (session limit proto_depth)");
  oxrt_type *t = oxrt_arena_alloc(a, sizeof *t);
  if (!t) return OXRT_OOM();
  t->rank = -1;
  uint32_t field, wire;
  while (pb_next(&sub, &field, &wire)) {
    if (wire != PB_BYTES) {
      if (!pb_skip(&sub, wire)) break;
      continue;
    }
    pb_reader inner;
    if (field == 1 || field == 8 || field == 5) {
      /* tensor_type, sparse_tensor_type: elem_type (1) and shape (2); map_type: key_type (1) and value_type (2) */
      const bool map = field == 5;
      t->kind = map ? OXRT_KIND_MAP : field == 1 ? OXRT_KIND_TENSOR : OXRT_KIND_SPARSE_TENSOR;
      if (!pb_sub(&sub, &inner)) break;
      uint32_t f2, w2;
      while (pb_next(&inner, &f2, &w2)) {
        uint64_t v;
        if (f2 == 1 && w2 == PB_VARINT) {
          if (pb_varint(&inner, &v)) t->elem_type = (oxrt_elem_type)v;
        } else if (f2 == 2 && w2 == PB_BYTES) {
          OXRT_TRY(map ? oxrt_read_type(&inner, a, depth - 1, &t->elem) : read_shape(&inner, a, t));
        } else {
          pb_skip(&inner, w2);
        }
      }
      if (inner.error) return BAD(map ? "corrupt TypeProto.Map" : "corrupt TypeProto.Tensor");
    } else if (field == 4 || field == 9) { /* sequence_type, optional_type */
      t->kind = field == 4 ? OXRT_KIND_SEQUENCE : OXRT_KIND_OPTIONAL;
      if (!pb_sub(&sub, &inner)) break;
      uint32_t f2, w2;
      while (pb_next(&inner, &f2, &w2)) {
        if (f2 == 1 && w2 == PB_BYTES) OXRT_TRY(oxrt_read_type(&inner, a, depth - 1, &t->elem));
        else pb_skip(&inner, w2);
      }
      if (inner.error) return BAD("corrupt TypeProto");
      if (t->elem) t->elem_type = t->elem->elem_type;
    } else if (!pb_skip(&sub, wire)) {
      break;
    }
  }
  if (sub.error) return BAD("truncated or corrupt TypeProto");
  *out = t;
  return NULL;
}

/* ------------------------------------------------- Sequence/Map/Optional */
/* elem_type enum of SequenceProto/OptionalProto */
enum { SEQ_UNDEFINED = 0, SEQ_TENSOR = 1, SEQ_SPARSE = 2, SEQ_SEQUENCE = 3, SEQ_MAP = 4, SEQ_OPTIONAL = 5 };

static oxrt_status *push_item(oxrt_value *c, oxrt_value *item, size_t *cap) {
  if (c->n_items == *cap) {
    size_t nc = *cap ? *cap * 2 : 4;
    oxrt_value **ni = realloc(c->items, nc * sizeof *ni);
    if (!ni) {
      oxrt_value_free(item);
      return OXRT_OOM();
    }
    c->items = ni;
    *cap = nc;
  }
  c->items[c->n_items++] = item;
  return NULL;
}

static oxrt_status *read_map(pb_reader *r, int depth, oxrt_value **out);

/* SequenceProto / OptionalProto; `depth` levels of nesting are left (OXRT_LIMIT_PROTO_DEPTH). */
static oxrt_status *read_container(pb_reader *r, oxrt_value_kind kind, int depth, oxrt_value **out) {
  if (depth <= 0) return BAD("SequenceProto/MapProto/OptionalProto nested too deeply (limit proto_depth)");
  pb_reader sub = *r;
  oxrt_value *c;
  OXRT_TRY(oxrt_value_new_container(kind, OXRT_UNDEFINED, 0, &c));
  size_t cap = 0;
  uint32_t field, wire;
  oxrt_status *st = NULL;
  while (!st && pb_next(&sub, &field, &wire)) {
    oxrt_value *item = NULL;
    if (wire != PB_BYTES) {
      if (!pb_skip(&sub, wire)) break;
      continue;
    }
    if (field == 3) { /* tensor */
      st = oxrt_read_tensor(&sub, NULL, NULL, &item, NULL);
      if (!st && c->dtype == OXRT_UNDEFINED) c->dtype = item->dtype;
    } else if (field == 5) {
      pb_reader in;
      if (!pb_sub(&sub, &in)) break;
      st = read_container(&in, OXRT_KIND_SEQUENCE, depth - 1, &item);
    } else if (field == 6) {
      pb_reader in;
      if (!pb_sub(&sub, &in)) break;
      st = read_map(&in, depth - 1, &item);
    } else if (field == 7) {
      pb_reader in;
      if (!pb_sub(&sub, &in)) break;
      st = read_container(&in, OXRT_KIND_OPTIONAL, depth - 1, &item);
    } else {
      if (!pb_skip(&sub, wire)) break;
      continue;
    }
    if (!st) st = push_item(c, item, &cap);
  }
  if (!st && sub.error) st = BAD("truncated or corrupt SequenceProto/OptionalProto");
  if (st) {
    oxrt_value_free(c);
    return st;
  }
  *out = c;
  return NULL;
}

#define DEFAULT_PROTO_DEPTH ((int)oxrt_limit_get(NULL, OXRT_LIMIT_PROTO_DEPTH))
oxrt_status *oxrt_read_sequence(pb_reader *r, oxrt_value **out) {
  return read_container(r, OXRT_KIND_SEQUENCE, DEFAULT_PROTO_DEPTH, out);
}
oxrt_status *oxrt_read_optional(pb_reader *r, oxrt_value **out) {
  return read_container(r, OXRT_KIND_OPTIONAL, DEFAULT_PROTO_DEPTH, out);
}
oxrt_status *oxrt_read_map(pb_reader *r, oxrt_value **out) { return read_map(r, DEFAULT_PROTO_DEPTH, out); }

static oxrt_status *read_map(pb_reader *r, int depth, oxrt_value **out) {
  if (depth <= 0) return BAD("MapProto nested too deeply (limit proto_depth)");
  pb_reader sub = *r;
  int key_type = 0;
  size_t n_keys = 0, n_skeys = 0;
  uint32_t field, wire;
  pb_reader values = {0};
  bool has_values = false;
  /* first pass: key type and counts */
  pb_reader c = sub;
  while (pb_next(&c, &field, &wire)) {
    uint64_t v;
    pb_bytes b;
    if (field == 2 && wire == PB_VARINT) {
      if (pb_varint(&c, &v)) key_type = (int)v;
    } else if (field == 3 && wire == PB_BYTES) {
      if (pb_bytes_read(&c, &b)) n_keys += count_field(b.data, b.len, wire, 0);
    } else if (field == 3 && wire == PB_VARINT) {
      if (pb_varint(&c, &v)) n_keys++;
    } else if (field == 4 && wire == PB_BYTES) {
      if (pb_bytes_read(&c, &b)) n_skeys++;
    } else if (field == 5 && wire == PB_BYTES) {
      if (pb_sub(&c, &values)) has_values = true;
    } else {
      pb_skip(&c, wire);
    }
  }
  if (c.error) return BAD("truncated or corrupt MapProto");
  bool string_keys = key_type == OXRT_STRING;
  int64_t kd = (int64_t)(string_keys ? n_skeys : n_keys);
  oxrt_value *keys = NULL, *vals = NULL;
  OXRT_TRY(oxrt_tensor_new_zero(string_keys ? OXRT_STRING : (oxrt_elem_type)(key_type ? key_type : OXRT_INT64), 1, &kd, &keys));
  /* second pass with the first pass's field and wire-type rules; k stays below the count it found */
  size_t k = 0;
  oxrt_status *st = NULL;
  while (!st && pb_next(&sub, &field, &wire)) {
    uint64_t v;
    pb_bytes b;
    if (field == 3 && wire == PB_BYTES && !string_keys) {
      pb_reader in;
      if (!pb_sub(&sub, &in)) break;
      while (in.p < in.end && k < keys->count && pb_varint(&in, &v))
        oxrt_store_i64(keys->dtype, keys->data, k++, (int64_t)v);
    } else if (field == 3 && wire == PB_VARINT && !string_keys) {
      if (pb_varint(&sub, &v) && k < keys->count) oxrt_store_i64(keys->dtype, keys->data, k++, (int64_t)v);
    } else if (field == 4 && wire == PB_BYTES && string_keys) {
      if (pb_bytes_read(&sub, &b) && k < keys->count)
        st = oxrt_value_set_string(keys, k++, (const char *)b.data, b.len);
    } else {
      pb_skip(&sub, wire);
    }
  }
  if (!st && has_values) {
    oxrt_value *seq;
    st = read_container(&values, OXRT_KIND_SEQUENCE, depth - 1, &seq);
    if (!st) {
      /* ZipMap-style maps hold one scalar per key: flatten to a 1-D tensor. */
      if (seq->n_items && seq->items[0] && seq->items[0]->kind == OXRT_KIND_TENSOR) {
        int64_t n = (int64_t)seq->n_items;
        st = oxrt_tensor_new_zero(seq->items[0]->dtype, 1, &n, &vals);
        for (size_t i = 0; !st && i < seq->n_items; i++) {
          if (seq->items[i]->count != 1) {
            st = BAD("MapProto values must hold one scalar per key");
            break;
          }
          char *dst = (char *)vals->data + i * oxrt_elem_type_size(vals->dtype);
          if (!oxrt_convert(vals->dtype, dst, seq->items[i]->dtype, seq->items[i]->data, 1, false))
            st = OXRT_OOM();
        }
        oxrt_value_free(seq);
      } else {
        vals = seq;
      }
    }
  } else if (!st) {
    int64_t z = 0;
    st = oxrt_tensor_new_zero(OXRT_FLOAT, 1, &z, &vals);
  }
  /* a map pairs every key with one value: consumers index the values by key position */
  size_t n_vals = vals ? (vals->kind == OXRT_KIND_TENSOR ? vals->count : vals->n_items) : 0;
  if (!st && n_vals != keys->count)
    st = BAD("MapProto has %zu keys but %zu values", keys->count, n_vals);
  if (!st) st = oxrt_value_create_map(keys, vals, out);
  if (st) {
    oxrt_value_free(keys);
    oxrt_value_free(vals);
  }
  return st;
}

oxrt_status *oxrt_value_parse_proto(oxrt_value_kind kind, const void *data, size_t size, oxrt_value **out) {
  if (!out || (!data && size)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "NULL argument");
  pb_reader r = pb_init(data, size);
  switch (kind) {
  case OXRT_KIND_TENSOR: {
    /* oxrt_read_tensor expects a length-delimited field: read the message directly. */
    pb_reader whole = r;
    tensor_fields f;
    (void)f;
    /* Wrap: emulate a length prefix by decoding with a sub-reader. */
    uint8_t hdr[10];
    size_t n = 0;
    uint64_t v = size;
    do {
      hdr[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      v >>= 7;
    } while (v);
    uint8_t *buf = malloc(n + size + 1);
    if (!buf) return OXRT_OOM();
    memcpy(buf, hdr, n);
    if (size) memcpy(buf + n, data, size);
    pb_reader pr = pb_init(buf, n + size);
    (void)whole;
    oxrt_status *st = oxrt_read_tensor(&pr, NULL, NULL, out, NULL);
    free(buf);
    return st;
  }
  case OXRT_KIND_SEQUENCE: return oxrt_read_sequence(&r, out);
  case OXRT_KIND_MAP: return oxrt_read_map(&r, out);
  case OXRT_KIND_OPTIONAL: return oxrt_read_optional(&r, out);
  default: return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot parse a value of kind %d", (int)kind);
  }
}

/* ------------------------------------------------------ SparseTensorProto */
oxrt_status *oxrt_read_sparse_dense(pb_reader *r, const oxrt_tensor_src *src, oxrt_value **out, const char **name,
                                    oxrt_arena *a) {
  pb_reader sub = *r;
  oxrt_value *vals = NULL, *idx = NULL;
  int64_t dims[OXRT_MAX_RANK];
  int rank = 0;
  uint32_t field, wire;
  oxrt_status *st = NULL;
  const char *nm = NULL;
  while (!st && pb_next(&sub, &field, &wire)) {
    uint64_t v;
    if (field == 1 && wire == PB_BYTES) {
      oxrt_value_free(vals);
      st = oxrt_read_tensor(&sub, src, a, &vals, a ? &nm : NULL);
    } else if (field == 2 && wire == PB_BYTES) {
      oxrt_value_free(idx);
      st = oxrt_read_tensor(&sub, NULL, NULL, &idx, NULL);
    } else if (field == 3) {
      if (wire == PB_BYTES) {
        pb_reader pk;
        if (!pb_sub(&sub, &pk)) break;
        while (pk.p < pk.end && pb_varint(&pk, &v)) {
          if (rank >= OXRT_MAX_RANK) {
            st = BAD("sparse tensor rank too large");
            break;
          }
          dims[rank++] = (int64_t)v;
        }
      } else if (pb_varint(&sub, &v)) {
        if (rank >= OXRT_MAX_RANK) st = BAD("sparse tensor rank too large");
        else dims[rank++] = (int64_t)v;
      }
    } else if (!pb_skip(&sub, wire)) {
      break;
    }
  }
  if (!st && sub.error) st = BAD("truncated or corrupt SparseTensorProto");
  if (!st && (!vals || !idx)) st = BAD("SparseTensorProto needs values and indices");
  oxrt_value *d = NULL;
  size_t dense_count;
  uint64_t max_bytes = oxrt_limit_get(src ? src->limits : NULL, OXRT_LIMIT_TENSOR_BYTES);
  if (!st && oxrt_dims_count(dims, rank, &dense_count) &&
      (double)dense_count * (double)oxrt_elem_type_size(vals->dtype) > (double)max_bytes) {
    char b[200];
    st = oxrt_error(OXRT_ERR_OUT_OF_MEMORY, "sparse tensor of shape %s densifies to more than %llu bytes "
                    "(session limit tensor_bytes)", oxrt_dims_str(dims, rank, b, sizeof b),
                    (unsigned long long)max_bytes);
  }
  if (!st) st = oxrt_tensor_new_zero(vals->dtype, rank, dims, &d);
  if (!st && idx->dtype != OXRT_INT64) st = BAD("sparse indices must be int64");
  if (!st) {
    size_t nnz = vals->count, es = oxrt_elem_type_size(vals->dtype);
    const int64_t *ix = idx->data;
    bool coo = idx->rank == 2;
    if ((coo && ((size_t)idx->dims[0] != nnz || idx->dims[1] != rank)) || (!coo && idx->count != nnz))
      st = BAD("sparse indices shape does not match %zu values", nnz);
    for (size_t k = 0; !st && k < nnz; k++) {
      int64_t lin = 0;
      if (coo) {
        for (int j = 0; j < rank; j++) {
          int64_t c = ix[k * (size_t)rank + (size_t)j];
          if (c < 0 || c >= dims[j]) {
            st = BAD("sparse index out of range");
            break;
          }
          lin = lin * dims[j] + c;
        }
      } else {
        lin = ix[k];
        if (lin < 0 || (size_t)lin >= d->count) st = BAD("sparse index out of range");
      }
      if (!st) {
        if (vals->dtype == OXRT_STRING) st = oxrt_value_set_string(d, (size_t)lin, ((char **)vals->data)[k], strlen(((char **)vals->data)[k]));
        else memcpy((char *)d->data + (size_t)lin * es, (char *)vals->data + k * es, es);
      }
    }
  }
  oxrt_value_free(vals);
  oxrt_value_free(idx);
  if (st) {
    oxrt_value_free(d);
    return st;
  }
  if (name) *name = nm;
  *out = d;
  return NULL;
}
