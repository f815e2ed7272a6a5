"""Shared helpers for the oxrt Python tests.

Models are built with onnx.helper; IR version 8 / opset 17 keeps them
loadable by both oxrt and onnxruntime.
"""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import oxrt  # noqa: E402

IR_VERSION = 8
OPSET = 17


def make_model(nodes, inputs, outputs, initializers=(), opset=OPSET, domains=None, **model_kw):
    """Serialized ModelProto from nodes and (name, elem_type, shape) triples or ValueInfoProtos."""

    def vi(x):
        if isinstance(x, tuple):
            return helper.make_tensor_value_info(*x)
        return x

    graph = helper.make_graph(
        nodes,
        model_kw.pop("graph_name", "g"),
        [vi(x) for x in inputs],
        [vi(x) for x in outputs],
        initializer=[numpy_helper.from_array(np.asarray(v), name=k) for k, v in dict(initializers).items()],
        doc_string=model_kw.pop("graph_doc", None),
    )
    opsets = [helper.make_opsetid("", opset)]
    for d, v in (domains or {}).items():
        opsets.append(helper.make_opsetid(d, v))
    metadata = model_kw.pop("metadata", {})
    model = helper.make_model(graph, opset_imports=opsets, **model_kw)
    model.ir_version = IR_VERSION
    for k, v in metadata.items():
        model.metadata_props.add(key=k, value=v)
    return model.SerializeToString()


def identity_model(elem_type, shape=None):
    return make_model(
        [helper.make_node("Identity", ["X"], ["Y"])],
        [("X", elem_type, shape)],
        [("Y", elem_type, shape)],
    )


@pytest.fixture
def identity_float():
    """Identity over float [N, 3]."""
    return oxrt.InferenceSession(identity_model(TensorProto.FLOAT, ["N", 3]), providers=["CPUExecutionProvider"])


@pytest.fixture
def mlp_bytes():
    """Y = Relu(X @ W + B) with X: float [batch, 4], a small fixed model."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    return make_model(
        [
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["Z"]),
            helper.make_node("Relu", ["Z"], ["Y"]),
        ],
        [("X", TensorProto.FLOAT, ["batch", 4])],
        [("Y", TensorProto.FLOAT, ["batch", 3])],
        initializers={"W": w, "B": b},
        producer_name="oxrt-tests",
        producer_version="1.0",
        doc_string="a tiny MLP",
        domain="org.oxrt.test",
        model_version=3,
        graph_name="mlp",
        graph_doc="relu(x @ w + b)",
        metadata={"author": "oxrt", "purpose": "tests"},
    ), (w, b)
