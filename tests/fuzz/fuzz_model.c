/* fuzz_model.c - libFuzzer target: model bytes -> open -> one run on zero-filled inputs.
 *
 * Everything goes through the public C API, as an embedding application would. Inputs get the
 * declared shapes (symbolic or unknown dimensions become 1); models whose inputs would exceed a
 * small size cap, or that take sequences/maps, are only opened, not run. A run may fail with any
 * status: the fuzzer looks for crashes, leaks and undefined behaviour, not for wrong answers.
 * The session runs under lowered resource limits (one tensor 64 MiB, one run 512 MiB, a run 4 s): a model that
 * legitimately asks for gigabytes (a Tile to 1 GiB took 44 s under ASan) or for minutes of arithmetic is then a limit
 * refusal or a time-out status, not a fuzzer timeout. */
#include "oxrt.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_INPUT_ELEMS = 1 << 16, MAX_INPUTS = 32 };

static oxrt_value *zero_input(const oxrt_value_info *info) {
  if (info->kind != OXRT_KIND_TENSOR || info->elem_type == OXRT_UNDEFINED) return NULL;
  int64_t dims[16];
  size_t rank = info->rank < 0 ? 1 : (size_t)info->rank, count = 1;
  if (rank > 16) return NULL;
  for (size_t i = 0; i < rank; i++) {
    dims[i] = info->rank < 0 || info->dims[i] < 0 ? 1 : info->dims[i];
    if (dims[i] > MAX_INPUT_ELEMS) return NULL;
    count *= (size_t)(dims[i] ? dims[i] : 1);
    if (count > MAX_INPUT_ELEMS) return NULL;
  }
  oxrt_value *v = NULL;
  oxrt_status *st = oxrt_value_create_tensor(info->elem_type, dims, rank, &v);
  oxrt_status_free(st);
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  oxrt_session_options *opts = NULL;
  oxrt_status_free(oxrt_session_options_create(&opts));
  if (!opts) return 0;
  oxrt_status_free(oxrt_session_options_set_intra_op_threads(opts, 1));
  oxrt_status_free(oxrt_session_options_set_limit(opts, OXRT_LIMIT_TENSOR_BYTES, (uint64_t)64 << 20));
  oxrt_status_free(oxrt_session_options_set_limit(opts, OXRT_LIMIT_RUN_BYTES, (uint64_t)512 << 20));
  oxrt_session *s = NULL;
  oxrt_status *st = oxrt_session_create_from_memory(data, size, opts, &s);
  oxrt_session_options_free(opts);
  if (st) {
    /* every failure carries a message */
    if (!*oxrt_status_get_message(st)) abort();
    oxrt_status_free(st);
    return 0;
  }
  size_t n_in = oxrt_session_get_input_count(s), n_out = oxrt_session_get_output_count(s);
  if (n_in > MAX_INPUTS || n_out > MAX_INPUTS) goto done;
  const char *names[MAX_INPUTS];
  oxrt_value *inputs[MAX_INPUTS] = {0}, *outputs[MAX_INPUTS] = {0};
  size_t fed = 0;
  bool runnable = true;
  for (size_t i = 0; i < n_in; i++) {
    oxrt_value_info info = OXRT_INIT(oxrt_value_info);
    oxrt_status_free(oxrt_session_get_input_info(s, i, &info));
    if (info.kind == OXRT_KIND_OPTIONAL) continue;
    inputs[fed] = zero_input(&info);
    if (!inputs[fed]) {
      runnable = false;
      break;
    }
    names[fed++] = info.name;
  }
  if (runnable) {
    /* a legitimate model may still compute for long (a ConvTranspose of 97 images with 3x51 kernels took over 20 s
     * under ASan): the run's time limit turns that into a status, which is what it must be, not a hang */
    oxrt_run_options *ro = NULL;
    oxrt_status_free(oxrt_run_options_create(&ro));
    if (ro) oxrt_status_free(oxrt_run_options_set_time_limit_ms(ro, 4000));
    st = oxrt_session_run(s, ro, names, (const oxrt_value *const *)inputs, fed, NULL, n_out, outputs);
    oxrt_run_options_free(ro);
    if (st && !*oxrt_status_get_message(st)) abort();
    oxrt_status_free(st);
    for (size_t i = 0; i < n_out; i++) oxrt_value_free(outputs[i]);
  }
  for (size_t i = 0; i < fed; i++) oxrt_value_free(inputs[i]);
done:
  oxrt_session_free(s);
  return 0;
}
