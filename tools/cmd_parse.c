/* cmd_parse.c - `oxrt parse FILE.txt OUT.onnx`: ONNX's textual syntax (what onnx.parser reads) to a model. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

/* Writes a whole buffer to `path` (shared by the commands that save a model); 0 on success, error printed. */
int cli_write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  bool ok = f && fwrite(data, 1, size, f) == size;
  if (f && fclose(f) != 0) ok = false;
  if (!ok) fprintf(stderr, "error: cannot write '%s'\n", path);
  return ok ? 0 : 1;
}

/* Reads a model file, printing why when it cannot. */
void *cli_read_model(const char *path, size_t *size) {
  void *data = cli_read_file(path, size);
  if (!data) fprintf(stderr, "error: cannot read '%s'\n", path);
  return data;
}

int cmd_parse(int argc, char **argv) {
  if (argc != 2 || (argv[0][0] == '-' && argv[0][1])) { /* "-" alone is standard input */
    fprintf(stderr, "usage: oxrt parse FILE.txt OUT.onnx   (FILE.txt may be - for standard input)\n");
    return 2;
  }
  char *text = NULL;
  size_t size = 0;
  if (!strcmp(argv[0], "-")) {
    size_t cap = 0;
    for (;;) {
      if (size + 4097 > cap) {
        cap = cap ? cap * 2 : 65536;
        char *nt = realloc(text, cap);
        if (!nt) {
          free(text);
          fprintf(stderr, "error: out of memory\n");
          return 1;
        }
        text = nt;
      }
      size_t n = fread(text + size, 1, 4096, stdin);
      if (!n) break;
      size += n;
    }
  } else {
    void *raw = cli_read_model(argv[0], &size);
    if (!raw) return 1;
    text = realloc(raw, size + 1);
    if (!text) {
      free(raw);
      fprintf(stderr, "error: out of memory\n");
      return 1;
    }
  }
  text[size] = 0;
  void *model = NULL;
  size_t msize = 0;
  oxrt_status *st = oxrt_parse_model_text(text, &model, &msize);
  free(text);
  if (st) {
    fprintf(stderr, "%s: ", argv[0]);
    return cli_fail(st);
  }
  int rc = cli_write_file(argv[1], model, msize);
  free(model);
  return rc;
}
