"""oxrt - an ONNX inference runtime in C, with onnxruntime's Python API.

    import oxrt as ort
    sess = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    outputs = sess.run(None, {sess.get_inputs()[0].name: x})

The package is a C extension (oxrt._oxrt) over the public C API of liboxrt,
which is linked into it: nothing else needs installing besides numpy.
"""

from . import _oxrt, _session
from ._oxrt import OxrtError
from ._session import (
    ExecutionMode,
    ExecutionOrder,
    GraphOptimizationLevel,
    InferenceSession,
    IOBinding,
    ModelMetadata,
    NodeArg,
    OrtValue,
    RunOptions,
    SessionOptions,
    get_all_providers,
    get_available_providers,
    get_build_info,
    get_device,
    get_version_string,
    set_default_logger_severity,
    set_default_logger_verbosity,
    set_seed,
)
from . import capi  # noqa: F401  (oxrt.capi.onnxruntime_pybind11_state)

__version__ = _oxrt.__version__
version = __version__

__all__ = sorted(_session.__all__ + ["OxrtError", "__version__"])
