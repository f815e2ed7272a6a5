"""Model arguments of the onnx-compatible wrappers (oxrt.checker, shape_inference, printer, parser,
version_converter): what the onnx package takes, turned into serialized bytes for the C library, and the result
turned back into what the onnx package returns (an onnx.ModelProto when onnx is installed, else bytes)."""
import os


def onnx_or_none():
    try:
        import onnx
        return onnx
    except ImportError:
        return None


def to_bytes(model, what):
    """Serialized model bytes from a ModelProto (anything with SerializeToString), bytes or a path."""
    if hasattr(model, "SerializeToString"):
        return model.SerializeToString()
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        with open(os.fspath(model), "rb") as f:
            return f.read()
    raise TypeError(f"{what} expects an onnx.ModelProto, serialized bytes or a path, got {type(model).__name__}")


def from_bytes(data):
    """An onnx.ModelProto when onnx is installed (as the onnx package returns), else the bytes."""
    onnx = onnx_or_none()
    return onnx.load_from_string(data) if onnx is not None else data
