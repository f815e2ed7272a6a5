/* cmd_convert.c - `oxrt convert MODEL OUT.onnx --opset N`: upgrade to a newer ai.onnx opset
 * (onnx.version_converter). With `--to fp16|bf16` the precision conversion of cmd_convert_precision.c runs. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

static int usage(void) {
  fprintf(stderr, "usage: oxrt convert MODEL OUT.onnx --opset N\n");
  return 2;
}

int cmd_convert(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], "--to")) return oxrt_cli_convert_precision(argc, argv);
  const char *in = NULL, *out = NULL;
  long long opset = -1;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--opset") && i + 1 < argc) {
      char *end;
      opset = strtoll(argv[++i], &end, 10);
      if (*end || opset < 1) {
        fprintf(stderr, "error: --opset expects a positive integer, got '%s'\n", argv[i]);
        return 2;
      }
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
  size_t size;
  void *data = cli_read_model(in, &size);
  if (!data) return 1;
  void *res = NULL;
  size_t n = 0;
  oxrt_status *st = oxrt_convert_opset_bytes(data, size, (int64_t)opset, &res, &n);
  free(data);
  if (st) return cli_fail(st);
  int rc = cli_write_file(out, res, n);
  free(res);
  return rc;
}
