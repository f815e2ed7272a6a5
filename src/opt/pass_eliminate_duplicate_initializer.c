/* pass_eliminate_duplicate_initializer.c - initializers with the same type, shape and bytes become one: readers of
 * a later copy read the first (onnxoptimizer's eliminate_duplicate_initializer). Copies that are graph inputs or
 * outputs or that a subgraph captures by name keep their own name. Strings are compared by content too.
 */
#include "opt.h"
#include <stdlib.h>
#include <string.h>

static bool same_tensor(const oxrt_value *a, const oxrt_value *b) {
  if (a->kind != OXRT_KIND_TENSOR || b->kind != OXRT_KIND_TENSOR || a->dtype != b->dtype || a->rank != b->rank ||
      a->count != b->count || memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank))
    return false;
  if (a->dtype != OXRT_STRING) return a->nbytes == b->nbytes && !memcmp(a->data, b->data, a->nbytes);
  for (size_t i = 0; i < a->count; i++)
    if (strcmp(((char *const *)a->data)[i], ((char *const *)b->data)[i])) return false;
  return true;
}

static uint64_t digest(const oxrt_value *t) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)t->dtype ^ ((uint64_t)t->count << 8);
  if (t->dtype == OXRT_STRING) return h;
  const unsigned char *p = t->data;
  size_t step = t->nbytes > 4096 ? t->nbytes / 4096 : 1; /* sample big tensors; equality is checked in full */
  for (size_t i = 0; i < t->nbytes; i += step) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static int cmp_digest(const void *a, const void *b) {
  const uint64_t *x = a, *y = b;
  return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1];
}

static oxrt_status *run(oxrt_opt_ctx *ctx, oxrt_graph *g, bool *changed) {
  (void)ctx;
  opt_uses u;
  OXRT_TRY(opt_uses_build(g, &u));
  uint64_t(*keys)[2] = malloc(sizeof *keys * ((size_t)g->n_values + 1));
  if (!keys) {
    opt_uses_free(&u);
    return OXRT_OOM();
  }
  size_t n = 0;
  for (int v = 0; v < g->n_values; v++)
    if (opt_const(g, v)) {
      keys[n][0] = digest(g->values[v].init);
      keys[n++][1] = (uint64_t)v;
    }
  qsort(keys, n, sizeof *keys, cmp_digest); /* by digest, then id: the first of equals is the earliest */
  for (size_t i = 0; i < n; i++) {
    int v = (int)keys[i][1];
    if (u.pinned[v] || !g->values[v].init) continue;
    for (size_t j = i; j-- > 0 && keys[j][0] == keys[i][0];) {
      int w = (int)keys[j][1];
      if (!g->values[w].init || !same_tensor(g->values[w].init, g->values[v].init)) continue;
      opt_replace_uses(g, v, w);
      u.count[w] += u.count[v];
      u.count[v] = 0;
      oxrt_value_free(g->values[v].init);
      g->values[v].init = NULL;
      *changed = true;
      break;
    }
  }
  free(keys);
  opt_uses_free(&u);
  return NULL;
}

const oxrt_opt_pass oxrt_pass_eliminate_duplicate_initializer = {
    "eliminate_duplicate_initializer", OXRT_OPT_ALL, true, run, "initializers equal in type, shape and bytes merged"};
