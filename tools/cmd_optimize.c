/* cmd_optimize.c - `oxrt optimize`: run the graph optimizer on a model and save the result. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  size_t first;
  int rounds;
} opt_report;

static void on_pass(void *user, const char *pass, int round, size_t before, size_t after) {
  opt_report *r = user;
  if (!r->first) r->first = before ? before : 1;
  r->rounds = round;
  if (round == 1 || before != after)
    printf("  round %d  %-28s %6zu -> %6zu nodes%s\n", round, pass, before, after, before != after ? "" : "  (no change)");
}

static int parse_level(const char *s, oxrt_opt_level *out) {
  if (!strcmp(s, "disable") || !strcmp(s, "none") || !strcmp(s, "0")) *out = OXRT_OPT_DISABLE;
  else if (!strcmp(s, "basic") || !strcmp(s, "1")) *out = OXRT_OPT_BASIC;
  else if (!strcmp(s, "extended") || !strcmp(s, "2")) *out = OXRT_OPT_EXTENDED;
  else if (!strcmp(s, "all") || !strcmp(s, "99")) *out = OXRT_OPT_ALL;
  else return 1;
  return 0;
}

static void list_passes(void) {
  printf("passes, in the order they run (level that enables each):\n");
  const char *summary;
  oxrt_opt_level level;
  for (size_t i = 0; oxrt_opt_pass_info(i, &summary, &level); i++)
    printf("  %-28s %-9s %s\n", oxrt_opt_pass_info(i, NULL, NULL),
           level <= OXRT_OPT_BASIC ? "basic" : level <= OXRT_OPT_EXTENDED ? "extended" : "all", summary);
  printf("onnxoptimizer's passes (run only when named with --passes):\n");
  const char *alias;
  for (size_t i = 0; oxrt_opt_named_pass_info(i, &summary, &alias); i++) {
    const char *name = oxrt_opt_named_pass_info(i, NULL, NULL);
    if (alias) printf("  %-32s same as %s: %s\n", name, alias, summary);
    else printf("  %-32s %s\n", name, summary);
  }
}

int cmd_optimize(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *passes = NULL;
  int fixed_point = 0;
  oxrt_optimize_options o = {sizeof o, OXRT_OPT_ALL, 0, NULL, NULL, NULL};
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--level") && i + 1 < argc) {
      if (parse_level(argv[++i], &o.level)) {
        fprintf(stderr, "error: --level must be disable, basic, extended or all (got '%s')\n", argv[i]);
        return 2;
      }
    } else if (!strncmp(argv[i], "--level=", 8)) {
      if (parse_level(argv[i] + 8, &o.level)) {
        fprintf(stderr, "error: --level must be disable, basic, extended or all (got '%s')\n", argv[i] + 8);
        return 2;
      }
    } else if (!strcmp(argv[i], "--passes") && i + 1 < argc) {
      passes = argv[++i];
    } else if (!strncmp(argv[i], "--passes=", 9)) {
      passes = argv[i] + 9;
    } else if (!strcmp(argv[i], "--fixed-point")) {
      fixed_point = 1;
    } else if (!strcmp(argv[i], "--disable") && i + 1 < argc) {
      o.disable_passes = argv[++i];
    } else if (!strcmp(argv[i], "--external-data") && i + 1 < argc) {
      char *end;
      long long v = strtoll(argv[++i], &end, 10);
      if (*end || v < 0) {
        fprintf(stderr, "error: --external-data takes a byte count, got '%s'\n", argv[i]);
        return 2;
      }
      o.external_data_threshold = (size_t)v;
    } else if (!strcmp(argv[i], "--list")) {
      list_passes();
      return 0;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "error: unknown option '%s'\n", argv[i]);
      return 2;
    } else if (!in) {
      in = argv[i];
    } else if (!out) {
      out = argv[i];
    } else {
      fprintf(stderr, "error: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!in || !out) {
    fprintf(stderr, "usage: oxrt optimize MODEL OUT.onnx [--level basic|extended|all] [--disable PASS,...]\n"
                    "                     [--passes PASS,... [--fixed-point]] [--external-data BYTES] [--list]\n");
    return 2;
  }
  opt_report r = {0, 0};
  o.on_pass = on_pass;
  o.user = &r;
  if (passes) printf("optimizing %s (passes %s%s)\n", in, passes, fixed_point ? ", to a fixed point" : "");
  else
    printf("optimizing %s (level %s)\n", in,
           o.level == OXRT_OPT_DISABLE ? "disable" : o.level <= OXRT_OPT_BASIC ? "basic"
                                                     : o.level <= OXRT_OPT_EXTENDED ? "extended" : "all");
  double t0 = cli_now();
  oxrt_status *st = passes ? oxrt_optimize_model_file_passes(in, out, passes, fixed_point, &o)
                           : oxrt_optimize_model_file(in, out, &o);
  if (st) return cli_fail(st);
  /* Count the saved model's nodes through the public API (load only). */
  oxrt_session_options *so;
  oxrt_session *s;
  if ((st = oxrt_session_options_create(&so))) return cli_fail(st);
  oxrt_session_options_set_load_only(so, 1);
  st = oxrt_session_create(out, so, &s);
  oxrt_session_options_free(so);
  if (st) return cli_fail(st);
  oxrt_model_stats ms = OXRT_INIT(oxrt_model_stats);
  oxrt_session_get_model_stats(s, &ms);
  if (r.first) printf("nodes: %zu -> %zu", r.first, ms.node_count);
  else printf("nodes: %zu", ms.node_count);
  printf(" (%d round%s, %.1f ms); written to %s\n", r.rounds, r.rounds == 1 ? "" : "s", (cli_now() - t0) * 1e3, out);
  oxrt_session_free(s);
  return 0;
}
