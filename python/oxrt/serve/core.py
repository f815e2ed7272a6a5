"""What the REST and gRPC front ends share: server state (live, ready, draining), the request count
that a graceful shutdown waits for, timeouts, and per-request metrics and logs."""

import asyncio
import logging
import time

from .. import __version__
from .errors import ServeError

log = logging.getLogger("oxrt.serve")

EXTENSIONS = ["binary_tensor_data", "model_repository", "oxrt_profile"]


class Core:
    def __init__(self, repository, metrics, max_body_bytes):
        self.repository = repository
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.draining = False
        self.inflight = 0

    def server_metadata(self):
        return {"name": "oxrt", "version": __version__, "extensions": EXTENSIONS}

    def live(self):
        return True

    def ready(self):
        return not self.draining

    async def run_blocking(self, fn, *args):
        """A blocking repository call (loading builds sessions) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def infer(self, protocol, model_name, version, decode, timeout_s=None):
        """Runs one request. `decode(model)` turns the wire request into (inputs, requested outputs),
        raising ServeError on bad input. Returns (model, {output name: array})."""
        t0 = time.monotonic()
        label = "_unknown"  # names of models that are not loaded stay out of the metrics' labels
        self.inflight += 1
        self.metrics.inflight.inc()
        try:
            if self.draining:
                raise ServeError("unavailable", "the server is shutting down")
            model = self.repository.get(model_name, version)
            label = model.name
            self.metrics.requests.labels(label, protocol).inc()
            inputs, outputs = decode(model)
            model.check_inputs(inputs, outputs)
            limit = model.config["timeout_ms"] / 1000.0
            if timeout_s is not None and timeout_s > 0:
                limit = min(limit, timeout_s)
            future = model.submit(inputs, outputs, t0 + limit)
            try:
                result = await asyncio.wait_for(asyncio.wrap_future(future), max(limit - (time.monotonic() - t0), 0))
            except asyncio.TimeoutError:
                raise ServeError("timeout", f"model '{model_name}': no result within {limit:.3f} s")
            self.metrics.latency.labels(label, protocol).observe(time.monotonic() - t0)
            log.debug("infer", extra={"model": model_name, "protocol": protocol,
                                      "ms": round((time.monotonic() - t0) * 1000, 3)})
            return model, result
        except ServeError as e:
            self.metrics.failures.labels(label, protocol, e.kind).inc()
            log.warning("infer failed", extra={"model": model_name, "protocol": protocol, "error": e.message})
            raise
        finally:
            self.inflight -= 1
            self.metrics.inflight.dec()

    async def profile(self, model_name, version, decode):
        model = self.repository.get(model_name, version)
        inputs, outputs = decode(model)
        model.check_inputs(inputs, outputs)
        try:
            return model, await self.run_blocking(model.profile, inputs, outputs)
        except Exception as e:
            raise ServeError("invalid", f"model '{model_name}' failed while profiling: {e}")

    async def drain(self, timeout_s):
        """Refuses new requests and waits (at most timeout_s) for the accepted ones."""
        self.draining = True
        end = time.monotonic() + timeout_s
        while self.inflight and time.monotonic() < end:
            await asyncio.sleep(0.01)
        return self.inflight
