"""Runs the REST and gRPC front ends on one event loop until SIGTERM or SIGINT, then drains:
readiness turns false, new requests get 503 / UNAVAILABLE, accepted ones finish, models close."""

import asyncio
import logging
import signal

from aiohttp import web

from .core import Core
from .grpc_api import make_server
from .metrics import Metrics
from .repository import Repository
from .rest import make_app

log = logging.getLogger("oxrt.serve")


async def serve(args):
    metrics = Metrics()
    repository = Repository(args.repository, metrics)
    core = Core(repository, metrics, args.max_body_bytes)
    await core.run_blocking(repository.load_all)

    runner = None
    http_port = grpc_port = None
    if args.http_port >= 0:
        runner = web.AppRunner(make_app(core), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.http_port, shutdown_timeout=args.drain_timeout)
        await site.start()
        http_port = site._server.sockets[0].getsockname()[1]
    grpc_server = None
    if args.grpc_port >= 0:
        grpc_server = make_server(core)
        host = f"[{args.host}]" if ":" in args.host else args.host
        grpc_port = grpc_server.add_insecure_port(f"{host}:{args.grpc_port}")
        if not grpc_port:
            raise OSError(f"cannot listen for gRPC on {args.host}:{args.grpc_port}")
        await grpc_server.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("server started", extra={"http_port": http_port, "grpc_port": grpc_port, "host": args.host,
                                      "models": [m["name"] for m in repository.index() if m["state"] == "READY"]})
    await stop.wait()

    log.info("draining", extra={"inflight": core.inflight})
    left = await core.drain(args.drain_timeout)
    if grpc_server is not None:
        await grpc_server.stop(grace=1.0)
    if runner is not None:
        await runner.cleanup()
    await core.run_blocking(repository.close_all)
    log.info("server stopped", extra={"unfinished": left})
    return 0 if left == 0 else 1
