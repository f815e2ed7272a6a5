/* cli.h - shared pieces of the oxrt command (uses only the public API). */
#ifndef OXRT_CLI_H
#define OXRT_CLI_H
#include "oxrt.h"
#include <stdbool.h>
#include <stdio.h>

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_optimize(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_graph(int argc, char **argv);

/* `oxrt run --dump-all DIR` (the format lives in cmd_diff.c, which reads it): each value goes to
 * DIR/NNNNN_<sanitized name>.npy and one line of DIR/index.tsv (order, node, op, value name, file, type, shape). */
typedef struct cli_dump {
  const char *dir;
  FILE *index;
  int count, skipped, failed;
} cli_dump;
int cli_dump_open(cli_dump *d, const char *dir); /* 0 on success, error printed otherwise */
void cli_dump_value(cli_dump *d, const char *node, const char *op, const char *name, const oxrt_value *v);
/* oxrt_node_output_fn over a cli_dump */
void cli_dump_node_output(void *user, const char *node, const char *op, const char *name, const oxrt_value *v);
int cli_dump_close(cli_dump *d); /* prints what was written; nonzero if a file could not be written */
/* Gives every free dim of the model's inputs (except the `given` ones, fed from files) that the --dim list lacks
 * a value (metadata, the size the model file at `model_path` declares for it in value_info or an output, an image
 * input's 640x640, else 1), appends it to the list (strdup'd names) and notes each guess on stderr. Returns the
 * number of guesses, -1 when the list is full. */
int cli_guess_dims(oxrt_session *s, const char *model_path, int n_given, char *const *given, int *n_dims, char **names,
                   long long *values, int cap);
int cmd_quantize(int argc, char **argv);
/* `oxrt convert ... --to fp16|bf16` (cmd_convert_precision.c) */
int oxrt_cli_convert_precision(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_infer_shapes(int argc, char **argv);
int cmd_print(int argc, char **argv);
int cmd_parse(int argc, char **argv);
int cmd_convert(int argc, char **argv);
/* Whole-file helpers of the model commands (cmd_parse.c); errors printed. */
int cli_write_file(const char *path, const void *data, size_t size);
void *cli_read_model(const char *path, size_t *size);
int cmd_serve(int argc, char **argv);

/* Prints "error: <message>" to stderr, frees st, returns 1. */
int cli_fail(oxrt_status *st);
/* Reads a whole file; caller frees. NULL on error (message printed). */
void *cli_read_file(const char *path, size_t *size);
/* .npy I/O */
/* .npy I/O; 0 on success, error printed otherwise. */
int npy_read(const char *path, oxrt_value **out);
/* The same from bytes in memory (`path` only names them in messages); never reads past `size`. */
int npy_parse(const unsigned char *buf, size_t size, const char *path, oxrt_value **out);
int npy_write(const char *path, const oxrt_value *v);
/* Value of `name` in a --dim NAME=VALUE list, or -1. */
long long cli_dim_lookup(int n, char **names, long long *values, const char *name);
/* Random tensor for a model input (dims resolved; symbolic via --dim, else 1). */
/* Random tensor for a model input (symbolic dims from --dim, else 1); 0 on success, error printed otherwise. */
int cli_random_input(const oxrt_value_info *info, int n_dims, char **dim_names, long long *dim_values, unsigned *seed,
                     oxrt_value **out);
void cli_print_value_summary(FILE *f, const char *name, const oxrt_value *v);
double cli_now(void);

#endif
