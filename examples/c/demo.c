/* demo.c - the shipped examples end to end: load each model with oxrt, predict its held-out
 * samples, print predictions, accuracy and latency. Uses only the public API (oxrt.h).
 *
 *   demo EXAMPLES_DIR     (folders with model.onnx, test_x.npy (float32), test_y.npy (int64))
 */
#include <oxrt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  int64_t dims[8];
  size_t rank, count;
  char type; /* 'f' float32, 'i' int64 */
  void *data;
} npy_array;

/* Minimal .npy reader for the two types the examples use. */
static int load_npy(const char *path, npy_array *a) {
  FILE *f = fopen(path, "rb");
  if (!f) return fprintf(stderr, "cannot open %s\n", path), 1;
  unsigned char head[10];
  if (fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY", 6) != 0) return fclose(f), 1;
  size_t hlen = head[8] | (size_t)head[9] << 8;
  char *hdr = calloc(hlen + 1, 1);
  if (fread(hdr, 1, hlen, f) != hlen) return free(hdr), fclose(f), 1;
  a->type = strstr(hdr, "<f4") ? 'f' : strstr(hdr, "<i8") ? 'i' : 0;
  char *p = strchr(strstr(hdr, "'shape'"), '(') + 1;
  a->rank = 0;
  a->count = 1;
  while (*p && *p != ')') {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    a->dims[a->rank] = strtoll(p, &p, 10);
    a->count *= (size_t)a->dims[a->rank++];
  }
  free(hdr);
  size_t es = a->type == 'f' ? 4 : 8;
  a->data = malloc(a->count * es);
  size_t got = fread(a->data, es, a->count, f);
  fclose(f);
  return !a->type || got != a->count;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int fail(oxrt_status *st) {
  fprintf(stderr, "error: %s\n", oxrt_status_get_message(st));
  oxrt_status_free(st);
  return 1;
}

/* Predicted class per row: an int64 label output if the model has one, else argmax of the scores. */
static void predictions(const oxrt_value *out, size_t rows, int64_t *pred) {
  if (oxrt_value_get_elem_type(out) == OXRT_INT64) {
    memcpy(pred, oxrt_value_get_data(out), rows * sizeof(int64_t));
    return;
  }
  const float *s = oxrt_value_get_data(out);
  size_t classes = oxrt_value_get_elem_count(out) / rows;
  for (size_t r = 0; r < rows; r++) {
    size_t best = 0;
    for (size_t c = 1; c < classes; c++)
      if (s[r * classes + c] > s[r * classes + best]) best = c;
    pred[r] = (int64_t)best;
  }
}

static int run_example(const char *dir, const char *name) {
  char path[1024];
  npy_array x, y;
  snprintf(path, sizeof path, "%s/%s/test_x.npy", dir, name);
  if (load_npy(path, &x)) return 1;
  snprintf(path, sizeof path, "%s/%s/test_y.npy", dir, name);
  if (load_npy(path, &y)) return 1;
  snprintf(path, sizeof path, "%s/%s/model.onnx", dir, name);

  double t0 = now_ms();
  oxrt_session *s;
  oxrt_status *st = oxrt_session_create(path, NULL, &s);
  if (st) return fail(st);
  double load_ms = now_ms() - t0;

  oxrt_value_info in = OXRT_INIT(oxrt_value_info), out0 = OXRT_INIT(oxrt_value_info);
  oxrt_session_get_input_info(s, 0, &in);
  oxrt_session_get_output_info(s, 0, &out0);
  oxrt_value *xv;
  if ((st = oxrt_value_wrap_tensor(OXRT_FLOAT, x.dims, x.rank, x.data, x.count * 4, &xv))) return fail(st);
  const char *in_names[] = {in.name}, *out_names[] = {out0.name};
  const oxrt_value *feeds[] = {xv};

  size_t rows = (size_t)x.dims[0];
  int64_t *pred = malloc(rows * sizeof(int64_t));
  double best = 1e30;
  for (int rep = 0; rep < 10; rep++) { /* batch latency: best of 10 */
    oxrt_value *out = NULL; /* NULL: the run makes a new value */
    t0 = now_ms();
    if ((st = oxrt_session_run(s, NULL, in_names, feeds, 1, out_names, 1, &out))) return fail(st);
    double dt = now_ms() - t0;
    if (dt < best) best = dt;
    predictions(out, rows, pred);
    oxrt_value_free(out);
  }
  /* single-sample latency, as an online service would see it */
  int64_t one_dims[8];
  memcpy(one_dims, x.dims, sizeof one_dims);
  one_dims[0] = 1;
  size_t row_elems = x.count / rows;
  double single = 1e30;
  for (size_t r = 0; r < rows && r < 50; r++) {
    oxrt_value *xr, *out = NULL;
    oxrt_value_wrap_tensor(OXRT_FLOAT, one_dims, x.rank, (float *)x.data + r * row_elems, row_elems * 4, &xr);
    const oxrt_value *f1[] = {xr};
    t0 = now_ms();
    st = oxrt_session_run(s, NULL, in_names, f1, 1, out_names, 1, &out);
    double dt = now_ms() - t0;
    oxrt_value_free(xr);
    if (st) return fail(st);
    if (dt < single) single = dt;
    oxrt_value_free(out);
  }
  size_t correct = 0;
  for (size_t r = 0; r < rows; r++) correct += pred[r] == ((int64_t *)y.data)[r];
  printf("== %s: %s\n", name, path);
  printf("   predicted: ");
  for (size_t r = 0; r < rows && r < 15; r++) printf("%lld ", (long long)pred[r]);
  printf("...\n   actual:    ");
  for (size_t r = 0; r < rows && r < 15; r++) printf("%lld ", (long long)((int64_t *)y.data)[r]);
  printf("...\n   accuracy:  %.2f%% (%zu of %zu held-out samples)\n", 100.0 * (double)correct / (double)rows, correct, rows);
  printf("   latency:   load %.2f ms, batch of %zu %.3f ms, one sample %.3f ms\n", load_ms, rows, best, single);
  free(pred);
  free(x.data);
  free(y.data);
  oxrt_value_free(xv);
  oxrt_session_free(s);
  return 0;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "examples";
  int rc = 0;
  rc |= run_example(dir, "digits");
  rc |= run_example(dir, "iris");
  return rc;
}
