"""oxrt.parser - onnx.parser's interface: ONNX's textual syntax to a model, in the C library.

    import oxrt.parser
    model = oxrt.parser.parse_model('''
        <ir_version: 8, opset_import: ["" : 17]>
        agraph (float[N] X) => (float[N] Y) { Y = Relu(X) }
    ''')

Returns an onnx.ModelProto when onnx is installed (as onnx does), else serialized bytes.
"""
from . import _oxrt
from ._model_io import from_bytes

__all__ = ["ParseError", "parse_model"]

try:  # with onnx installed, `except onnx.parser.ParseError` catches ours too
    from onnx.parser import ParseError as _Base
except Exception:
    _Base = ValueError


class ParseError(_Base):
    """The text is not a model in ONNX's textual syntax; the message says where."""


def parse_model(model_text):
    if isinstance(model_text, (bytes, bytearray)):
        model_text = bytes(model_text).decode("utf-8")
    if not isinstance(model_text, str):
        raise TypeError(f"parse_model expects a str, got {type(model_text).__name__}")
    try:
        data = _oxrt.parse_model(model_text)
    except _oxrt.OxrtError as e:
        raise ParseError(str(e)) from None
    return from_bytes(data)
