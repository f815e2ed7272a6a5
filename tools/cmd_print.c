/* cmd_print.c - `oxrt print MODEL`: the model in ONNX's textual syntax (what onnx.printer writes). */
#include "cli.h"
#include <stdlib.h>

int cmd_print(int argc, char **argv) {
  if (argc != 1 || argv[0][0] == '-') {
    fprintf(stderr, "usage: oxrt print MODEL\n");
    return 2;
  }
  char *text = NULL;
  oxrt_status *st = oxrt_print_model_file(argv[0], &text);
  if (st) return cli_fail(st);
  fputs(text, stdout);
  free(text);
  return 0;
}
