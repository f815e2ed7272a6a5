/* fuzz_proto.c - libFuzzer target: TensorProto / SequenceProto / MapProto / OptionalProto parsing.
 * The first byte picks the message kind; the rest is the message. A parsed value is walked
 * completely (every item, every string), so a half-built value shows up under ASan. */
#include "oxrt.h"
#include <string.h>

static size_t walk(const oxrt_value *v, int depth) {
  if (!v || depth > 200) return 0;
  size_t sum = oxrt_value_get_nbytes(v);
  if (oxrt_value_get_kind(v) == OXRT_KIND_TENSOR) {
    if (oxrt_value_get_elem_type(v) == OXRT_STRING)
      for (size_t i = 0; i < oxrt_value_get_elem_count(v); i++) {
        size_t len = 0;
        const char *s = oxrt_value_get_string(v, i, &len);
        sum += s ? strlen(s) + len : 0;
      }
    else if (oxrt_value_get_nbytes(v)) {
      const unsigned char *d = oxrt_value_get_data(v);
      sum += d[0] + d[oxrt_value_get_nbytes(v) - 1];
    }
    return sum;
  }
  for (size_t i = 0; i < oxrt_value_get_item_count(v); i++) sum += walk(oxrt_value_get_item(v, i), depth + 1);
  return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const oxrt_value_kind kinds[4] = {OXRT_KIND_TENSOR, OXRT_KIND_SEQUENCE, OXRT_KIND_MAP, OXRT_KIND_OPTIONAL};
  oxrt_value *v = NULL;
  oxrt_status *st = oxrt_value_parse_proto(kinds[data[0] & 3], data + 1, size - 1, &v);
  if (st) {
    oxrt_status_free(st);
    return 0;
  }
  volatile size_t sink = walk(v, 0);
  (void)sink;
  oxrt_value_free(v);
  return 0;
}
