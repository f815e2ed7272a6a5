/* onnx_reader.h - decoding ONNX protobuf messages into the IR and runtime values. */
#ifndef OXRT_ONNX_READER_H
#define OXRT_ONNX_READER_H
#include "../core/limits.h"
#include "../ir/ir.h"
#include "pb.h"

/* Where raw tensor bytes may be borrowed from, and where external data lives. */
typedef struct oxrt_tensor_src {
  bool borrow;          /* raw_data may be referenced in place (memory outlives the value) */
  const char *base_dir; /* folder for external data; NULL forbids external data */
  oxrt_model *model;    /* owner of mapped external files; NULL to copy external data */
  bool file_backed;     /* the bytes are a read-only file mapping: pages copied out may be dropped */
  const struct oxrt_limits *limits; /* nesting limits (core/limits.h); NULL for the defaults */
} oxrt_tensor_src;

/* Decode a TensorProto into a tensor value. `name_out` (optional) receives its name. */
oxrt_status *oxrt_read_tensor(pb_reader *r, const oxrt_tensor_src *src, oxrt_arena *a, oxrt_value **out,
                              const char **name_out);
/* Decode a SparseTensorProto (given as a sub-reader over its bytes) into a dense tensor. */
oxrt_status *oxrt_read_sparse_dense(pb_reader *r, const oxrt_tensor_src *src, oxrt_value **out, const char **name,
                                    oxrt_arena *a);
/* Decode a SequenceProto / MapProto / OptionalProto (values own their memory). */
oxrt_status *oxrt_read_sequence(pb_reader *r, oxrt_value **out);
oxrt_status *oxrt_read_map(pb_reader *r, oxrt_value **out);
oxrt_status *oxrt_read_optional(pb_reader *r, oxrt_value **out);
/* Decode a TypeProto nested at most `depth` levels (OXRT_LIMIT_PROTO_DEPTH). */
oxrt_status *oxrt_read_type(pb_reader *r, oxrt_arena *a, int depth, oxrt_type **out);

/* Parse a whole ModelProto from memory. `data` must stay alive as long as
 * the model when src->borrow is set. */
oxrt_status *oxrt_read_model(const void *data, size_t size, const oxrt_tensor_src *src, oxrt_model **out);
/* The same for `data` mapped from the file open as `fd` (the mapping of the whole file, kind 1 of oxrt_map_file):
 * initializers that must be copied (misaligned) are read with pread, so the mapping's pages never come in. */
oxrt_status *oxrt_read_model_fd(const void *data, size_t size, const oxrt_tensor_src *src, int fd, oxrt_model **out);

/* Memory-map (or read) a whole file; kind 1 = mmap, 2 = malloc. */
oxrt_status *oxrt_map_file(const char *path, void **base, size_t *size, int *kind);
/* The same, keeping the descriptor open in *fd for a mapping (kind 1; else -1): the caller closes it. */
oxrt_status *oxrt_map_file_fd(const char *path, void **base, size_t *size, int *kind, int *fd);
void oxrt_unmap_file(void *base, size_t size, int kind);
/* Drops the resident pages of the model's file mappings (read-only: what is read again comes back from the file).
 * Once weights are packed, pages faulted in around the ones packers read are not needed any more. */
void oxrt_model_drop_file_pages(oxrt_model *m);
/* The folder of model file `path` ("." without one), where its external data files are looked up. */
void oxrt_model_dir(const char *path, char *dir, size_t cap);
/* Maps and reads the model at `path`; the model owns the mapping its initializers borrow from. Errors start
 * with the path. */
oxrt_status *oxrt_load_model_file(const char *path, oxrt_model **out);

#endif
