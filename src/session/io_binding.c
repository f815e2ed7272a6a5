/* io_binding.c - inputs and outputs bound once by name, run many times (ONNX Runtime's IOBinding). */
#include "../exec/engine.h"
#include <stdlib.h>
#include <string.h>

typedef struct bound {
  char *name;
  oxrt_value *value; /* inputs: borrowed (const); outputs: the caller's, or owned when `owned` */
  bool owned;
} bound;

struct oxrt_io_binding {
  oxrt_session *session;
  size_t n_in, n_out, cap_in, cap_out;
  bound *in, *out;
};

oxrt_status *oxrt_io_binding_create(oxrt_session *s, oxrt_io_binding **out) {
  if (!s || !out) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "session and out must not be NULL");
  oxrt_io_binding *b = calloc(1, sizeof *b);
  if (!b) return OXRT_OOM();
  b->session = s;
  *out = b;
  return NULL;
}

static void clear(bound *arr, size_t *n) {
  for (size_t i = 0; i < *n; i++) {
    if (arr[i].owned) oxrt_value_free(arr[i].value);
    free(arr[i].name);
  }
  *n = 0;
}

void oxrt_io_binding_clear_inputs(oxrt_io_binding *b) {
  if (b) clear(b->in, &b->n_in);
}
void oxrt_io_binding_clear_outputs(oxrt_io_binding *b) {
  if (b) clear(b->out, &b->n_out);
}

void oxrt_io_binding_free(oxrt_io_binding *b) {
  if (!b) return;
  clear(b->in, &b->n_in);
  clear(b->out, &b->n_out);
  free(b->in);
  free(b->out);
  free(b);
}

/* Adds or replaces `name` in a list; the previous owned value is freed. */
static oxrt_status *put(bound **arr, size_t *n, size_t *cap, const char *name, oxrt_value *v, bool owned) {
  for (size_t i = 0; i < *n; i++)
    if (!strcmp((*arr)[i].name, name)) {
      if ((*arr)[i].owned) oxrt_value_free((*arr)[i].value);
      (*arr)[i].value = v;
      (*arr)[i].owned = owned;
      return NULL;
    }
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    bound *na = realloc(*arr, nc * sizeof *na);
    if (!na) return OXRT_OOM();
    *arr = na;
    *cap = nc;
  }
  char *nm = strdup(name);
  if (!nm) return OXRT_OOM();
  (*arr)[*n] = (bound){nm, v, owned};
  (*n)++;
  return NULL;
}

oxrt_status *oxrt_io_binding_bind_input(oxrt_io_binding *b, const char *name, const oxrt_value *value) {
  if (!b || !name || !value) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "binding, name and value must not be NULL");
  const oxrt_session *s = b->session;
  size_t k = 0;
  while (k < s->n_inputs && strcmp(s->input_info[k].name, name)) k++;
  if (k == s->n_inputs) {
    int id = oxrt_graph_find(s->model->graph, name); /* an initializer that is also a graph input */
    if (id < 0 || !s->model->graph->values[id].is_input)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot bind input '%s': the model has no input of that name", name);
  }
  return put(&b->in, &b->n_in, &b->cap_in, name, (oxrt_value *)value, false);
}

oxrt_status *oxrt_io_binding_bind_output(oxrt_io_binding *b, const char *name, oxrt_value *value) {
  if (!b || !name) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "binding and name must not be NULL");
  const oxrt_session *s = b->session;
  size_t k = 0;
  while (k < s->n_outputs && strcmp(s->output_info[k].name, name)) k++;
  if (k == s->n_outputs)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot bind output '%s': the model has no output of that name", name);
  if (value && (value->kind != OXRT_KIND_TENSOR || value->read_only))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot bind output '%s': only writable tensors can receive outputs",
                      name);
  return put(&b->out, &b->n_out, &b->cap_out, name, value, false);
}

oxrt_status *oxrt_session_run_ex(oxrt_session *s, const oxrt_run_options *run_options, const char *const *input_names,
                                 const oxrt_value *const *inputs, size_t n_inputs, const char *const *output_names,
                                 size_t n_outputs, oxrt_value **outputs, const bool *replaceable); /* session.c */

oxrt_status *oxrt_session_run_with_binding(oxrt_session *s, const oxrt_run_options *run_options, oxrt_io_binding *b) {
  if (!s || !b) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "session and binding must not be NULL");
  if (b->session != s) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "the binding was created for another session");
  const char **in_names = calloc(b->n_in + 1, sizeof *in_names);
  const oxrt_value **ins = calloc(b->n_in + 1, sizeof *ins);
  const char **out_names = calloc(b->n_out + 1, sizeof *out_names);
  oxrt_value **outs = calloc(b->n_out + 1, sizeof *outs);
  bool *replaceable = calloc(b->n_out + 1, sizeof *replaceable);
  oxrt_status *st = NULL;
  if (!in_names || !ins || !out_names || !outs || !replaceable) st = OXRT_OOM();
  for (size_t i = 0; !st && i < b->n_in; i++) {
    in_names[i] = b->in[i].name;
    ins[i] = b->in[i].value;
  }
  for (size_t i = 0; !st && i < b->n_out; i++) {
    out_names[i] = b->out[i].name;
    /* the binding's own results are filled in place while type and shape stay, replaced when they change */
    bool own_tensor = b->out[i].owned && b->out[i].value && b->out[i].value->kind == OXRT_KIND_TENSOR;
    outs[i] = !b->out[i].owned || own_tensor ? b->out[i].value : NULL;
    replaceable[i] = b->out[i].owned;
  }
  if (!st) st = oxrt_session_run_ex(s, run_options, in_names, ins, b->n_in, out_names, b->n_out, outs, replaceable);
  for (size_t i = 0; !st && i < b->n_out; i++) {
    bound *o = &b->out[i];
    if (outs[i] == o->value) continue; /* filled in place */
    if (o->owned) oxrt_value_free(o->value);
    o->value = outs[i];
    o->owned = true;
  }
  free(in_names);
  free(ins);
  free(out_names);
  free(outs);
  free(replaceable);
  return st;
}

size_t oxrt_io_binding_get_output_count(const oxrt_io_binding *b) { return b ? b->n_out : 0; }
const char *oxrt_io_binding_get_output_name(const oxrt_io_binding *b, size_t index) {
  return b && index < b->n_out ? b->out[index].name : NULL;
}
oxrt_value *oxrt_io_binding_get_output(const oxrt_io_binding *b, size_t index) {
  return b && index < b->n_out ? b->out[index].value : NULL;
}
