"""Fixtures of the server tests: a model repository built with onnx.helper, and `python -m oxrt.serve`
processes on loopback with ports the OS picks (port 0; the server logs the ones it got)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _save(graph, path):
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


def make_dense(path, scale=1.0):
    """y = relu(x @ W) * scale, x [batch, 4]."""
    w = (np.random.default_rng(0).standard_normal((4, 3)) * scale).astype(np.float32)
    g = h.make_graph([h.make_node("MatMul", ["x", "W"], ["m"]), h.make_node("Relu", ["m"], ["y"])], "dense",
                     [h.make_tensor_value_info("x", T.FLOAT, ["batch", 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["batch", 3])], [nh.from_array(w, "W")])
    _save(g, path)


def make_cnn(path):
    """A small CNN: conv-relu-conv-relu-global pool-gemm, x [batch, 3, 16, 16] -> [batch, 10]."""
    rng = np.random.default_rng(1)
    inits = [nh.from_array((rng.standard_normal(s) * 0.2).astype(np.float32), n) for n, s in
             [("w1", (16, 3, 3, 3)), ("b1", (16,)), ("w2", (32, 16, 3, 3)), ("b2", (32,)), ("wf", (32, 10)),
              ("bf", (10,))]]
    nodes = [h.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]), h.make_node("Relu", ["c1"], ["r1"]),
             h.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
             h.make_node("Relu", ["c2"], ["r2"]), h.make_node("GlobalAveragePool", ["r2"], ["p"]),
             h.make_node("Flatten", ["p"], ["f"]), h.make_node("Gemm", ["f", "wf", "bf"], ["logits"])]
    g = h.make_graph(nodes, "cnn", [h.make_tensor_value_info("x", T.FLOAT, ["batch", 3, 16, 16])],
                     [h.make_tensor_value_info("logits", T.FLOAT, ["batch", 10])], inits)
    _save(g, path)


def make_mixed(path):
    """Fixed-shape int64 and string tensors: n2 = n + n (n int64 [2]); s2 = Identity(s) (s string [-1])."""
    g = h.make_graph([h.make_node("Add", ["n", "n"], ["n2"]), h.make_node("Identity", ["s"], ["s2"])], "mixed",
                     [h.make_tensor_value_info("n", T.INT64, [2]), h.make_tensor_value_info("s", T.STRING, ["k"])],
                     [h.make_tensor_value_info("n2", T.INT64, [2]), h.make_tensor_value_info("s2", T.STRING, ["k"])])
    _save(g, path)


def make_flags(path):
    """BOOL and FP16 tensors: nb = Not(b), h2 = h + h."""
    g = h.make_graph([h.make_node("Not", ["b"], ["nb"]), h.make_node("Add", ["h", "h"], ["h2"])], "flags",
                     [h.make_tensor_value_info("b", T.BOOL, ["k"]), h.make_tensor_value_info("h", T.FLOAT16, ["k"])],
                     [h.make_tensor_value_info("nb", T.BOOL, ["k"]), h.make_tensor_value_info("h2", T.FLOAT16, ["k"])])
    _save(g, path)


def make_slow(path, depth=48):
    """Many 256x256 MatMuls on x [batch, 256, 256]: tens to hundreds of ms per run."""
    w = (np.eye(256) + 0.001 * np.random.default_rng(2).standard_normal((256, 256))).astype(np.float32)
    nodes, last = [], "x"
    for i in range(depth):
        nodes.append(h.make_node("MatMul", [last, "W"], [f"m{i}"]))
        last = f"m{i}"
    nodes.append(h.make_node("Identity", [last], ["y"]))
    g = h.make_graph(nodes, "slow", [h.make_tensor_value_info("x", T.FLOAT, ["batch", 256, 256])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["batch", 256, 256])], [nh.from_array(w, "W")])
    _save(g, path)


def write_repo(root):
    make_dense(os.path.join(root, "dense", "1", "model.onnx"), scale=1.0)
    make_dense(os.path.join(root, "dense", "2", "model.onnx"), scale=2.0)
    with open(os.path.join(root, "dense", "config.json"), "w") as f:
        json.dump({"max_batch_size": 16, "max_queue_delay_ms": 40, "version_policy": "all"}, f)
    make_cnn(os.path.join(root, "cnn", "1", "model.onnx"))
    with open(os.path.join(root, "cnn", "config.json"), "w") as f:
        json.dump({"max_batch_size": 8, "max_queue_delay_ms": 5}, f)
    make_mixed(os.path.join(root, "mixed", "1", "model.onnx"))
    make_flags(os.path.join(root, "flags", "1", "model.onnx"))
    make_slow(os.path.join(root, "slow", "3", "model.onnx"))
    with open(os.path.join(root, "slow", "config.json"), "w") as f:
        json.dump({"max_queue_size": 2, "instance_count": 1, "threads": 1}, f)
    # A broken model: listed in the index as UNAVAILABLE, the server still starts.
    os.makedirs(os.path.join(root, "broken", "1"))
    with open(os.path.join(root, "broken", "1", "model.onnx"), "wb") as f:
        f.write(b"not a model")
    return root


@pytest.fixture(scope="session")
def repo(tmp_path_factory):
    return write_repo(str(tmp_path_factory.mktemp("repo")))


class Server:
    """A server process; `log` holds its stderr (JSON lines)."""

    def __init__(self, repo, tmp, *extra, command=None, env=None):
        self.log_path = os.path.join(tmp, f"server-{time.monotonic_ns()}.log")
        self._log = open(self.log_path, "wb")
        cmd = command or [sys.executable, "-m", "oxrt.serve"]
        self.proc = subprocess.Popen(cmd + [repo, "--host", "127.0.0.1", "--http-port", "0", "--grpc-port", "0",
                                            *extra], stdout=self._log, stderr=subprocess.STDOUT, cwd=tmp,
                                     env=env)
        end = time.monotonic() + 60
        while True:
            started = [e for e in self.events() if e.get("msg") == "server started"]
            if started:
                self.http_port, self.grpc_port = started[0]["http_port"], started[0]["grpc_port"]
                break
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError(f"server did not start:\n{self.text()}")
            time.sleep(0.05)
        self.http = f"127.0.0.1:{self.http_port}"
        self.grpc = f"127.0.0.1:{self.grpc_port}"

    def text(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def events(self):
        out = []
        for line in self.text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"msg": "NOT JSON", "line": line})
        return out

    def terminate(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout=30):
        self.terminate()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._log.close()
        return rc


@pytest.fixture(scope="module")
def server(repo, tmp_path_factory):
    s = Server(repo, str(tmp_path_factory.mktemp("srv")), "--max-body-bytes", str(1 << 20))
    yield s
    s.stop()


def direct(repo, model, inputs, version=None):
    """The outputs of a direct oxrt run of a repository model ({name: array})."""
    import oxrt
    folder = os.path.join(repo, model)
    version = version or max(int(v) for v in os.listdir(folder) if v.isdigit())
    sess = oxrt.InferenceSession(os.path.join(folder, str(version), "model.onnx"))
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, inputs)))
