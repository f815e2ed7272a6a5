"""oxrt.float16 - onnxconverter-common's convert_float_to_float16 over oxrt's C converter (src/quant/).

    from oxrt.float16 import convert_float_to_float16
    model16 = convert_float_to_float16(onnx.load("model.onnx"), keep_io_types=True)

The model may be a path, bytes or an onnx.ModelProto; an onnx.ModelProto is returned (bytes when the onnx
package is not installed). op_block_list=None uses oxrt's default list (ops ONNX Runtime's CPU provider has
no float16 kernel for); a list replaces it. Values are saturated to +-65504; min_positive_val and
max_finite_val are accepted for compatibility (float16 rounding keeps tiny values as subnormals or zero).
"""
import os
import tempfile

from . import _oxrt

__all__ = ["convert_float_to_float16", "convert_float_to_bfloat16", "DEFAULT_OP_BLOCK_LIST"]

DEFAULT_OP_BLOCK_LIST = _oxrt.bf16_info()["default_block_ops"].split(",")


def _convert(model, to, keep_io_types, op_block_list, node_block_list):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.onnx")
        if isinstance(model, (str, os.PathLike)):
            src = os.fspath(model)
        else:
            data = model if isinstance(model, (bytes, bytearray)) else model.SerializeToString()
            with open(src, "wb") as f:
                f.write(data)
        dst = os.path.join(tmp, "out.onnx")
        _oxrt.convert_float(src, dst, to, int(bool(keep_io_types)),
                            None if op_block_list is None else ",".join(op_block_list),
                            ",".join(node_block_list) if node_block_list else None)
        with open(dst, "rb") as f:
            out = f.read()
    try:
        import onnx
    except ImportError:
        return out
    return onnx.load_from_string(out)


def convert_float_to_float16(model, min_positive_val=1e-7, max_finite_val=1e4, keep_io_types=False,
                             disable_shape_infer=False, op_block_list=None, node_block_list=None,
                             check_fp16_ready=True):
    """float32 weights, values and computation to float16 (TensorProto.FLOAT16 = 10)."""
    return _convert(model, 10, keep_io_types, op_block_list, node_block_list)


def convert_float_to_bfloat16(model, keep_io_types=False, op_block_list=None, node_block_list=None):
    """The same to bfloat16 (TensorProto.BFLOAT16 = 16)."""
    return _convert(model, 16, keep_io_types, op_block_list, node_block_list)
