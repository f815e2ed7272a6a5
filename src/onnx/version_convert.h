/* version_convert.h - upgrading a model's ai.onnx opset (onnx.version_converter). */
#ifndef OXRT_ONNX_VERSION_CONVERT_H
#define OXRT_ONNX_VERSION_CONVERT_H
#include "../core/status.h"
#include "../ir/ir.h"

/* Rewrites the nodes of `m` (subgraphs included) for ai.onnx opset `target` (>= the current one). */
oxrt_status *oxrt_convert_opset(oxrt_model *m, int64_t target);

/* Reads a serialized model, applies `fn` to it, and serializes the result (malloc'd, in *out). */
oxrt_status *oxrt_rewrite_model_bytes(const void *data, size_t size, oxrt_status *(*fn)(oxrt_model *, void *),
                                      void *arg, void **out, size_t *out_size);
/* The same from `path` (external data from its folder) to `out_path` (initializers of at least `external_threshold`
 * bytes to "<out_path>.data"; 0 keeps them inline). */
oxrt_status *oxrt_rewrite_model_file(const char *path, const char *out_path, size_t external_threshold,
                                     oxrt_status *(*fn)(oxrt_model *, void *), void *arg);
/* Loads a model file (memory-mapped; external data from its folder); free with oxrt_model_free. */

#endif
