"""Behaviour under load and at run time: dynamic batching, the bounded queue, timeouts, the repository
extension, metrics, profiles, graceful SIGTERM, the `oxrt serve` command and a short load test."""

import concurrent.futures
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import ROOT, Server, direct, make_dense


def metric(server, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    c = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:]+)(\{[^}]*\})? (\S+)$", line)
        if m and m.group(1) == name and all(f'{k}="{v}"' in (m.group(2) or "") for k, v in labels.items()):
            total += float(m.group(3))
    return total


def slow_input(rows=1):
    return np.random.default_rng(3).standard_normal((rows, 256, 256)).astype(np.float32)


def http_slow(server, timeout_us=None):
    c = httpclient.InferenceServerClient(server.http, network_timeout=60)
    i = httpclient.InferInput("x", [1, 256, 256], "FP32")
    i.set_data_from_numpy(slow_input(), binary_data=True)
    try:
        return c.infer("slow", [i], timeout=timeout_us).as_numpy("y").shape
    except InferenceServerException as e:
        return e.status(), e.message()
    finally:
        c.close()


def test_dynamic_batching_merges_and_splits(server, repo):
    before_runs = metric(server, "oxrt_batch_size_count", model="dense")
    before_rows = metric(server, "oxrt_batch_size_sum", model="dense")
    xs = [np.full((1 + i % 2, 4), i, np.float32) - 2 for i in range(12)]

    def one(x):
        c = httpclient.InferenceServerClient(server.http)
        i = httpclient.InferInput("x", list(x.shape), "FP32")
        i.set_data_from_numpy(x, binary_data=True)
        return c.infer("dense", [i]).as_numpy("y")

    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        outs = list(ex.map(one, xs))
    for x, y in zip(xs, outs):
        np.testing.assert_allclose(y, direct(repo, "dense", {"x": x})["y"], rtol=1e-6, atol=1e-6)
    runs = metric(server, "oxrt_batch_size_count", model="dense") - before_runs
    rows = metric(server, "oxrt_batch_size_sum", model="dense") - before_rows
    assert rows == sum(x.shape[0] for x in xs)
    assert runs < len(xs), f"{len(xs)} requests ran as {runs} batches: nothing was merged"


def test_queue_full_http_and_grpc(server):
    # slow: one worker, max_queue_size 2; 10 requests at once overflow it
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        results = list(ex.map(lambda _: http_slow(server), range(10)))
    ok = [r for r in results if r == (1, 256, 256)]
    full = [r for r in results if r != (1, 256, 256)]
    assert ok and full, results
    for status, msg in full:
        assert status == "503" and "queue is full" in msg, (status, msg)

    def grpc_slow(_):
        c = grpcclient.InferenceServerClient(server.grpc)
        i = grpcclient.InferInput("x", [1, 256, 256], "FP32")
        i.set_data_from_numpy(slow_input())
        try:
            return c.infer("slow", [i]).as_numpy("y").shape
        except InferenceServerException as e:
            return e.status(), e.message()

    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        results = list(ex.map(grpc_slow, range(10)))
    full = [r for r in results if r != (1, 256, 256)]
    assert full and all(r[0] == "StatusCode.UNAVAILABLE" and "queue is full" in r[1] for r in full), results
    assert metric(server, "oxrt_request_failures_total", model="slow", reason="unavailable") >= 2
    assert http_slow(server) == (1, 256, 256)


def test_request_timeout(server):
    status, msg = http_slow(server, timeout_us=1000)  # 1 ms, less than one run of the model
    assert status == "504" and ("timed out" in msg or "no result within" in msg), (status, msg)
    c = grpcclient.InferenceServerClient(server.grpc)
    i = grpcclient.InferInput("x", [1, 256, 256], "FP32")
    i.set_data_from_numpy(slow_input())
    with pytest.raises(InferenceServerException) as e:
        c.infer("slow", [i], client_timeout=0.002)
    assert e.value.status() == "StatusCode.DEADLINE_EXCEEDED"
    assert http_slow(server) == (1, 256, 256)


def test_repository_extension(server, repo):
    c = httpclient.InferenceServerClient(server.http)
    index = {(m["name"], m.get("version", "")): m["state"] for m in c.get_model_repository_index()}
    assert index[("dense", "1")] == index[("dense", "2")] == index[("cnn", "1")] == "READY"
    assert index[("broken", "")] == "UNAVAILABLE"
    broken = [m for m in c.get_model_repository_index() if m["name"] == "broken"][0]
    assert "cannot load" in broken["reason"]
    # a new model appears on disk and is loaded at run time, then unloaded
    make_dense(os.path.join(repo, "late", "4", "model.onnx"), scale=3.0)
    with pytest.raises(InferenceServerException):
        c.get_model_metadata("late")
    c.load_model("late")
    assert c.is_model_ready("late")
    x = np.ones((1, 4), np.float32)
    i = httpclient.InferInput("x", [1, 4], "FP32")
    i.set_data_from_numpy(x)
    np.testing.assert_array_equal(c.infer("late", [i]).as_numpy("y"), direct(repo, "late", {"x": x})["y"])
    g = grpcclient.InferenceServerClient(server.grpc)
    g.unload_model("late")
    assert not c.is_model_ready("late")
    with pytest.raises(InferenceServerException) as e:
        c.infer("late", [i])
    assert e.value.status() == "404"
    g.load_model("late", config=json.dumps({"max_batch_size": 4}))
    assert c.get_model_config("late")["max_batch_size"] == 4
    assert any(m.name == "late" and m.state == "READY" for m in g.get_model_repository_index().models)
    with pytest.raises(InferenceServerException) as e:
        c.load_model("missing")
    assert "not in the repository" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        g.load_model("late", config=json.dumps({"max_batch_sizes": 4}))
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and "unknown key 'max_batch_sizes'" in e.value.message()
    c.unload_model("late")
    shutil.rmtree(os.path.join(repo, "late"))


def tasks(server):
    return set(os.listdir(f"/proc/{server.proc.pid}/task"))


def test_instance_count_and_threads(server, repo):
    # instance_count sessions, each with a worker thread and a pool of `threads` - 1 more: unloading
    # joins exactly those. threads is picked so that "one per core" (0) would give another count.
    threads = (os.cpu_count() or 1) + 2
    make_dense(os.path.join(repo, "inst", "1", "model.onnx"))
    c = httpclient.InferenceServerClient(server.http)
    try:
        c.load_model("inst", config=json.dumps({"instance_count": 2, "threads": threads}))
        loaded = tasks(server)
        cfg = c.get_model_config("inst")["oxrt"]
        assert cfg["instance_count"] == 2 and cfg["threads"] == threads, cfg
        x = np.ones((2, 4), np.float32)
        i = httpclient.InferInput("x", [2, 4], "FP32")
        i.set_data_from_numpy(x)
        np.testing.assert_array_equal(c.infer("inst", [i]).as_numpy("y"), direct(repo, "inst", {"x": x})["y"])
        c.unload_model("inst")
        gone = loaded - tasks(server)
        assert len(gone) == 2 * threads, f"unloading joined {len(gone)} threads, expected 2 x {threads}"
    finally:
        shutil.rmtree(os.path.join(repo, "inst"))


def test_batching_delay_waits_for_more(server, repo):
    # a lone request on a batching model waits max_queue_delay_ms for company before it runs
    make_dense(os.path.join(repo, "delay", "1", "model.onnx"))
    c = httpclient.InferenceServerClient(server.http)
    try:
        c.load_model("delay", config=json.dumps({"max_batch_size": 8, "max_queue_delay_ms": 400}))
        i = httpclient.InferInput("x", [1, 4], "FP32")
        i.set_data_from_numpy(np.ones((1, 4), np.float32))
        t0 = time.monotonic()
        c.infer("delay", [i])
        assert time.monotonic() - t0 >= 0.4
        assert metric(server, "oxrt_batch_size_count", model="delay") == 1
        c.unload_model("delay")
    finally:
        shutil.rmtree(os.path.join(repo, "delay"))


def test_metrics(server):
    c = httpclient.InferenceServerClient(server.http)
    before = metric(server, "oxrt_requests_total", model="cnn", protocol="http")
    i = httpclient.InferInput("x", [1, 3, 16, 16], "FP32")
    i.set_data_from_numpy(np.zeros((1, 3, 16, 16), np.float32))
    c.infer("cnn", [i])
    assert metric(server, "oxrt_requests_total", model="cnn", protocol="http") == before + 1
    assert metric(server, "oxrt_request_duration_seconds_count", model="cnn", protocol="http") >= 1
    assert metric(server, "oxrt_compute_duration_seconds_count", model="cnn") >= 1
    assert metric(server, "oxrt_queue_depth", model="cnn") == 0


def test_profile(server):
    body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 16, 16], "data": [0.5] * 768}]})
    c = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=60)
    c.request("POST", "/v2/models/cnn/profile", body=body)
    r = c.getresponse()
    doc = json.loads(r.read())
    assert r.status == 200, doc
    ops = {e.get("args", {}).get("op_name") for e in doc["trace"] if isinstance(e, dict)}
    assert {"Gemm", "GlobalAveragePool"} <= ops and any("Conv" in str(o) for o in ops), ops


def test_sigterm_finishes_accepted_requests(repo, tmp_path):
    # slow: one worker, queue of 2. SIGTERM once two requests are in flight: one runs, one waits in the
    # queue for ~a run's time, and both must still be answered; a request arriving after it gets 503.
    s = Server(repo, str(tmp_path))
    results = []

    def client():
        results.append(http_slow(s))

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    end = time.monotonic() + 20
    while metric(s, "oxrt_inflight_requests") < 2 and time.monotonic() < end:
        time.sleep(0.005)
    assert metric(s, "oxrt_inflight_requests") >= 2
    s.terminate()
    for t in threads:
        t.join(60)
    rc = s.stop()
    ok = [r for r in results if r == (1, 256, 256)]
    assert len(ok) >= 2 and all(r in ok or r[0] == "503" for r in results), results
    assert rc == 0, s.text()[-2000:]
    msgs = [e.get("msg") for e in s.events()]
    assert "draining" in msgs and msgs[-1] == "server stopped", msgs


def test_oxrt_serve_command(repo, tmp_path):
    exe = os.environ.get("OXRT_BIN") or os.path.join(ROOT, "build", "oxrt")
    if not os.path.exists(exe):
        pytest.skip(f"no oxrt command at {exe} (set OXRT_BIN)")
    out = subprocess.run([exe, "serve", repo], env={**os.environ, "OXRT_PYTHON": "/nonexistent/python3"},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "could not be run" in out.stderr and "pip install" in out.stderr
    s = Server(repo, str(tmp_path), command=[exe, "serve"], env={**os.environ, "OXRT_PYTHON": sys.executable})
    try:
        assert httpclient.InferenceServerClient(s.http).is_model_ready("cnn")
    finally:
        assert s.stop() == 0


def test_load_smoke(server):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "serve_load.py"), "--url", server.http,
                          "--model", "cnn", "--clients", "4", "--requests", "10", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rep = json.loads(out.stdout.strip().splitlines()[-1])
    assert rep["ok"] == 40 and rep["failed"] == 0 and rep["throughput"] > 0 and rep["p99_ms"] >= rep["p50_ms"]
