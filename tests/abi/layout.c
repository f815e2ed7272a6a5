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
#endif

int main(void) { return 0; }
