"""One loaded version of a model: its oxrt sessions, a bounded request queue and the workers that
run queued requests, merging compatible ones into one batch along dim 0 (dynamic batching)."""

import collections
import concurrent.futures
import gc
import json
import logging
import os
import tempfile
import threading
import time

import numpy as np

import oxrt

from .errors import ServeError, invalid
from .tensors import V2_TO_NUMPY, numpy_to_v2, onnx_type_to_v2

log = logging.getLogger("oxrt.serve")


class TensorSpec:
    """A model input or output as the protocol describes it: name, v2 datatype, shape (-1: any)."""

    def __init__(self, arg):
        self.name = arg.name
        self.onnx_type = arg.type
        self.datatype = onnx_type_to_v2(arg.type)
        shape = arg.shape if isinstance(arg.shape, (list, tuple)) else None
        self.shape = None if shape is None else [d if isinstance(d, int) and d >= 0 else -1 for d in shape]

    def metadata(self):
        return {"name": self.name, "datatype": self.datatype or self.onnx_type,
                "shape": self.shape if self.shape is not None else [-1]}


class Request:
    """A validated inference request waiting for (or in) a worker."""

    __slots__ = ("inputs", "outputs", "deadline", "future", "enqueued", "rows", "signature", "profile")

    def __init__(self, inputs, outputs, deadline):
        self.inputs = inputs
        self.outputs = outputs
        self.deadline = deadline
        self.future = concurrent.futures.Future()
        self.enqueued = time.monotonic()
        first = next(iter(inputs.values()))
        self.rows = first.shape[0] if first.ndim else 1
        # Requests merge when every input agrees in dtype and in all dims after the first.
        self.signature = tuple(sorted((n, a.dtype.str, a.shape[1:]) for n, a in inputs.items()))


def _session(path, threads, profile_prefix=None):
    so = oxrt.SessionOptions()
    so.intra_op_num_threads = threads
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return oxrt.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


class ModelVersion:
    def __init__(self, name, version, path, config, metrics):
        self.name = name
        self.version = version
        self.path = path
        self.config = config
        self.metrics = metrics
        self.sessions = [_session(path, config["threads"]) for _ in range(config["instance_count"])]
        s = self.sessions[0]
        self.inputs = [TensorSpec(a) for a in s.get_inputs()]
        self.outputs = [TensorSpec(a) for a in s.get_outputs()]
        self._input_by_name = {t.name: t for t in self.inputs}
        self._output_names = [t.name for t in self.outputs]
        # Batching needs a free first dimension on every input and output.
        self.batchable = config["max_batch_size"] > 0 and all(
            t.shape and t.shape[0] == -1 for t in self.inputs + self.outputs)
        self._queue = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._workers = [threading.Thread(target=self._work, args=(sess,), name=f"{name}-v{version}-{i}",
                                          daemon=True) for i, sess in enumerate(self.sessions)]
        for w in self._workers:
            w.start()

    # ------------------------------------------------------------ description
    def metadata(self):
        return {"name": self.name, "versions": [str(self.version)], "platform": "onnx_onnxv1",
                "inputs": [t.metadata() for t in self.inputs], "outputs": [t.metadata() for t in self.outputs]}

    # ------------------------------------------------------------- validation
    def check_inputs(self, inputs, outputs):
        """Protocol errors for inputs or requested outputs that do not fit the model."""
        for name, arr in inputs.items():
            spec = self._input_by_name.get(name)
            if spec is None:
                raise invalid(f"model '{self.name}' has no input '{name}' (inputs: "
                              f"{', '.join(self._input_by_name)})")
            if spec.datatype is None:
                raise invalid(f"input '{name}' of model '{self.name}' has type {spec.onnx_type}, "
                              "which the protocol cannot carry")
            if arr.dtype != V2_TO_NUMPY[spec.datatype]:
                raise invalid(f"input '{name}' of model '{self.name}': expected datatype {spec.datatype}, "
                              f"got {numpy_to_v2(arr.dtype)}")
            if spec.shape is not None:
                ok = len(spec.shape) == arr.ndim and all(d in (-1, a) for d, a in zip(spec.shape, arr.shape))
                if not ok:
                    raise invalid(f"input '{name}' of model '{self.name}': expected shape {spec.shape}, "
                                  f"got {list(arr.shape)}")
        missing = [t.name for t in self.inputs if t.name not in inputs and not t.onnx_type.startswith("optional")]
        if missing:
            raise invalid(f"model '{self.name}' needs input(s) {', '.join(missing)}")
        if not inputs:
            raise invalid(f"the request for model '{self.name}' has no inputs")
        for name in outputs or ():
            if name not in self._output_names:
                raise invalid(f"model '{self.name}' has no output '{name}' (outputs: "
                              f"{', '.join(self._output_names)})")
        if self.batchable:
            rows = {a.shape[0] if a.ndim else None for a in inputs.values()}
            if len(rows) != 1:
                raise invalid(f"the inputs of model '{self.name}' disagree in their first (batch) dimension")
            if next(iter(rows)) > self.config["max_batch_size"]:
                raise invalid(f"model '{self.name}': batch of {next(iter(rows))} exceeds max_batch_size "
                              f"{self.config['max_batch_size']}")

    # ---------------------------------------------------------------- queueing
    def submit(self, inputs, outputs, deadline):
        """Queues a request; returns its concurrent Future. Full queue or closing: 503 / UNAVAILABLE."""
        req = Request(inputs, outputs, deadline)
        with self._cond:
            if self._closing:
                raise ServeError("unavailable", f"model '{self.name}' version {self.version} is being unloaded")
            if len(self._queue) >= self.config["max_queue_size"]:
                raise ServeError("unavailable", f"model '{self.name}': request queue is full "
                                 f"({self.config['max_queue_size']} waiting); retry later")
            self._queue.append(req)
            self.metrics.queue_depth.labels(self.name).set(len(self._queue))
            self._cond.notify_all()
        return req.future

    def _take_batch(self):
        """The next request and the compatible ones merged with it; None when closed and drained."""
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            batch = [self._queue.popleft()]
            if self.batchable:
                limit = self.config["max_batch_size"]
                rows = batch[0].rows
                until = time.monotonic() + self.config["max_queue_delay_ms"] / 1000.0
                sig = batch[0].signature
                while rows < limit:
                    i = 0
                    while i < len(self._queue) and rows < limit:
                        r = self._queue[i]
                        if r.signature == sig and rows + r.rows <= limit:
                            del self._queue[i]
                            batch.append(r)
                            rows += r.rows
                        else:
                            i += 1
                    left = until - time.monotonic()
                    if rows >= limit or left <= 0 or self._closing:
                        break
                    self._cond.wait(left)
            self.metrics.queue_depth.labels(self.name).set(len(self._queue))
            return batch

    def _work(self, sess):
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            now = time.monotonic()
            live = []
            for r in batch:
                if not r.future.set_running_or_notify_cancel():
                    continue  # the client gave up (timeout) while it waited
                if now > r.deadline:
                    r.future.set_exception(ServeError("timeout", f"model '{self.name}': request timed out after "
                                                      f"{now - r.enqueued:.3f} s in the queue"))
                    continue
                self.metrics.queue_time.labels(self.name).observe(now - r.enqueued)
                live.append(r)
            if live:
                self._run(sess, live)

    def _run(self, sess, batch):
        t0 = time.monotonic()
        try:
            if len(batch) == 1:
                feeds = batch[0].inputs
            else:
                feeds = {n: np.concatenate([r.inputs[n] for r in batch]) for n in batch[0].inputs}
            results = sess.run(None, feeds)
        except Exception as e:  # the engine's message names the node and what was wrong
            kind = "invalid" if isinstance(e, (oxrt.OxrtError, ValueError, TypeError)) else "internal"
            err = ServeError(kind, f"model '{self.name}' failed: {e}")
            for r in batch:
                r.future.set_exception(err)
            return
        total = sum(r.rows for r in batch)
        self.metrics.compute_time.labels(self.name).observe(time.monotonic() - t0)
        self.metrics.batch_size.labels(self.name).observe(total)
        named = dict(zip(self._output_names, results))
        off = 0
        for r in batch:
            want = r.outputs or self._output_names
            if len(batch) == 1:
                out = {n: named[n] for n in want}
            else:
                bad = [n for n in want if not isinstance(named[n], np.ndarray) or named[n].shape[:1] != (total,)]
                if bad:
                    r.future.set_exception(ServeError("internal", f"model '{self.name}': output '{bad[0]}' of a "
                                                      f"batch of {total} rows does not have {total} rows"))
                    continue
                out = {n: named[n][off:off + r.rows] for n in want}
            off += r.rows
            r.future.set_result(out)

    # ---------------------------------------------------------------- profile
    def profile(self, inputs, outputs):
        """Runs the request once on a profiling session; returns the Chrome trace (a list of events)."""
        with tempfile.TemporaryDirectory(prefix="oxrt-profile-") as tmp:
            sess = _session(self.path, self.config["threads"], os.path.join(tmp, "profile"))
            results = sess.run(outputs or None, inputs)
            path = sess.end_profiling()
            with open(path, encoding="utf-8") as f:
                trace = json.load(f)
            del sess
            gc.collect()  # the profiling session's threads and memory go now (see close)
        return trace, dict(zip(outputs or self._output_names, results))

    # ---------------------------------------------------------------- closing
    def close(self):
        """Stops taking requests, lets the workers finish the queued ones, and joins them."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for w in self._workers:
            w.join()
        self.metrics.queue_depth.labels(self.name).set(0)
        # Release the engines now, not whenever Python's cycle collector next runs: an InferenceSession keeps
        # a bound method of itself (a reference cycle), and its threads and memory go only when it is freed.
        self.sessions.clear()
        gc.collect()
