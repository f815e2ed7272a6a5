"""Cancellation inside one long node: RunOptions.terminate from another thread and a per-run time limit.

ONNX Runtime checks its terminate flag only between nodes, so a run that is one long MatMul would finish there;
oxrt's parallel loops stop handing out work and the run raises Fail naming CANCELLED, with no partial result.
"""

import threading

import numpy as np
import pytest
from onnx import TensorProto, helper

import oxrt
from conftest import make_model

Fail = oxrt.capi.onnxruntime_pybind11_state.Fail

# ~34 GFLOP: hundreds of milliseconds on any current CPU at 1 or 2 threads
BIG_A = np.zeros((2048, 4096), np.float32)
BIG_B = np.zeros((4096, 2048), np.float32)


def _matmul_session(threads):
    model = make_model(
        [helper.make_node("MatMul", ["A", "B"], ["Y"])],
        [("A", TensorProto.FLOAT, ["m", "k"]), ("B", TensorProto.FLOAT, ["k", "n"])],
        [("Y", TensorProto.FLOAT, ["m", "n"])],
    )
    so = oxrt.SessionOptions()
    so.intra_op_num_threads = threads
    return oxrt.InferenceSession(model, so)


def _small_feed():
    rng = np.random.default_rng(1)
    return {"A": rng.random((3, 5), dtype=np.float32), "B": rng.random((5, 2), dtype=np.float32)}


@pytest.mark.parametrize("threads", [1, 2])
def test_terminate_stops_one_long_node(threads):
    s = _matmul_session(threads)
    ro = oxrt.RunOptions()
    caught, results = [], []

    def run():
        try:
            results.append(s.run(None, {"A": BIG_A, "B": BIG_B}, ro))
        except Fail as e:
            caught.append(str(e))

    t = threading.Thread(target=run)
    t.start()
    threading.Event().wait(0.01)  # the run is inside its only node by now
    ro.terminate = True
    t.join(timeout=60)
    assert not t.is_alive()
    assert not results, "a cancelled run returned outputs"
    assert len(caught) == 1 and "CANCELLED" in caught[0] and "terminated" in caught[0], caught
    # the session and the options work again once the flag is cleared
    ro.terminate = False
    feed = _small_feed()
    np.testing.assert_allclose(s.run(None, feed, ro)[0], feed["A"] @ feed["B"], rtol=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_time_limit_stops_one_long_node(threads):
    s = _matmul_session(threads)
    ro = oxrt.RunOptions()
    ro.time_limit_ms = 10
    with pytest.raises(Fail, match="CANCELLED.*time limit of 10 ms"):
        s.run(None, {"A": BIG_A, "B": BIG_B}, ro)
    feed = _small_feed()
    np.testing.assert_allclose(s.run(None, feed, ro)[0], feed["A"] @ feed["B"], rtol=1e-5)


def test_time_limit_validation():
    ro = oxrt.RunOptions()
    with pytest.raises((ValueError, TypeError)):
        ro.time_limit_ms = -1
    ro.time_limit_ms = 0
    assert ro.time_limit_ms == 0
