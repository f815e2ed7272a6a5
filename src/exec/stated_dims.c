/* stated_dims.c - sizes a model gives its inputs' named dims only indirectly, through its declarations.
 *
 * Exporters often leave an input's dims symbolic ("height") while the value_info of some intermediate value or
 * an output states the number the model was traced with. Inference from the inputs alone (declarations dropped)
 * carries the dim's name to that axis; where the declaration has a number there, the number is the model's own
 * size for the dim. `oxrt run` fills free input dims with these before guessing. */
#include "engine.h"
#include "infer.h"
#include "../onnx/onnx_reader.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct declared {
  int id;
  const oxrt_type *type;
} declared;

/* Adds (or contradicts) one stated size for `name`. */
static void note(oxrt_stated_dim *out, size_t cap, size_t *n, const char *name, int64_t v, const char *value_name,
                 int axis) {
  if (strlen(name) >= sizeof out->name) return;
  for (size_t i = 0; i < *n; i++)
    if (!strcmp(out[i].name, name)) {
      if (out[i].value != v) out[i].value = -1; /* two sizes: the model does not say */
      return;
    }
  if (*n == cap) return;
  oxrt_stated_dim *d = &out[(*n)++];
  snprintf(d->name, sizeof d->name, "%s", name);
  d->value = v;
  snprintf(d->why, sizeof d->why, "stated by the model: '%.60s' is declared with %lld at axis %d", value_name,
           (long long)v, axis);
}

static oxrt_status *stated(oxrt_model *m, oxrt_stated_dim *out, size_t cap, size_t *count) {
  oxrt_graph *g = m->graph;
  declared *decl = malloc(sizeof *decl * (size_t)(g->n_values ? g->n_values : 1));
  if (!decl) return OXRT_OOM();
  int n_decl = 0;
  for (int i = 0; i < g->n_values; i++) {
    oxrt_value_def *d = &g->values[i];
    if (d->is_input || d->init || !d->type) continue;
    if (d->type->kind == OXRT_KIND_TENSOR && d->type->rank > 0) decl[n_decl++] = (declared){i, d->type};
    d->type = NULL; /* inference from the inputs alone */
  }
  /* a model inference cannot follow to the end still tells what it reached */
  oxrt_status_free(n_decl ? oxrt_infer_graph(m, g, OXRT_INFER_EXTENDED) : NULL);
  for (int k = 0; k < n_decl; k++) {
    const oxrt_type *want = decl[k].type, *got = g->values[decl[k].id].type;
    if (!got || got->kind != OXRT_KIND_TENSOR || got->rank != want->rank || !got->dim_params) continue;
    for (int a = 0; a < want->rank; a++)
      if (want->dims[a] > 0 && got->dims[a] < 0 && got->dim_params[a] && *got->dim_params[a])
        note(out, cap, count, got->dim_params[a], want->dims[a], g->values[decl[k].id].name, a);
  }
  free(decl);
  return NULL;
}

oxrt_status *oxrt_model_stated_dims(const char *model_path, oxrt_stated_dim *out, size_t cap, size_t *count) {
  if (!model_path || !count || (cap && !out))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "model_path and count must not be NULL, nor out when cap > 0");
  *count = 0;
  oxrt_model *m;
  OXRT_TRY(oxrt_load_model_file(model_path, &m));
  oxrt_status *st = stated(m, out, cap, count);
  oxrt_model_free(m);
  return st;
}
