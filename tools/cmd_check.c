/* cmd_check.c - `oxrt check MODEL... [--full]`: the verdict of onnx.checker.check_model. */
#include "cli.h"
#include <string.h>

int cmd_check(int argc, char **argv) {
  unsigned flags = 0;
  int n_models = 0, bad = 0;
  bool quiet = false;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--full")) flags |= OXRT_CHECK_FULL;
    else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) quiet = true;
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "error: check: unknown option '%s'\nusage: oxrt check MODEL... [--full] [--quiet]\n", argv[i]);
      return 2;
    }
  }
  for (int i = 0; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1]) continue;
    n_models++;
    oxrt_status *st = oxrt_check_model(argv[i], flags);
    if (st) {
      bad++;
      printf("%s: invalid: %s\n", argv[i], oxrt_status_get_message(st));
      oxrt_status_free(st);
    } else if (!quiet) {
      printf("%s: valid%s\n", argv[i], flags & OXRT_CHECK_FULL ? " (full check)" : "");
    }
  }
  if (!n_models) {
    fprintf(stderr, "usage: oxrt check MODEL... [--full] [--quiet]\n");
    return 2;
  }
  if (n_models > 1) printf("%d valid, %d invalid\n", n_models - bad, bad);
  return bad ? 1 : 0;
}
