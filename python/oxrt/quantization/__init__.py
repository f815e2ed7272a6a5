"""oxrt.quantization - onnxruntime.quantization's entry points over oxrt's C quantizer (src/quant/).

    from oxrt.quantization import quantize_dynamic, quantize_static, QuantType, QuantFormat
    quantize_dynamic("model.onnx", "model.int8.onnx", weight_type=QuantType.QInt8)

A script written for onnxruntime.quantization runs with the import swapped. The files load in ONNX Runtime
and in oxrt. Quantized: Conv, MatMul and Gemm with constant float weights; with quantize_static in QDQ
format also the activations of Add, Mul, Concat, MaxPool, AveragePool, GlobalAveragePool, Sigmoid, LeakyRelu,
Softmax, Resize, Transpose, Reshape, Gather, Split, Squeeze, Unsqueeze, Flatten, Relu and Clip (the default
op list; a Relu or Clip from 0 right after a Conv/MatMul/Gemm/Add/Mul is folded into its output quantization, and
the value-moving ops share their input's scale and zero point, as ORT's QDQ quantizer does). Other op types
in op_types_to_quantize are left in float. Options oxrt does not implement (nodes_to_quantize, symmetric
activations, ...) raise NotImplementedError instead of being ignored silently.
"""
import enum
import os
import sys
import tempfile

import numpy as np

from .. import _oxrt

__all__ = ["CalibrationDataReader", "CalibrationMethod", "QuantFormat", "QuantType", "quantize_dynamic",
           "quantize_static"]


class QuantType(enum.Enum):
    QInt8 = 0
    QUInt8 = 1

    def __str__(self):
        return self.name

    @staticmethod
    def from_string(t):
        try:
            return QuantType[t]
        except KeyError:
            raise ValueError(f"unknown QuantType {t!r}") from None


class QuantFormat(enum.Enum):
    QOperator = 0
    QDQ = 1

    def __str__(self):
        return self.name

    @staticmethod
    def from_string(f):
        try:
            return QuantFormat[f]
        except KeyError:
            raise ValueError(f"unknown QuantFormat {f!r}") from None


class CalibrationMethod(enum.Enum):
    MinMax = 0
    Entropy = 1
    Percentile = 2


class CalibrationDataReader:
    """Base class of calibration readers: get_next() returns {input name: array} or None at the end."""

    def get_next(self) -> dict:
        raise NotImplementedError

    def __iter__(self):
        return self

    def __next__(self):
        r = self.get_next()
        if r is None:
            raise StopIteration
        return r

    def set_range(self, start_index: int, end_index: int):
        raise NotImplementedError


_ELEM = {QuantType.QInt8: 3, QuantType.QUInt8: 2}  # TensorProto.INT8 / UINT8
_FORMAT = {QuantFormat.QDQ: 0, QuantFormat.QOperator: 1}  # oxrt_quant_format
_METHOD = {CalibrationMethod.MinMax: 0, CalibrationMethod.Entropy: 1, CalibrationMethod.Percentile: 2}


def _model_path(model_input, tmp):
    """A file path for a path, bytes or onnx.ModelProto."""
    if isinstance(model_input, (str, os.PathLike)):
        return os.fspath(model_input)
    data = model_input if isinstance(model_input, (bytes, bytearray)) else model_input.SerializeToString()
    path = os.path.join(tmp, "input.onnx")
    with open(path, "wb") as f:
        f.write(data)
    return path


def _types(op_types):
    if not op_types:
        return None
    return ",".join(op_types)


def _unsupported(nodes_to_quantize, extra_options):
    if nodes_to_quantize:
        raise NotImplementedError("oxrt.quantization: nodes_to_quantize is not supported; use nodes_to_exclude")
    for k, v in (extra_options or {}).items():
        if k in ("ActivationSymmetric",) and v:
            raise NotImplementedError("oxrt.quantization: symmetric activations are not supported")


def _batches(reader, progress):
    out = []
    while True:
        feed = reader.get_next()
        if feed is None:
            break
        names = list(feed.keys())
        out.append((names, [np.ascontiguousarray(feed[n]) for n in names]))
        if progress:
            sys.stderr.write(f"\rreading calibration batches: {len(out)}")
            sys.stderr.flush()
    if progress:
        sys.stderr.write("\n")
    return out


def _run(model_input, model_output, mode, fmt, per_channel, reduce_range, weight_type, activation_type, method,
         percentile, op_types, nodes_to_exclude, batches):
    with tempfile.TemporaryDirectory() as tmp:
        _oxrt.quantize(_model_path(model_input, tmp), os.fspath(model_output), mode, fmt, int(bool(per_channel)),
                       int(bool(reduce_range)), _ELEM[weight_type], _ELEM[activation_type], method, float(percentile),
                       _types(op_types), ",".join(nodes_to_exclude) if nodes_to_exclude else None, batches, None)


def quantize_dynamic(model_input, model_output, op_types_to_quantize=None, per_channel=False, reduce_range=False,
                     weight_type=QuantType.QInt8, nodes_to_quantize=None, nodes_to_exclude=None,
                     use_external_data_format=False, extra_options=None):
    """Weights to 8 bits offline, activations quantized at run time (DynamicQuantizeLinear + MatMulInteger /
    ConvInteger), as onnxruntime.quantization.quantize_dynamic writes them."""
    _unsupported(nodes_to_quantize, extra_options)
    fmt = 0 if (extra_options or {}).get("WeightOnlyQDQ") else 1
    _run(model_input, model_output, 0, fmt, per_channel, reduce_range, weight_type, QuantType.QUInt8, 0, 0.0,
         op_types_to_quantize, nodes_to_exclude, [])


def quantize_static(model_input, model_output, calibration_data_reader, quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=None, per_channel=False, reduce_range=False,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, nodes_to_quantize=None,
                    nodes_to_exclude=None, use_external_data_format=False,
                    calibrate_method=CalibrationMethod.MinMax, calibration_providers=None, extra_options=None):
    """Weights and activations to 8 bits, activation ranges measured by running the model on the reader's
    batches (in oxrt). quant_format QDQ writes QuantizeLinear/DequantizeLinear pairs, QOperator writes
    QLinearConv / QLinearMatMul / com.microsoft QGemm."""
    _unsupported(nodes_to_quantize, extra_options)
    extra = extra_options or {}
    batches = _batches(calibration_data_reader, extra.get("Progress", False))
    if not batches:
        raise ValueError("calibration_data_reader returned no batch")
    _run(model_input, model_output, 1, _FORMAT[quant_format], per_channel, reduce_range, weight_type,
         activation_type, _METHOD[calibrate_method], float(extra.get("CalibPercentile", 0.0)),
         op_types_to_quantize, nodes_to_exclude, batches)
