/*
 * oxrt.h - the whole public C API of oxrt, an ONNX inference runtime.
 *
 * Conventions (apply to every function below):
 *  - Fallible calls return an `oxrt_status *`: NULL means success; otherwise the
 *    caller owns the status and frees it with oxrt_status_free(). The message
 *    names what went wrong and where (node name, op type, input index,
 *    expected vs got).
 *  - On failure, out-parameters are left untouched and nothing leaks.
 *  - Every object has a create function and a `_free` that returns void and
 *    accepts NULL.
 *  - Strings are UTF-8 and NUL-terminated. Pointers returned by accessors are
 *    borrowed: valid as long as the object they came from.
 *  - Dimensions are int64_t, counts are size_t.
 */
#ifndef OXRT_H
#define OXRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* OXRT_API marks the exported functions. On Windows the library is built with OXRT_BUILDING_LIBRARY
 * (dllexport); users of the DLL get dllimport, users of the static library define OXRT_STATIC (CMake's
 * oxrt::oxrt_static target and oxrt-static.pc do). Elsewhere it sets default visibility: the library
 * is compiled with -fvisibility=hidden, so nothing else is exported. */
#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(OXRT_BUILDING_LIBRARY)
#define OXRT_API __declspec(dllexport)
#elif defined(OXRT_STATIC)
#define OXRT_API
#else
#define OXRT_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define OXRT_API __attribute__((visibility("default")))
#else
#define OXRT_API
#endif

/* Version of this header. Within one major version (from 1.0 on; during 0.x within one minor version) the
 * library only adds functions and appends fields to size-versioned structs: a program built against an
 * older header keeps working. oxrt_version_number() is the library's own version, to compare at run time. */
#define OXRT_VERSION_MAJOR 0
#define OXRT_VERSION_MINOR 2
#define OXRT_VERSION_PATCH 0
#define OXRT_VERSION "0.2.0"
#define OXRT_VERSION_NUMBER (OXRT_VERSION_MAJOR * 10000 + OXRT_VERSION_MINOR * 100 + OXRT_VERSION_PATCH)

/* ------------------------------------------------------------------ status */

typedef enum oxrt_status_code {
  OXRT_OK = 0,
  OXRT_ERR_INVALID_ARGUMENT = 1, /* bad input from the caller: name, type, shape */
  OXRT_ERR_INVALID_MODEL = 2,    /* the model file or graph is malformed */
  OXRT_ERR_NOT_IMPLEMENTED = 3,  /* operator, opset or type not supported */
  OXRT_ERR_OUT_OF_MEMORY = 4,
  OXRT_ERR_IO = 5,               /* file could not be opened or read */
  OXRT_ERR_RUNTIME = 6,          /* a kernel failed while running */
  OXRT_ERR_CANCELLED = 7         /* a run stopped early: terminate flag or time limit (oxrt_run_options) */
} oxrt_status_code;

typedef struct oxrt_status oxrt_status;

/* Code of a status; OXRT_OK for NULL. */
OXRT_API oxrt_status_code oxrt_status_get_code(const oxrt_status *st);
/* Message of a status; "" for NULL. Borrowed from `st`. */
OXRT_API const char *oxrt_status_get_message(const oxrt_status *st);
OXRT_API void oxrt_status_free(oxrt_status *st);
/* Short name of a status code, e.g. "INVALID_ARGUMENT". */
OXRT_API const char *oxrt_status_code_name(oxrt_status_code code);

/* ------------------------------------------------------------ element type */

/* Values equal ONNX's TensorProto.DataType. */
typedef enum oxrt_elem_type {
  OXRT_UNDEFINED = 0,
  OXRT_FLOAT = 1,
  OXRT_UINT8 = 2,
  OXRT_INT8 = 3,
  OXRT_UINT16 = 4,
  OXRT_INT16 = 5,
  OXRT_INT32 = 6,
  OXRT_INT64 = 7,
  OXRT_STRING = 8,
  OXRT_BOOL = 9,
  OXRT_FLOAT16 = 10,
  OXRT_DOUBLE = 11,
  OXRT_UINT32 = 12,
  OXRT_UINT64 = 13,
  OXRT_COMPLEX64 = 14,
  OXRT_COMPLEX128 = 15,
  OXRT_BFLOAT16 = 16,
  OXRT_FLOAT8E4M3FN = 17,
  OXRT_FLOAT8E4M3FNUZ = 18,
  OXRT_FLOAT8E5M2 = 19,
  OXRT_FLOAT8E5M2FNUZ = 20,
  OXRT_UINT4 = 21,
  OXRT_INT4 = 22,
  OXRT_FLOAT4E2M1 = 23,
  OXRT_FLOAT8E8M0 = 24,
  OXRT_UINT2 = 25,
  OXRT_INT2 = 26,
  OXRT_ELEM_TYPE_COUNT = 27
} oxrt_elem_type;

/* ONNX name of an element type ("float", "int64", "float16", ...). */
OXRT_API const char *oxrt_elem_type_name(oxrt_elem_type t);
/* Bytes per element in memory (sub-byte types are stored one per byte);
 * strings are stored as `char *` pointers. 0 for UNDEFINED. */
OXRT_API size_t oxrt_elem_type_size(oxrt_elem_type t);

/* ------------------------------------------------------------------ values */

typedef enum oxrt_value_kind {
  OXRT_KIND_UNKNOWN = 0,
  OXRT_KIND_TENSOR = 1,
  OXRT_KIND_SEQUENCE = 2,
  OXRT_KIND_MAP = 3,
  OXRT_KIND_OPTIONAL = 4,
  OXRT_KIND_SPARSE_TENSOR = 5
} oxrt_value_kind;

/* A value passed to or returned from a model: a tensor, a sequence of values,
 * a map (keys tensor + values), or an optional. */
typedef struct oxrt_value oxrt_value;

/* A tensor that owns zero-initialised memory. For OXRT_STRING every element
 * starts as the empty string. `dims` may be NULL when rank is 0. */
OXRT_API oxrt_status *oxrt_value_create_tensor(oxrt_elem_type type, const int64_t *dims, size_t rank,
                                               oxrt_value **out);
/* A read-only tensor over caller memory, without a copy (for inputs). `data`
 * must hold `nbytes` = element count * oxrt_elem_type_size(type) bytes and
 * outlive the value; the library never writes to it (such a value cannot
 * receive outputs, and oxrt_value_get_mutable_data returns NULL for it). Not
 * allowed for strings (use oxrt_value_create_tensor and oxrt_value_set_string). */
OXRT_API oxrt_status *oxrt_value_wrap_tensor(oxrt_elem_type type, const int64_t *dims, size_t rank, const void *data,
                                             size_t nbytes, oxrt_value **out);
/* Same over writable caller memory: such a value may be passed as a
 * pre-allocated output (oxrt_session_run, oxrt_io_binding_bind_output). */
OXRT_API oxrt_status *oxrt_value_wrap_mutable_tensor(oxrt_elem_type type, const int64_t *dims, size_t rank,
                                                     void *data, size_t nbytes, oxrt_value **out);
/* Set element `index` of a string tensor to a copy of `len` bytes at `s`;
 * the bytes may include NULs (oxrt_value_get_string reports `len` back). */
OXRT_API oxrt_status *oxrt_value_set_string(oxrt_value *v, size_t index, const char *s, size_t len);
/* A sequence of `count` values (count may be 0). Every item must be non-NULL,
 * a value of its own (no pointer twice) and of one kind; tensor items must
 * have element type `elem_type`, map items values of that type (OXRT_UNDEFINED
 * accepts any one element type, taken from the first item). On success the
 * sequence adopts the items (the array itself is copied); on failure nothing
 * is adopted and the caller still owns them. */
OXRT_API oxrt_status *oxrt_value_create_sequence(oxrt_elem_type elem_type, oxrt_value **items, size_t count,
                                                 oxrt_value **out);
/* An optional; adopts `item`, which may be NULL for an empty optional. On
 * failure `item` is not adopted. */
OXRT_API oxrt_status *oxrt_value_create_optional(oxrt_value *item, oxrt_value **out);
/* A map from a 1-D keys tensor (an integer type or STRING) to a 1-D values
 * tensor with as many elements (two different values). On success both are
 * adopted; on failure (NULL, the same value twice, wrong kind, rank or key
 * type, count mismatch) neither is. */
OXRT_API oxrt_status *oxrt_value_create_map(oxrt_value *keys, oxrt_value *values, oxrt_value **out);
/* Parse a serialized TensorProto, SequenceProto, MapProto or OptionalProto
 * (chosen by `kind`) into a new value that owns its memory. */
OXRT_API oxrt_status *oxrt_value_parse_proto(oxrt_value_kind kind, const void *data, size_t size,
                                             oxrt_value **out);
OXRT_API void oxrt_value_free(oxrt_value *v);

OXRT_API oxrt_value_kind oxrt_value_get_kind(const oxrt_value *v);
/* Element type: of a tensor; of the tensors a sequence or optional holds (for
 * a sequence of maps, of the maps' values); of a map's values. UNDEFINED for
 * an empty optional or NULL. */
OXRT_API oxrt_elem_type oxrt_value_get_elem_type(const oxrt_value *v);
/* Key type of a map (INT64, STRING, ...); UNDEFINED for anything else. */
OXRT_API oxrt_elem_type oxrt_value_get_key_type(const oxrt_value *v);
/* Unchecked tensor accessors: on a value that is not a tensor (or NULL) they
 * return 0 / NULL. The oxrt_value_tensor_* functions below report an error
 * instead. */
OXRT_API size_t oxrt_value_get_rank(const oxrt_value *v);
OXRT_API const int64_t *oxrt_value_get_dims(const oxrt_value *v);
OXRT_API size_t oxrt_value_get_elem_count(const oxrt_value *v);
OXRT_API const void *oxrt_value_get_data(const oxrt_value *v);
/* Writable data; NULL for a read-only value (oxrt_value_wrap_tensor). */
OXRT_API void *oxrt_value_get_mutable_data(oxrt_value *v);
OXRT_API size_t oxrt_value_get_nbytes(const oxrt_value *v);
/* Element `index` of a string tensor (NUL-terminated, but it may hold NULs
 * too); its length in bytes in *len if len != NULL. NULL when out of range. */
OXRT_API const char *oxrt_value_get_string(const oxrt_value *v, size_t index, size_t *len);
/* Sequences: length and items; optionals: 0 or 1 item; maps: item 0 is the
 * keys tensor and item 1 the values. 0 / NULL for tensors and out of range. */
OXRT_API size_t oxrt_value_get_item_count(const oxrt_value *v);
OXRT_API const oxrt_value *oxrt_value_get_item(const oxrt_value *v, size_t index);

/* Checked accessors: INVALID_ARGUMENT naming the value's kind when used on the
 * wrong kind of value; out-parameters may be NULL when not wanted. */
OXRT_API oxrt_status *oxrt_value_tensor_shape(const oxrt_value *v, oxrt_elem_type *type, size_t *rank,
                                              const int64_t **dims);
OXRT_API oxrt_status *oxrt_value_tensor_data(const oxrt_value *v, const void **data, size_t *nbytes);
/* Fails for read-only values too. */
OXRT_API oxrt_status *oxrt_value_tensor_mutable_data(oxrt_value *v, void **data, size_t *nbytes);
OXRT_API oxrt_status *oxrt_value_string_at(const oxrt_value *v, size_t index, const char **s, size_t *len);
/* Items of a sequence, optional or map (see oxrt_value_get_item). */
OXRT_API oxrt_status *oxrt_value_item_at(const oxrt_value *v, size_t index, const oxrt_value **item);
OXRT_API oxrt_status *oxrt_value_map_types(const oxrt_value *v, oxrt_elem_type *key_type, oxrt_elem_type *value_type);
/* The value's type in ONNX Runtime's spelling ("tensor(float)", "seq(map(int64,tensor(float)))",
 * "optional(tensor(int64))") into `buf`; fails if `cap` is too small (buf is then left empty). */
OXRT_API oxrt_status *oxrt_value_type_string(const oxrt_value *v, char *buf, size_t cap);

/* ----------------------------------------------------------------- session */

typedef enum oxrt_log_level {
  OXRT_LOG_VERBOSE = 0,
  OXRT_LOG_INFO = 1,
  OXRT_LOG_WARNING = 2,
  OXRT_LOG_ERROR = 3,
  OXRT_LOG_FATAL = 4
} oxrt_log_level;

typedef void (*oxrt_log_fn)(void *user, oxrt_log_level level, const char *message);

typedef enum oxrt_opt_level {
  OXRT_OPT_DISABLE = 0,
  OXRT_OPT_BASIC = 1,
  OXRT_OPT_EXTENDED = 2,
  OXRT_OPT_ALL = 99
} oxrt_opt_level;

typedef struct oxrt_session_options oxrt_session_options;
typedef struct oxrt_session oxrt_session;

/* Setters validate their argument and return INVALID_ARGUMENT (options
 * unchanged) for a NULL `o` or a value outside the documented range. A setting
 * made through the API always wins over the environment: environment variables
 * only change the defaults of settings never set explicitly. */
OXRT_API oxrt_status *oxrt_session_options_create(oxrt_session_options **out);
OXRT_API void oxrt_session_options_free(oxrt_session_options *o);
/* Intra-op threads, counting the calling thread: 0 (the default) means one per
 * core; 1 to 1024 otherwise. Ignored when a shared pool is set. No environment
 * variable changes it. */
OXRT_API oxrt_status *oxrt_session_options_set_intra_op_threads(oxrt_session_options *o, int threads);
/* One of OXRT_OPT_DISABLE, BASIC, EXTENDED, ALL (the default). Without this
 * call, the environment variable OXRT_OPT_LEVEL (0, 1, 2 or 99) sets the
 * default; after it, the environment is ignored. */
OXRT_API oxrt_status *oxrt_session_options_set_opt_level(oxrt_session_options *o, oxrt_opt_level level);
/* Messages at `min_level` (VERBOSE..FATAL; default WARNING) or above go to
 * `fn`; without a callback (fn NULL) the library prints nothing. */
OXRT_API oxrt_status *oxrt_session_options_set_log(oxrt_session_options *o, oxrt_log_fn fn, void *user,
                                                   oxrt_log_level min_level);

/* With `load_only` set (0 or 1), a session only loads and checks the model (for
 * inspection: inputs, outputs, metadata, statistics) without resolving
 * kernels; running it fails. Default 0. */
OXRT_API oxrt_status *oxrt_session_options_set_load_only(oxrt_session_options *o, int load_only);

/* With `on` set, runs treat subnormal floats as zero, in and out (x86 FTZ+DAZ, ARM FZ), as ONNX Runtime's
 * "session.set_denormal_as_zero". Models whose weights or activations hold many subnormals then run at full
 * speed instead of ~100 cycles per such operation; results differ only below 1.2e-38. Default 0. The
 * calling thread's floating-point mode is restored when oxrt_session_run returns. */
OXRT_API oxrt_status *oxrt_session_options_set_denormal_as_zero(oxrt_session_options *o, int on);

/* With `on` set (0 or 1; default 1), the first run of each input shape records when the model's intermediate
 * tensors are made and die, and later runs with that shape place them in one arena planned from the recording:
 * no allocation per run, and peak memory near the largest live set (ONNX Runtime's enable_mem_pattern). A run whose
 * sizes depart from the recording (data-dependent shapes) finishes from a pool of freed buffers. With 0 every run
 * uses that pool. The environment variable OXRT_MEM_PLAN=0 changes the default; this setting wins over it. */
OXRT_API oxrt_status *oxrt_session_options_set_memory_pattern(oxrt_session_options *o, int on);

/* Open a model file (memory-mapped; external data is resolved relative to
 * the file's folder). `opts` may be NULL for defaults. */
OXRT_API oxrt_status *oxrt_session_create(const char *path, const oxrt_session_options *opts,
                                          oxrt_session **out);
/* Open a model from a buffer. The buffer is copied only where needed; it may
 * be freed after the call. External data is resolved relative to the
 * current folder. */
OXRT_API oxrt_status *oxrt_session_create_from_memory(const void *data, size_t size,
                                                      const oxrt_session_options *opts, oxrt_session **out);
OXRT_API void oxrt_session_free(oxrt_session *s);

/* Size-versioned structs: the structs the library fills in start with `size`,
 * which the caller sets to sizeof(the struct) before the call (OXRT_INIT does
 * it). The library writes only that many bytes and sets `size` to what it
 * wrote, so a program built against an older, smaller struct keeps working;
 * a size smaller than this release's 0.2 struct is an INVALID_ARGUMENT.
 * The option structs the caller fills in and passes (oxrt_optimize_options,
 * oxrt_quantize_options, oxrt_calib_batch, oxrt_convert_options) start with
 * `size` too, set the same way: the library reads only the fields it knows
 * and refuses a size smaller than its own struct (for example 0: a struct
 * that was not initialised with OXRT_INIT). */
#ifdef __cplusplus
#define OXRT_INIT(type) {sizeof(type)}
#else
#define OXRT_INIT(type) {.size = sizeof(type)}
#endif

/* Description of a model input or output. All pointers are borrowed from
 * the session. For tensors, `dims[i]` is -1 where the dimension is not a
 * fixed number; `dim_names[i]` is then its symbolic name or NULL. `rank` is
 * -1 when the shape is unknown. `type_string` is ONNX Runtime's spelling,
 * e.g. "tensor(float)", "seq(tensor(int64))", "map(int64,tensor(float))".
 * `elem_type` follows oxrt_value_get_elem_type: the innermost tensors' type
 * (a map's values; "seq(map(int64,tensor(float)))" gives FLOAT). `key_type`
 * is a map's key type, else UNDEFINED. `element` describes what a sequence or
 * optional holds, or a map's value type; NULL for tensors. */
typedef struct oxrt_value_info {
  size_t size; /* sizeof(oxrt_value_info), set by the caller */
  const char *name;
  oxrt_value_kind kind;
  oxrt_elem_type elem_type;
  int rank;
  const int64_t *dims;
  const char *const *dim_names;
  const char *type_string;
  oxrt_elem_type key_type;
  const struct oxrt_value_info *element;
} oxrt_value_info;

OXRT_API size_t oxrt_session_get_input_count(const oxrt_session *s);
OXRT_API size_t oxrt_session_get_output_count(const oxrt_session *s);
OXRT_API oxrt_status *oxrt_session_get_input_info(const oxrt_session *s, size_t index, oxrt_value_info *out);
OXRT_API oxrt_status *oxrt_session_get_output_info(const oxrt_session *s, size_t index, oxrt_value_info *out);

/* The model's own metadata as stored in the file: the opsets it imports
 * (not domains the optimizer added), its producer and version. */
typedef struct oxrt_model_meta {
  size_t size; /* sizeof(oxrt_model_meta), set by the caller */
  int64_t ir_version;
  const char *producer_name;
  const char *producer_version;
  const char *domain;
  int64_t model_version;
  const char *description; /* model doc_string */
  const char *graph_name;
  const char *graph_description;
  size_t custom_count; /* metadata_props */
  const char *const *custom_keys;
  const char *const *custom_values;
  size_t opset_count;
  const char *const *opset_domains; /* "" is ai.onnx */
  const int64_t *opset_versions;
} oxrt_model_meta;

OXRT_API oxrt_status *oxrt_session_get_model_meta(const oxrt_session *s, oxrt_model_meta *out);

/* Counts of the loaded graph, for tools: number of nodes and how often each
 * op type occurs, number of initializer elements and bytes. */
typedef struct oxrt_model_stats {
  size_t size; /* sizeof(oxrt_model_stats), set by the caller */
  size_t node_count;
  size_t op_type_count;
  const char *const *op_types; /* "domain:op" or "op" for ai.onnx */
  const size_t *op_counts;
  size_t initializer_count;
  uint64_t parameter_count;
  uint64_t parameter_bytes;
} oxrt_model_stats;

OXRT_API oxrt_status *oxrt_session_get_model_stats(const oxrt_session *s, oxrt_model_stats *out);

/* ------------------------------------------------------------- run options */
/* Per-run settings, as ONNX Runtime's RunOptions. One object may serve several
 * runs at once; only the terminate flag may change while a run uses it. */
typedef struct oxrt_run_options oxrt_run_options;

OXRT_API oxrt_status *oxrt_run_options_create(oxrt_run_options **out);
OXRT_API void oxrt_run_options_free(oxrt_run_options *ro);
/* A tag naming the run in log messages and errors (at most 255 bytes; "" is none). */
OXRT_API oxrt_status *oxrt_run_options_set_tag(oxrt_run_options *ro, const char *tag);
OXRT_API const char *oxrt_run_options_get_tag(const oxrt_run_options *ro);
/* Log level for this run's messages, replacing the session's (VERBOSE..FATAL). */
OXRT_API oxrt_status *oxrt_run_options_set_log_level(oxrt_run_options *ro, oxrt_log_level level);
OXRT_API oxrt_log_level oxrt_run_options_get_log_level(const oxrt_run_options *ro);
/* With `on` set (1; 0 clears it, other values are INVALID_ARGUMENT), runs
 * using these options stop at the next node boundary (or the next check
 * inside a long kernel or loop) and return OXRT_ERR_CANCELLED; runs started
 * while it is set fail at once. Safe to call from any thread while a run is
 * in progress. Clear it (on = 0) to run again. */
OXRT_API oxrt_status *oxrt_run_options_set_terminate(oxrt_run_options *ro, int on);
OXRT_API int oxrt_run_options_get_terminate(const oxrt_run_options *ro);
/* A wall-clock limit per run in milliseconds (0, the default, is none); a run
 * past it stops like a terminated one, with OXRT_ERR_CANCELLED. */
OXRT_API oxrt_status *oxrt_run_options_set_time_limit_ms(oxrt_run_options *ro, int64_t ms);
/* Free-form configuration entries as ONNX Runtime's add_run_config_entry; a
 * key set again is replaced. Understood here:
 *   "memory.enable_memory_arena_shrinkage": any value: the buffers this run
 *   used go back to the system when it ends instead of being kept for reuse. */
OXRT_API oxrt_status *oxrt_run_options_add_config_entry(oxrt_run_options *ro, const char *key, const char *value);
/* Value of a config entry; NULL when not set. */
OXRT_API const char *oxrt_run_options_get_config_entry(const oxrt_run_options *ro, const char *key);

/* Run the model. `inputs[i]` feeds the input named `input_names[i]`; they
 * are borrowed. `output_names` may be NULL to ask for every output in model
 * order (then `n_outputs` must equal the output count). `run_options` may be
 * NULL. Where outputs[i] is NULL on entry, it receives a new value owned by
 * the caller. Where outputs[i] is a writable tensor on entry (from
 * oxrt_value_create_tensor or oxrt_value_wrap_mutable_tensor), the result is
 * written into it, in place; its element type and shape must match the
 * result exactly, else the run fails with INVALID_ARGUMENT and no caller
 * value is replaced or freed. Initialise the array (e.g. `= {0}`) before the
 * call. On failure, outputs that were NULL stay NULL. Safe to call from
 * several threads at once on one session. */
OXRT_API oxrt_status *oxrt_session_run(oxrt_session *s, const oxrt_run_options *run_options,
                                       const char *const *input_names, const oxrt_value *const *inputs,
                                       size_t n_inputs, const char *const *output_names, size_t n_outputs,
                                       oxrt_value **outputs);

/* -------------------------------------------------------------- io binding */
/* Inputs and outputs bound once, by name, for many runs (ONNX Runtime's
 * IOBinding). Bound input values are borrowed and must outlive the binding's
 * runs. A bound output value is written in place on every run (matching type
 * and shape required); an output bound with NULL gets a value owned by the
 * binding, allocated on the first run and reused in place by later runs of the
 * same shape. A binding belongs to one session; use one binding per thread. */
typedef struct oxrt_io_binding oxrt_io_binding;

OXRT_API oxrt_status *oxrt_io_binding_create(oxrt_session *s, oxrt_io_binding **out);
OXRT_API void oxrt_io_binding_free(oxrt_io_binding *b);
/* Binding a name again replaces its value. Unknown names are an error. */
OXRT_API oxrt_status *oxrt_io_binding_bind_input(oxrt_io_binding *b, const char *name, const oxrt_value *value);
OXRT_API oxrt_status *oxrt_io_binding_bind_output(oxrt_io_binding *b, const char *name, oxrt_value *value);
OXRT_API void oxrt_io_binding_clear_inputs(oxrt_io_binding *b);
OXRT_API void oxrt_io_binding_clear_outputs(oxrt_io_binding *b);
OXRT_API oxrt_status *oxrt_session_run_with_binding(oxrt_session *s, const oxrt_run_options *run_options,
                                                    oxrt_io_binding *b);
/* Bound outputs in the order they were bound: name and current value (NULL
 * before the first run for outputs bound with NULL); borrowed from the binding. */
OXRT_API size_t oxrt_io_binding_get_output_count(const oxrt_io_binding *b);
OXRT_API const char *oxrt_io_binding_get_output_name(const oxrt_io_binding *b, size_t index);
OXRT_API oxrt_value *oxrt_io_binding_get_output(const oxrt_io_binding *b, size_t index);

/* ------------------------------------------------------ shared thread pool */
/* An intra-op thread pool several sessions share (ONNX Runtime's global
 * thread pools): sessions created with oxrt_session_options_set_thread_pool
 * use it instead of creating their own. Reference-counted: the pool lives
 * until it was freed and every session using it is freed. When two runs
 * need it at once, the later one works on its own thread. */
typedef struct oxrt_thread_pool oxrt_thread_pool;
/* `threads` counts the calling thread: 0 is one per core, else 1 to 1024. */
OXRT_API oxrt_status *oxrt_thread_pool_create(int threads, oxrt_thread_pool **out);
OXRT_API void oxrt_thread_pool_free(oxrt_thread_pool *p);
OXRT_API int oxrt_thread_pool_get_size(const oxrt_thread_pool *p);
/* NULL goes back to a pool of the session's own. */
OXRT_API oxrt_status *oxrt_session_options_set_thread_pool(oxrt_session_options *o, oxrt_thread_pool *p);

/* ------------------------------------------------------- allocator hooks */
/* Where tensor memory comes from (default: the C library, 64-byte aligned):
 * values, run buffers, a session's packed weights. `alloc` must return memory
 * aligned to `alignment` (a power of two, 64) or NULL; `free` gets what
 * `alloc` returned. Process-wide; it can only change while no tensor memory is
 * allocated (before the first session, or after every session, value and
 * binding was freed): otherwise INVALID_ARGUMENT. NULL restores the default.
 * The kernels' per-thread scratch blocks, kept between runs until the thread
 * exits, come from the C library and are not counted. */
typedef struct oxrt_allocator {
  size_t size; /* sizeof(oxrt_allocator) */
  void *(*alloc)(void *user, size_t nbytes, size_t alignment);
  void (*free)(void *user, void *ptr);
  void *user;
} oxrt_allocator;
OXRT_API oxrt_status *oxrt_set_allocator(const oxrt_allocator *a);
/* Bytes of tensor memory allocated now through the hooks (or the default). */
OXRT_API uint64_t oxrt_allocated_bytes(void);

/* ---------------------------------------------------------------- profiling */
/* With profiling on, every node a run executes (subgraph nodes included) is
 * timed. Off by default; costs two clock reads per node when on. The profile
 * file is named "<file_prefix>_<date>_<time>.json" (prefix NULL or "" means
 * "oxrt_profile") and is a Chrome trace, as ONNX Runtime writes. */
OXRT_API oxrt_status *oxrt_session_options_enable_profiling(oxrt_session_options *o, const char *file_prefix);
/* Turns profiling off again; fails only for NULL options (the 0.2.0 baseline returned void). */
OXRT_API oxrt_status *oxrt_session_options_disable_profiling(oxrt_session_options *o);

typedef struct oxrt_profile_event {
  size_t size;                     /* sizeof(oxrt_profile_event), set by the caller */
  const char *node_name, *op_type; /* valid while the session lives */
  int64_t start_ns;                /* since the session was created */
  int64_t duration_ns;
} oxrt_profile_event;

/* Events recorded since the session was created or the last end_profiling. */
OXRT_API size_t oxrt_session_get_profile_count(oxrt_session *s);
OXRT_API oxrt_status *oxrt_session_get_profile_event(oxrt_session *s, size_t index, oxrt_profile_event *out);
/* Wall-clock time (ns since the Unix epoch) that event start times count from. */
OXRT_API int64_t oxrt_session_get_profiling_start_time_ns(const oxrt_session *s);
/* Writes the events recorded so far to the profile file, whose name is
 * returned in `path`, and starts a new profile. On error nothing is written,
 * neither a file nor `path` (which is left untouched). */
OXRT_API oxrt_status *oxrt_session_end_profiling(oxrt_session *s, char *path, size_t path_cap);

/* The operators this build implements, for listings: domain ("" is ai.onnx),
 * name and the number of versioned implementations. Returns NULL past the end. */
OXRT_API const char *oxrt_operator_name(size_t index, const char **domain, size_t *n_versions);
/* Opset version where implementation `k` of operator `index` starts; -1 past the end. */
OXRT_API int64_t oxrt_operator_since_version(size_t index, size_t k);

/* Version string of the library. */
OXRT_API const char *oxrt_version(void);
/* Version of the library as MAJOR * 10000 + MINOR * 100 + PATCH (compare with OXRT_VERSION_NUMBER). */
OXRT_API uint32_t oxrt_version_number(void);

/* ------------------------------------------------------------ optimization */

/* At session creation, after the graph optimizations of the options' level
 * ran, write the optimized model to `path` (like ONNX Runtime's
 * optimized_model_filepath). Functions of the model appear inlined. NULL or ""
 * turns it off. Fails if the path is longer than 4095 bytes. */
OXRT_API oxrt_status *oxrt_session_options_set_optimized_model_path(oxrt_session_options *o, const char *path);

/* Called after each optimization pass: its name, the round (passes repeat
 * while they find work), and the node count (subgraphs included) before and
 * after it. */
typedef void (*oxrt_opt_pass_fn)(void *user, const char *pass, int round, size_t nodes_before, size_t nodes_after);

typedef struct oxrt_optimize_options {
  size_t size;                     /* sizeof(oxrt_optimize_options): OXRT_INIT(oxrt_optimize_options) */
  oxrt_opt_level level;            /* OXRT_OPT_DISABLE only re-saves the model */
  size_t external_data_threshold;  /* initializers of at least this many bytes go to
                                      "<out file>.data" next to the model; 0 keeps them inline
                                      (models over 1.5 GiB of weights always use one) */
  const char *disable_passes;      /* comma-separated pass names to skip, or NULL */
  oxrt_opt_pass_fn on_pass;        /* optional */
  void *user;
} oxrt_optimize_options;

/* Load the model at `model_path`, optimize it and save it to `out_path` as
 * an ONNX model (model-local functions are kept, not inlined). `opts` may be
 * NULL for level ALL. Environment: OXRT_OPT_LEVEL (0, 1, 2, 99) sets the level
 * when `opts` is NULL (and the default of sessions whose options never set
 * one); OXRT_OPT_DISABLE names passes to skip when opts->disable_passes is NULL. */
OXRT_API oxrt_status *oxrt_optimize_model_file(const char *model_path, const char *out_path,
                                               const oxrt_optimize_options *opts);

/* Skip the optimization passes named in `names` (comma-separated, as oxrt_opt_pass_info names them; NULL or ""
 * skips none), like ONNX Runtime's disabled_optimizers. An unknown name is an error. The environment variable
 * OXRT_OPT_DISABLE only changes the default: it names the passes to skip in sessions whose options never set a
 * list; once this is called (even with ""), it no longer applies. */
OXRT_API oxrt_status *oxrt_session_options_set_disabled_passes(oxrt_session_options *o, const char *names);

/* Like oxrt_optimize_model_file, but runs the comma-separated pass names `passes` in that order instead of a
 * level: oxrt's own (oxrt_opt_pass_info) or onnxoptimizer's (oxrt_opt_named_pass_info), each once as
 * onnxoptimizer.optimize does, or with `fixed_point` until nothing changes. `opts` (may be NULL) gives the
 * external data threshold and the pass callback; its level and disable list are ignored. */
OXRT_API oxrt_status *oxrt_optimize_model_file_passes(const char *model_path, const char *out_path, const char *passes,
                                                      int fixed_point, const oxrt_optimize_options *opts);

/* Name and one-line description of optimization pass `index` (in the order
 * they run), and the lowest level that runs it; NULL past the last. */
OXRT_API const char *oxrt_opt_pass_info(size_t index, const char **summary, oxrt_opt_level *level);
/* Passes that only run when named in oxrt_optimize_options.passes (onnxoptimizer's names), then
 * onnxoptimizer's names that one of oxrt's own passes serves (`alias_of` is then that pass's name, else
 * NULL). NULL past the last. */
OXRT_API const char *oxrt_opt_named_pass_info(size_t index, const char **summary, const char **alias_of);

/* ------------------------------------------------------- reduced precision */
/* Quantization (src/quant/): the model's Conv, MatMul and Gemm nodes with constant float weights are
 * rewritten to 8-bit. Files written load in ONNX Runtime as well as here.
 *  - dynamic: weights quantized offline; activations quantized at run time (DynamicQuantizeLinear +
 *    MatMulInteger/ConvInteger, uint8 activations), or weight-only DequantizeLinear with OXRT_QUANT_QDQ.
 *  - static: activations quantized with ranges measured on calibration batches; QDQ puts
 *    QuantizeLinear/DequantizeLinear pairs around each quantized node, QOperator uses QLinearConv,
 *    QLinearMatMul and com.microsoft QGemm. */
typedef enum oxrt_quant_mode { OXRT_QUANT_DYNAMIC = 0, OXRT_QUANT_STATIC = 1 } oxrt_quant_mode;
typedef enum oxrt_quant_format { OXRT_QUANT_QDQ = 0, OXRT_QUANT_QOPERATOR = 1 } oxrt_quant_format;
typedef enum oxrt_calib_method {
  OXRT_CALIB_MINMAX = 0,
  OXRT_CALIB_ENTROPY = 1,   /* threshold with the least KL divergence over a 2048-bin histogram */
  OXRT_CALIB_PERCENTILE = 2 /* threshold at a percentile of |x| */
} oxrt_calib_method;

/* One calibration batch: values for the model's inputs, by name (borrowed). */
typedef struct oxrt_calib_batch {
  size_t size; /* sizeof(oxrt_calib_batch), the same in every batch of an array (its stride) */
  size_t n_inputs;
  const char *const *names;
  const oxrt_value *const *values;
} oxrt_calib_batch;

/* Progress over calibration: `stage` ("ranges", "histograms"), batches done of `total`. */
typedef void (*oxrt_progress_fn)(void *user, const char *stage, size_t done, size_t total);

typedef struct oxrt_quantize_options {
  size_t size;                     /* sizeof(oxrt_quantize_options): OXRT_INIT(oxrt_quantize_options) */
  oxrt_quant_mode mode;
  oxrt_quant_format format;
  int per_channel;                 /* one scale per output channel of each weight */
  int reduce_range;                /* 7-bit weights: exact on CPUs whose 8-bit kernels multiply u8 x s8 pairs
                                      into saturating int16 (AVX2 VPMADDUBSW, ONNX Runtime's choice there) */
  oxrt_elem_type weight_type;      /* OXRT_INT8 (0 means this; symmetric) or OXRT_UINT8 (asymmetric) */
  oxrt_elem_type activation_type;  /* static: OXRT_UINT8 (0 means this) or OXRT_INT8; dynamic: always uint8 */
  oxrt_calib_method method;
  float percentile;                /* OXRT_CALIB_PERCENTILE: 0 means 99.999 */
  const char *op_types;            /* comma-separated; NULL: Conv,MatMul,Gemm (+ activation ops, static QDQ) */
  const char *exclude_nodes;       /* comma-separated node names left in float; NULL: none */
  const oxrt_calib_batch *batches; /* static mode: at least one */
  size_t n_batches;
  oxrt_progress_fn on_progress;    /* optional */
  void *user;
} oxrt_quantize_options;

/* Quantize the model at `model_path` and save it to `out_path`. */
OXRT_API oxrt_status *oxrt_quantize_model_file(const char *model_path, const char *out_path,
                                               const oxrt_quantize_options *opts);

/* float32 -> float16 / bfloat16 conversion of a model's weights and computation. */
typedef struct oxrt_convert_options {
  size_t size;           /* sizeof(oxrt_convert_options): OXRT_INIT(oxrt_convert_options) */
  oxrt_elem_type to;     /* OXRT_FLOAT16 (0 means this) or OXRT_BFLOAT16 */
  int keep_io_types;     /* graph inputs and outputs stay float32 (Casts at the borders) */
  const char *block_ops; /* comma-separated op types kept in float32 with Casts around them; NULL: the
                            default list (ops ONNX Runtime's CPU provider has no float16 kernel for) */
  const char *block_nodes; /* comma-separated node names kept in float32; NULL: none */
} oxrt_convert_options;

OXRT_API oxrt_status *oxrt_convert_float_model_file(const char *model_path, const char *out_path,
                                                    const oxrt_convert_options *opts);
/* The default block list of oxrt_convert_options (comma-separated). */
OXRT_API const char *oxrt_convert_default_block_ops(void);

/* bfloat16 compute for float32 models (opt-in). Mode 0: off (default). Mode 1: Conv, MatMul and Gemm (and
 * their fused forms) with constant float weights take bfloat16 inputs with float32 accumulation where the CPU has
 * AVX512_BF16 (VDPBF16PS; the weights are packed in bfloat16 when the session opens, the activations converted
 * while the GEMM packs them, round to nearest even), and run in float32 elsewhere (oxrt_bf16_compute_native says
 * which); attention, products of two activations and the rest of the graph stay float32. CLI: --bf16. Mode 2: emulation on any CPU: those
 * ops' inputs are rounded to bfloat16 (round to nearest even) and the products accumulate in float32,
 * which gives bfloat16 hardware's numbers at float32 speed, to measure the accuracy cost. Python:
 * session config entry "session.bf16_compute" = "1" / "emulate". A mode other than 0, 1, 2 (or NULL options) is
 * INVALID_ARGUMENT and leaves the options unchanged (the 0.2.0 baseline returned void and took such a mode as 0). */
OXRT_API oxrt_status *oxrt_session_options_set_bf16_compute(oxrt_session_options *o, int mode);
/* 1 if this CPU has AVX512_BF16 or AMX-BF16 and this build has a native bfloat16 kernel for it. */
OXRT_API int oxrt_bf16_compute_native(void);
/* 1 if this CPU reports AVX512_BF16 or AMX-BF16 (whatever the build can use). */
OXRT_API int oxrt_cpu_has_bf16(void);

/* --------------------------------------------------------- resource limits */
/* Limits that keep a hostile or broken model from taking the embedding process down. A session that hits
 * one fails with a status naming the limit (OUT_OF_MEMORY for the byte limits, INVALID_MODEL for nesting
 * and rank at load, INVALID_ARGUMENT/RUNTIME at run time); nothing aborts. Defaults in brackets. */
typedef enum oxrt_limit {
  OXRT_LIMIT_TENSOR_BYTES = 0,   /* bytes of the largest tensor a run may create [64 GiB; at most 1 TiB] */
  OXRT_LIMIT_RUN_BYTES = 1,      /* bytes of tensors one run may allocate, summed over the run [1 TiB] */
  OXRT_LIMIT_SUBGRAPH_DEPTH = 2, /* nesting of subgraphs (If/Loop/Scan bodies) in the model [64; at most 256] */
  OXRT_LIMIT_PROTO_DEPTH = 3,    /* nesting of TypeProto / SequenceProto / MapProto / OptionalProto
                                    messages [100; at most 1000] */
  OXRT_LIMIT_RANK = 4            /* largest tensor rank a run may create [16, also the most] */
} oxrt_limit;

/* Sets one limit; 0 restores its default. Fails (leaving the options unchanged) for an unknown limit or a
 * value above the limit's maximum. */
OXRT_API oxrt_status *oxrt_session_options_set_limit(oxrt_session_options *o, oxrt_limit which, uint64_t value);
/* The limit in force (its default where unset); 0 for an unknown limit. `o` may be NULL for the defaults. */
OXRT_API uint64_t oxrt_session_options_get_limit(const oxrt_session_options *o, oxrt_limit which);

/* ------------------------------------------------------------ ONNX toolkit */
/* Checker, shape inference, text format and opset conversion: the onnx package's tools. */
#define OXRT_CHECK_FULL 1u /* also run type and shape inference (onnx's full_check=True) */
/* Checks a model like onnx.checker.check_model: NULL when valid, else a status naming the graph, node, field and
 * what was expected. External data paths must stay inside the model's folder (the current folder for bytes). */
OXRT_API oxrt_status *oxrt_check_model(const char *path, unsigned flags);
OXRT_API oxrt_status *oxrt_check_model_bytes(const void *data, size_t size, unsigned flags);
/* Infers types and shapes of intermediate values (symbolic dims kept by name, small int64 tensors propagated
 * through Shape/Gather/Concat/... into Reshape) and writes them as value_info, like
 * onnx.shape_inference.infer_shapes. The result is a malloc'd serialized model; free it with free(). */
OXRT_API oxrt_status *oxrt_infer_shapes_bytes(const void *data, size_t size, void **out, size_t *out_size);
/* A size the model gives one of its inputs' named dims only through its declarations: inference from the inputs
 * alone carries the dim's name (say "height") to an axis of an intermediate value or output whose declared type
 * (value_info, graph output) states a number there. `oxrt run` picks sizes for free input dims from these. */
typedef struct oxrt_stated_dim {
  char name[128];  /* the dim's name */
  int64_t value;   /* the stated size; -1 where the declarations state two different sizes */
  char why[200];   /* the declaration that states it */
} oxrt_stated_dim;
/* Writes up to `cap` of them to out[] and their number to *count (0 is no error). */
OXRT_API oxrt_status *oxrt_model_stated_dims(const char *model_path, oxrt_stated_dim *out, size_t cap,
                                             size_t *count);
/* The model in ONNX's textual syntax (what onnx.printer writes), NUL-terminated, malloc'd. */
OXRT_API oxrt_status *oxrt_print_model_bytes(const void *data, size_t size, char **text);
/* Parses ONNX's textual syntax (onnx.parser) into a malloc'd serialized model. */
OXRT_API oxrt_status *oxrt_parse_model_text(const char *text, void **out, size_t *out_size);
/* Converts the model to opset `target` of ai.onnx, like onnx.version_converter.convert_version, rewriting the
 * operators whose signature changed (attributes that became inputs and the like). */
OXRT_API oxrt_status *oxrt_convert_opset_bytes(const void *data, size_t size, int64_t target, void **out,
                                               size_t *out_size);
/* The same three from and to files: external data is read from the model's folder, and initializers of at least
 * `external_data_threshold` bytes (0: none) are written to "<out file>.data" next to the output. */
OXRT_API oxrt_status *oxrt_infer_shapes_file(const char *model_path, const char *out_path,
                                             size_t external_data_threshold);
OXRT_API oxrt_status *oxrt_convert_opset_file(const char *model_path, const char *out_path, int64_t target,
                                              size_t external_data_threshold);
OXRT_API oxrt_status *oxrt_print_model_file(const char *model_path, char **text);

/* --------------------------------------------------------------- debugging */

/* Called during oxrt_session_run after each node of the main graph ran, once for every output it produced,
 * in execution (topological) order: the node's name and op type, the output's name and its value, borrowed
 * for the duration of the call only. Nodes inside subgraphs (If, Loop, Scan bodies) are not reported. With
 * the optimizer on, fused nodes report only what they still compute; level OXRT_OPT_DISABLE shows every node
 * of the model. Called on the thread that runs; concurrent runs call it concurrently. NULL turns it off. Fails only
 * for NULL options (the 0.2.0 baseline returned void). */
typedef void (*oxrt_node_output_fn)(void *user, const char *node_name, const char *op_type, const char *output_name,
                                    const oxrt_value *value);
OXRT_API oxrt_status *oxrt_session_options_set_node_output_callback(oxrt_session_options *o, oxrt_node_output_fn fn,
                                                                    void *user);

/* ------------------------------------------------------------ graph walk */

/* One node as oxrt_session_visit_graph shows it; everything is borrowed for the duration of the call. Types
 * are "float32[1,3,224,224]", with symbolic dims by name ("float32[batch,3,H,W]") and '?' where unknown; ""
 * when the type is not known at all. */
typedef struct oxrt_node_view {
  const char *name, *op_type, *domain;
  size_t n_inputs, n_outputs;
  const char *const *inputs;  /* value names; "" for an omitted optional input */
  const char *const *outputs;
  const char *const *input_types;
  const char *const *output_types;
  const unsigned char *input_is_const; /* 1 where the input is an initializer (a weight) */
  int depth;                           /* 0 in the main graph, 1 in a subgraph of a main-graph node, ... */
} oxrt_node_view;

typedef enum oxrt_visit_event {
  OXRT_VISIT_NODE = 0,
  OXRT_VISIT_SUBGRAPH_BEGIN = 1, /* `node` owns the subgraph, `subgraph` is its attribute name */
  OXRT_VISIT_SUBGRAPH_END = 2
} oxrt_visit_event;

/* Return nonzero to stop the walk. */
typedef int (*oxrt_graph_visit_fn)(void *user, oxrt_visit_event event, const oxrt_node_view *node,
                                   const char *subgraph);
/* Walks the session's graph (after its optimizations; a load_only session shows the model as written) in
 * node order, descending into subgraphs between their BEGIN and END events. */
OXRT_API oxrt_status *oxrt_session_visit_graph(const oxrt_session *s, oxrt_graph_visit_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif /* OXRT_H */
