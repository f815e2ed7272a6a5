/* cmd_convert_precision.c - `oxrt convert MODEL OUT.onnx --to fp16|bf16 [--keep-io-types] [--block-ops A,B]
 * [--block-nodes N,M]`: float32 -> float16 / bfloat16 (oxrt_convert_float_model_file). */
#include "cli.h"
#include <string.h>

int oxrt_cli_convert_precision(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  oxrt_convert_options o;
  memset(&o, 0, sizeof o);
  o.size = sizeof o;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--keep-io-types")) {
      o.keep_io_types = 1;
    } else if ((!strcmp(a, "--to") || !strcmp(a, "--block-ops") || !strcmp(a, "--block-nodes")) && i + 1 == argc) {
      fprintf(stderr, "error: %s needs a value\n", a);
      return 2;
    } else if (!strcmp(a, "--to")) {
      const char *t = argv[++i];
      if (!strcmp(t, "fp16") || !strcmp(t, "float16")) o.to = OXRT_FLOAT16;
      else if (!strcmp(t, "bf16") || !strcmp(t, "bfloat16")) o.to = OXRT_BFLOAT16;
      else {
        fprintf(stderr, "error: --to must be fp16 or bf16 (got '%s')\n", t);
        return 2;
      }
    } else if (!strcmp(a, "--block-ops")) {
      o.block_ops = argv[++i];
    } else if (!strcmp(a, "--block-nodes")) {
      o.block_nodes = argv[++i];
    } else if (a[0] == '-') {
      fprintf(stderr, "error: unknown option '%s'\nusage: oxrt convert MODEL OUT.onnx --to fp16|bf16 [--keep-io-types] "
                      "[--block-ops A,B] [--block-nodes N,M]\n", a);
      return 2;
    } else if (!in) {
      in = a;
    } else if (!out) {
      out = a;
    } else {
      fprintf(stderr, "error: unexpected argument '%s'\n", a);
      return 2;
    }
  }
  if (!in || !out || !o.to) {
    fprintf(stderr, "usage: oxrt convert MODEL OUT.onnx --to fp16|bf16 [--keep-io-types] [--block-ops A,B] "
                    "[--block-nodes N,M]\n  default --block-ops: %s\n", oxrt_convert_default_block_ops());
    return 2;
  }
  oxrt_status *st = oxrt_convert_float_model_file(in, out, &o);
  if (st) return cli_fail(st);
  printf("converted %s -> %s (%s%s)\n", in, out, o.to == OXRT_FLOAT16 ? "float16" : "bfloat16",
         o.keep_io_types ? ", float32 inputs and outputs" : "");
  return 0;
}
