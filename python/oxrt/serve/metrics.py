"""Prometheus metrics of the server (one registry per server, served at GET /metrics)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self):
        r = self.registry = CollectorRegistry()
        self.requests = Counter("oxrt_requests", "Inference requests received", ["model", "protocol"], registry=r)
        self.failures = Counter("oxrt_request_failures", "Inference requests that failed, by reason",
                                ["model", "protocol", "reason"], registry=r)
        self.latency = Histogram("oxrt_request_duration_seconds", "Time from receipt to response of an inference",
                                 ["model", "protocol"], buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_time = Histogram("oxrt_queue_duration_seconds", "Time a request waited for a worker",
                                    ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.compute_time = Histogram("oxrt_compute_duration_seconds", "Time of one (batched) model run",
                                      ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("oxrt_batch_size", "Rows (dim 0) per model run after dynamic batching",
                                    ["model"], buckets=_BATCH_BUCKETS, registry=r)
        self.queue_depth = Gauge("oxrt_queue_depth", "Requests waiting in a model's queue", ["model"], registry=r)
        self.inflight = Gauge("oxrt_inflight_requests", "Inference requests being handled", registry=r)

    def render(self):
        return generate_latest(self.registry)
