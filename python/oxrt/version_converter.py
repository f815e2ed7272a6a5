"""oxrt.version_converter - onnx.version_converter's interface over oxrt's opset converter.

    import oxrt.version_converter
    upgraded = oxrt.version_converter.convert_version(model, 17)

`model` is an onnx.ModelProto, serialized bytes or a path; the result is an onnx.ModelProto when onnx is
installed, else serialized bytes. Upgrades the default domain's opset with the adapters exporters' models need
(`oxrt convert` on the command line); a conversion it cannot do raises ConvertError naming the node.
"""
from . import _oxrt
from ._model_io import from_bytes, to_bytes

__all__ = ["ConvertError", "convert_version"]


class ConvertError(ValueError):
    """The model cannot be converted to the requested opset; the message says which node stops it."""


def convert_version(model, target_version):
    if not isinstance(target_version, int) or isinstance(target_version, bool):
        raise TypeError("target_version must be an int")
    try:
        data = _oxrt.convert_opset(to_bytes(model, "convert_version"), target_version)
    except _oxrt.OxrtError as e:
        raise ConvertError(str(e)) from None
    return from_bytes(data)
