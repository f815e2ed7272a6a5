/* main.c - the oxrt command: dispatch to subcommands. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(f,
          "oxrt %s - ONNX inference runtime\n"
          "\n"
          "usage:\n"
          "  oxrt info MODEL                      model summary: versions, inputs/outputs, ops, parameters\n"
          "  oxrt run MODEL [options]             run once; random inputs unless given\n"
          "      --input NAME=FILE.npy            feed an input from a .npy file (repeatable)\n"
          "      --dim NAME=VALUE                 value of a symbolic dimension for random inputs\n"
          "      --output-dir DIR                 write each output as DIR/NAME.npy\n"
          "      --threads N                      intra-op threads (default: one per core)\n"
          "      --seed N                         seed of the random inputs\n"
          "      --denormal-as-zero               flush subnormal floats to zero (run and bench)\n"
          "      --bf16                           Conv/MatMul/Gemm weights in bfloat16 with float32 sums where the CPU\n"
          "                                       has AVX512_BF16, float32 elsewhere (--bf16-emulate: rounding only)\n"
          "  oxrt test DIR...                     run ONNX backend tests (model.onnx + test_data_set_N)\n"
          "      --verbose                        print passing tests too\n"
          "      --expect-failures FILE           exit 0 when every failing test is listed in FILE\n"
          "      --write-failures FILE            write the names of failing tests to FILE\n"
          "      --no-fork                        run tests in this process (for debuggers)\n"
          "      --runs N                         runs of each data set on one session (default 2: the second\n"
          "                                       replays the memory plan the first recorded)\n"
          "  oxrt bench MODEL [options]           load time and latency: --runs N --warmup N --threads N --dim\n"
          "      --profile                        time per operator type and slowest nodes\n"
          "      --profile-file PREFIX            write a Chrome trace PREFIX_<date>_<time>.json\n"
          "  oxrt ops                             list the operators and opset versions implemented\n"
          "  oxrt optimize MODEL OUT.onnx         optimize the graph and save it: --level basic|extended|all\n"
          "      --disable PASS,...               skip passes (--list shows them)\n"
          "      --external-data BYTES            store initializers of at least BYTES in OUT.onnx.data\n"
          "      --passes PASS,...                run these passes in order instead (onnxoptimizer's names too)\n"
          "  oxrt serve MODEL_REPOSITORY          Open Inference Protocol server: --http-port N --grpc-port M\n"
          "  oxrt check MODEL... [--full]          check like onnx.checker (--full: types and shapes too)\n"
          "  oxrt infer-shapes MODEL OUT.onnx     write inferred types and shapes as value_info\n"
          "  oxrt print MODEL                     the model in ONNX's textual syntax (onnx.printer)\n"
          "  oxrt parse FILE.txt OUT.onnx         textual syntax (onnx.parser) to a model\n"
          "  oxrt convert MODEL OUT.onnx --opset N  convert to another ai.onnx opset (onnx.version_converter)\n"
          "  oxrt quantize MODEL OUT.onnx         8-bit quantization: --mode dynamic|static --format qdq|qoperator\n"
          "      --per-channel --weight-type int8|uint8 --activation-type int8|uint8 --calibration DIR\n"
          "      --method minmax|entropy|percentile --exclude-nodes A,B --op-types Conv,MatMul,Gemm --progress\n"
          "  oxrt convert MODEL OUT.onnx --to fp16|bf16  float16/bfloat16 model: --keep-io-types --block-ops A,B\n"
          "  oxrt run MODEL --dump-all DIR        write every intermediate tensor as DIR/*.npy + DIR/index.tsv\n"
          "  oxrt diff DUMP_A DUMP_B | MODEL DUMP first node whose output departs (--rtol R --atol A)\n"
          "  oxrt graph MODEL -o OUT.svg|OUT.dot  draw the graph (Graphviz dot renders SVG/PNG; --max-nodes N)\n"
          "  oxrt version\n",
          oxrt_version());
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
  if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
  if (!strcmp(cmd, "test")) return cmd_test(argc - 2, argv + 2);
  if (!strcmp(cmd, "bench")) return cmd_bench(argc - 2, argv + 2);
  if (!strcmp(cmd, "optimize")) return cmd_optimize(argc - 2, argv + 2);
  if (!strcmp(cmd, "ops")) return cmd_ops(argc - 2, argv + 2);
  if (!strcmp(cmd, "diff")) return cmd_diff(argc - 2, argv + 2);
  if (!strcmp(cmd, "graph")) return cmd_graph(argc - 2, argv + 2);
  if (!strcmp(cmd, "quantize")) return cmd_quantize(argc - 2, argv + 2);
  if (!strcmp(cmd, "convert"))
    for (int i = 2; i < argc; i++)
      if (!strcmp(argv[i], "--to")) return oxrt_cli_convert_precision(argc - 2, argv + 2);
  if (!strcmp(cmd, "check")) return cmd_check(argc - 2, argv + 2);
  if (!strcmp(cmd, "infer-shapes")) return cmd_infer_shapes(argc - 2, argv + 2);
  if (!strcmp(cmd, "print")) return cmd_print(argc - 2, argv + 2);
  if (!strcmp(cmd, "parse")) return cmd_parse(argc - 2, argv + 2);
  if (!strcmp(cmd, "convert")) return cmd_convert(argc - 2, argv + 2);
  if (!strcmp(cmd, "serve")) return cmd_serve(argc - 2, argv + 2);
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("oxrt %s\n", oxrt_version());
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "error: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return 2;
}
