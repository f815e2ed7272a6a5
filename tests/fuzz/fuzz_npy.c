/* fuzz_npy.c - libFuzzer target: the .npy reader of the oxrt command (tools/npy.c). */
#include "../../tools/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  oxrt_value *v = NULL;
  if (npy_parse(data, size, "fuzz.npy", &v) == 0) {
    volatile size_t n = oxrt_value_get_nbytes(v) + oxrt_value_get_elem_count(v);
    if (oxrt_value_get_elem_type(v) == OXRT_STRING)
      for (size_t i = 0; i < oxrt_value_get_elem_count(v); i++) n += oxrt_value_get_string(v, i, NULL)[0];
    (void)n;
    oxrt_value_free(v);
  }
  return 0;
}
