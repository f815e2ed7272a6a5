"""oxrt.shape_inference - onnx.shape_inference's interface over oxrt's shape inference.

    import oxrt.shape_inference
    inferred = oxrt.shape_inference.infer_shapes(model)          # value_info filled in
    oxrt.shape_inference.infer_shapes_path("in.onnx", "out.onnx")

`model` is an onnx.ModelProto, serialized bytes or a path; the result is an onnx.ModelProto when onnx is
installed (as onnx returns), else serialized bytes. Symbolic dimensions keep their names; Shape, Gather, Concat,
Reshape chains are followed as onnx's data propagation does.
"""
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


def infer_shapes(model, check_type=False, strict_mode=False, data_prop=False):
    """The model with value_info for every value whose type and shape could be inferred. check_type,
    strict_mode and data_prop are accepted for onnx's signature: oxrt always propagates shape data and reports
    what it cannot infer as an InferenceError."""
    del check_type, strict_mode, data_prop
    return from_bytes(_infer(to_bytes(model, "infer_shapes")))


def infer_shapes_path(model_path, output_path="", check_type=False, strict_mode=False, data_prop=False):
    """Reads model_path, writes the inferred model to output_path (default: over model_path)."""
    del check_type, strict_mode, data_prop
    out = _infer(to_bytes(model_path, "infer_shapes_path"))
    with open(output_path or model_path, "wb") as f:
        f.write(out)
