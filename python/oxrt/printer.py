"""oxrt.printer - onnx.printer's interface: a model in ONNX's textual syntax, from the C library.

    import oxrt.printer
    print(oxrt.printer.to_text(model))

`model` is an onnx.ModelProto, serialized bytes or a path. onnx.parser.parse_model reads what this writes.
Initializers kept in external data are printed as their entries (["location": "w.bin", ...]), as onnx.printer
does; a model given by its path is read with its external data from its own folder.
"""
import os

from . import _oxrt
from ._model_io import to_bytes

__all__ = ["to_text"]


def to_text(proto):
    """The model as text. Only whole models are printed (onnx also prints a lone GraphProto or FunctionProto)."""
    onnx = None
    try:
        import onnx
    except ImportError:
        pass
    if onnx is not None and isinstance(proto, (onnx.GraphProto, onnx.FunctionProto)):
        raise TypeError("oxrt.printer.to_text prints ModelProtos only; wrap the graph with onnx.helper.make_model")
    if isinstance(proto, (str, os.PathLike)):
        path = os.fspath(proto)
        if not os.path.exists(path):  # as open() would say
            raise FileNotFoundError(2, "No such file or directory", path)
        return _oxrt.print_model_file(path)
    return _oxrt.print_model(to_bytes(proto, "to_text"))
