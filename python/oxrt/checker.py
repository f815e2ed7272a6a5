"""oxrt.checker - onnx.checker's verdict from the C library, without needing onnx.

    import oxrt.checker
    oxrt.checker.check_model("model.onnx", full_check=True)   # raises ValidationError when invalid

`model` is a path, serialized bytes, or an onnx.ModelProto (anything with SerializeToString()).
"""
import os

from . import _oxrt

__all__ = ["ValidationError", "check_model"]


try:  # with onnx installed, `except onnx.checker.ValidationError` catches ours too
    from onnx.checker import ValidationError as _Base
except Exception:  # onnx is optional
    _Base = ValueError


class ValidationError(_Base):
    """The model breaks a rule of the ONNX specification; the message names the graph, node and field."""


def check_model(model, full_check=False):
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    if not isinstance(model, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"check_model expects a path, bytes or a ModelProto, got {type(model).__name__}")
    message = _oxrt.check_model(model, bool(full_check))
    if message is not None:
        raise ValidationError(message)
