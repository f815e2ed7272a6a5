/* cmd_serve.c - `oxrt serve`: the Open Inference Protocol server is the Python module oxrt.serve
   (aiohttp, grpcio, prometheus_client over the oxrt binding); this command checks it can import
   and then runs it in place of this process, with the same arguments. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const INSTALL_HINT =
    "  pip install aiohttp grpcio 'tritonclient[grpc]' prometheus_client\n"
    "  pip install .            # the oxrt Python package, from the oxrt source tree\n"
    "(set OXRT_PYTHON to pick the Python interpreter; default python3)\n";

/* Prints the modules the server needs but Python cannot find; exit status 3 when some are missing. */
static const char *const CHECK_SCRIPT =
    "import importlib.util, sys\n"
    "need = ['oxrt', 'oxrt.serve', 'aiohttp', 'grpc', 'tritonclient', 'tritonclient.grpc', 'prometheus_client']\n"
    "miss = []\n"
    "for m in need:\n"
    "    try:\n"
    "        ok = importlib.util.find_spec(m) is not None\n"
    "    except Exception:\n"
    "        ok = False\n"
    "    if not ok: miss.append(m)\n"
    "if miss:\n"
    "    sys.stderr.write('error: oxrt serve: Python (%s) lacks: %s\\n' % (sys.executable, ', '.join(miss)))\n"
    "    sys.exit(3)\n";

static void serve_usage(FILE *f) {
  fprintf(f, "usage: oxrt serve MODEL_REPOSITORY [--http-port N] [--grpc-port M] [--host ADDR]\n"
             "                  [--max-body-bytes B] [--drain-timeout S] [--log-level L]\n"
             "Serves REPOSITORY/NAME/VERSION/model.onnx over the Open Inference Protocol (KServe v2),\n"
             "REST and gRPC; see docs/serving.md. Runs the Python module oxrt.serve.\n");
}

int cmd_serve(int argc, char **argv) {
  if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
    serve_usage(argc < 1 ? stderr : stdout);
    return argc < 1 ? 2 : 0;
  }
  const char *python = getenv("OXRT_PYTHON");
  if (!python || !*python) python = "python3";
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("error: oxrt serve: fork");
    return 1;
  }
  if (pid == 0) {
    execlp(python, python, "-c", CHECK_SCRIPT, (char *)NULL);
    _exit(127);
  }
  int wst = 0;
  if (waitpid(pid, &wst, 0) < 0) {
    perror("error: oxrt serve: waitpid");
    return 1;
  }
  int rc = WIFEXITED(wst) ? WEXITSTATUS(wst) : 1;
  if (rc == 127) {
    fprintf(stderr, "error: oxrt serve runs the Python module oxrt.serve, but '%s' could not be run.\n"
                    "Install Python 3 and then:\n%s", python, INSTALL_HINT);
    return 1;
  }
  if (rc != 0) {
    fprintf(stderr, "Install what is missing:\n%s", INSTALL_HINT);
    return 1;
  }
  char **args = calloc((size_t)argc + 4, sizeof *args);
  if (!args) {
    fprintf(stderr, "error: oxrt serve: out of memory\n");
    return 1;
  }
  args[0] = (char *)python;
  args[1] = "-m";
  args[2] = "oxrt.serve";
  for (int i = 0; i < argc; i++) args[3 + i] = argv[i];
  execvp(python, args);
  perror("error: oxrt serve: cannot run the Python interpreter");
  free(args);
  return 1;
}
