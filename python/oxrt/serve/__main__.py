"""python -m oxrt.serve REPOSITORY [--http-port N] [--grpc-port M] (what `oxrt serve` runs)."""

import argparse
import asyncio
import logging
import sys

from . import logs
from .errors import ServeError


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="oxrt serve", description="Serve the models of a repository over the Open "
                                 "Inference Protocol (KServe v2): REST and gRPC.")
    ap.add_argument("repository", help="folder with one subfolder per model: NAME/VERSION/model.onnx "
                    "(+ NAME/config.json)")
    ap.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    ap.add_argument("--http-port", type=int, default=8000, help="REST port (0: any free port, -1: no REST)")
    ap.add_argument("--grpc-port", type=int, default=8001, help="gRPC port (0: any free port, -1: no gRPC)")
    ap.add_argument("--max-body-bytes", type=int, default=64 << 20,
                    help="largest request body or gRPC message (default 64 MiB)")
    ap.add_argument("--drain-timeout", type=float, default=30.0,
                    help="seconds a SIGTERM waits for accepted requests (default 30)")
    ap.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logs.setup(args.log_level)
    from .server import serve
    try:
        return asyncio.run(serve(args))
    except (ServeError, OSError) as e:
        logging.getLogger("oxrt.serve").error("cannot serve", extra={"error": getattr(e, "message", str(e))})
        return 1


if __name__ == "__main__":
    sys.exit(main())
