/* version_convert.h - upgrading a model's ai.onnx opset (onnx.version_converter). */
#ifndef OXRT_ONNX_VERSION_CONVERT_H
#define OXRT_ONNX_VERSION_CONVERT_H
#include "../core/status.h"
#include "../ir/ir.h"

/* Rewrites the nodes of `m` (subgraphs included) for ai.onnx opset `target` (>= the current one). */
oxrt_status *oxrt_convert_opset(oxrt_model *m, int64_t target);

#endif
