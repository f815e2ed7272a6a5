/* cmd_ops.c - `oxrt ops`: the operators this build implements, by domain, with opset versions. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *domain, *name;
  size_t index;
} op_entry;

static int by_domain_name(const void *a, const void *b) {
  const op_entry *x = a, *y = b;
  int c = strcmp(x->domain, y->domain);
  return c ? c : strcmp(x->name, y->name);
}

int cmd_ops(int argc, char **argv) {
  bool markdown = argc > 0 && !strcmp(argv[0], "--markdown");
  size_t n = 0;
  while (oxrt_operator_name(n, NULL, NULL)) n++;
  op_entry *ops = malloc(sizeof *ops * (n + 1));
  for (size_t i = 0; i < n; i++) {
    ops[i].name = oxrt_operator_name(i, &ops[i].domain, NULL);
    ops[i].index = i;
  }
  qsort(ops, n, sizeof *ops, by_domain_name);
  if (markdown) printf("| domain | operator | implementations from opset |\n|---|---|---|\n");
  for (size_t i = 0; i < n; i++) {
    const char *d = *ops[i].domain ? ops[i].domain : "ai.onnx";
    printf(markdown ? "| %s | %s | " : "%-26s %-28s ", d, ops[i].name);
    int64_t v;
    for (size_t k = 0; (v = oxrt_operator_since_version(ops[i].index, k)) >= 0; k++)
      printf("%s%lld", k ? ", " : "", (long long)v);
    printf(markdown ? " |\n" : "\n");
  }
  if (!markdown) printf("%zu operators\n", n);
  free(ops);
  return 0;
}
