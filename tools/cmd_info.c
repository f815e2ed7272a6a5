/* cmd_info.c - `oxrt info`: what a model is made of. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

static void print_info(const oxrt_value_info *v) {
  printf("  %-24s %s", v->name, v->type_string);
  if (v->rank >= 0 && v->dims) {
    printf(" [");
    for (int i = 0; i < v->rank; i++) {
      if (v->dims[i] >= 0) printf("%s%lld", i ? ", " : "", (long long)v->dims[i]);
      else printf("%s%s", i ? ", " : "", v->dim_names && v->dim_names[i] ? v->dim_names[i] : "?");
    }
    printf("]");
  }
  printf("\n");
}


int cmd_info(int argc, char **argv) {
  if (argc < 1) {
    fprintf(stderr, "usage: oxrt info MODEL\n");
    return 2;
  }
  oxrt_session *s;
  oxrt_session_options *o;
  oxrt_status *st = oxrt_session_options_create(&o);
  if (st) return cli_fail(st);
  oxrt_session_options_set_load_only(o, 1);
  st = oxrt_session_create(argv[0], o, &s);
  oxrt_session_options_free(o);
  if (st) return cli_fail(st);
  oxrt_model_meta m = OXRT_INIT(oxrt_model_meta);
  oxrt_model_stats ms = OXRT_INIT(oxrt_model_stats);
  oxrt_session_get_model_meta(s, &m);
  oxrt_session_get_model_stats(s, &ms);
  printf("model:      %s\n", argv[0]);
  printf("ir_version: %lld\n", (long long)m.ir_version);
  printf("opsets:    ");
  for (size_t i = 0; i < m.opset_count; i++)
    printf(" %s %lld%s", *m.opset_domains[i] ? m.opset_domains[i] : "ai.onnx", (long long)m.opset_versions[i],
           i + 1 < m.opset_count ? "," : "");
  printf("\nproducer:   %s %s\n", *m.producer_name ? m.producer_name : "(none)", m.producer_version);
  if (*m.domain) printf("domain:     %s\n", m.domain);
  if (m.model_version) printf("version:    %lld\n", (long long)m.model_version);
  if (*m.graph_name) printf("graph:      %s\n", m.graph_name);
  if (*m.description) printf("doc:        %.200s\n", m.description);
  for (size_t i = 0; i < m.custom_count; i++) printf("metadata:   %s = %.100s\n", m.custom_keys[i], m.custom_values[i]);
  size_t n = oxrt_session_get_input_count(s);
  printf("inputs (%zu):\n", n);
  for (size_t i = 0; i < n; i++) {
    oxrt_value_info v = OXRT_INIT(oxrt_value_info);
    oxrt_session_get_input_info(s, i, &v);
    print_info(&v);
  }
  n = oxrt_session_get_output_count(s);
  printf("outputs (%zu):\n", n);
  for (size_t i = 0; i < n; i++) {
    oxrt_value_info v = OXRT_INIT(oxrt_value_info);
    oxrt_session_get_output_info(s, i, &v);
    print_info(&v);
  }
  printf("nodes: %zu\n", ms.node_count);
  size_t *order = malloc(sizeof(size_t) * (ms.op_type_count + 1));
  for (size_t i = 0; i < ms.op_type_count; i++) order[i] = i;
  for (size_t i = 1; i < ms.op_type_count; i++) /* insertion sort: most frequent first, then by name */
    for (size_t j = i; j > 0; j--) {
      size_t a = order[j - 1], b = order[j];
      if (ms.op_counts[a] > ms.op_counts[b] ||
          (ms.op_counts[a] == ms.op_counts[b] && strcmp(ms.op_types[a], ms.op_types[b]) <= 0))
        break;
      order[j - 1] = b;
      order[j] = a;
    }
  for (size_t i = 0; i < ms.op_type_count; i++) printf("  %-24s %zu\n", ms.op_types[order[i]], ms.op_counts[order[i]]);
  free(order);
  printf("parameters: %llu in %zu initializers, %.2f MiB\n", (unsigned long long)ms.parameter_count,
         ms.initializer_count, (double)ms.parameter_bytes / (1024.0 * 1024.0));
  oxrt_session_free(s);
  /* Can it run? A full session resolves every kernel and names what is missing. */
  st = oxrt_session_create(argv[0], NULL, &s);
  if (st) {
    printf("runnable:   no\n%s\n", oxrt_status_get_message(st));
    oxrt_status_free(st);
    return 1;
  }
  printf("runnable:   yes\n");
  oxrt_session_free(s);
  return 0;
}
