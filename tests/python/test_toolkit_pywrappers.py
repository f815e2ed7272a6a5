"""oxrt.checker, oxrt.shape_inference, oxrt.printer, oxrt.parser and oxrt.version_converter: the onnx package's
names, so that a script swaps its import. Each is compared with the onnx function of the same name on a sample of
the conformance models (and hand-made ones): same verdict, compatible inferred types, models that round-trip,
converted models that run like the originals in ONNX Runtime. Without onnx they take and return bytes."""
import glob
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
import onnx.parser  # noqa: E402
import onnx.printer  # noqa: E402
import onnx.shape_inference  # noqa: E402
import onnx.version_converter  # noqa: E402
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402

from test_toolkit_infer import says_less, tinfo  # noqa: E402
from test_toolkit_text import canon, sample  # noqa: E402

oxrt = pytest.importorskip("oxrt")
import oxrt.checker  # noqa: E402
import oxrt.parser  # noqa: E402
import oxrt.printer  # noqa: E402
import oxrt.shape_inference  # noqa: E402
import oxrt.version_converter  # noqa: E402
from oxrt import _model_io  # noqa: E402

SUITE = "/usr/include/onnx/backend/test/data/node"


def models():
    return [onnx.load(p) for p in sample()[::3]]


def verdict(check, m):
    try:
        check(m, full_check=True)
        return True
    except Exception:
        return False


def broken():
    x, y = h.make_tensor_value_info("x", T.FLOAT, [2]), h.make_tensor_value_info("y", T.FLOAT, [2])

    def mk(nodes, opset=17):
        return h.make_model(h.make_graph(nodes, "g", [x], [y]), opset_imports=[h.make_opsetid("", opset)])
    return [mk([h.make_node("Relu", ["missing"], ["y"])]),                       # input never produced
            mk([h.make_node("Relu", ["x"], ["y"]), h.make_node("Neg", ["x"], ["y"])]),  # y defined twice
            mk([h.make_node("Relu", ["x"], ["y"])], opset=0),                     # no such opset
            mk([h.make_node("Cast", ["x"], ["y"])]),                              # required attribute missing
            mk([h.make_node("Relu", ["x"], ["y"], alpha=1.0)])]                   # attribute Relu does not have


def test_check_model_same_verdict_as_onnx():
    ms = models() + broken()
    assert len(ms) > 40
    differ = [i for i, m in enumerate(ms) if verdict(oxrt.checker.check_model, m) !=
              verdict(onnx.checker.check_model, m)]
    assert not differ, differ
    for m in broken():
        with pytest.raises(onnx.checker.ValidationError):  # onnx's exception class catches ours
            oxrt.checker.check_model(m)


def test_infer_shapes_agrees_with_onnx(tmp_path):
    compared = 0
    for m in models():
        try:
            ref = onnx.shape_inference.infer_shapes(m, data_prop=True)
        except Exception:
            continue
        out = oxrt.shape_inference.infer_shapes(m)
        assert isinstance(out, onnx.ModelProto)
        mine = {v.name: tinfo(v.type) for v in out.graph.value_info}
        for v in ref.graph.value_info:
            a, b = tinfo(v.type), mine.get(v.name)
            assert a is None or b is None or b == a or says_less(a, b) or says_less(b, a), (m.graph.name, v.name, a, b)
            compared += b is not None
    assert compared > 50
    path = str(tmp_path / "m.onnx")
    onnx.save(models()[0], path)
    oxrt.shape_inference.infer_shapes_path(path, str(tmp_path / "o.onnx"))
    assert onnx.load(str(tmp_path / "o.onnx")).graph.node


def test_printer_and_parser_round_trip_with_onnx():
    for m in models():
        text = oxrt.printer.to_text(m)
        assert canon(onnx.parser.parse_model(text)) == canon(m), m.graph.name
        back = oxrt.parser.parse_model(onnx.printer.to_text(m))
        assert isinstance(back, onnx.ModelProto)
        assert canon(back) == canon(m), m.graph.name
    with pytest.raises(onnx.parser.ParseError):
        oxrt.parser.parse_model("<ir_version: 8> g (float[2] x) => (float[2] y) { y = Relu(x ")


def test_convert_version_like_onnx():
    ort = pytest.importorskip("onnxruntime")
    x = h.make_tensor_value_info("x", T.FLOAT, [2, 3])
    m = h.make_model(h.make_graph(
        [h.make_node("Unsqueeze", ["x"], ["u"], axes=[0]), h.make_node("ReduceSum", ["u"], ["r"], axes=[2]),
         h.make_node("Split", ["r"], ["s0", "s1"], axis=1, split=[1, 1])], "g", [x],
        [h.make_tensor_value_info("s0", T.FLOAT, [1, 1, 1]), h.make_tensor_value_info("s1", T.FLOAT, [1, 1, 1])]),
        opset_imports=[h.make_opsetid("", 11)])
    m.ir_version = 7
    ours = oxrt.version_converter.convert_version(m, 13)
    theirs = onnx.version_converter.convert_version(m, 13)
    assert isinstance(ours, onnx.ModelProto)
    assert [(o.domain, o.version) for o in ours.opset_import] == [(o.domain, o.version) for o in theirs.opset_import]
    ops = lambda mm: [n.op_type for n in mm.graph.node if n.op_type != "Constant"]  # noqa: E731
    assert ops(ours) == ops(theirs)  # onnx writes the new axes/split inputs as Constant nodes, oxrt as initializers
    onnx.checker.check_model(ours, full_check=True)
    f = {"x": np.random.RandomState(0).randn(2, 3).astype(np.float32)}
    run = lambda mm: ort.InferenceSession(mm.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, f)
    for a, b in zip(run(ours), run(m)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(oxrt.version_converter.ConvertError):
        oxrt.version_converter.convert_version(m, 10_000)


def test_without_onnx_bytes_in_bytes_out(monkeypatch, tmp_path):
    """Without the onnx package the wrappers take bytes or paths and return bytes."""
    monkeypatch.setattr(_model_io, "onnx_or_none", lambda: None)
    p = sorted(glob.glob(os.path.join(SUITE, "test_relu", "model.onnx")))[0]
    raw = open(p, "rb").read()
    for out in (oxrt.shape_inference.infer_shapes(raw), oxrt.shape_inference.infer_shapes(p),
                oxrt.parser.parse_model(oxrt.printer.to_text(p)), oxrt.version_converter.convert_version(raw, 18)):
        assert isinstance(out, bytes) and onnx.load_from_string(out).graph.node[0].op_type == "Relu"
    oxrt.checker.check_model(raw, full_check=True)
    oxrt.checker.check_model(p)
