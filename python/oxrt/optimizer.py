"""onnxoptimizer's interface over oxrt's graph optimizer.

    import oxrt.optimizer
    optimized = oxrt.optimizer.optimize(model, ["eliminate_identity", "fuse_bn_into_conv"])

`optimize` takes and returns what onnxoptimizer.optimize does: an onnx.ModelProto when the onnx package is
installed (then bytes and paths are accepted too); without onnx, serialized model bytes or a path to a model
file (the result is then bytes). A path goes to the C library as it is (external data read from the model's
folder); when the result has over 1.5 GiB of weights, more than bytes can hold, it comes back as an
onnx.ModelProto (as onnxoptimizer returns), which needs onnx. Pass names are onnxoptimizer's (see
get_available_passes()) or oxrt's own (`oxrt optimize --list`). passes=None runs onnxoptimizer's default list,
get_fuse_and_elimination_passes().
"""
import os
import tempfile

from . import _oxrt

__all__ = ["optimize", "get_available_passes", "get_fuse_and_elimination_passes"]

# onnxoptimizer's default list (get_fuse_and_elimination_passes), in its order; names oxrt does not implement
# are reported by optimize() rather than skipped silently.
_DEFAULT_PASSES = [
    "nop", "eliminate_nop_cast", "eliminate_nop_dropout", "eliminate_nop_flatten", "extract_constant_to_initializer",
    "eliminate_consecutive_idempotent_ops", "eliminate_if_with_const_cond", "eliminate_nop_monotone_argmax",
    "eliminate_nop_pad", "eliminate_nop_concat", "eliminate_nop_split", "eliminate_nop_expand",
    "eliminate_shape_gather", "eliminate_slice_after_shape", "eliminate_nop_transpose", "fuse_add_bias_into_conv",
    "fuse_bn_into_conv", "fuse_consecutive_concats", "fuse_consecutive_log_softmax",
    "fuse_consecutive_reduce_unsqueeze", "fuse_consecutive_squeezes", "fuse_consecutive_transposes",
    "fuse_matmul_add_bias_into_gemm", "fuse_pad_into_conv", "fuse_pad_into_pool", "fuse_transpose_into_gemm",
    "fuse_concat_into_reshape", "eliminate_nop_reshape", "eliminate_nop_with_unit", "eliminate_common_subexpression",
    "fuse_qkv", "fuse_consecutive_unsqueezes", "eliminate_deadend", "eliminate_identity", "eliminate_shape_op",
    "fuse_consecutive_slices", "eliminate_unused_initializer", "eliminate_duplicate_initializer", "rewrite_where",
]


def get_available_passes():
    """Every pass name optimize() accepts: onnxoptimizer's that oxrt implements, then oxrt's own."""
    named = [p[0] for p in _oxrt.optimizer_passes() if p[3]]
    own = [p[0] for p in _oxrt.optimizer_passes() if not p[3]]
    return named + own


def get_fuse_and_elimination_passes():
    """onnxoptimizer's default list restricted to the passes oxrt implements (same order)."""
    have = set(get_available_passes())
    return [p for p in _DEFAULT_PASSES if p in have]


def _onnx():
    try:
        import onnx
        return onnx
    except ImportError:
        return None


def optimize(model, passes=None, fixed_point=False):
    """Runs `passes` (a list of names; None: get_fuse_and_elimination_passes()) in order, each once, or with
    fixed_point=True until none changes anything. Returns an onnx.ModelProto for a ModelProto, else bytes (a
    ModelProto too where the optimized weights exceed 1.5 GiB: protobuf's 2 GB limit)."""
    if passes is None:
        passes = get_fuse_and_elimination_passes()
    if isinstance(passes, str):
        raise TypeError("passes must be a list of pass names, not a string")
    known = set(get_available_passes())
    unknown = [p for p in passes if p not in known]
    if unknown:
        raise ValueError(f"unknown optimizer pass(es) {unknown}; oxrt.optimizer.get_available_passes() lists them")
    onnx = _onnx()
    proto_in = onnx is not None and isinstance(model, onnx.ModelProto)
    with tempfile.TemporaryDirectory(prefix="oxrt_opt_") as tmp:
        if proto_in:
            src = os.path.join(tmp, "in.onnx")
            # ModelProtos over protobuf's 2 GB limit cannot be serialized in one piece: weights go beside
            if model.ByteSize() > (1 << 31) - (1 << 24):
                onnx.save_model(model, src, save_as_external_data=True, location="in.onnx.data")
            else:
                with open(src, "wb") as f:
                    f.write(model.SerializeToString())
        elif isinstance(model, (bytes, bytearray, memoryview)):
            src = os.path.join(tmp, "in.onnx")
            with open(src, "wb") as f:
                f.write(bytes(model))
        elif isinstance(model, (str, os.PathLike)):
            src = os.fspath(model)
        else:
            raise TypeError(f"model must be an onnx.ModelProto, bytes or a path, not {type(model).__name__}")
        dst = os.path.join(tmp, "out.onnx")
        # models with over 1.5 GiB of weights come back with them in out.onnx.data (protobuf's 2 GB limit)
        _oxrt.optimize_passes(src, dst, ",".join(passes), bool(fixed_point), 0)
        if proto_in or (onnx is not None and os.path.exists(dst + ".data")):
            return onnx.load(dst, load_external_data=True)
        if os.path.exists(dst + ".data"):
            raise ValueError("the optimized model has over 1.5 GiB of weights and cannot be returned as bytes: "
                             "install onnx to get an onnx.ModelProto, or use `oxrt optimize MODEL OUT --passes ...`")
        with open(dst, "rb") as f:
            return f.read()
