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
int cmd_check(int argc, char **argv);
int cmd_infer_shapes(int argc, char **argv);
int cmd_print(int argc, char **argv);
int cmd_parse(int argc, char **argv);
int cmd_convert(int argc, char **argv);
/* Whole-file helpers of the model commands (cmd_parse.c); errors printed. */
int cli_write_file(const char *path, const void *data, size_t size);
void *cli_read_model(const char *path, size_t *size);
int cmd_check(int argc, char **argv);
int cmd_infer_shapes(int argc, char **argv);
int cmd_print(int argc, char **argv);
int cmd_parse(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Prints "error: <message>" to stderr, frees st, returns 1. */
int cli_fail(oxrt_status *st);
/* Reads a whole file; caller frees. NULL on error (message printed). */
void *cli_read_file(const char *path, size_t *size);
/* .npy I/O */
/* .npy I/O; 0 on success, error printed otherwise. */
int npy_read(const char *path, oxrt_value **out);
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
