"""`oxrt infer-shapes` against onnx.shape_inference.infer_shapes(data_prop=True).

For every intermediate value onnx types, oxrt must give the same element type and shape, or say less (no value_info,
or an unknown dimension) or more (a size where onnx leaves an unknown), but never a different one. Coverage is
printed and bounded below so that a regression in the rules shows.
"""
import glob
import os
import subprocess
import sys

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import shape_inference  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = ["/usr/include/onnx/backend/test/data/node", "/usr/include/onnx/backend/test/data/pytorch-converted",
          "/usr/include/onnx/backend/test/data/pytorch-operator", "/usr/include/onnx/backend/test/data/simple",
          os.path.join(HERE, "..", "..", "..", "shared", "onnx-tests", "light-zoo")]


def tinfo(t):
    if t.WhichOneof("value") != "tensor_type":
        return None
    tt = t.tensor_type
    if not tt.HasField("shape"):
        return (tt.elem_type, None)
    # onnx names the sizes it invents "unk__N": those are unknown sizes, not names from the model
    return (tt.elem_type, tuple(d.dim_value if d.HasField("dim_value") else
                                ("?" if d.dim_param.startswith("unk__") else d.dim_param or "?") for d in tt.shape.dim))


def says_less(a, b):  # b is compatible with a and no more specific
    return a[0] == b[0] and (b[1] is None or (a[1] is not None and len(a[1]) == len(b[1]) and
                                               all(y == "?" or x == y for x, y in zip(a[1], b[1]))))


def compare(oxrt_bin, path, out):
    m = onnx.load(path)
    try:
        ref = shape_inference.infer_shapes(m, data_prop=True)
    except Exception:
        return None
    subprocess.run([oxrt_bin, "infer-shapes", path, out], check=True, capture_output=True, timeout=60)
    mine = {v.name: tinfo(v.type) for v in onnx.load(out).graph.value_info}
    st = {"match": 0, "less": 0, "more": 0, "conflict": []}
    for v in ref.graph.value_info:
        a = tinfo(v.type)
        if a is None:
            continue
        b = mine.get(v.name)
        if b == a:
            st["match"] += 1
        elif b is None or says_less(a, b):
            st["less"] += 1
        elif says_less(b, a):
            st["more"] += 1
        else:
            st["conflict"].append((v.name, a, b))
    return st


def test_conformance_and_zoo_agree(oxrt_bin, tmp_path):
    paths = []
    for s in SUITES:
        models = sorted(glob.glob(os.path.join(s, "*", "model.onnx")))
        # node models are mostly single nodes: their `_expanded` forms hold the chains worth checking
        if s.endswith("/node"):
            models = [p for p in models if "expanded" in p] + models[::6]
        paths += models
    assert len(paths) > 300
    tot = {"match": 0, "less": 0, "more": 0}
    conflicts = []
    for p in paths:
        st = compare(oxrt_bin, p, str(tmp_path / "out.onnx"))
        if st is None:
            continue
        for k in tot:
            tot[k] += st[k]
        conflicts += [(p,) + c for c in st["conflict"]]
    n = tot["match"] + tot["less"] + tot["more"]
    print(f"infer-shapes vs onnx on {len(paths)} models: {tot['match']} of {n} typed values identical, "
          f"{tot['more']} more precise, {tot['less']} less, {len(conflicts)} conflicting")
    assert not conflicts, conflicts[:10]
    assert tot["match"] >= 0.85 * n


def test_corpus_transformers(oxrt_bin, model_dir, tmp_path):
    sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "models"))
    generate = pytest.importorskip("generate")
    pytest.importorskip("torch")
    for name, floor in [("bert_small", 0.95), ("resnet18", 1.0)]:
        path = os.path.join(model_dir, name + ".onnx")
        if not os.path.exists(path):
            path = generate.generate(name, model_dir, small=True)
        st = compare(oxrt_bin, path, str(tmp_path / "out.onnx"))
        n = st["match"] + st["less"] + st["more"]
        print(f"{name}: {st['match']} of {n} identical, {st['more']} more precise, {st['less']} less")
        assert not st["conflict"], st["conflict"][:5]
        assert st["match"] + st["more"] >= floor * n


def test_data_propagation_keeps_symbolic_dims(oxrt_bin, tmp_path):
    # x: [batch, seq, 8] -> Shape -> Gather(0), Gather(1) -> Concat with [2, 4] -> Reshape: [batch, seq, 2, 4]
    c = lambda name, vals: h.make_node("Constant", [], [name], value=h.make_tensor(name, T.INT64, [len(vals)], vals))
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        c("i0", [0]), c("i1", [1]), c("tail", [2, 4]),
        h.make_node("Gather", ["s", "i0"], ["b"], axis=0),
        h.make_node("Gather", ["s", "i1"], ["q"], axis=0),
        h.make_node("Concat", ["b", "q", "tail"], ["shape"], axis=0),
        h.make_node("Reshape", ["x", "shape"], ["r"]),
        h.make_node("Transpose", ["r"], ["y"], perm=[0, 2, 1, 3]),
    ]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, ["batch", "seq", 8])],
                     [h.make_tensor_value_info("y", T.FLOAT, None)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    src, out = str(tmp_path / "m.onnx"), str(tmp_path / "o.onnx")
    onnx.save(m, src)
    subprocess.run([oxrt_bin, "infer-shapes", src, out], check=True, timeout=60)
    vi = {v.name: tinfo(v.type) for v in onnx.load(out).graph.value_info}
    assert vi["r"] == (T.FLOAT, ("batch", "seq", 2, 4))
    ref = {v.name: tinfo(v.type) for v in shape_inference.infer_shapes(m, data_prop=True).graph.value_info}
    assert ref["r"] == vi["r"]
    onnx.checker.check_model(out, full_check=True)


def test_python_infer_shapes(tmp_path):
    oxrt = pytest.importorskip("oxrt")
    x = h.make_tensor_value_info("x", T.FLOAT, ["N", 3])
    m = h.make_model(h.make_graph([h.make_node("Relu", ["x"], ["t"]), h.make_node("Transpose", ["t"], ["y"])], "g",
                                  [x], [h.make_tensor_value_info("y", T.FLOAT, None)]),
                     opset_imports=[h.make_opsetid("", 17)])
    out = onnx.load_from_string(oxrt._oxrt.infer_shapes(m.SerializeToString()))
    assert tinfo(out.graph.value_info[0].type) == (T.FLOAT, ("N", 3))
