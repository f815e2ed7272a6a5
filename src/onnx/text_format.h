/* text_format.h - ONNX's textual syntax (onnx.printer / onnx.parser) for the IR. */
#ifndef OXRT_ONNX_TEXT_FORMAT_H
#define OXRT_ONNX_TEXT_FORMAT_H
#include "../core/status.h"
#include "../ir/ir.h"
#include <stdbool.h>

/* Whether `s` can be written without quotes. */
bool oxrt_text_is_ident(const char *s);
/* The model as text (malloc'd, NUL-terminated). */
oxrt_status *oxrt_text_print(const oxrt_model *m, char **out);
/* A model from text; free with oxrt_model_free. */
oxrt_status *oxrt_text_parse(const char *text, oxrt_model **out);

#endif
