/* test_api_stable.c - the public API's contracts (issue 15): validated setters, run options, caller-provided
 * outputs, IO binding, strict values, size-versioned structs, model metadata, shared pools. */
#include "oxrt.h"
#include "unit.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path_buf[1024];
static const char *model(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/examples/%s/model.onnx", unit_root, name);
  return path_buf;
}

#define WANT_ERROR(st, code, needle) UNIT_WANT_ERROR(st, code, needle)
#define OK(st) UNIT_OK(st)

/* Batch 1 and batch 2 may take different GEMM paths: compare with a tolerance there. */
static int close_to(const float *a, const void *b, int n) {
  const float *f = b;
  for (int i = 0; i < n; i++)
    if (!(a[i] - f[i] < 1e-4f && f[i] - a[i] < 1e-4f)) return 0;
  return 1;
}

static oxrt_session *open_model(const char *name, const oxrt_session_options *o) {
  oxrt_session *s = NULL;
  return OK(oxrt_session_create(model(name), o, &s)) ? s : NULL;
}

static float image[2 * 64];
static const int64_t image_dims[4] = {2, 1, 8, 8};
static const char *const in_names[] = {"image"};
static const char *const out_names[] = {"logits"};

static oxrt_status *run_digits(oxrt_session *s, const oxrt_run_options *ro, oxrt_value **out) {
  for (int i = 0; i < 128; i++) image[i] = (float)((i * 7) % 17) / 16.0f;
  oxrt_value *x = NULL;
  oxrt_status *st = oxrt_value_wrap_tensor(OXRT_FLOAT, image_dims, 4, image, sizeof image, &x);
  if (st) return st;
  const oxrt_value *feeds[] = {x};
  st = oxrt_session_run(s, ro, in_names, feeds, 1, out_names, 1, out);
  oxrt_value_free(x);
  return st;
}

void test_api_setters_validate(void) {
  oxrt_session_options *o = NULL;
  if (!OK(oxrt_session_options_create(&o))) return;
  WANT_ERROR(oxrt_session_options_set_intra_op_threads(o, -3), OXRT_ERR_INVALID_ARGUMENT, "-3");
  WANT_ERROR(oxrt_session_options_set_intra_op_threads(o, 5000), OXRT_ERR_INVALID_ARGUMENT, "1024");
  OK(oxrt_session_options_set_intra_op_threads(o, 2));
  WANT_ERROR(oxrt_session_options_set_opt_level(o, (oxrt_opt_level)7), OXRT_ERR_INVALID_ARGUMENT, "level 7");
  OK(oxrt_session_options_set_opt_level(o, OXRT_OPT_EXTENDED));
  WANT_ERROR(oxrt_session_options_set_log(o, NULL, NULL, (oxrt_log_level)9), OXRT_ERR_INVALID_ARGUMENT, "log level 9");
  WANT_ERROR(oxrt_session_options_set_load_only(o, 2), OXRT_ERR_INVALID_ARGUMENT, "load_only");
  WANT_ERROR(oxrt_session_options_set_denormal_as_zero(o, -1), OXRT_ERR_INVALID_ARGUMENT, "denormal");
  WANT_ERROR(oxrt_session_options_set_intra_op_threads(NULL, 1), OXRT_ERR_INVALID_ARGUMENT, "NULL");
  oxrt_session_options_free(o);
  CHECK(oxrt_version_number() == OXRT_VERSION_NUMBER);
  char v[32];
  snprintf(v, sizeof v, "%d.%d.%d", OXRT_VERSION_MAJOR, OXRT_VERSION_MINOR, OXRT_VERSION_PATCH);
  CHECK(!strcmp(v, oxrt_version()));
  CHECK(!strcmp(oxrt_status_code_name(OXRT_ERR_CANCELLED), "CANCELLED"));
}

/* OXRT_OPT_LEVEL changes the default only: an explicit level wins. */
void test_api_env_vs_explicit(void) {
  const char *old = getenv("OXRT_OPT_LEVEL");
  char saved[32] = "";
  if (old) snprintf(saved, sizeof saved, "%s", old);
  setenv("OXRT_OPT_LEVEL", "0", 1);
  oxrt_model_stats plain = OXRT_INIT(oxrt_model_stats), explicit_all = OXRT_INIT(oxrt_model_stats);
  oxrt_session *s = open_model("digits", NULL);
  if (s) OK(oxrt_session_get_model_stats(s, &plain));
  oxrt_session_free(s);
  oxrt_session_options *o = NULL;
  OK(oxrt_session_options_create(&o));
  OK(oxrt_session_options_set_opt_level(o, OXRT_OPT_ALL));
  s = open_model("digits", o);
  if (s) OK(oxrt_session_get_model_stats(s, &explicit_all));
  oxrt_session_free(s);
  oxrt_session_options_free(o);
  if (old) setenv("OXRT_OPT_LEVEL", saved, 1);
  else unsetenv("OXRT_OPT_LEVEL");
  CHECK(plain.node_count == 10);                      /* the environment's level 0: the model as written */
  CHECK(explicit_all.node_count < plain.node_count); /* the explicit level: Conv+Relu fused */

  /* OXRT_OPT_DISABLE likewise: it skips passes only for sessions whose options set no list */
  old = getenv("OXRT_OPT_DISABLE");
  saved[0] = 0;
  if (old) snprintf(saved, sizeof saved, "%s", old);
  setenv("OXRT_OPT_DISABLE", "fuse_conv_activation", 1);
  oxrt_model_stats env_skip = OXRT_INIT(oxrt_model_stats), explicit_none = OXRT_INIT(oxrt_model_stats);
  s = open_model("digits", NULL);
  if (s) OK(oxrt_session_get_model_stats(s, &env_skip));
  oxrt_session_free(s);
  OK(oxrt_session_options_create(&o));
  OK(oxrt_session_options_set_disabled_passes(o, ""));
  s = open_model("digits", o);
  if (s) OK(oxrt_session_get_model_stats(s, &explicit_none));
  oxrt_session_free(s);
  oxrt_session_options_free(o);
  if (old) setenv("OXRT_OPT_DISABLE", saved, 1);
  else unsetenv("OXRT_OPT_DISABLE");
  CHECK(explicit_none.node_count == explicit_all.node_count); /* the explicit empty list: every pass ran */
  CHECK(env_skip.node_count > explicit_none.node_count);      /* the environment's list: Conv+Relu kept apart */
}

/* Size-versioned structs: a caller that does not say its size gets an error, not a buffer overrun. */
void test_api_sized_structs(void) {
  oxrt_session *s = open_model("digits", NULL);
  if (!s) return;
  oxrt_value_info bad;
  memset(&bad, 0, sizeof bad);
  WANT_ERROR(oxrt_session_get_input_info(s, 0, &bad), OXRT_ERR_INVALID_ARGUMENT, "sizeof(oxrt_value_info)");
  oxrt_value_info in = OXRT_INIT(oxrt_value_info);
  OK(oxrt_session_get_input_info(s, 0, &in));
  CHECK(in.size == sizeof in && !strcmp(in.name, "image") && in.element == NULL);
  /* the model's own opsets, though the optimizer added com.microsoft for FusedConv */
  oxrt_model_meta m = OXRT_INIT(oxrt_model_meta);
  OK(oxrt_session_get_model_meta(s, &m));
  CHECK(m.opset_count == 1 && !strcmp(m.opset_domains[0], ""));
  oxrt_session_free(s);
}

static void count_log(void *user, oxrt_log_level level, const char *msg) {
  (void)level;
  int *n = user;
  if (strstr(msg, "run 'tagged'")) (*n)++;
}

static oxrt_run_options *g_stop_me;
static void stop_on_start(void *user, oxrt_log_level level, const char *msg) {
  (void)user, (void)level;
  if (strstr(msg, "started") && g_stop_me) oxrt_status_free(oxrt_run_options_set_terminate(g_stop_me, 1));
}

void test_api_run_options(void) {
  oxrt_run_options *ro = NULL;
  if (!OK(oxrt_run_options_create(&ro))) return;
  OK(oxrt_run_options_set_tag(ro, "tagged"));
  CHECK(!strcmp(oxrt_run_options_get_tag(ro), "tagged"));
  WANT_ERROR(oxrt_run_options_set_log_level(ro, (oxrt_log_level)-1), OXRT_ERR_INVALID_ARGUMENT, "log level");
  WANT_ERROR(oxrt_run_options_set_time_limit_ms(ro, -5), OXRT_ERR_INVALID_ARGUMENT, "-5");
  OK(oxrt_run_options_add_config_entry(ro, "memory.enable_memory_arena_shrinkage", "cpu:0"));
  OK(oxrt_run_options_add_config_entry(ro, "k", "1"));
  OK(oxrt_run_options_add_config_entry(ro, "k", "2"));
  CHECK(!strcmp(oxrt_run_options_get_config_entry(ro, "k"), "2"));
  CHECK(oxrt_run_options_get_config_entry(ro, "absent") == NULL);

  /* per-run log level: the session logs warnings only, this run verbose */
  int seen = 0;
  oxrt_session_options *o = NULL;
  OK(oxrt_session_options_create(&o));
  OK(oxrt_session_options_set_log(o, count_log, &seen, OXRT_LOG_WARNING));
  oxrt_session *s = open_model("digits", o);
  oxrt_session_options_free(o);
  if (!s) return;
  oxrt_value *out = NULL;
  OK(run_digits(s, ro, &out));
  CHECK(seen == 0);
  oxrt_value_free(out);
  out = NULL;
  OK(oxrt_run_options_set_log_level(ro, OXRT_LOG_VERBOSE));
  OK(run_digits(s, ro, &out));
  CHECK(seen == 2); /* started, finished */
  oxrt_value_free(out);
  out = NULL;

  /* terminate set before the run: it fails at once, and runs again once cleared */
  OK(oxrt_run_options_set_terminate(ro, 1));
  CHECK(oxrt_run_options_get_terminate(ro) == 1);
  WANT_ERROR(run_digits(s, ro, &out), OXRT_ERR_CANCELLED, "run 'tagged' was terminated");
  CHECK(out == NULL);
  OK(oxrt_run_options_set_terminate(ro, 0));
  OK(run_digits(s, ro, &out));
  oxrt_value_free(out);
  oxrt_session_free(s);
  oxrt_run_options_free(ro);

  /* terminate set by another party while the run is under way (here the log callback as it starts) */
  OK(oxrt_session_options_create(&o));
  OK(oxrt_session_options_set_log(o, stop_on_start, NULL, OXRT_LOG_VERBOSE));
  s = open_model("digits", o);
  oxrt_session_options_free(o);
  OK(oxrt_run_options_create(&g_stop_me));
  out = NULL;
  if (s) WANT_ERROR(run_digits(s, g_stop_me, &out), OXRT_ERR_CANCELLED, "terminated");
  CHECK(out == NULL);
  oxrt_run_options_free(g_stop_me);
  g_stop_me = NULL;
  oxrt_session_free(s);
}

void test_api_provided_outputs(void) {
  oxrt_session *s = open_model("digits", NULL);
  if (!s) return;
  oxrt_value *fresh = NULL;
  if (!OK(run_digits(s, NULL, &fresh))) return;
  /* a matching tensor is filled in place */
  int64_t d[2] = {2, 10};
  oxrt_value *mine = NULL;
  OK(oxrt_value_create_tensor(OXRT_FLOAT, d, 2, &mine));
  oxrt_value *given = mine;
  OK(run_digits(s, NULL, &given));
  CHECK(given == mine && !memcmp(oxrt_value_get_data(mine), oxrt_value_get_data(fresh), 80));
  /* caller memory, wrapped writable */
  float buf[20];
  memset(buf, 0, sizeof buf);
  oxrt_value *wrapped = NULL;
  OK(oxrt_value_wrap_mutable_tensor(OXRT_FLOAT, d, 2, buf, sizeof buf, &wrapped));
  given = wrapped;
  OK(run_digits(s, NULL, &given));
  CHECK(given == wrapped && !memcmp(buf, oxrt_value_get_data(fresh), 80));
  /* a mismatch is an error and the caller's value keeps its contents */
  int64_t d9[2] = {2, 9};
  oxrt_value *wrong = NULL;
  OK(oxrt_value_create_tensor(OXRT_FLOAT, d9, 2, &wrong));
  ((float *)oxrt_value_get_mutable_data(wrong))[0] = 42.0f;
  given = wrong;
  WANT_ERROR(run_digits(s, NULL, &given), OXRT_ERR_INVALID_ARGUMENT, "[2,9]");
  CHECK(given == wrong && ((const float *)oxrt_value_get_data(wrong))[0] == 42.0f);
  oxrt_value *ints = NULL;
  OK(oxrt_value_create_tensor(OXRT_INT64, d, 2, &ints));
  given = ints;
  WANT_ERROR(run_digits(s, NULL, &given), OXRT_ERR_INVALID_ARGUMENT, "int64");
  /* read-only memory cannot receive outputs */
  oxrt_value *ro = NULL;
  OK(oxrt_value_wrap_tensor(OXRT_FLOAT, d, 2, buf, sizeof buf, &ro));
  CHECK(oxrt_value_get_mutable_data(ro) == NULL);
  given = ro;
  WANT_ERROR(run_digits(s, NULL, &given), OXRT_ERR_INVALID_ARGUMENT, "read-only");
  oxrt_value_free(ro);
  oxrt_value_free(ints);
  oxrt_value_free(wrong);
  oxrt_value_free(wrapped);
  oxrt_value_free(mine);
  oxrt_value_free(fresh);
  oxrt_session_free(s);
}

void test_api_io_binding(void) {
  oxrt_session *s = open_model("digits", NULL);
  if (!s) return;
  oxrt_io_binding *b = NULL;
  if (!OK(oxrt_io_binding_create(s, &b))) return;
  for (int i = 0; i < 128; i++) image[i] = (float)(i % 5);
  oxrt_value *x = NULL, *x1 = NULL;
  OK(oxrt_value_wrap_tensor(OXRT_FLOAT, image_dims, 4, image, sizeof image, &x));
  int64_t one[4] = {1, 1, 8, 8};
  OK(oxrt_value_wrap_tensor(OXRT_FLOAT, one, 4, image, sizeof image / 2, &x1));
  WANT_ERROR(oxrt_io_binding_bind_input(b, "nope", x), OXRT_ERR_INVALID_ARGUMENT, "'nope'");
  WANT_ERROR(oxrt_io_binding_bind_output(b, "nope", NULL), OXRT_ERR_INVALID_ARGUMENT, "'nope'");
  OK(oxrt_io_binding_bind_input(b, "image", x));
  OK(oxrt_io_binding_bind_output(b, "logits", NULL));
  CHECK(oxrt_io_binding_get_output_count(b) == 1 && oxrt_io_binding_get_output(b, 0) == NULL);
  OK(oxrt_session_run_with_binding(s, NULL, b));
  oxrt_value *first = oxrt_io_binding_get_output(b, 0);
  CHECK(first && oxrt_value_get_dims(first)[0] == 2);
  float copy[20];
  if (first) memcpy(copy, oxrt_value_get_data(first), sizeof copy);
  /* the second run reuses the binding's value in place */
  OK(oxrt_session_run_with_binding(s, NULL, b));
  CHECK(oxrt_io_binding_get_output(b, 0) == first && !memcmp(copy, oxrt_value_get_data(first), sizeof copy));
  /* a new input shape replaces the binding's own value */
  OK(oxrt_io_binding_bind_input(b, "image", x1));
  OK(oxrt_session_run_with_binding(s, NULL, b));
  oxrt_value *second = oxrt_io_binding_get_output(b, 0);
  CHECK(second && oxrt_value_get_dims(second)[0] == 1 && close_to(copy, oxrt_value_get_data(second), 10));
  /* a caller's value bound as output is filled in place, and a mismatch is an error */
  int64_t d[2] = {1, 10};
  oxrt_value *mine = NULL;
  OK(oxrt_value_create_tensor(OXRT_FLOAT, d, 2, &mine));
  OK(oxrt_io_binding_bind_output(b, "logits", mine));
  OK(oxrt_session_run_with_binding(s, NULL, b));
  CHECK(oxrt_io_binding_get_output(b, 0) == mine && close_to(copy, oxrt_value_get_data(mine), 10));
  OK(oxrt_io_binding_bind_input(b, "image", x));
  WANT_ERROR(oxrt_session_run_with_binding(s, NULL, b), OXRT_ERR_INVALID_ARGUMENT, "[2,10]");
  oxrt_io_binding_clear_outputs(b);
  CHECK(oxrt_io_binding_get_output_count(b) == 0);
  oxrt_io_binding_free(b);
  oxrt_value_free(mine);
  oxrt_value_free(x);
  oxrt_value_free(x1);
  oxrt_session_free(s);
}

static oxrt_value *tensor(oxrt_elem_type t, int64_t n) {
  oxrt_value *v = NULL;
  oxrt_status_free(oxrt_value_create_tensor(t, &n, 1, &v));
  return v;
}

void test_api_strict_values(void) {
  /* a sequence of float tensors refuses an int64 tensor, and adopts nothing */
  oxrt_value *items[2] = {tensor(OXRT_FLOAT, 2), tensor(OXRT_INT64, 2)}, *seq = NULL;
  WANT_ERROR(oxrt_value_create_sequence(OXRT_FLOAT, items, 2, &seq), OXRT_ERR_INVALID_ARGUMENT, "int64");
  CHECK(seq == NULL);
  oxrt_value_free(items[1]);
  items[1] = tensor(OXRT_FLOAT, 3);
  OK(oxrt_value_create_sequence(OXRT_FLOAT, items, 2, &seq));
  /* a map refuses 3 keys with 2 values, and adopts neither */
  oxrt_value *keys = tensor(OXRT_INT64, 3), *vals = tensor(OXRT_FLOAT, 2), *map = NULL;
  WANT_ERROR(oxrt_value_create_map(keys, vals, &map), OXRT_ERR_INVALID_ARGUMENT, "3 keys but 2 values");
  oxrt_value_free(vals);
  vals = tensor(OXRT_FLOAT, 3);
  OK(oxrt_value_create_map(keys, vals, &map));
  CHECK(oxrt_value_get_key_type(map) == OXRT_INT64 && oxrt_value_get_elem_type(map) == OXRT_FLOAT);
  oxrt_elem_type kt = OXRT_UNDEFINED, vt = OXRT_UNDEFINED;
  OK(oxrt_value_map_types(map, &kt, &vt));
  CHECK(kt == OXRT_INT64 && vt == OXRT_FLOAT);
  char ts[128];
  OK(oxrt_value_type_string(map, ts, sizeof ts));
  CHECK(!strcmp(ts, "map(int64,tensor(float))"));
  oxrt_value *maps[1] = {map}, *seqmap = NULL;
  OK(oxrt_value_create_sequence(OXRT_FLOAT, maps, 1, &seqmap));
  OK(oxrt_value_type_string(seqmap, ts, sizeof ts));
  CHECK(!strcmp(ts, "seq(map(int64,tensor(float)))"));
  CHECK(oxrt_value_get_elem_type(seqmap) == OXRT_FLOAT);
  WANT_ERROR(oxrt_value_type_string(seqmap, ts, 8), OXRT_ERR_INVALID_ARGUMENT, "bytes");
  /* accessors on the wrong kind */
  CHECK(oxrt_value_get_data(seq) == NULL && oxrt_value_get_dims(seq) == NULL && oxrt_value_get_rank(seq) == 0);
  const void *data = NULL;
  WANT_ERROR(oxrt_value_tensor_data(seq, &data, NULL), OXRT_ERR_INVALID_ARGUMENT, "a sequence, not a tensor");
  WANT_ERROR(oxrt_value_map_types(seq, &kt, &vt), OXRT_ERR_INVALID_ARGUMENT, "not a map");
  const oxrt_value *item = NULL;
  WANT_ERROR(oxrt_value_item_at(items[0], 0, &item), OXRT_ERR_INVALID_ARGUMENT, "no items");
  WANT_ERROR(oxrt_value_item_at(seq, 5, &item), OXRT_ERR_INVALID_ARGUMENT, "out of range");
  OK(oxrt_value_item_at(seq, 1, &item));
  CHECK(item == items[1]);
  /* strings keep embedded NULs */
  oxrt_value *str = tensor(OXRT_STRING, 2);
  OK(oxrt_value_set_string(str, 0, "a\0b", 3));
  OK(oxrt_value_set_string(str, 1, "plain", 5));
  size_t len = 0;
  const char *p = oxrt_value_get_string(str, 0, &len);
  CHECK(len == 3 && p && !memcmp(p, "a\0b", 3));
  OK(oxrt_value_string_at(str, 1, &p, &len));
  CHECK(len == 5 && !strcmp(p, "plain"));
  WANT_ERROR(oxrt_value_string_at(items[0], 0, &p, &len), OXRT_ERR_INVALID_ARGUMENT, "not string");
  oxrt_value_free(str);
  oxrt_value_free(seq);
  oxrt_value_free(seqmap);
}

/* seq(map(int64,tensor(float))): the description and the value agree on every level. */
void test_api_structured_type_info(void) {
  oxrt_session *s = open_model("iris", NULL);
  if (!s) return;
  oxrt_value_info info = OXRT_INIT(oxrt_value_info);
  OK(oxrt_session_get_output_info(s, 1, &info));
  CHECK(info.kind == OXRT_KIND_SEQUENCE && info.elem_type == OXRT_FLOAT && info.element);
  if (info.element) {
    CHECK(info.element->kind == OXRT_KIND_MAP && info.element->key_type == OXRT_INT64);
    CHECK(info.element->element && info.element->element->kind == OXRT_KIND_TENSOR &&
          info.element->element->elem_type == OXRT_FLOAT);
  }
  float x[8] = {5.1f, 3.5f, 1.4f, 0.2f, 6.7f, 3.0f, 5.2f, 2.3f};
  int64_t d[2] = {2, 4};
  oxrt_value *xv = NULL, *outs[2] = {NULL, NULL};
  OK(oxrt_value_wrap_tensor(OXRT_FLOAT, d, 2, x, sizeof x, &xv));
  const char *names[] = {"X"};
  const oxrt_value *feeds[] = {xv};
  if (OK(oxrt_session_run(s, NULL, names, feeds, 1, NULL, 2, outs))) {
    char ts[128];
    OK(oxrt_value_type_string(outs[1], ts, sizeof ts));
    CHECK(!strcmp(ts, info.type_string));
    CHECK(oxrt_value_get_elem_type(outs[1]) == info.elem_type);
    const oxrt_value *m = oxrt_value_get_item(outs[1], 0);
    CHECK(oxrt_value_get_key_type(m) == info.element->key_type);
  }
  oxrt_value_free(outs[0]);
  oxrt_value_free(outs[1]);
  oxrt_value_free(xv);
  oxrt_session_free(s);
}

void test_api_end_profiling_on_error(void) {
  oxrt_session_options *o = NULL;
  OK(oxrt_session_options_create(&o));
  char prefix[128];
  snprintf(prefix, sizeof prefix, "/tmp/oxrt_unit_prof_err_%d", (int)getpid());
  OK(oxrt_session_options_enable_profiling(o, prefix));
  oxrt_session *s = open_model("digits", o);
  oxrt_session_options_free(o);
  if (!s) return;
  char small[16];
  memset(small, 'x', sizeof small);
  WANT_ERROR(oxrt_session_end_profiling(s, small, sizeof small), OXRT_ERR_INVALID_ARGUMENT, "too small");
  CHECK(small[0] == 'x' && small[15] == 'x'); /* nothing written */
  oxrt_session_free(s);
}

void test_api_shared_pool_and_allocator(void) {
  oxrt_thread_pool *pool = NULL;
  WANT_ERROR(oxrt_thread_pool_create(-3, &pool), OXRT_ERR_INVALID_ARGUMENT, "-3");
  if (!OK(oxrt_thread_pool_create(2, &pool))) return;
  CHECK(oxrt_thread_pool_get_size(pool) == 2);
  oxrt_session_options *o = NULL;
  OK(oxrt_session_options_create(&o));
  OK(oxrt_session_options_set_thread_pool(o, pool));
  oxrt_session *a = open_model("digits", o), *b = open_model("digits", o);
  oxrt_session_options_free(o);
  oxrt_thread_pool_free(pool); /* the sessions keep it alive */
  oxrt_session *plain = open_model("digits", NULL);
  oxrt_value *oa = NULL, *ob = NULL, *op = NULL;
  if (a && b && plain && OK(run_digits(a, NULL, &oa)) && OK(run_digits(b, NULL, &ob)) && OK(run_digits(plain, NULL, &op)))
    CHECK(!memcmp(oxrt_value_get_data(oa), oxrt_value_get_data(op), 80) &&
          !memcmp(oxrt_value_get_data(ob), oxrt_value_get_data(op), 80));
  oxrt_value_free(oa);
  oxrt_value_free(ob);
  oxrt_value_free(op);
  oxrt_session_free(a);
  oxrt_session_free(b);
  oxrt_session_free(plain);
  /* the allocator cannot change under live tensor memory */
  oxrt_value *t = tensor(OXRT_FLOAT, 1000);
  CHECK(oxrt_allocated_bytes() >= 4000);
  oxrt_allocator al = {sizeof al, NULL, NULL, NULL};
  WANT_ERROR(oxrt_set_allocator(&al), OXRT_ERR_INVALID_ARGUMENT, "alloc and free");
  oxrt_value_free(t);
}
