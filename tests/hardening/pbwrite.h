/* pbwrite.h - a tiny protobuf writer for building test models in C (hostile.c, threads.c). Test-only: it
 * aborts when memory runs out. */
#ifndef OXRT_TESTS_PBWRITE_H
#define OXRT_TESTS_PBWRITE_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint8_t *p;
  size_t n, cap;
} buf;

static inline void put(buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 256;
    while (nc < b->n + n) nc *= 2;
    uint8_t *np = realloc(b->p, nc);
    if (!np) abort(); /* test-only: the machine is out of memory */
    b->p = np;
    b->cap = nc;
  }
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
}
static inline void varint(buf *b, uint64_t v) {
  uint8_t t[10];
  size_t n = 0;
  do {
    t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  put(b, t, n);
}
static inline void f_int(buf *b, int field, uint64_t v) { varint(b, (uint64_t)field << 3), varint(b, v); }
static inline void f_bytes(buf *b, int field, const void *d, size_t n) {
  varint(b, (uint64_t)field << 3 | 2);
  varint(b, n);
  put(b, d, n);
}
static inline void f_str(buf *b, int field, const char *s) { f_bytes(b, field, s, strlen(s)); }
/* Appends `sub` as a message field and frees it. */
static inline void f_msg(buf *b, int field, buf *sub) {
  f_bytes(b, field, sub->p, sub->n);
  free(sub->p);
  memset(sub, 0, sizeof *sub);
}

/* TensorProto of int64 values or float zeros (raw), with a name. */
static inline buf tensor_i64(const char *name, const int64_t *dims, int rank, const int64_t *vals, size_t n) {
  buf t = {0};
  for (int i = 0; i < rank; i++) f_int(&t, 1, (uint64_t)dims[i]);
  f_int(&t, 2, 7);
  for (size_t i = 0; i < n; i++) f_int(&t, 7, (uint64_t)vals[i]);
  f_str(&t, 8, name);
  return t;
}
static inline buf tensor_f32_raw(const char *name, const int64_t *dims, int rank, size_t n) {
  buf t = {0};
  for (int i = 0; i < rank; i++) f_int(&t, 1, (uint64_t)dims[i]);
  f_int(&t, 2, 1);
  f_str(&t, 8, name);
  float *z = calloc(n ? n : 1, sizeof(float));
  f_bytes(&t, 9, z, n * sizeof(float));
  free(z);
  return t;
}
/* ValueInfoProto of a tensor of `elem` type with a fixed shape (rank -1: no shape). */
static inline buf value_info_t(const char *name, int elem, const int64_t *dims, int rank) {
  buf tt = {0}, shape = {0}, tp = {0}, vi = {0};
  f_int(&tt, 1, (uint64_t)elem);
  for (int i = 0; i < rank; i++) {
    buf d = {0};
    f_int(&d, 1, (uint64_t)dims[i]);
    f_msg(&shape, 1, &d);
  }
  if (rank >= 0) f_msg(&tt, 2, &shape);
  f_msg(&tp, 1, &tt);
  f_str(&vi, 1, name);
  f_msg(&vi, 2, &tp);
  return vi;
}
static inline buf value_info(const char *name, const int64_t *dims, int rank) { return value_info_t(name, 1, dims, rank); }
static inline buf node(const char *op, const char *const *ins, int n_in, const char *const *outs, int n_out) {
  buf n = {0};
  for (int i = 0; i < n_in; i++) f_str(&n, 1, ins[i]);
  for (int i = 0; i < n_out; i++) f_str(&n, 2, outs[i]);
  f_str(&n, 4, op);
  return n;
}
static inline buf model(buf *graph, int opset) {
  buf m = {0}, os = {0};
  f_int(&m, 1, 8);
  f_str(&os, 1, "");
  f_int(&os, 2, (uint64_t)opset);
  f_msg(&m, 8, &os);
  f_msg(&m, 7, graph);
  return m;
}

#endif
