"""The onnxruntime-shaped API surface of oxrt."""

import pathlib
import warnings

import numpy as np
import pytest
from onnx import TensorProto, helper

import oxrt
import oxrt as ort
from conftest import identity_model, make_model


def test_module_functions():
    assert isinstance(oxrt.__version__, str) and oxrt.__version__.count(".") == 2
    assert oxrt.get_device() == "CPU"
    assert oxrt.get_available_providers() == ["CPUExecutionProvider"]
    assert "CPUExecutionProvider" in oxrt.get_all_providers()
    assert oxrt.get_version_string() == oxrt.__version__


def test_readme_snippet(tmp_path, mlp_bytes):
    model, (w, b) = mlp_bytes
    (tmp_path / "model.onnx").write_bytes(model)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    outputs = sess.run(None, {sess.get_inputs()[0].name: x})
    assert isinstance(outputs, list) and len(outputs) == 1
    np.testing.assert_allclose(outputs[0], np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-6)


def test_path_bytes_pathlike(tmp_path, mlp_bytes):
    model, _ = mlp_bytes
    p = tmp_path / "m.onnx"
    p.write_bytes(model)
    x = np.ones((2, 4), np.float32)
    ref = oxrt.InferenceSession(model).run(None, {"X": x})[0]
    for src in (str(p), pathlib.Path(p), model, bytearray(model), memoryview(model)):
        np.testing.assert_array_equal(oxrt.InferenceSession(src).run(None, {"X": x})[0], ref)
    with pytest.raises(TypeError):
        oxrt.InferenceSession(12)


def test_inputs_outputs_description(mlp_bytes):
    model, _ = mlp_bytes
    sess = oxrt.InferenceSession(model, providers=["CPUExecutionProvider"])
    (i,) = sess.get_inputs()
    (o,) = sess.get_outputs()
    assert (i.name, i.type, i.shape) == ("X", "tensor(float)", ["batch", 4])
    assert (o.name, o.type, o.shape) == ("Y", "tensor(float)", ["batch", 3])
    assert str(i) == "NodeArg(name='X', type='tensor(float)', shape=['batch', 4])"
    # Initializers are not inputs.
    assert [a.name for a in sess.get_inputs()] == ["X"]


def test_shape_unknown_dims():
    dims = helper.make_tensor_value_info("X", TensorProto.INT64, [2, None, "S"])
    model = make_model([helper.make_node("Identity", ["X"], ["Y"])], [dims], [("Y", TensorProto.INT64, None)])
    sess = oxrt.InferenceSession(model)
    assert sess.get_inputs()[0].shape == [2, None, "S"]
    assert isinstance(sess.get_inputs()[0].shape[0], int)


def test_type_strings():
    seq = helper.make_tensor_sequence_value_info("S", TensorProto.FLOAT, None)
    model = make_model(
        [helper.make_node("SequenceLength", ["S"], ["L"]), helper.make_node("Identity", ["B"], ["B2"])],
        [seq, ("B", TensorProto.BOOL, [1])],
        [("L", TensorProto.INT64, []), ("B2", TensorProto.BOOL, [1])],
    )
    sess = oxrt.InferenceSession(model)
    assert [a.type for a in sess.get_inputs()] == ["seq(tensor(float))", "tensor(bool)"]
    assert [a.type for a in sess.get_outputs()] == ["tensor(int64)", "tensor(bool)"]
    assert sess.get_outputs()[0].shape == []


def test_modelmeta(mlp_bytes):
    model, _ = mlp_bytes
    meta = oxrt.InferenceSession(model).get_modelmeta()
    assert meta.producer_name == "oxrt-tests"
    assert meta.graph_name == "mlp"
    assert meta.domain == "org.oxrt.test"
    assert meta.description == "a tiny MLP"
    assert meta.graph_description == "relu(x @ w + b)"
    assert meta.version == 3
    assert meta.custom_metadata_map == {"author": "oxrt", "purpose": "tests"}


def test_providers(mlp_bytes):
    model, _ = mlp_bytes
    sess = oxrt.InferenceSession(model, providers=["CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    assert sess.get_provider_options() == {"CPUExecutionProvider": {}}
    sess = oxrt.InferenceSession(model, providers=[("CPUExecutionProvider", {})])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    with pytest.warns(UserWarning, match="CUDAExecutionProvider"):
        sess = oxrt.InferenceSession(model, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert oxrt.InferenceSession(model).get_providers() == ["CPUExecutionProvider"]


def test_session_options(mlp_bytes):
    model, (w, b) = mlp_bytes
    so = oxrt.SessionOptions()
    assert so.intra_op_num_threads == 0
    assert so.graph_optimization_level == oxrt.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert so.log_severity_level == -1
    assert so.optimized_model_filepath == ""
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    want = np.maximum(x @ w + b, 0)
    for level in oxrt.GraphOptimizationLevel:
        for threads in (1, 2, 0):
            so = oxrt.SessionOptions()
            so.graph_optimization_level = level
            so.intra_op_num_threads = threads
            so.log_severity_level = 3
            sess = oxrt.InferenceSession(model, so, providers=["CPUExecutionProvider"])
            assert sess.get_session_options() is so
            np.testing.assert_allclose(sess.run(None, {"X": x})[0], want, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError):
        so.intra_op_num_threads = "four"
    with pytest.raises(TypeError):
        so.graph_optimization_level = "fast"
    so.add_session_config_entry("session.load_model_format", "ONNX")
    assert so.get_session_config_entry("session.load_model_format") == "ONNX"


def test_optimized_model_filepath_writes_a_model(tmp_path, mlp_bytes):
    """Like onnxruntime: the session writes its optimized graph, a valid model giving the same outputs."""
    import onnx
    model, _ = mlp_bytes
    so = oxrt.SessionOptions()
    path = str(tmp_path / "opt.onnx")
    so.optimized_model_filepath = path
    sess = oxrt.InferenceSession(model, sess_options=so)
    x = np.random.RandomState(0).rand(2, 4).astype(np.float32)
    y = sess.run(None, {"X": x})[0]
    assert y.shape == (2, 3)
    onnx.checker.check_model(onnx.load(path))
    again = oxrt.InferenceSession(path).run(None, {"X": x})[0]
    np.testing.assert_allclose(again, y, rtol=1e-6, atol=1e-7)


def test_enums():
    L = oxrt.GraphOptimizationLevel
    assert [(m.name, int(m)) for m in L] == [
        ("ORT_DISABLE_ALL", 0),
        ("ORT_ENABLE_BASIC", 1),
        ("ORT_ENABLE_EXTENDED", 2),
        ("ORT_ENABLE_LAYOUT", 3),
        ("ORT_ENABLE_ALL", 99),
    ]
    assert str(L.ORT_ENABLE_ALL) == "GraphOptimizationLevel.ORT_ENABLE_ALL"
    assert int(oxrt.ExecutionMode.ORT_PARALLEL) == 1


def test_run_options(mlp_bytes):
    model, _ = mlp_bytes
    ro = oxrt.RunOptions()
    ro.log_severity_level = 3
    ro.add_run_config_entry("k", "v")
    assert ro.get_run_config_entry("k") == "v"
    sess = oxrt.InferenceSession(model)
    assert sess.run(["Y"], {"X": np.zeros((2, 4), np.float32)}, ro)[0].shape == (2, 3)
    assert sess.run(["Y"], {"X": np.zeros((2, 4), np.float32)}, run_options=ro)[0].shape == (2, 3)


def test_output_names_selection():
    model = make_model(
        [helper.make_node("Identity", ["X"], ["A"]), helper.make_node("Neg", ["X"], ["B"])],
        [("X", TensorProto.FLOAT, [2])],
        [("A", TensorProto.FLOAT, [2]), ("B", TensorProto.FLOAT, [2])],
    )
    sess = oxrt.InferenceSession(model)
    x = np.array([1, -2], np.float32)
    a, b = sess.run(None, {"X": x})
    np.testing.assert_array_equal(a, x)
    np.testing.assert_array_equal(b, -x)
    (b2,) = sess.run(["B"], {"X": x})
    np.testing.assert_array_equal(b2, -x)
    b3, a3 = sess.run(["B", "A"], {"X": x})
    np.testing.assert_array_equal(a3, x)
    assert len(sess.run([], {"X": x})) == 2


def test_outputs_are_owned_writable_arrays(identity_float):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = identity_float.run(None, {"X": x})
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (2, 3)
    assert y.flags.writeable and y.flags.c_contiguous
    y[0, 0] = 42  # the output is the caller's, the input untouched
    assert x[0, 0] == 0
    del identity_float  # arrays outlive the session
    assert y[1, 2] == 5


def test_capi_module_names():
    from oxrt.capi import onnxruntime_pybind11_state as C
    from oxrt.capi._pybind_state import InvalidArgument

    assert InvalidArgument is C.InvalidArgument
    for name in ("Fail", "InvalidArgument", "NoSuchFile", "NoModel", "EngineError", "RuntimeException",
                 "InvalidProtobuf", "ModelLoaded", "NotImplemented", "InvalidGraph", "EPFail"):
        cls = getattr(C, name)
        assert issubclass(cls, Exception)
        # as in onnxruntime, these are not RuntimeError/ValueError subclasses
        assert not issubclass(cls, (RuntimeError, ValueError))
        assert cls.__name__ == name
        assert cls.__module__ == "oxrt.capi.onnxruntime_pybind11_state"


def test_ortvalue(identity_float):
    x = np.ones((2, 3), np.float32)
    v = oxrt.OrtValue.ortvalue_from_numpy(x)
    assert v.shape() == [2, 3] and v.data_type() == "tensor(float)" and v.device_name() == "cpu"
    (out,) = identity_float.run_with_ort_values(["Y"], {"X": v})
    np.testing.assert_array_equal(out.numpy(), x)
    np.testing.assert_array_equal(identity_float.run(None, {"X": v})[0], x)


def test_identity_model_helper_works():
    sess = oxrt.InferenceSession(identity_model(TensorProto.FLOAT, [1]))
    assert sess.run(None, {"X": np.array([3], np.float32)})[0][0] == 3
