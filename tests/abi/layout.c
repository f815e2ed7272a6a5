/* layout.c - the public structs and enums of release 0.2 keep their layout: fields are only appended, values only
 * added (compiled by tests/consumer/run.sh against the installed header; generated once from the 0.2 header). */
#include <oxrt.h>
#include <stddef.h>
#include <stdint.h>

#if UINTPTR_MAX == 0xffffffffffffffffu /* offsets recorded on an LP64 target */
_Static_assert(sizeof(oxrt_value_info) >= 72, "oxrt_value_info shrank");
_Static_assert(offsetof(oxrt_value_info, size) == 0, "oxrt_value_info.size moved");
_Static_assert(offsetof(oxrt_value_info, name) == 8, "oxrt_value_info.name moved");
_Static_assert(offsetof(oxrt_value_info, kind) == 16, "oxrt_value_info.kind moved");
_Static_assert(offsetof(oxrt_value_info, elem_type) == 20, "oxrt_value_info.elem_type moved");
_Static_assert(offsetof(oxrt_value_info, rank) == 24, "oxrt_value_info.rank moved");
_Static_assert(offsetof(oxrt_value_info, dims) == 32, "oxrt_value_info.dims moved");
_Static_assert(offsetof(oxrt_value_info, dim_names) == 40, "oxrt_value_info.dim_names moved");
_Static_assert(offsetof(oxrt_value_info, type_string) == 48, "oxrt_value_info.type_string moved");
_Static_assert(offsetof(oxrt_value_info, key_type) == 56, "oxrt_value_info.key_type moved");
_Static_assert(offsetof(oxrt_value_info, element) == 64, "oxrt_value_info.element moved");
_Static_assert(sizeof(oxrt_model_meta) >= 120, "oxrt_model_meta shrank");
_Static_assert(offsetof(oxrt_model_meta, size) == 0, "oxrt_model_meta.size moved");
_Static_assert(offsetof(oxrt_model_meta, ir_version) == 8, "oxrt_model_meta.ir_version moved");
_Static_assert(offsetof(oxrt_model_meta, producer_name) == 16, "oxrt_model_meta.producer_name moved");
_Static_assert(offsetof(oxrt_model_meta, producer_version) == 24, "oxrt_model_meta.producer_version moved");
_Static_assert(offsetof(oxrt_model_meta, domain) == 32, "oxrt_model_meta.domain moved");
_Static_assert(offsetof(oxrt_model_meta, model_version) == 40, "oxrt_model_meta.model_version moved");
_Static_assert(offsetof(oxrt_model_meta, description) == 48, "oxrt_model_meta.description moved");
_Static_assert(offsetof(oxrt_model_meta, graph_name) == 56, "oxrt_model_meta.graph_name moved");
_Static_assert(offsetof(oxrt_model_meta, graph_description) == 64, "oxrt_model_meta.graph_description moved");
_Static_assert(offsetof(oxrt_model_meta, custom_count) == 72, "oxrt_model_meta.custom_count moved");
_Static_assert(offsetof(oxrt_model_meta, custom_keys) == 80, "oxrt_model_meta.custom_keys moved");
_Static_assert(offsetof(oxrt_model_meta, custom_values) == 88, "oxrt_model_meta.custom_values moved");
_Static_assert(offsetof(oxrt_model_meta, opset_count) == 96, "oxrt_model_meta.opset_count moved");
_Static_assert(offsetof(oxrt_model_meta, opset_domains) == 104, "oxrt_model_meta.opset_domains moved");
_Static_assert(offsetof(oxrt_model_meta, opset_versions) == 112, "oxrt_model_meta.opset_versions moved");
_Static_assert(sizeof(oxrt_model_stats) >= 64, "oxrt_model_stats shrank");
_Static_assert(offsetof(oxrt_model_stats, size) == 0, "oxrt_model_stats.size moved");
_Static_assert(offsetof(oxrt_model_stats, node_count) == 8, "oxrt_model_stats.node_count moved");
_Static_assert(offsetof(oxrt_model_stats, op_type_count) == 16, "oxrt_model_stats.op_type_count moved");
_Static_assert(offsetof(oxrt_model_stats, op_types) == 24, "oxrt_model_stats.op_types moved");
_Static_assert(offsetof(oxrt_model_stats, op_counts) == 32, "oxrt_model_stats.op_counts moved");
_Static_assert(offsetof(oxrt_model_stats, initializer_count) == 40, "oxrt_model_stats.initializer_count moved");
_Static_assert(offsetof(oxrt_model_stats, parameter_count) == 48, "oxrt_model_stats.parameter_count moved");
_Static_assert(offsetof(oxrt_model_stats, parameter_bytes) == 56, "oxrt_model_stats.parameter_bytes moved");
_Static_assert(sizeof(oxrt_profile_event) >= 40, "oxrt_profile_event shrank");
_Static_assert(offsetof(oxrt_profile_event, size) == 0, "oxrt_profile_event.size moved");
_Static_assert(offsetof(oxrt_profile_event, node_name) == 8, "oxrt_profile_event.node_name moved");
_Static_assert(offsetof(oxrt_profile_event, op_type) == 16, "oxrt_profile_event.op_type moved");
_Static_assert(offsetof(oxrt_profile_event, start_ns) == 24, "oxrt_profile_event.start_ns moved");
_Static_assert(offsetof(oxrt_profile_event, duration_ns) == 32, "oxrt_profile_event.duration_ns moved");
_Static_assert(sizeof(oxrt_allocator) >= 32, "oxrt_allocator shrank");
_Static_assert(offsetof(oxrt_allocator, size) == 0, "oxrt_allocator.size moved");
_Static_assert(offsetof(oxrt_allocator, alloc) == 8, "oxrt_allocator.alloc moved");
_Static_assert(offsetof(oxrt_allocator, free) == 16, "oxrt_allocator.free moved");
_Static_assert(offsetof(oxrt_allocator, user) == 24, "oxrt_allocator.user moved");
_Static_assert(OXRT_OK == 0, "OXRT_OK changed value");
_Static_assert(OXRT_ERR_INVALID_ARGUMENT == 1, "OXRT_ERR_INVALID_ARGUMENT changed value");
_Static_assert(OXRT_ERR_INVALID_MODEL == 2, "OXRT_ERR_INVALID_MODEL changed value");
_Static_assert(OXRT_ERR_NOT_IMPLEMENTED == 3, "OXRT_ERR_NOT_IMPLEMENTED changed value");
_Static_assert(OXRT_ERR_OUT_OF_MEMORY == 4, "OXRT_ERR_OUT_OF_MEMORY changed value");
_Static_assert(OXRT_ERR_IO == 5, "OXRT_ERR_IO changed value");
_Static_assert(OXRT_ERR_RUNTIME == 6, "OXRT_ERR_RUNTIME changed value");
_Static_assert(OXRT_ERR_CANCELLED == 7, "OXRT_ERR_CANCELLED changed value");
_Static_assert(OXRT_FLOAT == 1, "OXRT_FLOAT changed value");
_Static_assert(OXRT_STRING == 8, "OXRT_STRING changed value");
_Static_assert(OXRT_INT2 == 26, "OXRT_INT2 changed value");
_Static_assert(OXRT_KIND_TENSOR == 1, "OXRT_KIND_TENSOR changed value");
_Static_assert(OXRT_KIND_SEQUENCE == 2, "OXRT_KIND_SEQUENCE changed value");
_Static_assert(OXRT_KIND_MAP == 3, "OXRT_KIND_MAP changed value");
_Static_assert(OXRT_KIND_OPTIONAL == 4, "OXRT_KIND_OPTIONAL changed value");
_Static_assert(OXRT_KIND_SPARSE_TENSOR == 5, "OXRT_KIND_SPARSE_TENSOR changed value");
_Static_assert(OXRT_LOG_VERBOSE == 0, "OXRT_LOG_VERBOSE changed value");
_Static_assert(OXRT_LOG_FATAL == 4, "OXRT_LOG_FATAL changed value");
_Static_assert(OXRT_OPT_DISABLE == 0, "OXRT_OPT_DISABLE changed value");
_Static_assert(OXRT_OPT_BASIC == 1, "OXRT_OPT_BASIC changed value");
_Static_assert(OXRT_OPT_EXTENDED == 2, "OXRT_OPT_EXTENDED changed value");
_Static_assert(OXRT_OPT_ALL == 99, "OXRT_OPT_ALL changed value");
/* Deliberate ABI change after the 0.2.0 baseline (docs/c_api.md, "ABI changes"): the caller-filled option
 * structs got `size` as their first field, so each of their fields moved by 8 bytes. Recorded here from then on. */
_Static_assert(offsetof(oxrt_optimize_options, size) == 0, "oxrt_optimize_options.size moved");
_Static_assert(offsetof(oxrt_optimize_options, level) == 8, "oxrt_optimize_options.level moved");
_Static_assert(offsetof(oxrt_optimize_options, external_data_threshold) == 16, "oxrt_optimize_options moved");
_Static_assert(offsetof(oxrt_optimize_options, user) == 40, "oxrt_optimize_options.user moved");
_Static_assert(offsetof(oxrt_calib_batch, size) == 0, "oxrt_calib_batch.size moved");
_Static_assert(offsetof(oxrt_calib_batch, n_inputs) == 8, "oxrt_calib_batch.n_inputs moved");
_Static_assert(offsetof(oxrt_calib_batch, values) == 24, "oxrt_calib_batch.values moved");
_Static_assert(offsetof(oxrt_quantize_options, size) == 0, "oxrt_quantize_options.size moved");
_Static_assert(offsetof(oxrt_quantize_options, mode) == 8, "oxrt_quantize_options.mode moved");
_Static_assert(offsetof(oxrt_quantize_options, batches) == 56, "oxrt_quantize_options.batches moved");
_Static_assert(offsetof(oxrt_quantize_options, user) == 80, "oxrt_quantize_options.user moved");
_Static_assert(offsetof(oxrt_convert_options, size) == 0, "oxrt_convert_options.size moved");
_Static_assert(offsetof(oxrt_convert_options, to) == 8, "oxrt_convert_options.to moved");
_Static_assert(offsetof(oxrt_convert_options, block_nodes) == 24, "oxrt_convert_options.block_nodes moved");
#endif

/* The same change made these two setters return a status (they returned void in 0.2.0); _Generic does not
 * evaluate its operand, so this needs no linking. */
_Static_assert(_Generic(&oxrt_session_options_set_bf16_compute, oxrt_status *(*)(oxrt_session_options *, int): 1,
                        default: 0),
               "oxrt_session_options_set_bf16_compute changed signature");
_Static_assert(_Generic(&oxrt_session_options_set_node_output_callback,
                        oxrt_status *(*)(oxrt_session_options *, oxrt_node_output_fn, void *): 1, default: 0),
               "oxrt_session_options_set_node_output_callback changed signature");

int main(void) { return 0; }
