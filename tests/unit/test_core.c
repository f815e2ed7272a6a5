/* test_core.c - unit tests of the core: type conversions, values, protobuf reader, thread pool. */
#include "core/dtype.h"
#include "core/threadpool.h"
#include "core/value.h"
#include "onnx/pb.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void test_dtype_f16_roundtrip(void) {
  /* every finite half converts to float and back unchanged */
  for (uint32_t h = 0; h < 65536; h++) {
    float f = oxrt_f16_to_f32((uint16_t)h);
    if (isnan(f)) continue;
    if (oxrt_f32_to_f16(f) != h) {
      CHECK(oxrt_f32_to_f16(f) == h);
      break;
    }
  }
  CHECK(oxrt_f32_to_f16(65520.0f) == 0x7c00);      /* rounds to inf */
  CHECK(oxrt_f32_to_f16(1.0f + 1.0f / 4096) == 0x3c00); /* tie to even */
  CHECK(oxrt_f16_to_f32(0x0001) == ldexpf(1, -24));  /* smallest subnormal */
}

void test_dtype_bf16(void) {
  CHECK(oxrt_f32_to_bf16(1.0f) == 0x3f80);
  CHECK(oxrt_bf16_to_f32(0x4049) == 3.140625f);
  CHECK(isnan(oxrt_bf16_to_f32(oxrt_f32_to_bf16(NAN))));
}

void test_dtype_float8(void) {
  CHECK(oxrt_f8_to_f32(OXRT_FLOAT8E4M3FN, 0x7e) == 448.0f);
  CHECK(isnan(oxrt_f8_to_f32(OXRT_FLOAT8E4M3FN, 0x7f)));
  CHECK(oxrt_f32_to_f8(OXRT_FLOAT8E4M3FN, 1000.0f, true) == 0x7e);
  CHECK(oxrt_f8_to_f32(OXRT_FLOAT8E5M2, 0x7c) == INFINITY);
  CHECK(oxrt_f32_to_f8(OXRT_FLOAT8E5M2, 1.0f, true) == 0x3c);
  for (int c = 0; c < 256; c++) { /* every finite code round-trips */
    float v = oxrt_f8_to_f32(OXRT_FLOAT8E4M3FNUZ, (uint8_t)c);
    if (!isnan(v) && !(v == 0 && c != 0)) CHECK(oxrt_f32_to_f8(OXRT_FLOAT8E4M3FNUZ, v, true) == c);
  }
}

void test_dtype_convert_strings(void) {
  char *in[2] = {"1.5", "-3"};
  float out[2];
  CHECK(oxrt_convert(OXRT_FLOAT, out, OXRT_STRING, in, 2, false));
  CHECK(out[0] == 1.5f && out[1] == -3.0f);
  int64_t iv[1] = {42};
  char *sv[1] = {NULL};
  CHECK(oxrt_convert(OXRT_STRING, sv, OXRT_INT64, iv, 1, false));
  CHECK(sv[0] && strcmp(sv[0], "42") == 0);
  free(sv[0]);
}

void test_value_create_and_wrap(void) {
  int64_t dims[2] = {2, 3};
  oxrt_value *v = NULL;
  CHECK(oxrt_value_create_tensor(OXRT_FLOAT, dims, 2, &v) == NULL);
  CHECK(v && oxrt_value_get_elem_count(v) == 6 && oxrt_value_get_nbytes(v) == 24);
  CHECK(((float *)oxrt_value_get_data(v))[5] == 0.0f);
  oxrt_value_free(v);
  float buf[6];
  CHECK(oxrt_value_wrap_tensor(OXRT_FLOAT, dims, 2, buf, sizeof buf, &v) == NULL);
  CHECK(oxrt_value_get_data(v) == buf); /* no copy */
  oxrt_value_free(v);
  oxrt_status *st = oxrt_value_wrap_tensor(OXRT_FLOAT, dims, 2, buf, 8, &v);
  CHECK(st && oxrt_status_get_code(st) == OXRT_ERR_INVALID_ARGUMENT);
  CHECK(st && strstr(oxrt_status_get_message(st), "24 bytes"));
  oxrt_status_free(st);
  CHECK(oxrt_value_create_tensor(OXRT_STRING, dims, 2, &v) == NULL);
  CHECK(oxrt_value_set_string(v, 4, "hi", 2) == NULL);
  CHECK(strcmp(oxrt_value_get_string(v, 4, NULL), "hi") == 0 && strcmp(oxrt_value_get_string(v, 0, NULL), "") == 0);
  oxrt_value_free(v);
}

void test_value_absurd_sizes(void) {
  int64_t huge[3] = {1ll << 40, 1ll << 40, 1ll << 40};
  oxrt_value *v = NULL;
  oxrt_status *st = oxrt_value_create_tensor(OXRT_FLOAT, huge, 3, &v);
  CHECK(st != NULL && v == NULL);
  oxrt_status_free(st);
  int64_t neg[1] = {-5};
  st = oxrt_value_create_tensor(OXRT_FLOAT, neg, 1, &v);
  CHECK(st && strstr(oxrt_status_get_message(st), "[-5]"));
  oxrt_status_free(st);
  int64_t big[1] = {1ll << 42}; /* 16 TiB: refused before asking the OS */
  st = oxrt_value_create_tensor(OXRT_FLOAT, big, 1, &v);
  /* where size_t is 32-bit the byte count does not even fit: refused as an invalid shape */
  CHECK(st && oxrt_status_get_code(st) == (SIZE_MAX > 0xffffffffu ? OXRT_ERR_OUT_OF_MEMORY : OXRT_ERR_INVALID_ARGUMENT));
  oxrt_status_free(st);
}

void test_pb_reader_bounds(void) {
  const uint8_t trunc_varint[] = {0x08, 0xff, 0xff};
  pb_reader r = pb_init(trunc_varint, sizeof trunc_varint);
  uint32_t f, w;
  uint64_t v;
  CHECK(pb_next(&r, &f, &w) && f == 1 && w == PB_VARINT);
  CHECK(!pb_varint(&r, &v) && r.error);
  const uint8_t long_bytes[] = {0x0a, 0x7f, 0x00}; /* length 127 but 1 byte left */
  r = pb_init(long_bytes, sizeof long_bytes);
  pb_bytes b;
  CHECK(pb_next(&r, &f, &w) && w == PB_BYTES);
  CHECK(!pb_bytes_read(&r, &b) && r.error);
}

typedef struct {
  long long *partial; /* the sum overflows a 32-bit long */
} sum_job;

static void add_range(void *arg, size_t b, size_t e) {
  long long s = 0;
  for (size_t i = b; i < e; i++) s += (long long)i;
  __atomic_fetch_add(((sum_job *)arg)->partial, s, __ATOMIC_RELAXED);
}

void test_threadpool_sum(void) {
  oxrt_threadpool *p = oxrt_threadpool_create(4);
  CHECK(p != NULL);
  for (int rep = 0; rep < 50; rep++) {
    long long total = 0;
    sum_job j = {&total};
    oxrt_parallel_for(p, 100000, 100, add_range, &j);
    CHECK(total == 100000LL * 99999LL / 2);
  }
  oxrt_threadpool_free(p);
}
