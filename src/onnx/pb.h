/* pb.h - bounds-checked protobuf wire-format reader over a byte range. */
#ifndef OXRT_ONNX_PB_H
#define OXRT_ONNX_PB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

#endif
