"""Errors become Python exceptions carrying the C library's message; nothing crashes."""

import numpy as np
import pytest
from onnx import TensorProto, helper

import oxrt
from oxrt.capi.onnxruntime_pybind11_state import (
    Fail,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    NoSuchFile,
    NotImplemented as OrtNotImplemented,
)
from conftest import make_model


def test_wrong_input_name(mlp_bytes):
    sess = oxrt.InferenceSession(mlp_bytes[0])
    x = np.zeros((1, 4), np.float32)
    # A required input missing: ValueError from the Python layer, as in onnxruntime.
    with pytest.raises(ValueError, match=r"Required inputs \(\['X'\]\) are missing"):
        sess.run(None, {"x": x})
    # An extra unknown name: the engine's InvalidArgument naming it and the real inputs.
    with pytest.raises(InvalidArgument, match="no input named 'x'.*'X'"):
        sess.run(None, {"X": x, "x": x})


def test_wrong_output_name(mlp_bytes):
    sess = oxrt.InferenceSession(mlp_bytes[0])
    with pytest.raises(InvalidArgument, match="no output named 'Z'"):
        sess.run(["Z"], {"X": np.zeros((1, 4), np.float32)})


def test_wrong_dtype(mlp_bytes):
    sess = oxrt.InferenceSession(mlp_bytes[0])
    with pytest.raises(InvalidArgument, match="expected element type float, got double") as e:
        sess.run(None, {"X": np.zeros((1, 4))})
    assert "INVALID_ARGUMENT" in str(e.value)
    with pytest.raises(InvalidArgument, match="float"):
        sess.run(None, {"X": np.zeros((1, 4), np.int64)})
    with pytest.raises(InvalidArgument):
        sess.run(None, {"X": np.array([["a", "b", "c", "d"]])})


def test_wrong_shape(mlp_bytes):
    sess = oxrt.InferenceSession(mlp_bytes[0])
    with pytest.raises(InvalidArgument, match=r"dimension 1 must be 4"):
        sess.run(None, {"X": np.zeros((1, 5), np.float32)})
    with pytest.raises(InvalidArgument, match="rank"):
        sess.run(None, {"X": np.zeros((4,), np.float32)})
    with pytest.raises(InvalidArgument, match="rank"):
        sess.run(None, {"X": np.zeros((1, 1, 4), np.float32)})


def test_bad_files(tmp_path):
    with pytest.raises(NoSuchFile, match="does_not_exist.onnx"):
        oxrt.InferenceSession(str(tmp_path / "does_not_exist.onnx"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x01\x02 this is not a model")
    with pytest.raises(InvalidProtobuf):
        oxrt.InferenceSession(str(bad))
    with pytest.raises(InvalidProtobuf):
        oxrt.InferenceSession(b"\xff\xff\xff\xff garbage")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises((InvalidProtobuf, InvalidGraph)):
        oxrt.InferenceSession(str(empty))
    with pytest.raises(NoSuchFile):
        oxrt.InferenceSession(str(tmp_path))  # a folder


def test_truncated_models_never_crash(mlp_bytes):
    model = mlp_bytes[0]
    for cut in range(0, len(model), max(1, len(model) // 97)):
        try:
            sess = oxrt.InferenceSession(model[:cut])
        except oxrt.OxrtError:
            continue
        # If a prefix happens to load, it must still behave.
        try:
            sess.run(None, {a.name: np.zeros([d if isinstance(d, int) else 1 for d in a.shape], np.float32)
                            for a in sess.get_inputs()})
        except (oxrt.OxrtError, ValueError, RuntimeError):
            pass


def test_invalid_graph():
    # The node reads a value nobody produces.
    model = make_model(
        [helper.make_node("Relu", ["nowhere"], ["Y"])],
        [("X", TensorProto.FLOAT, [1])],
        [("Y", TensorProto.FLOAT, [1])],
    )
    with pytest.raises((InvalidGraph, Fail)) as e:
        oxrt.InferenceSession(model)
    assert "nowhere" in str(e.value)


def test_unknown_operator():
    model = make_model(
        [helper.make_node("NoSuchOperator", ["X"], ["Y"], domain="org.example")],
        [("X", TensorProto.FLOAT, [1])],
        [("Y", TensorProto.FLOAT, [1])],
        domains={"org.example": 1},
    )
    with pytest.raises((OrtNotImplemented, InvalidGraph, Fail)) as e:
        oxrt.InferenceSession(model)
    assert "NoSuchOperator" in str(e.value)


def test_error_during_run():
    # Reshape to a shape that does not fit: detected only when the model runs.
    model = make_model(
        [helper.make_node("Reshape", ["X", "S"], ["Y"])],
        [("X", TensorProto.FLOAT, [None]), ("S", TensorProto.INT64, [2])],
        [("Y", TensorProto.FLOAT, None)],
    )
    sess = oxrt.InferenceSession(model)
    np.testing.assert_array_equal(
        sess.run(None, {"X": np.arange(6, dtype=np.float32), "S": np.array([2, 3])})[0],
        np.arange(6, dtype=np.float32).reshape(2, 3),
    )
    with pytest.raises(oxrt.OxrtError) as e:
        sess.run(None, {"X": np.arange(7, dtype=np.float32), "S": np.array([2, 3])})
    assert "Reshape" in str(e.value)
    # The session stays usable after a failed run.
    assert sess.run(None, {"X": np.arange(4, dtype=np.float32), "S": np.array([2, 2])})[0].shape == (2, 2)


def test_unsupported_python_objects(identity_float):
    # onnxruntime takes no scalars or arbitrary objects for a tensor input: RuntimeError.
    for value in (3.0, 3, np.float32(1), "abc", None, object(), {"a": 1}):
        with pytest.raises(RuntimeError):
            identity_float.run(None, {"X": value})
    with pytest.raises(RuntimeError, match="Could not create tensor"):
        identity_float.run(None, {"X": [[1, 2, "a"]]})
    with pytest.raises(AttributeError):
        identity_float.run(None, [np.zeros((1, 3), np.float32)])


def test_unsupported_dtypes_raise(identity_float):
    for arr in (np.zeros((1, 3), dtype="datetime64[s]"), np.zeros((1, 3), dtype=np.longdouble),
                np.zeros(1, dtype=[("a", np.float32), ("b", np.float32), ("c", np.float32)])):
        with pytest.raises((TypeError, InvalidArgument, RuntimeError)):
            identity_float.run(None, {"X": arr})


def test_exception_classes_and_message(identity_float):
    with pytest.raises(Exception) as e:
        identity_float.run(None, {"X": np.zeros((1, 4), np.float32)})
    err = e.value
    assert type(err) is InvalidArgument
    assert isinstance(err, oxrt.OxrtError)
    text = str(err)
    assert text.startswith("[oxrt] : 2 : INVALID_ARGUMENT : ")
    assert "input 'X'" in text and "[1,4]" in text
