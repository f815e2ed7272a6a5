"""oxrt.shape_inference - onnx.shape_inference's interface over oxrt's shape inference.

    import oxrt.shape_inference
    inferred = oxrt.shape_inference.infer_shapes(model)          # value_info filled in
    oxrt.shape_inference.infer_shapes_path("in.onnx", "out.onnx")

`model` is an onnx.ModelProto, serialized bytes or a path; the result is an onnx.ModelProto when onnx is
installed (as onnx returns), else serialized bytes. Symbolic dimensions keep their names; Shape, Gather, Concat,
Reshape chains are followed as onnx's data propagation does. A model given by its path reads its external data
from its own folder; infer_shapes_path writes the weights of such a model to "<output_path>.data" again.
"""
import mmap
import os
import tempfile

from . import _oxrt
from ._model_io import from_bytes, to_bytes

__all__ = ["InferenceError", "infer_shapes", "infer_shapes_path"]

try:  # with onnx installed, `except onnx.shape_inference.InferenceError` catches ours too
    from onnx.shape_inference import InferenceError as _Base
except Exception:
    _Base = ValueError


class InferenceError(_Base):
    """Shape inference found the model inconsistent."""


def _infer(data):
    try:
        return _oxrt.infer_shapes(data)
    except _oxrt.OxrtError as e:
        raise InferenceError(str(e)) from None


def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7


def _fields(b, i, end):
    """(field, wire type, value or (start, end) of a length-delimited field) of one protobuf message."""
    while i < end:
        key, i = _varint(b, i)
        wire = key & 7
        if wire == 0:
            v, i = _varint(b, i)
            yield key >> 3, wire, v
        elif wire == 2:
            n, i = _varint(b, i)
            yield key >> 3, wire, (i, i + n)
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError("not a protobuf message")


def _has_external_data(path):
    """Whether an initializer of the model file's main graph lies in external data (data_location 1); the
    weights inside the file are skipped, not read."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as b:
            for f7, w7, g in _fields(b, 0, len(b)):
                if f7 == 7 and w7 == 2:
                    for f5, w5, t in _fields(b, *g):
                        if f5 == 5 and w5 == 2 and any(f == 14 and w == 0 and v == 1 for f, w, v in _fields(b, *t)):
                            return True
    except (OSError, ValueError, IndexError):
        pass  # empty, unreadable or corrupt: the C library says why
    return False


def _is_path(model):
    return isinstance(model, (str, os.PathLike))


def infer_shapes(model, check_type=False, strict_mode=False, data_prop=False):
    """The model with value_info for every value whose type and shape could be inferred. check_type,
    strict_mode and data_prop are accepted for onnx's signature: oxrt always propagates shape data and reports
    what it cannot infer as an InferenceError."""
    del check_type, strict_mode, data_prop
    if not _is_path(model):
        return from_bytes(_infer(to_bytes(model, "infer_shapes")))
    with tempfile.TemporaryDirectory(prefix="oxrt_infer_") as tmp:
        out = os.path.join(tmp, "out.onnx")
        _infer_file(os.fspath(model), out, 0)
        with open(out, "rb") as f:
            return from_bytes(f.read())


def _infer_file(path, out, threshold):
    try:
        _oxrt.infer_shapes_file(path, out, threshold)
    except _oxrt.OxrtError as e:
        if not os.path.exists(path):  # as open() would say
            raise FileNotFoundError(2, "No such file or directory", path) from None
        raise InferenceError(str(e)) from None


def infer_shapes_path(model_path, output_path="", check_type=False, strict_mode=False, data_prop=False):
    """Reads model_path, writes the inferred model to output_path (default: over model_path). External data is
    read from model_path's folder; a model that has some gets its initializers of 1 KiB or more written to
    "<output_path>.data" (so that models over 2 GB stay writable)."""
    del check_type, strict_mode, data_prop
    if not _is_path(model_path):
        raise TypeError(f"infer_shapes_path expects a path, got {type(model_path).__name__}")
    path = os.fspath(model_path)
    out = os.fspath(output_path) if output_path else path
    _infer_file(path, out, 1024 if _has_external_data(path) else 0)
