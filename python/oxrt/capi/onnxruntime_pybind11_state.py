"""Names of onnxruntime.capi.onnxruntime_pybind11_state that scripts import.

The exception classes carry onnxruntime's names and, like onnxruntime's,
derive from Exception (through oxrt's common base OxrtError); the message
starts with "[oxrt] : <code> : <CODE_NAME> :" using onnxruntime's numbers.
"""

from .._oxrt import (  # noqa: F401
    EngineError,
    EPFail,
    Fail,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    ModelLoaded,
    NoModel,
    NoSuchFile,
    NotImplemented,
    OxrtError,
    RuntimeException,
)
from .._session import (  # noqa: F401
    ExecutionMode,
    ExecutionOrder,
    GraphOptimizationLevel,
    ModelMetadata,
    NodeArg,
    OrtValue,
    RunOptions,
    SessionOptions,
    get_all_providers,
    get_available_providers,
    get_device,
    set_default_logger_severity,
    set_seed,
)
