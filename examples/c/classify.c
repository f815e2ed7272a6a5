/* classify.c - the smallest useful oxrt program: load a model, feed its first
 * input with values from the command line (or zeros), print every output.
 *
 *   cc classify.c $(pkg-config --cflags --libs oxrt) -o classify
 *   ./classify model.onnx 0.5 1.0 ...
 */
#include <oxrt.h>
#include <stdio.h>
#include <stdlib.h>

static int check(oxrt_status *st) {
  if (!st) return 0;
  fprintf(stderr, "error: %s\n", oxrt_status_get_message(st));
  oxrt_status_free(st);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.onnx [float values for the first input...]\n", argv[0]);
    return 2;
  }
  oxrt_session *session;
  if (check(oxrt_session_create(argv[1], NULL, &session))) return 1;

  oxrt_value_info in = OXRT_INIT(oxrt_value_info);
  if (check(oxrt_session_get_input_info(session, 0, &in))) return 1;
  if (in.elem_type != OXRT_FLOAT) {
    fprintf(stderr, "this example feeds float inputs; '%s' is %s\n", in.name, in.type_string);
    return 1;
  }
  /* Symbolic dimensions (like a batch size) become 1. */
  int64_t dims[16];
  size_t count = 1;
  for (int i = 0; i < in.rank && i < 16; i++) {
    dims[i] = in.dims[i] >= 0 ? in.dims[i] : 1;
    count *= (size_t)dims[i];
  }
  float *data = calloc(count, sizeof(float));
  for (size_t i = 0; i + 2 < (size_t)argc && i < count; i++) data[i] = strtof(argv[i + 2], NULL);

  /* Wrap our buffer without a copy. */
  oxrt_value *x;
  if (check(oxrt_value_wrap_tensor(OXRT_FLOAT, dims, (size_t)in.rank, data, count * sizeof(float), &x))) return 1;

  size_t n_out = oxrt_session_get_output_count(session);
  oxrt_value **outs = calloc(n_out, sizeof *outs);
  const char *names[] = {in.name};
  const oxrt_value *feeds[] = {x};
  if (check(oxrt_session_run(session, NULL, names, feeds, 1, NULL, n_out, outs))) return 1;

  for (size_t i = 0; i < n_out; i++) {
    oxrt_value_info info = OXRT_INIT(oxrt_value_info);
    oxrt_session_get_output_info(session, i, &info);
    printf("%s (%s):", info.name, info.type_string);
    if (oxrt_value_get_kind(outs[i]) == OXRT_KIND_TENSOR) {
      size_t n = oxrt_value_get_elem_count(outs[i]);
      oxrt_elem_type t = oxrt_value_get_elem_type(outs[i]);
      for (size_t k = 0; k < n && k < 10; k++) {
        if (t == OXRT_FLOAT) printf(" %g", ((float *)oxrt_value_get_data(outs[i]))[k]);
        else if (t == OXRT_INT64) printf(" %lld", (long long)((int64_t *)oxrt_value_get_data(outs[i]))[k]);
        else if (t == OXRT_STRING) printf(" %s", oxrt_value_get_string(outs[i], k, NULL));
      }
      if (n > 10) printf(" ...");
    } else {
      printf(" %zu items", oxrt_value_get_item_count(outs[i]));
    }
    printf("\n");
    oxrt_value_free(outs[i]);
  }
  free(outs);
  oxrt_value_free(x);
  free(data);
  oxrt_session_free(session);
  return 0;
}
