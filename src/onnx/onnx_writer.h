/* onnx_writer.h - serialising the IR back into an ONNX ModelProto. */
#ifndef OXRT_ONNX_WRITER_H
#define OXRT_ONNX_WRITER_H
#include "../ir/ir.h"

typedef struct oxrt_write_options {
  /* Initializers of at least this many bytes go to an external data file
   * (data_location = EXTERNAL); 0 keeps every tensor inside the model. Only
   * for oxrt_write_model (a file path gives the folder of the data file). */
  size_t external_threshold;
  /* Name of the data file, relative to the model's folder; default
   * "<model file name>.data". */
  const char *external_file;
  /* Also write the declared/inferred types of intermediate values as value_info (default on: 0 = write). */
  int skip_value_info;
} oxrt_write_options;

/* Serialises `m` to a malloc'd buffer (caller frees). External data is not
 * possible here: every tensor is written inline. */
oxrt_status *oxrt_serialize_model(const oxrt_model *m, uint8_t **data, size_t *size);

/* Writes `m` to `path`, and large initializers to an external data file
 * when `opts` asks for it. `opts` may be NULL. */
oxrt_status *oxrt_write_model(const oxrt_model *m, const char *path, const oxrt_write_options *opts);

#endif
