/* cmd_infer_shapes.c - `oxrt infer-shapes MODEL OUT.onnx`: value_info like onnx.shape_inference.infer_shapes. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

int cmd_infer_shapes(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  unsigned long long ext = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--external-data") && i + 1 < argc) {
      ext = strtoull(argv[++i], NULL, 10);
    } else if (argv[i][0] == '-' || (in && out)) {
      fprintf(stderr, "usage: oxrt infer-shapes MODEL OUT.onnx [--external-data BYTES]\n");
      return 2;
    } else if (!in) {
      in = argv[i];
    } else {
      out = argv[i];
    }
  }
  if (!in || !out) {
    fprintf(stderr, "usage: oxrt infer-shapes MODEL OUT.onnx [--external-data BYTES]\n");
    return 2;
  }
  oxrt_status *st = oxrt_infer_shapes_file(in, out, (size_t)ext);
  return st ? cli_fail(st) : 0;
}
