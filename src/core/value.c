/* value.c - creation, copy and release of runtime values. */
#include "value.h"
#include "dtype.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tensor memory goes through the allocator hooks. Each block starts with a 64-byte header holding its size (so
 * the bytes in use are known and the hooks can only change while none are) and the hooks that allocated it. */
typedef struct {
  size_t nbytes;
  void (*free_fn)(void *user, void *ptr); /* NULL: the C library's */
  void *user;
} block_header;
#define BLOCK_HEADER 64

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#endif

static pthread_mutex_t g_alloc_lock = PTHREAD_MUTEX_INITIALIZER;
static oxrt_allocator g_alloc; /* alloc == NULL: posix_memalign */
static uint64_t g_alloc_bytes;

/* ------------------------------------------------------------------ session creation's blocks
 * Packing weights allocates a block per weight and frees the weight's copy right after, and the C library gives
 * large freed blocks straight back to the system: every pack would take fresh pages, each faulted in and zeroed.
 * In prepare mode (per thread), large blocks are taken in one call (MADV_POPULATE_WRITE) and freed ones are
 * parked in a small bin instead, for the next pack of about their size (a transformer's layers repeat their
 * shapes, and prepare takes the largest weights first, so equal shapes come in a row). Parked memory stays
 * resident: a request no parked block fits empties the bin (the shapes moved on), as does
 * oxrt_alloc_prepare_end. */
#define BIN_SLOTS 16
#define BIN_MIN ((size_t)256 << 10)
#define BIN_ENTRY_MAX ((size_t)16 << 20)
#define BIN_TOTAL_MAX ((size_t)32 << 20)
static _Thread_local bool tl_prepare;
static struct {
  void *block;
  size_t cap;
} g_bin[BIN_SLOTS];
static size_t g_bin_total; /* under g_alloc_lock, with g_bin */

bool oxrt_alloc_prepare_mode(bool on) {
  bool was = tl_prepare;
  tl_prepare = on;
  return was;
}

static size_t usable(void *block) {
#if defined(__GLIBC__)
  return malloc_usable_size(block);
#else
  (void)block;
  return 0; /* unknown: never parked */
#endif
}

/* Under g_alloc_lock: the parked block that best fits `need` bytes (at most an eighth more), or NULL. */
static void *bin_take(size_t need) {
  int best = -1;
  for (int i = 0; i < BIN_SLOTS; i++)
    if (g_bin[i].block && g_bin[i].cap >= need && g_bin[i].cap - need <= need / 8 &&
        (best < 0 || g_bin[i].cap < g_bin[best].cap))
      best = i;
  if (best < 0) return NULL;
  void *b = g_bin[best].block;
  g_bin[best].block = NULL;
  g_bin_total -= g_bin[best].cap;
  return b;
}

/* Under g_alloc_lock: empties the bin into `out` (BIN_SLOTS entries) for freeing outside the lock. */
static int bin_drain(void **out) {
  int n = 0;
  for (int i = 0; i < BIN_SLOTS; i++)
    if (g_bin[i].block) out[n++] = g_bin[i].block, g_bin[i].block = NULL;
  g_bin_total = 0;
  return n;
}

void oxrt_alloc_prepare_end(void) {
  void *drop[BIN_SLOTS];
  pthread_mutex_lock(&g_alloc_lock);
  int n = bin_drain(drop);
  pthread_mutex_unlock(&g_alloc_lock);
  for (int i = 0; i < n; i++) free(drop[i]);
}

/* The whole pages of a block of the C library's, taken in one call; a hint (faults serve where refused). */
static void populate(void *p, size_t n) {
#if defined(__linux__)
  long pg = sysconf(_SC_PAGESIZE);
  if (pg <= 0 || n < (size_t)pg * 16) return;
  const uintptr_t mask = ~((uintptr_t)pg - 1);
  const uintptr_t b = ((uintptr_t)p + (uintptr_t)pg - 1) & mask, e = ((uintptr_t)p + n) & mask;
  if (e > b) (void)madvise((void *)b, e - b, MADV_POPULATE_WRITE);
#else
  (void)p, (void)n;
#endif
}

void *oxrt_aligned_alloc(size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  size_t rounded = (nbytes + 63) & ~(size_t)63;
  if (rounded < nbytes || rounded > SIZE_MAX - BLOCK_HEADER) return NULL;
  bool prep = tl_prepare && rounded >= BIN_MIN;
  void *p = NULL, *drop[BIN_SLOTS];
  int n_drop = 0;
  pthread_mutex_lock(&g_alloc_lock);
  oxrt_allocator a = g_alloc;
  if (prep && !a.alloc) {
    p = bin_take(rounded + BLOCK_HEADER);
    if (!p) n_drop = bin_drain(drop);
  }
  pthread_mutex_unlock(&g_alloc_lock);
  for (int i = 0; i < n_drop; i++) free(drop[i]);
  if (p) {
  } else if (a.alloc) {
    p = a.alloc(a.user, rounded + BLOCK_HEADER, 64);
  } else {
    if (posix_memalign(&p, 64, rounded + BLOCK_HEADER) != 0) p = NULL;
    if (p && prep) populate(p, rounded + BLOCK_HEADER); /* a caller's allocator may hand out anything: not there */
  }
  if (!p) return NULL;
  block_header *h = p;
  h->nbytes = rounded + BLOCK_HEADER;
  h->free_fn = a.alloc ? a.free : NULL;
  h->user = a.user;
  __atomic_fetch_add(&g_alloc_bytes, (uint64_t)h->nbytes, __ATOMIC_RELAXED);
  return (char *)p + BLOCK_HEADER;
}

void oxrt_aligned_free(void *p) {
  if (!p) return;
  block_header *h = (block_header *)((char *)p - BLOCK_HEADER);
  __atomic_fetch_sub(&g_alloc_bytes, (uint64_t)h->nbytes, __ATOMIC_RELAXED);
  if (h->free_fn) {
    h->free_fn(h->user, h);
    return;
  }
  size_t cap = tl_prepare && h->nbytes >= BIN_MIN && h->nbytes <= BIN_ENTRY_MAX ? usable(h) : 0;
  if (cap) {
    pthread_mutex_lock(&g_alloc_lock);
    for (int i = 0; i < BIN_SLOTS && h; i++)
      if (!g_bin[i].block && g_bin_total + cap <= BIN_TOTAL_MAX) {
        g_bin[i].block = h, g_bin[i].cap = cap;
        g_bin_total += cap;
        h = NULL;
      }
    pthread_mutex_unlock(&g_alloc_lock);
  }
  if (h) free(h);
}

oxrt_status *oxrt_set_allocator(const oxrt_allocator *a) {
  if (a && (a->size < sizeof(oxrt_allocator) || !a->alloc || !a->free))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "allocator needs size = sizeof(oxrt_allocator) (got %zu), alloc and free",
                      a->size);
  pthread_mutex_lock(&g_alloc_lock);
  uint64_t in_use = __atomic_load_n(&g_alloc_bytes, __ATOMIC_RELAXED);
  oxrt_status *st = NULL;
  if (in_use)
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "the allocator can only change while no tensor memory is allocated; "
                    "%llu bytes are (free every session and value first)", (unsigned long long)in_use);
  else if (a) g_alloc = *a;
  else memset(&g_alloc, 0, sizeof g_alloc);
  pthread_mutex_unlock(&g_alloc_lock);
  return st;
}

uint64_t oxrt_allocated_bytes(void) { return __atomic_load_n(&g_alloc_bytes, __ATOMIC_RELAXED); }

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
  free(v->str_lens);
  for (size_t i = 0; i < v->n_items; i++) oxrt_value_free(v->items[i]);
  free(v->items);
  free(v);
}

/* Strings holding NULs keep their lengths; a plain copy would cut them at the first NUL. */
static bool copy_str_lens(oxrt_value *dst, const oxrt_value *src) {
  if (!src->str_lens) return true;
  char **d = dst->data, *const *s = src->data;
  dst->str_lens = malloc(sizeof(size_t) * (src->count ? src->count : 1));
  if (!dst->str_lens) return false;
  for (size_t i = 0; i < src->count; i++) {
    size_t n = src->str_lens[i];
    char *c = malloc(n + 1);
    if (!c) return false;
    memcpy(c, s[i], n + 1);
    free(d[i]);
    d[i] = c;
    dst->str_lens[i] = n;
  }
  return true;
}

oxrt_status *oxrt_value_clone(const oxrt_value *v, oxrt_value **out) {
  if (v->kind == OXRT_KIND_TENSOR) {
    oxrt_value *c = NULL;
    OXRT_TRY(oxrt_tensor_new(v->dtype, v->rank, v->dims, &c));
    if (v->dtype == OXRT_STRING) {
      if (!oxrt_convert(OXRT_STRING, c->data, OXRT_STRING, v->data, v->count, false) || !copy_str_lens(c, v)) {
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

static oxrt_status *wrap(oxrt_elem_type type, const int64_t *dims, size_t rank, void *data, size_t nbytes,
                         bool read_only, oxrt_value **out) {
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
  v->read_only = read_only;
  *out = v;
  return NULL;
}

oxrt_status *oxrt_value_wrap_tensor(oxrt_elem_type type, const int64_t *dims, size_t rank, const void *data,
                                    size_t nbytes, oxrt_value **out) {
  return wrap(type, dims, rank, (void *)data, nbytes, true, out); /* read_only: never written through */
}

oxrt_status *oxrt_value_wrap_mutable_tensor(oxrt_elem_type type, const int64_t *dims, size_t rank, void *data,
                                            size_t nbytes, oxrt_value **out) {
  return wrap(type, dims, rank, data, nbytes, false, out);
}

oxrt_status *oxrt_value_set_string(oxrt_value *v, size_t index, const char *s, size_t len) {
  if (!v || v->kind != OXRT_KIND_TENSOR || v->dtype != OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "value is not a string tensor");
  if (index >= v->count) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "index %zu out of range (%zu elements)", index, v->count);
  if (!s && len) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "string is NULL with length %zu", len);
  if (len == SIZE_MAX) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "string length too large");
  char **arr = v->data;
  /* lengths are kept only once a string holds a NUL; until then strlen is exact */
  if (!v->str_lens && len && memchr(s, 0, len)) {
    v->str_lens = malloc(sizeof(size_t) * v->count);
    if (!v->str_lens) return OXRT_OOM();
    for (size_t i = 0; i < v->count; i++) v->str_lens[i] = arr[i] ? strlen(arr[i]) : 0;
  }
  char *c = malloc(len + 1);
  if (!c) return OXRT_OOM();
  if (len) memcpy(c, s, len);
  c[len] = 0;
  free(arr[index]);
  arr[index] = c;
  if (v->str_lens) v->str_lens[index] = len;
  return NULL;
}

static const char *kind_name(oxrt_value_kind k) {
  switch (k) {
  case OXRT_KIND_TENSOR: return "a tensor";
  case OXRT_KIND_SEQUENCE: return "a sequence";
  case OXRT_KIND_MAP: return "a map";
  case OXRT_KIND_OPTIONAL: return "an optional";
  case OXRT_KIND_SPARSE_TENSOR: return "a sparse tensor";
  default: return "no value";
  }
}

/* Innermost element type of a sequence item: a tensor's, a map's values'. */
static oxrt_elem_type item_elem_type(const oxrt_value *v) {
  return v->kind == OXRT_KIND_MAP && v->n_items == 2 && v->items[1] ? v->items[1]->dtype : v->dtype;
}

static int ptr_cmp(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)*(const oxrt_value *const *)a, y = (uintptr_t)*(const oxrt_value *const *)b;
  return (x > y) - (x < y);
}

/* A value given twice would be adopted twice, then freed twice. */
static oxrt_status *distinct_items(oxrt_value **items, size_t count) {
  if (count < 2) return NULL;
  oxrt_value **sorted = malloc(sizeof *sorted * count);
  if (!sorted) return OXRT_OOM();
  memcpy(sorted, items, sizeof *sorted * count);
  qsort(sorted, count, sizeof *sorted, ptr_cmp);
  bool dup = false;
  for (size_t i = 1; i < count && !dup; i++) dup = sorted[i] == sorted[i - 1];
  free(sorted);
  if (!dup) return NULL;
  for (size_t i = 1; i < count; i++)
    for (size_t j = 0; j < i; j++)
      if (items[i] == items[j])
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence items %zu and %zu are the same value; each item is "
                          "adopted, so each must be a value of its own (nothing was adopted)", j, i);
  return NULL;
}

oxrt_status *oxrt_value_create_sequence(oxrt_elem_type elem_type, oxrt_value **items, size_t count, oxrt_value **out) {
  if (!out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "out is NULL");
  if (count && !items) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "items is NULL for %zu items", count);
  if (elem_type != OXRT_UNDEFINED && !oxrt_dtype_is_valid((int)elem_type))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "invalid sequence element type %d", (int)elem_type);
  for (size_t i = 0; i < count; i++) {
    const oxrt_value *it = items[i];
    if (!it) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence item %zu is NULL (nothing was adopted)", i);
    if (it->kind != OXRT_KIND_TENSOR && it->kind != OXRT_KIND_MAP && it->kind != OXRT_KIND_SEQUENCE)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence item %zu is %s; sequences hold tensors, maps or sequences "
                        "(nothing was adopted)", i, kind_name(it->kind));
    if (it->kind != items[0]->kind)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence item %zu is %s but item 0 is %s (nothing was adopted)", i,
                        kind_name(it->kind), kind_name(items[0]->kind));
    oxrt_elem_type want = elem_type != OXRT_UNDEFINED ? elem_type : item_elem_type(items[0]);
    if (item_elem_type(it) != want)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence of %s: item %zu has element type %s (nothing was adopted)",
                        oxrt_elem_type_name(want), i, oxrt_elem_type_name(item_elem_type(it)));
    if (it->kind == OXRT_KIND_MAP && items[0]->items[0]->dtype != it->items[0]->dtype)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence item %zu has key type %s, item 0 %s (nothing was adopted)",
                        i, oxrt_elem_type_name(it->items[0]->dtype), oxrt_elem_type_name(items[0]->items[0]->dtype));
  }
  OXRT_TRY(distinct_items(items, count));
  oxrt_value *v = NULL;
  oxrt_elem_type t = elem_type != OXRT_UNDEFINED ? elem_type : count ? item_elem_type(items[0]) : OXRT_UNDEFINED;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_SEQUENCE, t, count, &v));
  for (size_t i = 0; i < count; i++) v->items[i] = items[i];
  v->n_items = count;
  *out = v;
  return NULL;
}

oxrt_status *oxrt_value_create_optional(oxrt_value *item, oxrt_value **out) {
  if (!out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "out is NULL");
  if (item && item->kind == OXRT_KIND_OPTIONAL)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "an optional cannot hold an optional (item not adopted)");
  oxrt_value *v = NULL;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_OPTIONAL, item ? item_elem_type(item) : OXRT_UNDEFINED, 1, &v));
  if (item) v->items[v->n_items++] = item;
  *out = v;
  return NULL;
}

static bool is_key_type(oxrt_elem_type t) {
  switch (t) {
  case OXRT_INT8: case OXRT_INT16: case OXRT_INT32: case OXRT_INT64:
  case OXRT_UINT8: case OXRT_UINT16: case OXRT_UINT32: case OXRT_UINT64: case OXRT_STRING: return true;
  default: return false;
  }
}

oxrt_status *oxrt_value_create_map(oxrt_value *keys, oxrt_value *values, oxrt_value **out) {
  if (!out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "out is NULL");
  if (!keys || !values) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "map needs keys and values (nothing was adopted)");
  if (keys == values)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "map keys and values are the same value; both are adopted, so they "
                      "must be two values (nothing was adopted)");
  if (keys->kind != OXRT_KIND_TENSOR || keys->rank != 1 || !is_key_type(keys->dtype)) {
    char b[128];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "map keys must be a 1-D tensor of an integer type or string, got %s "
                      "(nothing was adopted)", oxrt_value_describe(keys, b, sizeof b));
  }
  if (!(values->kind == OXRT_KIND_TENSOR && values->rank == 1) && values->kind != OXRT_KIND_SEQUENCE) {
    char b[128];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "map values must be a 1-D tensor or a sequence, got %s "
                      "(nothing was adopted)", oxrt_value_describe(values, b, sizeof b));
  }
  size_t n_values = values->kind == OXRT_KIND_TENSOR ? values->count : values->n_items;
  if (keys->count != n_values)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "map has %zu keys but %zu values (nothing was adopted)", keys->count,
                      n_values);
  oxrt_value *v = NULL;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_MAP, values->dtype, 2, &v));
  v->items[0] = keys;
  v->items[1] = values;
  v->n_items = 2;
  *out = v;
  return NULL;
}

oxrt_status *oxrt_value_copy_into(oxrt_value *dst, const oxrt_value *src) {
  char a[256], b[256];
  if (dst->kind != OXRT_KIND_TENSOR || src->kind != OXRT_KIND_TENSOR)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "only tensors can be filled in place; the result is %s and the "
                      "provided value %s", oxrt_value_describe(src, a, sizeof a), oxrt_value_describe(dst, b, sizeof b));
  if (dst->read_only)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "the provided value is read-only (oxrt_value_wrap_tensor); wrap writable "
                      "memory with oxrt_value_wrap_mutable_tensor");
  bool same = dst->dtype == src->dtype && dst->rank == src->rank;
  for (int i = 0; same && i < src->rank; i++) same = dst->dims[i] == src->dims[i];
  if (!same)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "the result is %s but the provided value is %s",
                      oxrt_value_describe(src, a, sizeof a), oxrt_value_describe(dst, b, sizeof b));
  if (src->dtype != OXRT_STRING) {
    if (src->nbytes && dst->data != src->data) memcpy(dst->data, src->data, src->nbytes);
    return NULL;
  }
  for (size_t i = 0; i < src->count; i++) {
    size_t n;
    const char *s = oxrt_value_get_string(src, i, &n);
    OXRT_TRY(oxrt_value_set_string(dst, i, s, n));
  }
  return NULL;
}

static void type_string(const oxrt_value *v, char *buf, size_t cap, size_t *n) {
  const char *et = oxrt_elem_type_name(v ? v->dtype : OXRT_UNDEFINED);
  if (!v) {
    *n += (size_t)snprintf(buf + (*n < cap ? *n : cap), *n < cap ? cap - *n : 0, "none");
    return;
  }
#define PUT(...) (*n += (size_t)snprintf(buf + (*n < cap ? *n : cap), *n < cap ? cap - *n : 0, __VA_ARGS__))
  switch (v->kind) {
  case OXRT_KIND_TENSOR: PUT("tensor(%s)", et); break;
  case OXRT_KIND_SEQUENCE:
    PUT("seq(");
    if (v->n_items) type_string(v->items[0], buf, cap, n);
    else PUT("tensor(%s)", et);
    PUT(")");
    break;
  case OXRT_KIND_MAP:
    PUT("map(%s,", oxrt_elem_type_name(v->items[0]->dtype));
    type_string(v->items[1], buf, cap, n);
    PUT(")");
    break;
  case OXRT_KIND_OPTIONAL:
    PUT("optional(");
    if (v->n_items) type_string(v->items[0], buf, cap, n);
    else PUT("none");
    PUT(")");
    break;
  default: PUT("unknown"); break;
  }
#undef PUT
}

oxrt_status *oxrt_value_type_string(const oxrt_value *v, char *buf, size_t cap) {
  if (!v || !buf || !cap) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "NULL argument");
  size_t n = 0;
  type_string(v, buf, cap, &n);
  if (n >= cap) {
    buf[0] = 0;
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "type string needs %zu bytes, buffer has %zu", n + 1, cap);
  }
  return NULL;
}

oxrt_value_kind oxrt_value_get_kind(const oxrt_value *v) { return v ? v->kind : OXRT_KIND_UNKNOWN; }
oxrt_elem_type oxrt_value_get_elem_type(const oxrt_value *v) {
  if (!v) return OXRT_UNDEFINED;
  if (v->kind == OXRT_KIND_OPTIONAL) return v->n_items && v->items[0] ? item_elem_type(v->items[0]) : OXRT_UNDEFINED;
  return item_elem_type(v);
}
oxrt_elem_type oxrt_value_get_key_type(const oxrt_value *v) {
  return v && v->kind == OXRT_KIND_MAP && v->n_items == 2 && v->items[0] ? v->items[0]->dtype : OXRT_UNDEFINED;
}
static bool is_tensor(const oxrt_value *v) { return v && v->kind == OXRT_KIND_TENSOR; }
size_t oxrt_value_get_rank(const oxrt_value *v) { return is_tensor(v) ? (size_t)v->rank : 0; }
const int64_t *oxrt_value_get_dims(const oxrt_value *v) { return is_tensor(v) ? v->dims : NULL; }
size_t oxrt_value_get_elem_count(const oxrt_value *v) { return is_tensor(v) ? v->count : 0; }
const void *oxrt_value_get_data(const oxrt_value *v) { return is_tensor(v) ? v->data : NULL; }
void *oxrt_value_get_mutable_data(oxrt_value *v) { return is_tensor(v) && !v->read_only ? v->data : NULL; }
size_t oxrt_value_get_nbytes(const oxrt_value *v) { return is_tensor(v) ? v->nbytes : 0; }
const char *oxrt_value_get_string(const oxrt_value *v, size_t index, size_t *len) {
  if (!v || v->kind != OXRT_KIND_TENSOR || v->dtype != OXRT_STRING || index >= v->count) return NULL;
  const char *s = ((char *const *)v->data)[index];
  if (len) *len = v->str_lens ? v->str_lens[index] : strlen(s);
  return s;
}
size_t oxrt_value_get_item_count(const oxrt_value *v) { return v && v->kind != OXRT_KIND_TENSOR ? v->n_items : 0; }
const oxrt_value *oxrt_value_get_item(const oxrt_value *v, size_t index) {
  return v && v->kind != OXRT_KIND_TENSOR && index < v->n_items ? v->items[index] : NULL;
}

static oxrt_status *want_kind(const oxrt_value *v, oxrt_value_kind k, const char *fn) {
  if (!v) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%s: value is NULL", fn);
  if (v->kind != k)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%s: value is %s, not %s", fn, kind_name(v->kind), kind_name(k));
  return NULL;
}

oxrt_status *oxrt_value_tensor_shape(const oxrt_value *v, oxrt_elem_type *type, size_t *rank, const int64_t **dims) {
  OXRT_TRY(want_kind(v, OXRT_KIND_TENSOR, "oxrt_value_tensor_shape"));
  if (type) *type = v->dtype;
  if (rank) *rank = (size_t)v->rank;
  if (dims) *dims = v->dims;
  return NULL;
}

oxrt_status *oxrt_value_tensor_data(const oxrt_value *v, const void **data, size_t *nbytes) {
  OXRT_TRY(want_kind(v, OXRT_KIND_TENSOR, "oxrt_value_tensor_data"));
  if (data) *data = v->data;
  if (nbytes) *nbytes = v->nbytes;
  return NULL;
}

oxrt_status *oxrt_value_tensor_mutable_data(oxrt_value *v, void **data, size_t *nbytes) {
  OXRT_TRY(want_kind(v, OXRT_KIND_TENSOR, "oxrt_value_tensor_mutable_data"));
  if (v->read_only)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "oxrt_value_tensor_mutable_data: the tensor wraps read-only memory");
  if (data) *data = v->data;
  if (nbytes) *nbytes = v->nbytes;
  return NULL;
}

oxrt_status *oxrt_value_string_at(const oxrt_value *v, size_t index, const char **s, size_t *len) {
  OXRT_TRY(want_kind(v, OXRT_KIND_TENSOR, "oxrt_value_string_at"));
  if (v->dtype != OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "oxrt_value_string_at: tensor of %s, not string",
                      oxrt_elem_type_name(v->dtype));
  if (index >= v->count)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "oxrt_value_string_at: index %zu out of range (%zu elements)", index,
                      v->count);
  const char *p = oxrt_value_get_string(v, index, len);
  if (s) *s = p;
  return NULL;
}

oxrt_status *oxrt_value_item_at(const oxrt_value *v, size_t index, const oxrt_value **item) {
  if (!v) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "oxrt_value_item_at: value is NULL");
  if (v->kind == OXRT_KIND_TENSOR || v->kind == OXRT_KIND_SPARSE_TENSOR)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "oxrt_value_item_at: value is %s, which has no items", kind_name(v->kind));
  if (index >= v->n_items)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "oxrt_value_item_at: index %zu out of range (%zu items)", index, v->n_items);
  if (item) *item = v->items[index];
  return NULL;
}

oxrt_status *oxrt_value_map_types(const oxrt_value *v, oxrt_elem_type *key_type, oxrt_elem_type *value_type) {
  OXRT_TRY(want_kind(v, OXRT_KIND_MAP, "oxrt_value_map_types"));
  if (key_type) *key_type = oxrt_value_get_key_type(v);
  if (value_type) *value_type = oxrt_value_get_elem_type(v);
  return NULL;
}
