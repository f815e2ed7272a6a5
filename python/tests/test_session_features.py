"""Session features from the onnxruntime API: profiling (enable_profiling, end_profiling) and the
session.set_denormal_as_zero config entry."""
import json
import os

import numpy as np

import oxrt
from conftest import make_model
from onnx import TensorProto, helper


def _model():
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="first"), helper.make_node("Neg", ["r"], ["y"], name="second")]
    return make_model(nodes, [("x", TensorProto.FLOAT, [2, 3])], [("y", TensorProto.FLOAT, [2, 3])])


def test_profiling_off_by_default():
    sess = oxrt.InferenceSession(_model())
    sess.run(None, {"x": np.ones((2, 3), np.float32)})
    assert sess.end_profiling() == ""
    assert sess.get_profile_events() == []


def test_profile_file_is_a_chrome_trace(tmp_path):
    so = oxrt.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = str(tmp_path / "prof")
    sess = oxrt.InferenceSession(_model(), so)
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    for _ in range(3):
        (y,) = sess.run(None, {"x": x})
    np.testing.assert_array_equal(y, -np.maximum(x, 0))
    events = sess.get_profile_events()
    assert [(e[0], e[1]) for e in events] == [("first", "Relu"), ("second", "Neg")] * 3
    assert all(e[3] >= 0 for e in events)
    assert sess.get_profiling_start_time_ns() > 1_600_000_000 * 10**9
    path = sess.end_profiling()
    assert os.path.basename(path).startswith("prof_") and path.endswith(".json")
    with open(path) as f:
        trace = json.load(f)
    assert [t["name"] for t in trace] == ["first", "second"] * 3
    assert {t["args"]["op_name"] for t in trace} == {"Relu", "Neg"}
    assert all(t["ph"] == "X" and t["dur"] >= 0 for t in trace)
    # a new profile starts after end_profiling
    assert sess.get_profile_events() == []
    sess.run(None, {"x": x})
    assert len(sess.get_profile_events()) == 2


def test_denormal_as_zero_config_entry():
    """session.set_denormal_as_zero flushes subnormal results on every pool thread, and only during runs."""
    n = 1 << 20  # big enough for the elementwise kernel to split over the pool
    c = np.full([n], 1e-20, np.float32)
    model = make_model([helper.make_node("Mul", ["x", "c"], ["y"])], [("x", TensorProto.FLOAT, [n])],
                       [("y", TensorProto.FLOAT, [n])], initializers={"c": c})
    x = np.full([n], 1e-20, np.float32)
    expected = x * c
    assert expected[0] != 0  # numpy keeps the subnormal 1e-40
    so = oxrt.SessionOptions()
    so.intra_op_num_threads = 2
    (y,) = oxrt.InferenceSession(model, so).run(None, {"x": x})
    np.testing.assert_array_equal(y, expected)
    so.add_session_config_entry("session.set_denormal_as_zero", "1")
    (y,) = oxrt.InferenceSession(model, so).run(None, {"x": x})
    assert not y.any()
    assert (x * c)[0] != 0  # this thread's floating-point mode was restored
