"""The text format's edge values: complex tensors, inf/nan floats, doc strings; printed by oxrt and read back by
onnx.parser and by oxrt parse, and onnx.printer's text read by oxrt parse (onnx.printer writes complex tensors as
"...", which neither parser reads, so that direction is tested without them)."""
import math
import re
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
import onnx.parser  # noqa: E402
import onnx.printer  # noqa: E402
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from test_toolkit_text import canon  # noqa: E402

INF, NAN = float("inf"), float("nan")


def special_model(with_complex):
    branch = h.make_graph([h.make_node("Identity", ["x"], ["t"])], "br", [], [h.make_tensor_value_info("t", T.FLOAT, [2])],
                          doc_string='branch "doc"\nsecond line # not a comment\\')
    nodes = [h.make_node("Relu", ["x"], ["y"]),
             h.make_node("Constant", [], ["k"], value=nh.from_array(np.array([INF, -INF, NAN, 1.5], np.float32), "kv")),
             h.make_node("If", ["c"], ["z"], then_branch=branch, else_branch=branch),
             h.make_node("Constant", [], ["kf"], value_float=-INF),
             h.make_node("Constant", [], ["kn"], value_float=NAN),
             h.make_node("Constant", [], ["kfs"], value_floats=[1.0, NAN, INF, -INF])]
    inits = [nh.from_array(np.array([INF, NAN, -0.0, 1e-310, -1e308], np.float64), "d"),
             nh.from_array(np.array([3.4e38, -INF, 1e-45], np.float32), "f")]
    if with_complex:
        inits += [nh.from_array(np.array([1 + 2j, -3.5 - 0.25j, complex(INF, NAN)], np.complex64), "c64"),
                  nh.from_array(np.array([[1j, 1e300 - 1e-300j]], np.complex128), "c128")]
    outs = [h.make_tensor_value_info(n, T.FLOAT, s) for n, s in (("y", [2]), ("k", [4]), ("z", [2]), ("kf", []),
                                                                 ("kn", []), ("kfs", [4]))]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [2]), h.make_tensor_value_info("c", T.BOOL, [])],
                     outs, inits, doc_string="the graph's doc\n\twith a tab")
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)], doc_string='model "doc"')


def oxrt_print(oxrt_bin, tmp_path, m):
    path = str(tmp_path / "m.onnx")
    onnx.save(m, path)
    return subprocess.run([oxrt_bin, "print", path], capture_output=True, text=True, check=True).stdout


def oxrt_parse(oxrt_bin, tmp_path, text):
    src, dst = tmp_path / "t.txt", str(tmp_path / "t.onnx")
    src.write_text(text)
    p = subprocess.run([oxrt_bin, "parse", str(src), dst], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return onnx.load(dst)


def docs(m):
    def graph_docs(g):
        out = [g.doc_string]
        for n in g.node:
            for a in n.attribute:
                if a.type == a.GRAPH:
                    out += graph_docs(a.g)
        return out
    return [m.doc_string] + graph_docs(m.graph)


def test_oxrt_print_read_by_onnx_parser(oxrt_bin, tmp_path):
    m = special_model(with_complex=True)
    text = oxrt_print(oxrt_bin, tmp_path, m)
    assert "inf" in text and "nan" in text and "# doc_string:" in text
    back = onnx.parser.parse_model(text)
    assert canon(back) == canon(m)  # initializer values compared with repr: nan == nan, -0.0 kept
    got = {t.name: nh.to_array(t) for t in back.graph.initializer}
    np.testing.assert_array_equal(got["c64"], nh.to_array(m.graph.initializer[2]))
    assert back.doc_string == m.doc_string  # onnx's syntax has the model's doc_string only


def test_oxrt_round_trip_keeps_everything(oxrt_bin, tmp_path):
    m = special_model(with_complex=True)
    back = oxrt_parse(oxrt_bin, tmp_path, oxrt_print(oxrt_bin, tmp_path, m))
    assert canon(back) == canon(m)
    assert docs(back) == docs(m)
    kfs = [a for a in back.graph.node[5].attribute][0].floats
    assert kfs[0] == 1 and math.isnan(kfs[1]) and kfs[2] == INF and kfs[3] == -INF


def test_onnx_printer_read_by_oxrt(oxrt_bin, tmp_path):
    m = special_model(with_complex=False)
    back = oxrt_parse(oxrt_bin, tmp_path, onnx.printer.to_text(m))
    assert canon(back) == canon(m)
    assert back.doc_string == m.doc_string


@pytest.mark.parametrize("literal,want", [("inf", INF), ("-inf", -INF), ("nan", NAN), ("NaN", NAN),
                                          ("Infinity", INF), ("-Infinity", -INF)])
def test_float_literals_like_onnx_parser(oxrt_bin, tmp_path, literal, want):
    """onnx.parser's spellings, in a tensor and as an attribute written without its type."""
    text = ('<ir_version: 8, opset_import: ["" : 17]>\ng (float[1] x) => (float[1] y, float a) <float[1] w = {%s}>'
            ' { y = Add (x, w)  a = Constant <value_float = %s> () }' % (literal, literal))
    for m in (oxrt_parse(oxrt_bin, tmp_path, text), onnx.parser.parse_model(text)):
        w = nh.to_array(m.graph.initializer[0])[0]
        f = m.graph.node[1].attribute[0].f
        for v in (w, f):
            assert (math.isnan(v) and math.isnan(want)) or v == want, (literal, v)


@pytest.mark.parametrize("body,what", [("complex64[2] c = {1,2,3}", "imaginary"),
                                       ("float16[1] h = {70000}", "16-bit"),
                                       ("int32[1] i = {1e40}", "integer"),
                                       ("int8[1] i = {nan}", "integer")])
def test_bad_literals_are_errors(oxrt_bin, tmp_path, body, what):
    src = tmp_path / "bad.txt"
    src.write_text('<ir_version: 8, opset_import: ["" : 17]>\ng (float[1] x) => (float[1] y) <%s> { y = Relu (x) }'
                   % body)
    p = subprocess.run([oxrt_bin, "parse", str(src), str(tmp_path / "bad.onnx")], capture_output=True, text=True)
    assert p.returncode != 0 and what in p.stderr, p.stderr


def test_onnx_printer_external_data_read_by_oxrt(oxrt_bin, tmp_path):
    w = nh.from_array(np.arange(4, dtype=np.float32), "w")
    g = h.make_graph([h.make_node("Add", ["x", "w"], ["y"])], "g", [h.make_tensor_value_info("x", T.FLOAT, [4])],
                     [h.make_tensor_value_info("y", T.FLOAT, [4])], [w])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    m.ir_version = 8
    src = str(tmp_path / "m.onnx")
    onnx.save(m, src, save_as_external_data=True, location="w.bin", size_threshold=0)
    text = onnx.printer.to_text(onnx.load(src, load_external_data=False))
    assert '"location": "w.bin"' in text
    (tmp_path / "m.txt").write_text(text)
    out = str(tmp_path / "parsed.onnx")  # beside w.bin, which the entries name
    subprocess.run([oxrt_bin, "parse", str(tmp_path / "m.txt"), out], check=True, capture_output=True, timeout=60)
    w = onnx.load(out, load_external_data=False).graph.initializer[0]
    assert w.data_location == T.EXTERNAL
    assert {e.key: e.value for e in w.external_data} == {"location": "w.bin", "offset": "0", "length": "16"}
    np.testing.assert_array_equal(nh.to_array(onnx.load(out).graph.initializer[0]), np.arange(4, dtype=np.float32))


def external_model(tmp_path):
    """Main graph and an If branch each with an external initializer named w (different data), the other branch
    with an inline one, plus a model function; saved by onnx with its data in w.bin."""
    def branch(name, n, val):
        return h.make_graph([h.make_node("Add", ["x", "w"], [name + "_y"])], name, [],
                            [h.make_tensor_value_info(name + "_y", T.FLOAT, [8])],
                            [nh.from_array(np.full(n, val, np.float32), "w")])
    nodes = [h.make_node("Mul", ["x", "w"], ["m"]),
             h.make_node("If", ["c"], ["z"], then_branch=branch("then", 8, 2.0), else_branch=branch("else", 1, 3.0)),
             h.make_node("Twice", ["z"], ["y"], domain="local")]
    g = h.make_graph(nodes, "g",
                     [h.make_tensor_value_info("x", T.FLOAT, [8]), h.make_tensor_value_info("c", T.BOOL, [])],
                     [h.make_tensor_value_info("y", T.FLOAT, [8]), h.make_tensor_value_info("m", T.FLOAT, [8])],
                     [nh.from_array(np.arange(8, dtype=np.float32) + 0.5, "w"),
                      nh.from_array(np.arange(6, dtype=np.int64).reshape(2, 3), "k \"q\"")])
    twice = h.make_function("local", "Twice", ["a"], ["b"], [h.make_node("Add", ["a", "a"], ["b"])],
                            [h.make_opsetid("", 17)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("local", 1)], functions=[twice])
    m.ir_version = 8
    src = str(tmp_path / "m.onnx")  # the else branch's 4-byte w stays inline (onnx counts 33 bytes more)
    onnx.save(m, src, save_as_external_data=True, location="w.bin", size_threshold=60)
    return src


def entries(text):
    return sorted(re.findall(r'\w+\[[\d,]*\] (?:"(?:[^"\\]|\\.)*"|\w+) = \[[^\]]*\]', text))


def test_external_data_printed_like_onnx_printer(oxrt_bin, tmp_path, monkeypatch):
    src = external_model(tmp_path)
    monkeypatch.chdir(tmp_path)  # where onnx's to_array looks for w.bin in a model parsed from text
    ours = subprocess.run([oxrt_bin, "print", src], capture_output=True, text=True, check=True).stdout
    theirs = onnx.printer.to_text(onnx.load(src, load_external_data=False))
    assert len(entries(theirs)) == 3 and entries(ours) == entries(theirs), (ours, theirs)
    assert "float[1] w = {3}" in ours  # the else branch's inline w
    # read back by onnx.parser to the same model as onnx's own text
    assert canon(onnx.parser.parse_model(ours)) == canon(onnx.parser.parse_model(theirs))
    # and by oxrt parse, written beside w.bin: the same model, which runs
    out = str(tmp_path / "parsed.onnx")
    subprocess.run([oxrt_bin, "parse", "-", out], input=ours, capture_output=True, text=True, check=True, timeout=60)
    assert canon(onnx.load(out)) == canon(onnx.load(src))
    onnx.checker.check_model(out)  # external data paths included
    ort = pytest.importorskip("onnxruntime")
    feeds = {"x": np.ones(8, np.float32), "c": np.array(True)}
    want = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, feeds)
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)


def test_external_data_python_parser(tmp_path):
    oxrt_parser = pytest.importorskip("oxrt.parser")
    text = ('<ir_version: 8, opset_import: ["" : 17]>\ng (float[2,2] x) => (float[2,2] y)'
            ' <float[2,2] w = ["location": "d.bin", "offset": "64", "length": "16", "checksum": "x"]>'
            ' { y = Add (x, w) }')
    m = oxrt_parser.parse_model(text)
    w = m.graph.initializer[0]
    assert w == onnx.parser.parse_model(text).graph.initializer[0]
    assert (w.name, list(w.dims), w.data_type, w.data_location) == ("w", [2, 2], T.FLOAT, T.EXTERNAL)
    assert [(e.key, e.value) for e in w.external_data] == [("location", "d.bin"), ("offset", "64"), ("length", "16"),
                                                          ("checksum", "x")]
    assert not w.HasField("raw_data")


@pytest.mark.parametrize("body,what", [("float[N] w = [\"location\": \"w.bin\"]", "fixed dimensions"),
                                       ("float[1] w = []", "quoted string"),
                                       ("float[1] w = [\"location\" \"w.bin\"]", "':'"),
                                       ("float[1] w = [\"location\": \"w.bin\"", "']'")])
def test_bad_external_entries_are_errors(oxrt_bin, tmp_path, body, what):
    src = tmp_path / "bad.txt"
    src.write_text('<ir_version: 8, opset_import: ["" : 17]>\ng (float[1] x) => (float[1] y) <%s> { y = Add (x, w) }'
                   % body)
    p = subprocess.run([oxrt_bin, "parse", str(src), str(tmp_path / "bad.onnx")], capture_output=True, text=True)
    assert p.returncode != 0 and what in p.stderr, p.stderr
    with pytest.raises(Exception):
        onnx.parser.parse_model(src.read_text())
