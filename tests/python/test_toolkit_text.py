"""`oxrt print` / `oxrt parse` against onnx.printer and onnx.parser.

onnx.parser must read what oxrt prints and give the same model (nodes, attributes, initializer values, input and
output types, opsets), and oxrt parse must read what onnx.printer writes, with the same result. A sample of both
conformance suites (every model takes two processes, so the whole of them would be slow) plus hand-made cases.
"""
import glob
import os
import subprocess

import pytest

onnx = pytest.importorskip("onnx")
import numpy as np  # noqa: E402
import onnx.parser  # noqa: E402
import onnx.printer  # noqa: E402
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = ["/usr/include/onnx/backend/test/data/node", os.path.join(HERE, "..", "..", "..", "shared", "onnx-tests", "node"),
          "/usr/include/onnx/backend/test/data/pytorch-converted", "/usr/include/onnx/backend/test/data/simple"]


def type_text(t):
    return onnx.helper.printable_type(t) if t.WhichOneof("value") else ""


def tensor_value(t):
    a = numpy_helper.to_array(t)
    if a.dtype == object:
        return a.tolist()
    if a.dtype.kind == "f":
        return repr(a.astype(np.float64).tolist())  # repr: nan equals nan
    return repr(a.tolist())


def attr_value(a):
    v = onnx.helper.get_attribute_value(a)
    if a.type == a.TENSOR:
        return tensor_value(v)
    if a.type == a.GRAPH:
        return canon_graph(v)
    if a.type == a.GRAPHS:
        return [canon_graph(x) for x in v]
    if a.type == a.TENSORS:
        return [tensor_value(x) for x in v]
    if a.type in (a.FLOAT, a.FLOATS):
        return repr(np.float32(v).tolist())
    return v


def canon_graph(g):
    def outs(n):  # trailing empty outputs carry no meaning
        o = list(n.output)
        while o and not o[-1]:
            o.pop()
        return o
    nodes = [(n.op_type, n.domain if n.domain != "ai.onnx" else "", list(n.input), outs(n), n.name,
              sorted((a.name, a.type, repr(attr_value(a))) for a in n.attribute)) for n in g.node]
    inits = {t.name: (t.data_type, list(t.dims), tensor_value(t)) for t in g.initializer}
    return (nodes, inits, [(i.name, type_text(i.type)) for i in g.input], [(o.name, type_text(o.type)) for o in g.output])


def canon(m):
    return (canon_graph(m.graph), sorted((o.domain if o.domain != "ai.onnx" else "", o.version) for o in m.opset_import),
            m.ir_version)


def sample():
    paths = []
    for i, s in enumerate(SUITES):
        models = sorted(glob.glob(os.path.join(s, "*", "model.onnx")))
        paths += models[:: 8 if i < 2 else 3]
    return paths


def round_trip(oxrt_bin, path, tmp):
    m = onnx.load(path)
    p = subprocess.run([oxrt_bin, "print", path], capture_output=True, text=True, timeout=60)
    if p.returncode:
        return f"oxrt print failed: {p.stderr}"
    try:
        m2 = onnx.parser.parse_model(p.stdout)
    except Exception as e:
        return f"onnx.parser rejects oxrt print: {e}"
    if canon(m2) != canon(m):
        return "oxrt print -> onnx.parser gives a different model"
    with open(tmp + ".txt", "w") as f:
        f.write(onnx.printer.to_text(m))
    p = subprocess.run([oxrt_bin, "parse", tmp + ".txt", tmp + ".onnx"], capture_output=True, text=True, timeout=60)
    if p.returncode:
        return f"oxrt parse rejects onnx.printer's text: {p.stderr}"
    if canon(onnx.load(tmp + ".onnx")) != canon(m):
        return "onnx.printer -> oxrt parse gives a different model"
    return None


def test_conformance_round_trips(oxrt_bin, tmp_path):
    paths = sample()
    assert len(paths) > 100  # 153 from the opset-17 suite alone; ~380 with ../shared/onnx-tests
    bad = [(p, r) for p in paths if (r := round_trip(oxrt_bin, p, str(tmp_path / "m")))]
    print(f"print/parse: {len(paths) - len(bad)} of {len(paths)} sampled conformance models round-trip both ways")
    assert not bad, bad[:10]


def test_hand_made_model(oxrt_bin, tmp_path):
    fn = h.make_function("local", "MyRelu", ["a"], ["b"], [h.make_node("Relu", ["a"], ["b"])], [h.make_opsetid("", 17)])
    nodes = [
        h.make_node("Add", ["x.1", "w"], ["onnx::t"], name="add/0"),
        h.make_node("MyRelu", ["onnx::t"], ["r"], domain="local"),
        h.make_node("LeakyRelu", ["r"], ["l"], alpha=0.1),
        h.make_node("Cast", ["l"], ["c"], to=T.INT64),
        h.make_node("Split", ["l"], ["s0", "s1"], axis=1, num_outputs=2),
        h.make_node("Concat", ["s1", "s0"], ["y"], axis=1),
        h.make_node("Constant", [], ["k"], value_strings=["a\"b", "c\\d"]),
    ]
    g = h.make_graph(nodes, "torch-jit", [h.make_tensor_value_info("x.1", T.FLOAT, ["N", 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["N", 4]), h.make_tensor_value_info("c", T.INT64, None),
                      h.make_tensor_value_info("k", T.STRING, [2])],
                     [h.make_tensor("w", T.FLOAT, [4], [1.5, -2.25, 1e-8, 3.4e38]),
                      h.make_tensor("h16", T.FLOAT16, [2], [1, 2]), h.make_tensor("sv", T.STRING, [1], [b"q"])],
                     value_info=[h.make_tensor_value_info("r", T.FLOAT, ["N", 4])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 18), h.make_opsetid("local", 1)], functions=[fn],
                     producer_name="p", model_version=3)
    path = str(tmp_path / "hand.onnx")
    onnx.save(m, path)
    assert round_trip(oxrt_bin, path, str(tmp_path / "h")) is None
    text = subprocess.run([oxrt_bin, "print", path], capture_output=True, text=True, check=True).stdout
    assert '"x.1"' in text and "local.MyRelu" in text and "MyRelu (a) => (b)" in text


def test_parse_errors_name_the_place(oxrt_bin, tmp_path):
    src = tmp_path / "bad.txt"
    src.write_text('<ir_version: 8, opset_import: ["" : 17]>\ng (float[2] x) => (float[2] y) {\n  y = Relu (x\n}\n')
    p = subprocess.run([oxrt_bin, "parse", str(src), str(tmp_path / "bad.onnx")], capture_output=True, text=True)
    assert p.returncode != 0
    assert "line 4" in p.stderr and "')'" in p.stderr, p.stderr


def test_python_print_parse():
    oxrt = pytest.importorskip("oxrt")
    m = h.make_model(h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g", [h.make_tensor_value_info("x", T.FLOAT, [2])],
                                  [h.make_tensor_value_info("y", T.FLOAT, [2])]), opset_imports=[h.make_opsetid("", 17)])
    text = oxrt._oxrt.print_model(m.SerializeToString())
    back = onnx.load_from_string(oxrt._oxrt.parse_model(text))
    assert canon(back) == canon(m)
