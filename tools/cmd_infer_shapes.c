/* cmd_infer_shapes.c - `oxrt infer-shapes MODEL OUT.onnx`: value_info like onnx.shape_inference.infer_shapes. */
#include "cli.h"
#include <stdlib.h>

int cmd_infer_shapes(int argc, char **argv) {
  if (argc != 2 || argv[0][0] == '-') {
    fprintf(stderr, "usage: oxrt infer-shapes MODEL OUT.onnx\n");
    return 2;
  }
  size_t size;
  void *data = cli_read_model(argv[0], &size);
  if (!data) return 1;
  void *out = NULL;
  size_t n = 0;
  oxrt_status *st = oxrt_infer_shapes_bytes(data, size, &out, &n);
  free(data);
  if (st) return cli_fail(st);
  int rc = cli_write_file(argv[1], out, n);
  free(out);
  return rc;
}
