"""oxrt.printer - onnx.printer's interface: a model in ONNX's textual syntax, from the C library.

    import oxrt.printer
    print(oxrt.printer.to_text(model))

`model` is an onnx.ModelProto, serialized bytes or a path. onnx.parser.parse_model reads what this writes.
"""
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
    return _oxrt.print_model(to_bytes(proto, "to_text"))
