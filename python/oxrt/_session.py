"""onnxruntime-shaped Python API over the C extension ``oxrt._oxrt``.

Names, defaults and behaviour follow onnxruntime's Python API so that a
script written for ``import onnxruntime as ort`` runs with
``import oxrt as ort``: what is converted and how, which errors are raised
(ValueError for missing inputs, RuntimeError for objects that cannot be fed,
the capi exception classes for errors of the engine), and the attributes of
NodeArg, ModelMetadata, SessionOptions and RunOptions.
"""

from __future__ import annotations

import ctypes
import enum
import os
import threading
import warnings

import numpy as np

from . import _oxrt

__all__ = [
    "ExecutionMode",
    "ExecutionOrder",
    "GraphOptimizationLevel",
    "IOBinding",
    "InferenceSession",
    "ModelMetadata",
    "NodeArg",
    "OrtValue",
    "RunOptions",
    "SessionOptions",
    "get_all_providers",
    "get_available_providers",
    "get_build_info",
    "get_device",
    "get_version_string",
    "set_default_logger_severity",
    "set_default_logger_verbosity",
    "set_seed",
]

_CPU = "CPUExecutionProvider"
_default_log_severity = 2  # warnings and above, as in onnxruntime


# ------------------------------------------------------------------ module

def get_available_providers():
    """Providers this build can run with: only the CPU one."""
    return [_CPU]


def get_all_providers():
    """Every provider oxrt knows of."""
    return [_CPU]


def get_device():
    """The device oxrt computes on."""
    return "CPU"


def get_version_string():
    return _oxrt.__version__


def get_build_info():
    return f"oxrt {_oxrt.__version__}, C library {_oxrt.version()}, CPU"


def set_default_logger_severity(severity):
    """Log level used by sessions whose options leave it at -1 (0 verbose .. 4 fatal)."""
    global _default_log_severity
    severity = int(severity)
    if not 0 <= severity <= 4:
        raise ValueError(f"Invalid logger severity level {severity}; it must be between 0 and 4")
    _default_log_severity = severity


def set_default_logger_verbosity(verbosity):
    """Accepted for compatibility; oxrt has no verbosity levels."""
    int(verbosity)


def set_seed(seed):
    """Accepted for compatibility (random operators take their seed attribute)."""
    int(seed)


# ------------------------------------------------------------------- enums

class _OrtEnum(enum.IntEnum):
    # onnxruntime's enums print as "Class.MEMBER" (Python 3.11 IntEnum prints the number).
    def __str__(self):
        return f"{type(self).__name__}.{self.name}"

    def __repr__(self):
        return f"<{type(self).__name__}.{self.name}: {int(self)}>"


class GraphOptimizationLevel(_OrtEnum):
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


class ExecutionMode(_OrtEnum):
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class ExecutionOrder(_OrtEnum):
    DEFAULT = 0
    PRIORITY_BASED = 1
    MEMORY_EFFICIENT = 2


# oxrt_opt_level values (include/oxrt.h)
_OPT_LEVEL = {0: 0, 1: 1, 2: 2, 3: 2, 99: 99}


def _check_int(name, value, minimum=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


# ---------------------------------------------------------------- options

class SessionOptions:
    """Options of an InferenceSession (onnxruntime.SessionOptions)."""

    def __init__(self):
        self._intra_op_num_threads = 0
        self._graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self._log_severity_level = -1
        self.inter_op_num_threads = 0
        self.optimized_model_filepath = ""
        self.log_verbosity_level = 0
        self.logid = ""
        self.enable_profiling = False
        self.profile_file_prefix = "onnxruntime_profile_"
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.execution_order = ExecutionOrder.DEFAULT
        self.enable_cpu_mem_arena = True
        self.enable_mem_pattern = True
        self.enable_mem_reuse = True
        self.use_deterministic_compute = False
        self.use_per_session_threads = True
        self._config = {}
        self._free_dims = {}

    @property
    def intra_op_num_threads(self):
        """Threads for one run; 0 means one per core."""
        return self._intra_op_num_threads

    @intra_op_num_threads.setter
    def intra_op_num_threads(self, value):
        self._intra_op_num_threads = _check_int("intra_op_num_threads", value, 0)

    @property
    def graph_optimization_level(self):
        return self._graph_optimization_level

    @graph_optimization_level.setter
    def graph_optimization_level(self, value):
        try:
            self._graph_optimization_level = GraphOptimizationLevel(int(value))
        except (TypeError, ValueError):
            raise TypeError(f"graph_optimization_level must be a GraphOptimizationLevel, not {value!r}") from None

    @property
    def log_severity_level(self):
        """0 verbose, 1 info, 2 warning, 3 error, 4 fatal; -1 uses the global default."""
        return self._log_severity_level

    @log_severity_level.setter
    def log_severity_level(self, value):
        self._log_severity_level = _check_int("log_severity_level", value, -1)

    def add_session_config_entry(self, key, value):
        self._config[str(key)] = str(value)

    def get_session_config_entry(self, key):
        try:
            return self._config[key]
        except KeyError:
            raise RuntimeError(f"SessionOptions does not have configuration with key: {key}") from None

    def add_free_dimension_override_by_name(self, dim_name, dim_value):
        # Kept for compatibility; oxrt sizes dimensions from the fed inputs.
        self._free_dims[str(dim_name)] = int(dim_value)

    def add_free_dimension_override_by_denotation(self, dim_denotation, dim_value):
        self._free_dims[str(dim_denotation)] = int(dim_value)

    def add_initializer(self, name, value):
        raise NotImplementedError("oxrt does not support SessionOptions.add_initializer yet")

    def add_external_initializers(self, names, values):
        raise NotImplementedError("oxrt does not support SessionOptions.add_external_initializers yet")

    def register_custom_ops_library(self, library_path):
        raise NotImplementedError("oxrt does not load custom operator libraries")

    def _effective_log_level(self):
        return self._log_severity_level if self._log_severity_level >= 0 else _default_log_severity


class RunOptions:
    """Options of one run (onnxruntime.RunOptions), over the C library's oxrt_run_options.

    ``terminate = True`` (from any thread) stops the runs using these options at the next node and makes them
    raise (Fail, "... was terminated"); runs started while it is set fail at once. ``run_tag`` names the run in
    messages; ``log_severity_level`` (0 verbose .. 4 fatal, -1: the session's) applies to this run;
    ``time_limit_ms`` (oxrt extra, 0: none) stops a run that takes longer.
    """

    def __init__(self):
        self._c = _oxrt.RunOptions()
        self._log_severity_level = -1
        self._time_limit_ms = 0
        self.log_verbosity_level = 0
        self.only_execute_path_to_fetches = False
        self._config = {}

    @property
    def run_tag(self):
        return self._tag if hasattr(self, "_tag") else ""

    @run_tag.setter
    def run_tag(self, value):
        if not isinstance(value, str):
            raise TypeError(f"run_tag (logid) must be a str, got {type(value).__name__}")
        self._c.set_tag(value)
        self._tag = value

    logid = run_tag  # onnxruntime's older name

    @property
    def log_severity_level(self):
        return self._log_severity_level

    @log_severity_level.setter
    def log_severity_level(self, value):
        value = _check_int("log_severity_level", value, -1)
        if value > 4:
            raise ValueError(f"log_severity_level must be -1 (the session's) or 0 to 4, got {value}")
        if value >= 0:
            self._c.set_log_level(value)
        self._log_severity_level = value

    @property
    def terminate(self):
        return self._c.get_terminate()

    @terminate.setter
    def terminate(self, value):
        self._c.set_terminate(bool(value))

    @property
    def time_limit_ms(self):
        return self._time_limit_ms

    @time_limit_ms.setter
    def time_limit_ms(self, value):
        value = _check_int("time_limit_ms", value, 0)
        self._c.set_time_limit_ms(value)
        self._time_limit_ms = value

    def add_run_config_entry(self, key, value):
        self._c.add_config_entry(str(key), str(value))
        self._config[str(key)] = str(value)

    def get_run_config_entry(self, key):
        try:
            return self._config[key]
        except KeyError:
            raise RuntimeError(f"RunOptions does not have configuration with key: {key}") from None


# ------------------------------------------------------ model description

class NodeArg:
    """A model input or output: name, type string and shape."""

    __slots__ = ("name", "type", "shape", "_kind", "_elem_type", "_parsed")

    def __init__(self, name, type, shape, kind=0, elem_type=0):  # noqa: A002 - onnxruntime's names
        self.name = name
        self.type = type
        self.shape = shape
        self._kind = kind
        self._elem_type = elem_type
        self._parsed = _parse_type(type)

    def __str__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"

    __repr__ = __str__


class ModelMetadata:
    """Model metadata (onnxruntime.ModelMetadata)."""

    def __init__(self, meta):
        self.producer_name = meta["producer_name"]
        self.graph_name = meta["graph_name"]
        self.domain = meta["domain"]
        self.description = meta["description"]
        self.graph_description = meta["graph_description"]
        self.version = meta["version"]
        self.custom_metadata_map = dict(meta["custom_metadata_map"])
        # Not in onnxruntime's object, handy all the same.
        self.producer_version = meta["producer_version"]
        self.ir_version = meta["ir_version"]
        self.opset_import = dict(meta["opsets"])

    def __repr__(self):
        return (f"ModelMetadata(producer_name={self.producer_name!r}, graph_name={self.graph_name!r}, "
                f"domain={self.domain!r}, version={self.version!r})")


# --------------------------------------------------------- type strings

# ONNX element type name -> (oxrt/ONNX number, numpy dtype or None)
_ELEM = {
    "float": (1, np.float32),
    "uint8": (2, np.uint8),
    "int8": (3, np.int8),
    "uint16": (4, np.uint16),
    "int16": (5, np.int16),
    "int32": (6, np.int32),
    "int64": (7, np.int64),
    "string": (8, np.object_),
    "bool": (9, np.bool_),
    "float16": (10, np.float16),
    "double": (11, np.float64),
    "uint32": (12, np.uint32),
    "uint64": (13, np.uint64),
    "complex64": (14, np.complex64),
    "complex128": (15, np.complex128),
    "bfloat16": (16, None),
    "float8e4m3fn": (17, None),
    "float8e4m3fnuz": (18, None),
    "float8e5m2": (19, None),
    "float8e5m2fnuz": (20, None),
    "uint4": (21, None),
    "int4": (22, None),
    "float4e2m1": (23, None),
    "float8e8m0": (24, None),
    "uint2": (25, None),
    "int2": (26, None),
}

# ml_dtypes names of the types numpy lacks -> element type number
_ML_DTYPES = {
    "bfloat16": 16,
    "float8_e4m3fn": 17,
    "float8_e4m3fnuz": 18,
    "float8_e5m2": 19,
    "float8_e5m2fnuz": 20,
    "uint4": 21,
    "int4": 22,
    "float4_e2m1fn": 23,
    "float8_e8m0fnu": 24,
    "uint2": 25,
    "int2": 26,
}


def _parse_type(s):
    """Parse onnxruntime's type spelling into nested tuples:
    ("tensor", elem) | ("seq", t) | ("map", key_elem, t) | ("optional", t) | ("unknown",)."""

    def parse(i):
        j = s.find("(", i)
        if j < 0:
            return ("unknown",), len(s)
        head = s[i:j].strip()
        if head in ("tensor", "sparse_tensor"):
            k = s.index(")", j)
            return (head, s[j + 1:k].strip()), k + 1
        if head in ("seq", "optional"):
            inner, k = parse(j + 1)
            return (head, inner), k + 1
        if head == "map":
            c = s.index(",", j)
            inner, k = parse(c + 1)
            return ("map", s[j + 1:c].strip(), inner), k + 1
        return ("unknown",), len(s)

    try:
        return parse(0)[0]
    except ValueError:
        return ("unknown",)


def _bf16_mode(v):
    """session.bf16_compute: "0" off, "1" hardware bfloat16 where present, "emulate" (or "2") rounding emulation."""
    return {"0": 0, "": 0, "1": 1, "2": 2, "emulate": 2}.get(str(v).strip().lower(), 0)


# ------------------------------------------------------- input conversion

def _string_tensor(arr):
    return ("s", arr.shape, arr.ravel().tolist())


def _tensor_from_array(arr):
    """An ndarray in the form the extension takes; no copy when already C-contiguous in native order."""
    kind = arr.dtype.kind
    if kind in "OUS":
        return _string_tensor(arr)
    et = _ML_DTYPES.get(arr.dtype.name)
    if et is not None:
        # ml_dtypes types do not export buffers: pass same-sized integers.
        raw = np.ascontiguousarray(arr).view(np.uint8 if arr.dtype.itemsize == 1 else np.uint16)
        return ("t", et, raw)
    if not arr.dtype.isnative:
        return np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("=")))
    if not arr.flags.c_contiguous:
        return np.ascontiguousarray(arr)
    return arr


def _unable(value):
    return RuntimeError(f"Unable to handle object of type {type(value)}")


def _convert(value, t):
    """Convert one fed value for a model input of parsed type t, as onnxruntime does."""
    if isinstance(value, OrtValue):
        value = value._value
    head = t[0]
    if head == "optional":
        if value is None:
            return ("opt", None)
        return ("opt", _convert(value, t[1]))
    if head == "seq":
        if not isinstance(value, (list, tuple)):
            raise RuntimeError("Input must be a list of tensors for a sequence input")
        inner = t[1]
        et = _ELEM.get(inner[1], (0, None))[0] if inner[0] == "tensor" else 0
        return ("seq", et, [_convert(v, inner) for v in value])
    if head == "map":
        if not isinstance(value, dict):
            raise RuntimeError(f"Input must be a dictionary for a map input, not {type(value)}")
        key_dtype = _ELEM.get(t[1], (0, None))[1]
        val_dtype = _ELEM.get(t[2][1], (0, None))[1] if t[2][0] == "tensor" else None
        try:
            keys = np.array(list(value.keys()), dtype=key_dtype)
            vals = np.array(list(value.values()), dtype=val_dtype)
        except (TypeError, ValueError) as e:
            raise RuntimeError(f"Could not create a map from the given dictionary: {e}") from None
        return ("map", _tensor_from_array(keys), _tensor_from_array(vals))
    # A tensor, or a type we do not know: numpy arrays pass as they are.
    if isinstance(value, np.ndarray):
        return _tensor_from_array(value)
    if isinstance(value, list):
        dtype = _ELEM.get(t[1], (0, None))[1] if head in ("tensor", "sparse_tensor") else None
        try:
            arr = np.array(value, dtype=dtype)
        except (TypeError, ValueError):
            raise RuntimeError("Could not create tensor from given input list") from None
        if arr.dtype == np.object_ and dtype is None:
            raise RuntimeError("Could not create tensor from given input list")
        return _tensor_from_array(arr)
    if isinstance(value, dict):
        raise RuntimeError(f"Input of type {type(value)} given for a tensor input")
    if value is None or isinstance(value, (str, bytes, int, float, complex, bool, np.generic, tuple)):
        # onnxruntime takes no scalars: they must be numpy arrays.
        raise _unable(value)
    if hasattr(value, "__array__"):
        # torch tensors, pandas frames and the like
        return _tensor_from_array(np.asarray(value))
    raise _unable(value)


# --------------------------------------------------------------- OrtValue

class OrtValue:
    """A CPU value holding a numpy array, list or dict (onnxruntime.OrtValue, CPU only)."""

    def __init__(self, value):
        self._value = value

    @staticmethod
    def ortvalue_from_numpy(numpy_obj, device_type="cpu", device_id=0, vendor_id=-1):
        if str(device_type).lower() != "cpu":
            raise RuntimeError(f"oxrt only has the CPU device, not '{device_type}'")
        return OrtValue(numpy_obj)

    @staticmethod
    def ortvalue_from_shape_and_type(shape, element_type=np.float32, device_type="cpu", device_id=0,
                                     vendor_id=-1):
        if str(device_type).lower() != "cpu":
            raise RuntimeError(f"oxrt only has the CPU device, not '{device_type}'")
        return OrtValue(np.zeros(shape, dtype=element_type))

    def numpy(self):
        return self._value

    def is_tensor(self):
        return isinstance(self._value, np.ndarray)

    def is_tensor_sequence(self):
        return isinstance(self._value, list)

    def has_value(self):
        return self._value is not None

    def shape(self):
        return list(self._value.shape)

    def element_type(self):
        return self._value.dtype.type

    def data_type(self):
        for name, (_, dt) in _ELEM.items():
            if dt is not None and self._value.dtype == dt:
                return f"tensor({name})"
        if self._value.dtype.kind in "US":
            return "tensor(string)"
        return f"tensor({self._value.dtype.name})"

    def device_name(self):
        return "cpu"

    def data_ptr(self):
        return self._value.__array_interface__["data"][0]

    def update_inplace(self, np_arr):
        np.copyto(self._value, np_arr)


def _run_options_c(run_options):
    if run_options is None:
        return None
    if not isinstance(run_options, RunOptions):
        raise TypeError(f"run_options must be an oxrt.RunOptions, got {type(run_options).__name__}")
    return run_options._c


def _is_cpu(device_type):
    if str(device_type).lower() != "cpu":
        raise RuntimeError(f"oxrt only has the CPU device, not '{device_type}'")


def _array_at(buffer_ptr, element_type, shape):
    """A numpy array over `shape` elements of `element_type` at address `buffer_ptr` (bind_input's raw pointer)."""
    dt = np.dtype(element_type)
    n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    raw = (ctypes.c_char * n).from_address(int(buffer_ptr))
    return np.frombuffer(raw, dtype=dt).reshape(shape)


class IOBinding:
    """Inputs and outputs bound once by name for many runs (onnxruntime.IOBinding, CPU only).

    An output bound to an array (bind_output with shape and buffer_ptr, bind_ortvalue_output) is written in
    place on every run, without new memory; its type and shape must match the result (else an error, never a
    silent replacement). An output bound by name only gets an array from its first run, which later runs
    write into, as onnxruntime does (bind it again to accept a new shape). As there, names are checked when the
    binding runs, and run_with_iobinding raises every failure as RuntimeError("Error in execution: ...").
    """

    def __init__(self, session):
        self._session = session
        self._inputs = {}
        self._outputs = {}  # name -> writable array or None
        self._results = []

    # inputs
    def bind_cpu_input(self, name, arr_on_cpu):
        self._inputs[name] = arr_on_cpu

    def bind_input(self, name, device_type, device_id, element_type, shape, buffer_ptr):
        _is_cpu(device_type)
        self._inputs[name] = _array_at(buffer_ptr, element_type, shape)

    def bind_ortvalue_input(self, name, ortvalue):
        self._inputs[name] = ortvalue.numpy() if isinstance(ortvalue, OrtValue) else ortvalue

    # outputs
    def bind_output(self, name, device_type="cpu", device_id=0, element_type=None, shape=None, buffer_ptr=None):
        _is_cpu(device_type)
        if buffer_ptr is not None:
            if element_type is None or shape is None:
                raise ValueError("bind_output with buffer_ptr needs element_type and shape")
            self._outputs[name] = _array_at(buffer_ptr, element_type, shape)
        else:
            self._outputs[name] = None

    def bind_ortvalue_output(self, name, ortvalue):
        arr = ortvalue.numpy() if isinstance(ortvalue, OrtValue) else ortvalue
        if not isinstance(arr, np.ndarray) or not arr.flags.c_contiguous or not arr.flags.writeable:
            raise ValueError(f"output '{name}' must be bound to a writable C-contiguous tensor")
        self._outputs[name] = arr

    def clear_binding_inputs(self):
        self._inputs.clear()

    def clear_binding_outputs(self):
        self._outputs.clear()
        self._results = []

    def synchronize_inputs(self):
        """Nothing to do on the CPU."""

    def synchronize_outputs(self):
        """Nothing to do on the CPU."""

    def _run(self, run_options):
        """As onnxruntime's run_with_iobinding, every failure is a RuntimeError("Error in execution: ...")."""
        ro = _run_options_c(run_options)  # a wrong type stays a TypeError
        names = list(self._outputs)
        s = self._session
        try:
            if not names:
                raise ValueError("At least one output should be requested (no outputs are bound).")
            known = {o.name for o in s.get_outputs()}
            for n in names:
                if n not in known:
                    raise ValueError(f"Invalid output name: {n} (the model has no output of that name)")
            s._validate_input(list(self._inputs))
            in_names, values = s._feed(self._inputs)
            bufs = [self._outputs[n] for n in names]
            self._results = s._sess.run(in_names, values, names, ro, bufs)
        except Exception as e:  # noqa: BLE001 - rethrown as onnxruntime's type, the cause chained
            raise RuntimeError(f"Error in execution: {e}") from e
        # as onnxruntime: an output the run allocated stays bound, and later runs write into it
        for n, r in zip(names, self._results):
            if self._outputs[n] is None and isinstance(r, np.ndarray) and r.flags.writeable and r.flags.c_contiguous \
                    and r.dtype.kind not in "OUS":
                self._outputs[n] = r

    def get_outputs(self):
        return [OrtValue(r) for r in self._results]

    get_outputs_as_ortvaluevector = get_outputs

    def copy_outputs_to_cpu(self):
        return [np.array(r, copy=True) if isinstance(r, np.ndarray) else r for r in self._results]


# --------------------------------------------------------------- session

def _provider_names(providers, provider_options):
    """Validate providers like onnxruntime: unknown ones are warned about and dropped."""
    if providers is None:
        return [_CPU], [{}]
    if isinstance(providers, str):
        providers = [providers]
    names, options = [], []
    for i, p in enumerate(providers):
        if isinstance(p, tuple):
            if len(p) != 2 or not isinstance(p[0], str) or not isinstance(p[1], dict):
                raise ValueError("Each provider must be a string or a (name, options dict) tuple")
            name, opts = p
        elif isinstance(p, str):
            name = p
            opts = provider_options[i] if provider_options and i < len(provider_options) else {}
        else:
            raise ValueError("Each provider must be a string or a (name, options dict) tuple")
        if name not in get_available_providers():
            warnings.warn(
                f"Specified provider '{name}' is not in available provider names."
                f"Available providers: '{', '.join(get_available_providers())}'",
                stacklevel=3,
            )
            continue
        names.append(name)
        options.append({str(k): str(v) for k, v in opts.items()})
    if not names:
        names, options = [_CPU], [{}]
    return names, options


class InferenceSession:
    """A loaded model ready to run (onnxruntime.InferenceSession).

    ``path_or_bytes`` is a file path (str or os.PathLike) or the serialized
    model (bytes); ``providers`` may name only ``CPUExecutionProvider``
    (others are warned about and ignored, as onnxruntime does for
    providers it lacks).
    """

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, **kwargs):
        if isinstance(path_or_bytes, (str, os.PathLike)):
            self._model_path = os.fspath(path_or_bytes)
            self._model_bytes = None
            model = self._model_path
        elif isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            self._model_path = None
            self._model_bytes = path_or_bytes
            model = path_or_bytes
        else:
            raise TypeError(f"Unable to load from type '{type(path_or_bytes)}'")
        if sess_options is None:
            sess_options = SessionOptions()
        elif not isinstance(sess_options, SessionOptions):
            raise TypeError(f"sess_options must be a SessionOptions, not {type(sess_options).__name__}")
        self._sess_options = sess_options
        self._providers, self._provider_options = _provider_names(providers, provider_options)
        self._enable_fallback = True
        self._sess = _oxrt.Session(
            model,
            sess_options.intra_op_num_threads,
            _OPT_LEVEL.get(int(sess_options.graph_optimization_level), 99),
            sess_options._effective_log_level(),
            os.fspath(sess_options.optimized_model_filepath) if sess_options.optimized_model_filepath else None,
            (os.fspath(sess_options.profile_file_prefix) or "onnxruntime_profile_")
            if sess_options.enable_profiling else None,
            sess_options._config.get("session.set_denormal_as_zero", "0") == "1",
            ",".join(kwargs.get("disabled_optimizers") or ()) or None,
            bf16_compute=_bf16_mode(sess_options._config.get("session.bf16_compute", "0")),
            mem_pattern=-1 if sess_options.enable_mem_pattern else 0,  # True: the default (OXRT_MEM_PLAN may change it)
        )
        self._inputs_meta = [NodeArg(*t) for t in self._sess.inputs()]
        self._outputs_meta = [NodeArg(*t) for t in self._sess.outputs()]
        self._input_types = {a.name: a._parsed for a in self._inputs_meta}
        self._model_meta = None
        # run()'s fast path: the feed dict goes to C as it is, plain numpy arrays need no Python work (see run)
        self._required = frozenset(a.name for a in self._inputs_meta if not a.type.startswith("optional"))
        self._fast_feed = all(t[0] not in ("optional", "seq", "map") for t in self._input_types.values())

    # description
    def get_inputs(self):
        return list(self._inputs_meta)

    def get_outputs(self):
        return list(self._outputs_meta)

    def get_overridable_initializers(self):
        # The public C API does not list initializers; feeding one by name still works.
        return []

    def get_modelmeta(self):
        if self._model_meta is None:
            self._model_meta = ModelMetadata(self._sess.meta())
        return self._model_meta

    def get_providers(self):
        return list(self._providers)

    def get_provider_options(self):
        return {name: dict(opts) for name, opts in zip(self._providers, self._provider_options)}

    def get_session_options(self):
        return self._sess_options

    def set_providers(self, providers=None, provider_options=None):
        self._providers, self._provider_options = _provider_names(providers, provider_options)

    def disable_fallback(self):
        self._enable_fallback = False

    def enable_fallback(self):
        self._enable_fallback = True

    def end_profiling(self):
        """Writes the profile of the runs so far (Chrome trace JSON, as ONNX Runtime's) and returns its
        file name; "" when the session options did not enable profiling."""
        if not self._sess_options.enable_profiling:
            return ""
        return self._sess.end_profiling()

    def get_profiling_start_time_ns(self):
        return self._sess.profiling_start_ns()

    def get_profile_events(self):
        """oxrt extra: (node_name, op_type, start_ns, duration_ns) per node run since the last
        end_profiling; empty unless profiling is enabled."""
        return self._sess.profile_events()

    def get_stats(self):
        """oxrt extra: node count, op type histogram and parameter counts of the loaded graph."""
        return self._sess.stats()

    # running
    def _validate_input(self, feed_input_names):
        missing = [
            a.name for a in self._inputs_meta
            if a.name not in feed_input_names and not a.type.startswith("optional")
        ]
        if missing:
            raise ValueError(f"Required inputs ({missing}) are missing from input feed ({feed_input_names}).")

    def _feed(self, input_feed):
        names, values = [], []
        unknown = ("unknown",)
        for name, value in input_feed.items():
            names.append(name)
            values.append(_convert(value, self._input_types.get(name, unknown)))
        return names, values

    def _convert_named(self, name, value):
        return _convert(value, self._input_types.get(name, ("unknown",)))

    def run(self, output_names, input_feed, run_options=None):
        """Compute outputs: ``output_names`` (None or [] for all) from ``input_feed`` ({name: value}).

        Returns a list with one entry per output: a numpy array for a tensor,
        a list for a sequence, a dict for a map (so a list of dicts for
        ZipMap's sequence of maps). The GIL is released while the model runs.
        """
        if self._fast_feed and type(input_feed) is dict and input_feed.keys() >= self._required:
            # numpy arrays are taken by the extension directly; other values go through _convert_named
            if not output_names:
                output_names = None
            elif isinstance(output_names, str):
                output_names = [output_names]
            ro = None if run_options is None else _run_options_c(run_options)
            # a bound method made per call: one kept on the instance would be a cycle holding the session (and its
            # engine threads and memory) until the garbage collector runs
            return self._sess.run_feed(input_feed, output_names, ro, self._convert_named)
        self._validate_input(list(input_feed.keys()))
        names, values = self._feed(input_feed)
        if not output_names:
            output_names = None
        elif isinstance(output_names, str):
            output_names = [output_names]
        return self._sess.run(names, values, output_names, _run_options_c(run_options))

    def run_async(self, output_names, input_feed, callback, user_data=None, run_options=None):
        """Runs on a worker thread and calls ``callback(outputs, user_data, error)`` from it, as onnxruntime
        does: ``outputs`` is the list run() returns ([] on failure) and ``error`` "" or the error message."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._validate_input(list(input_feed.keys()))  # as onnxruntime: a missing input raises here

        def work():
            try:
                results, err = self.run(output_names, input_feed, run_options), ""
            except Exception as e:  # noqa: BLE001 - reported to the callback, as onnxruntime does
                results, err = [], str(e)
            callback(results, user_data, err)

        threading.Thread(target=work, name="oxrt-run-async", daemon=True).start()

    def io_binding(self):
        """An IOBinding for this session (onnxruntime.IOBinding, CPU only)."""
        return IOBinding(self)

    def run_with_iobinding(self, iobinding, run_options=None):
        """Runs with the inputs and outputs bound to ``iobinding``; outputs bound to an array or OrtValue
        are written in place (no new memory), the others are new arrays (get_outputs, copy_outputs_to_cpu)."""
        iobinding._run(run_options)

    def run_with_ort_values(self, output_names, input_dict_ort_values, run_options=None):
        results = self.run(output_names, input_dict_ort_values, run_options)
        return [OrtValue(r) for r in results]
