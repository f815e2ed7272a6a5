/* registry.c - the table of every operator schema, collected at build time. */
#include "registry.h"
#include <pthread.h>
#include <string.h>

#define OXRT_OP(id) extern const oxrt_op_schema oxrt_op_##id;
#include "ops_list.inc"
#undef OXRT_OP

static const oxrt_op_schema *const all_schemas[] = {
#define OXRT_OP(id) &oxrt_op_##id,
#include "ops_list.inc"
#undef OXRT_OP
    NULL};

#define TABLE_SIZE 2048
static const oxrt_op_schema *table[TABLE_SIZE];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static uint32_t key_hash(const char *domain, const char *op) {
  uint32_t h = 2166136261u;
  for (const char *s = domain; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  h = (h ^ ':') * 16777619u;
  for (const char *s = op; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static void build_table(void) {
  for (size_t i = 0; all_schemas[i]; i++) {
    uint32_t k = key_hash(all_schemas[i]->domain, all_schemas[i]->name) & (TABLE_SIZE - 1);
    while (table[k]) k = (k + 1) & (TABLE_SIZE - 1);
    table[k] = all_schemas[i];
  }
}

const oxrt_op_schema *oxrt_registry_find(const char *domain, const char *op_type) {
  pthread_once(&table_once, build_table);
  if (strcmp(domain, "ai.onnx") == 0) domain = "";
  uint32_t k = key_hash(domain, op_type) & (TABLE_SIZE - 1);
  while (table[k]) {
    if (strcmp(table[k]->name, op_type) == 0 && strcmp(table[k]->domain, domain) == 0) return table[k];
    k = (k + 1) & (TABLE_SIZE - 1);
  }
  return NULL;
}

const oxrt_op_impl *oxrt_registry_resolve(const oxrt_op_schema *s, int64_t opset) {
  const oxrt_op_impl *best = NULL;
  for (int i = 0; i < s->n_impls; i++)
    if (s->impls[i].since_version <= opset && (!best || s->impls[i].since_version > best->since_version))
      best = &s->impls[i];
  return best;
}

const oxrt_op_schema *const *oxrt_registry_all(void) { return all_schemas; }

const char *oxrt_operator_name(size_t index, const char **domain, size_t *n_versions) {
  size_t n = 0;
  while (all_schemas[n]) n++;
  if (index >= n) return NULL;
  if (domain) *domain = all_schemas[index]->domain;
  if (n_versions) *n_versions = (size_t)all_schemas[index]->n_impls;
  return all_schemas[index]->name;
}

int64_t oxrt_operator_since_version(size_t index, size_t k) {
  size_t n = 0;
  while (all_schemas[n]) n++;
  if (index >= n || k >= (size_t)all_schemas[index]->n_impls) return -1;
  return all_schemas[index]->impls[k].since_version;
}
