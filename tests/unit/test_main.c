/* test_main.c - runs every unit test case and prints "N passed, M failed". */
#include "unit.h"
#include <string.h>

int unit_failures;
const char *unit_root = ".";

#define UNIT_LIST(X)                                                                                                   \
  X(dtype_f16_roundtrip) X(core_cpu_features) X(kernel_sgemm_random) X(kernel_sgemm_epilogue) X(kernel_conv_f32_random) X(kernel_dwconv_random) X(kernel_conv_paths) X(kernel_conv_winograd) X(kernel_conv_narrow) X(dtype_bf16) X(dtype_float8) X(dtype_convert_strings) X(value_create_and_wrap)             \
  X(kernel_sgemm_classes) X(kernel_sgemm_bf16_exact) X(kernel_sgemm_stop) X(kernel_attention_random)              \
  X(kernel_attention_finite_causal) X(kernel_nchwc_dw_pool) X(kernel_nchwc_conv) X(kernel_load_packs)              \
  X(value_absurd_sizes) X(pb_reader_bounds) X(threadpool_sum) X(api_missing_file) X(api_empty_and_garbage)          \
  X(api_truncated_model) X(api_corrupted_bytes) X(api_unsupported_ir) X(api_unknown_operator) X(api_wrong_input_name) \
  X(api_wrong_elem_type) X(api_wrong_rank_and_shape) X(api_missing_input) X(api_session_stays_usable)                \
  X(api_from_memory_matches_file) X(api_concurrent_runs) X(api_describe_io) X(api_output_selection)              \
  X(opt_conv_bn_fusion) X(opt_levels_and_disable) X(opt_writer_roundtrip) X(opt_save_files)                          \
  X(opt_matmul_add_and_reshape) X(api_profiling) X(vmath_accuracy) X(kernel_rnn_block) X(ml_svm_sums) X(kernel_qgemm_random) X(kernel_qconv_paths) X(kernel_f16_convert) X(dtype_bf16_convert) X(dtype_f64_to_16bit_rounds_once) \
  X(api_setters_validate) X(api_env_vs_explicit) X(api_sized_structs) X(api_run_options) X(api_provided_outputs)   \
  X(api_io_binding) X(api_strict_values) X(api_structured_type_info) X(api_end_profiling_on_error)                \
  X(api_shared_pool_and_allocator) X(engine_prepare_packs) X(engine_overridable_initializer) X(engine_rnn_prepared) X(engine_prepare_threads) \
  X(engine_gradient_keeps_weights) X(engine_memory_plan) X(kernel_maxpool_rows) X(infer_broadcast_symbolic) X(infer_conv_pool_windows)                          \
  X(infer_reshape_zero_and_minus_one) X(infer_data_propagation) X(infer_matmul_gemm_and_layout)                      \
  X(infer_if_branches_merge) X(infer_resize_pad_convtranspose_rnn) X(infer_op_flags)

#define DECLARE(name) void test_##name(void);
UNIT_LIST(DECLARE)
#define ENTRY(name) {#name, test_##name},
static const unit_case cases[] = {UNIT_LIST(ENTRY)};

int main(int argc, char **argv) {
  const char *filter = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--root") && i + 1 < argc) unit_root = argv[++i];
    else filter = argv[i];
  }
  int passed = 0, failed = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    if (filter && !strstr(cases[i].name, filter)) continue;
    unit_failures = 0;
    cases[i].fn();
    if (unit_failures) {
      printf("FAIL %s\n", cases[i].name);
      failed++;
    } else {
      printf("ok   %s\n", cases[i].name);
      passed++;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
