"""One session used from several threads; the GIL is released while a model runs."""

import threading
import time

import numpy as np
import pytest
from onnx import TensorProto, helper

import oxrt
from conftest import make_model


def _chain_model(n=512, depth=8):
    """X [n, n] -> (X @ W) @ W ... depth times, with tanh to keep values bounded."""
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    nodes, prev = [], "X"
    for i in range(depth):
        nodes.append(helper.make_node("MatMul", [prev, "W"], [f"m{i}"]))
        nodes.append(helper.make_node("Tanh", [f"m{i}"], [f"t{i}" if i < depth - 1 else "Y"]))
        prev = f"t{i}"
    model = make_model(nodes, [("X", TensorProto.FLOAT, ["batch", n])], [("Y", TensorProto.FLOAT, ["batch", n])],
                       initializers={"W": w})
    return model, w


def _reference(x, w, depth=8):
    for _ in range(depth):
        x = np.tanh((x.astype(np.float64) @ w.astype(np.float64))).astype(np.float32)
    return x


def test_concurrent_runs_give_right_answers():
    model, w = _chain_model(n=64, depth=4)
    sess = oxrt.InferenceSession(model)
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((1 + i % 5, 64)).astype(np.float32) for i in range(16)]
    want = [_reference(x, w, 4) for x in inputs]
    errors = []

    def worker(k):
        try:
            for rep in range(20):
                i = (k + rep) % len(inputs)
                (y,) = sess.run(None, {"X": inputs[i]})
                np.testing.assert_allclose(y, want[i], rtol=1e-4, atol=1e-5)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_gil_is_released_during_run():
    model, _ = _chain_model(n=512, depth=8)
    so = oxrt.SessionOptions()
    so.intra_op_num_threads = 1
    sess = oxrt.InferenceSession(model, so)
    x = np.ones((256, 512), np.float32)
    # Make one run last long enough to measure.
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            sess.run(None, {"X": x})
        duration = time.perf_counter() - t0
        if duration > 0.3 or reps >= 64:
            break
        reps *= 2
    big = np.ones((256 * reps, 512), np.float32)

    done = threading.Event()

    def worker():
        sess.run(None, {"X": big})
        done.set()

    t = threading.Thread(target=worker)
    stamps = []
    t.start()
    while not done.is_set():
        stamps.append(time.perf_counter())
    t.join()
    run_time = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    gaps = np.diff(stamps) if len(stamps) > 1 else np.array([run_time])
    # With the GIL held, this thread would stall for the whole run.
    assert len(stamps) > 100
    assert gaps.max() < 0.5 * max(run_time, duration), (gaps.max(), run_time, duration)


def test_dropping_the_session_frees_it_at_once():
    """`del sess` releases the engine (its intra-op threads, its memory) without waiting for the garbage collector:
    the session holds no reference cycle, even after run()'s fast path."""
    import gc
    import os

    def threads():
        return len(os.listdir("/proc/self/task"))

    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs /proc to count threads")
    model, w = _chain_model(n=64, depth=2)
    gc.collect()
    gc.disable()
    try:
        before = threads()
        so = oxrt.SessionOptions()
        so.intra_op_num_threads = 3
        sess = oxrt.InferenceSession(model, so)
        sess.run(None, {"X": np.ones((4, 64), np.float32)})
        assert threads() == before + 2  # two workers beside the calling thread
        del sess
        assert threads() == before
    finally:
        gc.enable()
