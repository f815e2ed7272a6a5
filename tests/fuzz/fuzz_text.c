/* fuzz_text.c - libFuzzer target: ONNX's textual syntax (src/onnx/text_parser.c).
 * The input, NUL-terminated, goes to the parser; a model that parses is printed, and the printed text must parse
 * again (what oxrt prints, oxrt reads: a failure there aborts, so it is reported as a finding). Any parse error
 * is fine; a crash, leak, UB or an empty error message is a finding. */
#include "oxrt.h"
#include "onnx/text_format.h"
#include <stdlib.h>
#include <string.h>

static void check_status(oxrt_status *st) {
  const char *msg = oxrt_status_get_message(st);
  if (!msg || !*msg) abort(); /* every error names what was wrong */
  oxrt_status_free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  oxrt_model *m = NULL;
  oxrt_status *st = oxrt_text_parse(text, &m);
  free(text);
  if (st) {
    check_status(st);
    return 0;
  }
  char *printed = NULL;
  st = oxrt_text_print(m, &printed);
  oxrt_model_free(m);
  if (st) {
    check_status(st);
    return 0;
  }
  oxrt_model *again = NULL;
  st = oxrt_text_parse(printed, &again);
  if (st) abort(); /* printed text the parser rejects */
  free(printed);
  oxrt_model_free(again);
  return 0;
}
