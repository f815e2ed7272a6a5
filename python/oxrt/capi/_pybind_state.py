"""Alias of onnxruntime_pybind11_state, as onnxruntime.capi._pybind_state is."""
from .onnxruntime_pybind11_state import *  # noqa: F401,F403
from .onnxruntime_pybind11_state import NotImplemented  # noqa: F401  (not in * because of the builtin's name)
