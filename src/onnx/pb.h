/* pb.h - bounds-checked protobuf wire-format reader over a byte range, and the growable buffer writers append to
 * (model_writer.c, text_parser.c). */
#ifndef OXRT_ONNX_PB_H
#define OXRT_ONNX_PB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_BYTES = 2, PB_FIXED32 = 5 };

typedef struct pb_reader {
  const uint8_t *p, *end;
  const uint8_t *start; /* for error offsets */
  bool error;
} pb_reader;

typedef struct pb_bytes {
  const uint8_t *data;
  size_t len;
} pb_bytes;

static inline pb_reader pb_init(const void *data, size_t len) {
  pb_reader r = {(const uint8_t *)data, (const uint8_t *)data + len, (const uint8_t *)data, false};
  return r;
}

static inline bool pb_varint(pb_reader *r, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) return r->error = true, false;
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return r->error = true, false;
}

static inline bool pb_fixed32(pb_reader *r, uint32_t *out) {
  if (r->end - r->p < 4) return r->error = true, false;
  memcpy(out, r->p, 4);
  r->p += 4;
  return true;
}

static inline bool pb_fixed64(pb_reader *r, uint64_t *out) {
  if (r->end - r->p < 8) return r->error = true, false;
  memcpy(out, r->p, 8);
  r->p += 8;
  return true;
}

static inline bool pb_bytes_read(pb_reader *r, pb_bytes *out) {
  uint64_t len;
  if (!pb_varint(r, &len)) return false;
  if (len > (uint64_t)(r->end - r->p)) return r->error = true, false;
  out->data = r->p;
  out->len = (size_t)len;
  r->p += len;
  return true;
}

/* Next field; false at the end of the message or on error (check r->error). */
static inline bool pb_next(pb_reader *r, uint32_t *field, uint32_t *wire) {
  if (r->p >= r->end || r->error) return false;
  uint64_t key;
  if (!pb_varint(r, &key)) return false;
  *field = (uint32_t)(key >> 3);
  *wire = (uint32_t)(key & 7);
  if (*field == 0) return r->error = true, false;
  return true;
}

static inline bool pb_skip(pb_reader *r, uint32_t wire) {
  uint64_t v;
  uint32_t v32;
  pb_bytes b;
  switch (wire) {
  case PB_VARINT: return pb_varint(r, &v);
  case PB_FIXED64: return pb_fixed64(r, &v);
  case PB_BYTES: return pb_bytes_read(r, &b);
  case PB_FIXED32: return pb_fixed32(r, &v32);
  default: return r->error = true, false; /* groups are not used by ONNX */
  }
}

/* Sub-reader over a length-delimited field. */
static inline bool pb_sub(pb_reader *r, pb_reader *sub) {
  pb_bytes b;
  if (!pb_bytes_read(r, &b)) return false;
  *sub = pb_init(b.data, b.len);
  sub->start = r->start;
  return true;
}

/* ------------------------------------------------------------------ writing
 * A growable buffer; once an allocation fails `oom` stays set and later writes are dropped (the caller checks it
 * once at the end). */
typedef struct pb_writer {
  uint8_t *p;
  size_t n, cap;
  bool oom;
} pb_writer;

static inline bool pb_reserve(pb_writer *b, size_t extra) {
  if (b->oom) return false;
  if (b->cap - b->n >= extra) return true;
  size_t nc = b->cap ? b->cap : 4096;
  while (nc - b->n < extra) {
    if (nc > SIZE_MAX / 2) return b->oom = true, false;
    nc *= 2;
  }
  uint8_t *np = (uint8_t *)realloc(b->p, nc);
  if (!np) return b->oom = true, false;
  b->p = np;
  b->cap = nc;
  return true;
}

static inline void pb_put(pb_writer *b, const void *data, size_t n) {
  if (!n || !pb_reserve(b, n)) return;
  memcpy(b->p + b->n, data, n);
  b->n += n;
}

static inline void pb_put_varint(pb_writer *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  pb_put(b, tmp, n);
}

static inline void pb_put_key(pb_writer *b, uint32_t field, uint32_t wire) {
  pb_put_varint(b, ((uint64_t)field << 3) | wire);
}

/* A length-delimited field: key, length, bytes. */
static inline void pb_put_bytes(pb_writer *b, uint32_t field, const void *data, size_t n) {
  pb_put_key(b, field, PB_BYTES);
  pb_put_varint(b, n);
  pb_put(b, data, n);
}

#endif
