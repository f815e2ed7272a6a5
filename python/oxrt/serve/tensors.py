"""Tensors of the Open Inference Protocol (KServe v2) <-> numpy arrays.

Datatype names, the JSON `data` layout (row-major, flat or nested), the binary tensor data
extension and gRPC raw contents (little-endian, BYTES elements each prefixed by a 4-byte length)
follow the protocol's specification.
"""

import struct

import numpy as np

from .errors import invalid

# v2 datatype -> numpy dtype (np.object_ holds BYTES as str)
V2_TO_NUMPY = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(np.object_),
}

# ONNX tensor element type (as in NodeArg.type) -> v2 datatype
ONNX_TO_V2 = {
    "bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
    "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
    "float16": "FP16", "float": "FP32", "double": "FP64", "string": "BYTES",
}

# gRPC InferTensorContents field per datatype
GRPC_CONTENTS_FIELD = {
    "BOOL": "bool_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


def onnx_type_to_v2(type_string):
    """'tensor(float)' -> 'FP32'; None for types the protocol cannot carry (sequences, maps, bfloat16...)."""
    if not type_string.startswith("tensor(") or not type_string.endswith(")"):
        return None
    return ONNX_TO_V2.get(type_string[7:-1])


def numpy_to_v2(dtype):
    if dtype.kind in "OUS":
        return "BYTES"
    for name, dt in V2_TO_NUMPY.items():
        if dt == dtype:
            return name
    return None


def check_shape(name, shape):
    """The shape as a tuple of ints, or a protocol error naming the input."""
    if not isinstance(shape, (list, tuple)):
        raise invalid(f"input '{name}': shape must be a list of integers, got {type(shape).__name__}")
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise invalid(f"input '{name}': shape {list(shape)} must hold non-negative integers")
    return tuple(shape)


def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _dtype(name, datatype):
    dt = V2_TO_NUMPY.get(datatype)
    if dt is None:
        raise invalid(f"input '{name}': unknown datatype {datatype!r} (expected one of {', '.join(V2_TO_NUMPY)})")
    return dt


def _to_str(name, item):
    if isinstance(item, str):
        return item
    if isinstance(item, (bytes, bytearray)):
        try:
            return bytes(item).decode("utf-8")
        except UnicodeDecodeError:
            raise invalid(f"input '{name}': BYTES element is not UTF-8 text (oxrt's string tensors hold text)")
    raise invalid(f"input '{name}': BYTES elements must be strings, got {type(item).__name__}")


def from_json(name, datatype, shape, data):
    """An input of a JSON request body (`data` flat or nested in row-major order)."""
    dt = _dtype(name, datatype)
    shape = check_shape(name, shape)
    if not isinstance(data, list):
        data = [data]
    try:
        if datatype == "BYTES":
            flat = np.array(data, dtype=object).reshape(-1)
            arr = np.array([_to_str(name, x) for x in flat], dtype=object)
        else:
            arr = np.asarray(data)
            allowed = "b" if datatype == "BOOL" else "f" if dt.kind == "f" else ""
            if arr.size and arr.dtype.kind not in allowed + ("" if datatype == "BOOL" else "iu"):
                raise invalid(f"input '{name}': data does not hold {datatype} values (got {arr.dtype.name})")
            arr = arr.astype(dt).reshape(-1)
    except (ValueError, TypeError, OverflowError) as e:
        raise invalid(f"input '{name}': data is not a list of {datatype} values ({e})")
    if arr.size != _count(shape):
        raise invalid(f"input '{name}': shape {list(shape)} needs {_count(shape)} elements, data has {arr.size}")
    return arr.reshape(shape)


def from_raw(name, datatype, shape, buf):
    """An input given as raw little-endian bytes (binary extension, gRPC raw_input_contents)."""
    dt = _dtype(name, datatype)
    shape = check_shape(name, shape)
    n = _count(shape)
    if datatype == "BYTES":
        items, pos, mv = [], 0, memoryview(buf)
        while pos < len(mv):
            if pos + 4 > len(mv):
                raise invalid(f"input '{name}': BYTES data ends inside an element's 4-byte length prefix")
            (size,) = struct.unpack_from("<I", mv, pos)
            pos += 4
            if pos + size > len(mv):
                raise invalid(f"input '{name}': BYTES element of {size} bytes runs past the end of the data")
            items.append(_to_str(name, bytes(mv[pos:pos + size])))
            pos += size
        if len(items) != n:
            raise invalid(f"input '{name}': shape {list(shape)} needs {n} elements, data has {len(items)}")
        return np.array(items, dtype=object).reshape(shape)
    want = n * dt.itemsize
    if len(buf) != want:
        raise invalid(f"input '{name}': shape {list(shape)} of {datatype} needs {want} bytes, got {len(buf)}")
    return np.frombuffer(buf, dtype=dt.newbyteorder("<")).astype(dt, copy=False).reshape(shape)


def from_grpc_contents(name, datatype, shape, contents):
    """An input given in gRPC InferTensorContents' typed fields."""
    dt = _dtype(name, datatype)
    field = GRPC_CONTENTS_FIELD.get(datatype)
    if field is None:
        raise invalid(f"input '{name}': {datatype} can only be sent in raw_input_contents")
    values = list(getattr(contents, field))
    if datatype == "BYTES":
        return from_json(name, datatype, shape, [_to_str(name, v) for v in values])
    shape = check_shape(name, shape)
    if len(values) != _count(shape):
        raise invalid(f"input '{name}': shape {list(shape)} needs {_count(shape)} elements, "
                      f"{field} has {len(values)}")
    try:
        return np.array(values).astype(dt).reshape(shape)
    except (ValueError, OverflowError) as e:
        raise invalid(f"input '{name}': {field} does not fit {datatype} ({e})")


def to_raw(arr):
    """Raw little-endian bytes of an output (BYTES: 4-byte length prefix per element)."""
    if arr.dtype.kind in "OUS":
        parts = []
        for item in arr.reshape(-1):
            b = item if isinstance(item, bytes) else str(item).encode("utf-8")
            parts.append(struct.pack("<I", len(b)))
            parts.append(b)
        return b"".join(parts)
    return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()


def to_json_data(arr):
    """Flat row-major list of an output for a JSON response."""
    flat = arr.reshape(-1)
    if arr.dtype.kind in "OUS":
        return [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in flat]
    if arr.dtype == np.float16:
        flat = flat.astype(np.float32)
    return flat.tolist()
