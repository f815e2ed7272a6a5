"""Every numpy dtype with an ONNX counterpart goes in and comes back; layouts and containers."""

import tracemalloc

import numpy as np
import pytest
from onnx import TensorProto, helper

import oxrt
from conftest import identity_model, make_model

NUMERIC = [
    (np.float32, TensorProto.FLOAT),
    (np.float64, TensorProto.DOUBLE),
    (np.float16, TensorProto.FLOAT16),
    (np.int8, TensorProto.INT8),
    (np.uint8, TensorProto.UINT8),
    (np.int16, TensorProto.INT16),
    (np.uint16, TensorProto.UINT16),
    (np.int32, TensorProto.INT32),
    (np.uint32, TensorProto.UINT32),
    (np.int64, TensorProto.INT64),
    (np.uint64, TensorProto.UINT64),
    (np.bool_, TensorProto.BOOL),
]


def _identity(elem_type, shape=None):
    return oxrt.InferenceSession(identity_model(elem_type, shape))


@pytest.mark.parametrize("dtype,elem_type", NUMERIC)
def test_numeric_round_trip(dtype, elem_type):
    sess = _identity(elem_type)
    assert sess.get_inputs()[0].type == "tensor(%s)" % helper.tensor_dtype_to_np_dtype(elem_type).name.replace(
        "float32", "float").replace("float64", "double").replace("bool", "bool")
    x = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype)
    (y,) = sess.run(None, {"X": x})
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, x)
    # From a Python list, converted to the input's type as onnxruntime does.
    (y,) = sess.run(None, {"X": x.tolist()})
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("dtype,elem_type", [(np.complex64, TensorProto.COMPLEX64), (np.complex128, TensorProto.COMPLEX128)])
def test_complex_round_trip(dtype, elem_type):
    try:
        sess = _identity(elem_type)
    except oxrt.OxrtError as e:  # Identity may not list complex types
        pytest.skip(str(e))
    x = (np.arange(6) + 1j * np.arange(6)).astype(dtype)
    np.testing.assert_array_equal(sess.run(None, {"X": x})[0], x)


def test_bfloat16_round_trip():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    sess = _identity(TensorProto.BFLOAT16)
    x = np.array([1.5, -2.25, 3.0], dtype=ml_dtypes.bfloat16)
    (y,) = sess.run(None, {"X": x})
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(y.astype(np.float32), x.astype(np.float32))


@pytest.mark.parametrize(
    "value",
    [
        np.array([["a", "bé"], ["", "long string " * 20]]),  # unicode
        np.array([["a", "bé"], ["", "x"]], dtype=object),  # object
        [["a", "bé"], ["", "x"]],  # list
        np.array([b"ab", b"c"]),  # bytes
    ],
)
def test_strings(value):
    sess = _identity(TensorProto.STRING)
    (y,) = sess.run(None, {"X": value})
    assert y.dtype == object
    want = np.array(value)
    if want.dtype.kind == "S":
        want = np.char.decode(want, "utf-8")
    assert y.shape == want.shape
    assert y.tolist() == want.astype(str).tolist()
    assert all(type(s) is str for s in y.ravel())


def test_string_scalar_and_empty():
    sess = _identity(TensorProto.STRING)
    (y,) = sess.run(None, {"X": np.array("hello", dtype=object)})
    assert y.shape == () and y[()] == "hello"
    (y,) = sess.run(None, {"X": np.zeros((0, 3), dtype=object)})
    assert y.shape == (0, 3)


def test_layouts():
    sess = _identity(TensorProto.FLOAT)
    base = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    cases = [
        base[:, ::2, 1:],  # strided
        np.asfortranarray(base),  # Fortran order
        base.transpose(2, 0, 1),  # transposed view
        base.astype(">f4"),  # big-endian
        np.array(7.0, np.float32),  # 0-d
        np.zeros((0, 5), np.float32),  # empty
        np.zeros((2, 0, 3), np.float32),
        base[1],  # view with an offset
    ]
    raw = bytearray(base.nbytes + 1)
    misaligned = np.frombuffer(raw, dtype=np.uint8)[1:].view(np.float32).reshape(base.shape)
    misaligned[...] = base
    cases.append(misaligned)
    for x in cases:
        (y,) = sess.run(None, {"X": x})
        assert y.dtype == np.float32 and y.shape == x.shape
        np.testing.assert_array_equal(y, x)


def test_contiguous_input_is_not_copied():
    sess = _identity(TensorProto.FLOAT)
    x = np.ones((1024, 1024), np.float32)  # 4 MiB
    sess.run(None, {"X": x})
    tracemalloc.start()
    try:
        sess.run(None, {"X": x})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # numpy reports its allocations to tracemalloc: a copy of x would show up.
    assert peak < x.nbytes // 2
    tracemalloc.start()
    try:
        sess.run(None, {"X": np.asfortranarray(x)[:, :]}) if False else sess.run(None, {"X": x.T})
        _, peak_copy = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_copy >= x.nbytes  # a transposed view needs one


def test_sequences():
    seq = helper.make_tensor_sequence_value_info("S", TensorProto.FLOAT, None)
    model = make_model(
        [
            helper.make_node("SequenceLength", ["S"], ["L"]),
            helper.make_node("SequenceConstruct", ["A", "B"], ["T"]),
        ],
        [seq, ("A", TensorProto.FLOAT, None), ("B", TensorProto.FLOAT, None)],
        [("L", TensorProto.INT64, []), helper.make_tensor_sequence_value_info("T", TensorProto.FLOAT, None)],
    )
    sess = oxrt.InferenceSession(model)
    a = np.ones((2, 2), np.float32)
    b = np.arange(3, dtype=np.float32)
    length, t = sess.run(None, {"S": [a, b, a], "A": a, "B": b})
    assert length.dtype == np.int64 and int(length) == 3
    assert isinstance(t, list) and len(t) == 2
    np.testing.assert_array_equal(t[0], a)
    np.testing.assert_array_equal(t[1], b)
    # Lists inside the sequence are converted to its element type.
    length, _ = sess.run(None, {"S": [[1.0, 2.0], [3.0]], "A": a, "B": b})
    assert int(length) == 2
    length, _ = sess.run(None, {"S": [], "A": a, "B": b})
    assert int(length) == 0
    with pytest.raises(RuntimeError):
        sess.run(None, {"S": a, "A": a, "B": b})


def test_optional_input():
    opt = helper.make_value_info(
        "O", helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, None))
    )
    model = make_model(
        [helper.make_node("OptionalHasElement", ["O"], ["H"])],
        [opt],
        [("H", TensorProto.BOOL, [])],
        opset=18,
    )
    sess = oxrt.InferenceSession(model)
    assert sess.get_inputs()[0].type == "optional(tensor(float))"
    assert bool(sess.run(None, {"O": np.ones(2, np.float32)})[0]) is True
    assert bool(sess.run(None, {"O": None})[0]) is False
    assert bool(sess.run(None, {})[0]) is False
