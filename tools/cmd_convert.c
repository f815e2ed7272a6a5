/* cmd_convert.c - `oxrt convert MODEL OUT.onnx --opset N`: upgrade to a newer ai.onnx opset
 * (onnx.version_converter). With `--to fp16|bf16` the precision conversion of cmd_convert_precision.c runs. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

static int usage(void) {
  fprintf(stderr, "usage: oxrt convert MODEL OUT.onnx --opset N [--external-data BYTES]\n");
  return 2;
}

int cmd_convert(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], "--to")) return oxrt_cli_convert_precision(argc, argv);
  const char *in = NULL, *out = NULL;
  long long opset = -1;
  unsigned long long ext = 0; /* initializers of at least this many bytes go to OUT.onnx.data */
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--opset") && i + 1 < argc) {
      char *end;
      opset = strtoll(argv[++i], &end, 10);
      if (*end || opset < 1) {
        fprintf(stderr, "error: --opset expects a positive integer, got '%s'\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(argv[i], "--external-data") && i + 1 < argc) {
      ext = strtoull(argv[++i], NULL, 10);
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "error: convert: unknown option '%s'\n", argv[i]);
      return usage();
    } else if (!in) {
      in = argv[i];
    } else if (!out) {
      out = argv[i];
    } else {
      return usage();
    }
  }
  if (!in || !out || opset < 0) return usage();
  oxrt_status *st = oxrt_convert_opset_file(in, out, (int64_t)opset, (size_t)ext);
  return st ? cli_fail(st) : 0;
}
