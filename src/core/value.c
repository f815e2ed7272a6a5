/* value.c - creation, copy and release of runtime values. */
#include "value.h"
#include "dtype.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *oxrt_aligned_alloc(size_t nbytes) {
  void *p = NULL;
  if (nbytes == 0) nbytes = 1;
  size_t rounded = (nbytes + 63) & ~(size_t)63;
  if (rounded < nbytes) return NULL;
  if (posix_memalign(&p, 64, rounded) != 0) return NULL;
  return p;
}
void oxrt_aligned_free(void *p) { free(p); }

bool oxrt_dims_count(const int64_t *dims, int rank, size_t *count) {
  size_t c = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0) return false;
    uint64_t d = (uint64_t)dims[i];
    if (d != 0 && c > SIZE_MAX / d) return false;
    c *= (size_t)d;
  }
  *count = c;
  return true;
}

static oxrt_status *tensor_header(oxrt_elem_type t, int rank, const int64_t *dims, oxrt_value **out) {
  if (!oxrt_dtype_is_valid((int)t)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "invalid element type %d", (int)t);
  if (rank < 0 || rank > OXRT_MAX_RANK)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "rank %d is outside 0..%d", rank, OXRT_MAX_RANK);
  size_t count;
  if (!oxrt_dims_count(dims, rank, &count)) {
    char b[256];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "invalid tensor shape %s (negative or too large)",
                      oxrt_dims_str(dims, rank, b, sizeof b));
  }
  size_t es = oxrt_elem_type_size(t);
  if (count && es > SIZE_MAX / count) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "tensor too large");
  oxrt_value *v = calloc(1, sizeof *v);
  if (!v) return OXRT_OOM();
  v->kind = OXRT_KIND_TENSOR;
  v->dtype = t;
  v->rank = rank;
  if (rank) memcpy(v->dims, dims, sizeof(int64_t) * (size_t)rank);
  v->count = count;
  v->nbytes = count * es;
  *out = v;
  return NULL;
}

oxrt_status *oxrt_tensor_new(oxrt_elem_type t, int rank, const int64_t *dims, oxrt_value **out) {
  oxrt_value *v = NULL;
  OXRT_TRY(tensor_header(t, rank, dims, &v));
  /* Refuse absurd sizes before asking the OS (overcommit would accept them). */
  if ((double)v->nbytes > 0x1p40) { /* not (size_t)1 << 40: UB where size_t is 32-bit */
    char b[256];
    oxrt_status *st = oxrt_error(OXRT_ERR_OUT_OF_MEMORY, "tensor %s of %s needs %zu bytes, over the 1 TiB limit",
                                 oxrt_dims_str(dims, rank, b, sizeof b), oxrt_elem_type_name(t), v->nbytes);
    free(v);
    return st;
  }
  v->data = oxrt_aligned_alloc(v->nbytes);
  if (!v->data) {
    size_t nb = v->nbytes;
    free(v);
    return oxrt_error(OXRT_ERR_OUT_OF_MEMORY, "out of memory allocating %zu bytes", nb);
  }
  v->owns_data = true;
  if (t == OXRT_STRING) {
    char **s = v->data;
    for (size_t i = 0; i < v->count; i++) s[i] = NULL;
    for (size_t i = 0; i < v->count; i++) {
      s[i] = calloc(1, 1);
      if (!s[i]) {
        oxrt_value_free(v);
        return OXRT_OOM();
      }
    }
  }
  *out = v;
  return NULL;
}

oxrt_status *oxrt_tensor_new_zero(oxrt_elem_type t, int rank, const int64_t *dims, oxrt_value **out) {
  OXRT_TRY(oxrt_tensor_new(t, rank, dims, out));
  if (t != OXRT_STRING) memset((*out)->data, 0, (*out)->nbytes);
  return NULL;
}

oxrt_status *oxrt_tensor_view(oxrt_elem_type t, int rank, const int64_t *dims, void *data, oxrt_value **out) {
  oxrt_value *v = NULL;
  OXRT_TRY(tensor_header(t, rank, dims, &v));
  v->data = data;
  v->owns_data = false;
  *out = v;
  return NULL;
}

oxrt_status *oxrt_value_new_container(oxrt_value_kind kind, oxrt_elem_type dtype, size_t n, oxrt_value **out) {
  oxrt_value *v = calloc(1, sizeof *v);
  if (!v) return OXRT_OOM();
  v->kind = kind;
  v->dtype = dtype;
  v->rank = -1;
  if (n) {
    v->items = calloc(n, sizeof *v->items);
    if (!v->items) {
      free(v);
      return OXRT_OOM();
    }
  }
  v->n_items = 0;
  *out = v;
  return NULL;
}

void oxrt_value_free(oxrt_value *v) {
  if (!v) return;
  if (v->owns_data && v->data) {
    if (v->dtype == OXRT_STRING && v->kind == OXRT_KIND_TENSOR) {
      char **s = v->data;
      for (size_t i = 0; i < v->count; i++) free(s[i]);
    }
    oxrt_aligned_free(v->data);
  }
  for (size_t i = 0; i < v->n_items; i++) oxrt_value_free(v->items[i]);
  free(v->items);
  free(v);
}

oxrt_status *oxrt_value_clone(const oxrt_value *v, oxrt_value **out) {
  if (v->kind == OXRT_KIND_TENSOR) {
    oxrt_value *c = NULL;
    OXRT_TRY(oxrt_tensor_new(v->dtype, v->rank, v->dims, &c));
    if (v->dtype == OXRT_STRING) {
      if (!oxrt_convert(OXRT_STRING, c->data, OXRT_STRING, v->data, v->count, false)) {
        oxrt_value_free(c);
        return OXRT_OOM();
      }
    } else if (v->nbytes) {
      memcpy(c->data, v->data, v->nbytes);
    }
    *out = c;
    return NULL;
  }
  oxrt_value *c = NULL;
  OXRT_TRY(oxrt_value_new_container(v->kind, v->dtype, v->n_items, &c));
  for (size_t i = 0; i < v->n_items; i++) {
    if (!v->items[i]) {
      c->items[c->n_items++] = NULL;
      continue;
    }
    oxrt_status *st = oxrt_value_clone(v->items[i], &c->items[c->n_items]);
    if (st) {
      oxrt_value_free(c);
      return st;
    }
    c->n_items++;
  }
  *out = c;
  return NULL;
}

const char *oxrt_dims_str(const int64_t *dims, int rank, char *buf, size_t cap) {
  size_t n = 0;
  n += (size_t)snprintf(buf + n, cap - n, "[");
  for (int i = 0; i < rank && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, i ? ",%lld" : "%lld", (long long)dims[i]);
  if (n < cap) snprintf(buf + n, cap - n, "]");
  return buf;
}

const char *oxrt_value_describe(const oxrt_value *v, char *buf, size_t cap) {
  char d[200];
  switch (v ? v->kind : OXRT_KIND_UNKNOWN) {
  case OXRT_KIND_TENSOR:
    snprintf(buf, cap, "tensor(%s)%s", oxrt_elem_type_name(v->dtype), oxrt_dims_str(v->dims, v->rank, d, sizeof d));
    break;
  case OXRT_KIND_SEQUENCE: snprintf(buf, cap, "seq(tensor(%s)) of %zu", oxrt_elem_type_name(v->dtype), v->n_items); break;
  case OXRT_KIND_MAP: snprintf(buf, cap, "map"); break;
  case OXRT_KIND_OPTIONAL: snprintf(buf, cap, "optional(%s)", v->n_items ? "value" : "none"); break;
  default: snprintf(buf, cap, "nothing"); break;
  }
  return buf;
}

/* ------------------------------------------------------------ public API */

static oxrt_status *rank_arg(size_t rank, const int64_t *dims) {
  if (rank > OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "rank %zu exceeds %d", rank, OXRT_MAX_RANK);
  if (rank && !dims) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "dims is NULL for rank %zu", rank);
  return NULL;
}

oxrt_status *oxrt_value_create_tensor(oxrt_elem_type type, const int64_t *dims, size_t rank, oxrt_value **out) {
  if (!out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "out is NULL");
  OXRT_TRY(rank_arg(rank, dims));
  return oxrt_tensor_new_zero(type, (int)rank, dims, out);
}

oxrt_status *oxrt_value_wrap_tensor(oxrt_elem_type type, const int64_t *dims, size_t rank, void *data, size_t nbytes,
                                    oxrt_value **out) {
  if (!out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "out is NULL");
  OXRT_TRY(rank_arg(rank, dims));
  if (type == OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "string tensors cannot wrap caller memory; use oxrt_value_create_tensor");
  oxrt_value *v = NULL;
  OXRT_TRY(oxrt_tensor_view(type, (int)rank, dims, data, &v));
  if (v->nbytes != nbytes) {
    char b[200];
    oxrt_status *st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "buffer of %zu bytes does not match %s%s (%zu bytes)", nbytes,
                                 oxrt_elem_type_name(type), oxrt_dims_str(dims, (int)rank, b, sizeof b), v->nbytes);
    free(v);
    return st;
  }
  if (!data && nbytes) {
    free(v);
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "data is NULL");
  }
  *out = v;
  return NULL;
}

oxrt_status *oxrt_value_set_string(oxrt_value *v, size_t index, const char *s, size_t len) {
  if (!v || v->kind != OXRT_KIND_TENSOR || v->dtype != OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "value is not a string tensor");
  if (index >= v->count) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "index %zu out of range (%zu elements)", index, v->count);
  char *c = malloc(len + 1);
  if (!c) return OXRT_OOM();
  if (len) memcpy(c, s, len);
  c[len] = 0;
  char **arr = v->data;
  free(arr[index]);
  arr[index] = c;
  return NULL;
}

oxrt_status *oxrt_value_create_sequence(oxrt_elem_type elem_type, oxrt_value **items, size_t count, oxrt_value **out) {
  oxrt_value *v = NULL;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_SEQUENCE, elem_type, count, &v));
  for (size_t i = 0; i < count; i++) v->items[i] = items[i];
  v->n_items = count;
  *out = v;
  return NULL;
}

oxrt_status *oxrt_value_create_optional(oxrt_value *item, oxrt_value **out) {
  oxrt_value *v = NULL;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_OPTIONAL, item ? item->dtype : OXRT_UNDEFINED, 1, &v));
  if (item) v->items[v->n_items++] = item;
  *out = v;
  return NULL;
}

oxrt_status *oxrt_value_create_map(oxrt_value *keys, oxrt_value *values, oxrt_value **out) {
  if (!keys || !values) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "map needs keys and values");
  oxrt_value *v = NULL;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_MAP, values->dtype, 2, &v));
  v->items[0] = keys;
  v->items[1] = values;
  v->n_items = 2;
  *out = v;
  return NULL;
}

oxrt_value_kind oxrt_value_get_kind(const oxrt_value *v) { return v ? v->kind : OXRT_KIND_UNKNOWN; }
oxrt_elem_type oxrt_value_get_elem_type(const oxrt_value *v) { return v ? v->dtype : OXRT_UNDEFINED; }
size_t oxrt_value_get_rank(const oxrt_value *v) { return v && v->kind == OXRT_KIND_TENSOR ? (size_t)v->rank : 0; }
const int64_t *oxrt_value_get_dims(const oxrt_value *v) { return v ? v->dims : NULL; }
size_t oxrt_value_get_elem_count(const oxrt_value *v) { return v && v->kind == OXRT_KIND_TENSOR ? v->count : 0; }
void *oxrt_value_get_data(const oxrt_value *v) { return v ? v->data : NULL; }
size_t oxrt_value_get_nbytes(const oxrt_value *v) { return v ? v->nbytes : 0; }
const char *oxrt_value_get_string(const oxrt_value *v, size_t index, size_t *len) {
  if (!v || v->kind != OXRT_KIND_TENSOR || v->dtype != OXRT_STRING || index >= v->count) return NULL;
  const char *s = ((char *const *)v->data)[index];
  if (len) *len = strlen(s);
  return s;
}
size_t oxrt_value_get_item_count(const oxrt_value *v) { return v && v->kind != OXRT_KIND_TENSOR ? v->n_items : 0; }
const oxrt_value *oxrt_value_get_item(const oxrt_value *v, size_t index) {
  return v && v->kind != OXRT_KIND_TENSOR && index < v->n_items ? v->items[index] : NULL;
}
