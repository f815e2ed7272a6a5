"""Mirror of onnxruntime.capi, so `from oxrt.capi.onnxruntime_pybind11_state import InvalidArgument` works."""
from . import onnxruntime_pybind11_state  # noqa: F401
