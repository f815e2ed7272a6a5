"""oxrt.version_converter - onnx.version_converter's interface over oxrt's opset converter.

    import oxrt.version_converter
    upgraded = oxrt.version_converter.convert_version(model, 17)

`model` is an onnx.ModelProto, serialized bytes or a path; the result is an onnx.ModelProto when onnx is
installed, else serialized bytes. Upgrades the default domain's opset with the adapters exporters' models need
(`oxrt convert` on the command line); a conversion it cannot do raises ConvertError naming the node. A model
given by its path is read with its external data from its own folder.
"""
import os
import tempfile

from . import _model_io, _oxrt
from ._model_io import from_bytes, to_bytes
from .shape_inference import _has_external_data

__all__ = ["ConvertError", "convert_version"]


class ConvertError(ValueError):
    """The model cannot be converted to the requested opset; the message says which node stops it."""


def convert_version(model, target_version):
    if not isinstance(target_version, int) or isinstance(target_version, bool):
        raise TypeError("target_version must be an int")
    if not isinstance(model, (str, os.PathLike)):
        try:
            data = _oxrt.convert_opset(to_bytes(model, "convert_version"), target_version)
        except _oxrt.OxrtError as e:
            raise ConvertError(str(e)) from None
        return from_bytes(data)
    # a path: read with its external data from its own folder; a model with external data comes back through
    # a data file too (onnx.load then reads it in), so that weights past protobuf's 2 GB fit
    path = os.fspath(model)
    if not os.path.exists(path):  # as open() would say
        raise FileNotFoundError(2, "No such file or directory", path)
    onnx = _model_io.onnx_or_none()
    external = onnx is not None and _has_external_data(path)
    with tempfile.TemporaryDirectory(prefix="oxrt_convert_") as tmp:
        out = os.path.join(tmp, "out.onnx")
        try:
            _oxrt.convert_opset_file(path, out, target_version, 1024 if external else 0)
        except _oxrt.OxrtError as e:
            raise ConvertError(str(e)) from None
        if external:
            return onnx.load(out, load_external_data=True)
        with open(out, "rb") as f:
            return from_bytes(f.read())
