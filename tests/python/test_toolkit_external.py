"""Every toolkit command on a model whose external data lies more than 4 GiB into its data file.

The data file is sparse (a hole, then the weights), so the test costs no disk: offsets and file sizes past 32 bits
go through check, infer-shapes, print/parse, optimize, convert, run --dump-all/diff and graph, and each command that
writes a model writes its weights to external data again (--external-data). A real > 2 GB model (one 2.25 GB
tensor) goes through the same commands in `make test-toolkit-big` (tests/python/toolkit_big_external.py), which
needs ~7 GB of disk.
"""
import os

import numpy as np
import pytest

from conftest import run_cli

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
import onnx.parser  # noqa: E402
import onnx.printer  # noqa: E402
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import shape_inference  # noqa: E402

OFFSET = (9 << 29) + 64  # 4.5 GiB + 64: past both 2^31 and 2^32
W = np.arange(8, dtype=np.float32) + 0.5


@pytest.fixture(scope="module")
def far_model(tmp_path_factory):
    """Identity -> Add(w) -> Relu with w at OFFSET of a sparse data file."""
    d = tmp_path_factory.mktemp("far")
    data = d / "far.bin"
    with open(data, "wb") as f:
        f.truncate(OFFSET + 4096)
        f.seek(OFFSET)
        f.write(W.tobytes())
    if os.stat(data).st_blocks * 512 > (64 << 20):
        data.unlink()
        pytest.skip("this filesystem has no sparse files: the test would need 4.5 GB of disk")
    w = T(name="w", data_type=T.FLOAT, dims=[8], data_location=T.EXTERNAL)
    for k, v in (("location", "far.bin"), ("offset", str(OFFSET)), ("length", str(W.nbytes))):
        w.external_data.add(key=k, value=v)
    nodes = [h.make_node("Identity", ["x"], ["i"]), h.make_node("Add", ["i", "w"], ["a"]),
             h.make_node("Relu", ["a"], ["y"])]
    g = h.make_graph(nodes, "far", [h.make_tensor_value_info("x", T.FLOAT, ["n", 8])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["n", 8])], [w])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    m.ir_version = 8
    path = d / "far.onnx"
    path.write_bytes(m.SerializeToString())
    return str(path)


X = np.linspace(-6, 6, 16, dtype=np.float32).reshape(2, 8)
WANT = np.maximum(X + W, 0)


def ort_run(path):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": X})[0]


def external_locations(path):
    m = onnx.load(path, load_external_data=False)
    return {t.name: {e.key: e.value for e in t.external_data} for t in m.graph.initializer
            if t.data_location == T.EXTERNAL}


def test_reference_reads_it(far_model):
    # the model itself is valid for onnx and ONNX Runtime reads the far weights
    onnx.checker.check_model(far_model, full_check=True)
    np.testing.assert_allclose(ort_run(far_model), WANT)


def test_check_and_infer_shapes(oxrt_bin, far_model, tmp_path):
    assert "valid (full check)" in run_cli(oxrt_bin, "check", "--full", far_model).stdout
    out = str(tmp_path / "inferred.onnx")
    run_cli(oxrt_bin, "infer-shapes", far_model, out, "--external-data", "16")
    assert external_locations(out)["w"]["location"] == "inferred.onnx.data"
    mine = {v.name: v.type for v in onnx.load(out, load_external_data=False).graph.value_info}
    ref = shape_inference.infer_shapes(onnx.load(far_model, load_external_data=False))
    theirs = {v.name: v.type for v in ref.graph.value_info}
    assert set(theirs) == {"i", "a"} and all(mine[k] == theirs[k] for k in theirs), (mine, theirs)
    np.testing.assert_allclose(ort_run(out), WANT)


FAR_ENTRIES = f'float[8] w = ["location": "far.bin", "offset": "{OFFSET}", "length": "{W.nbytes}"]'


def test_print_parse(oxrt_bin, far_model, tmp_path):
    # the far weights are printed as their external data entries, as onnx.printer writes them (never read)
    text = run_cli(oxrt_bin, "print", far_model).stdout
    assert FAR_ENTRIES in text and "0.5" not in text
    assert FAR_ENTRIES in onnx.printer.to_text(onnx.load(far_model, load_external_data=False))
    ref = onnx.parser.parse_model(text).graph.initializer[0]
    txt = tmp_path / "far.txt"
    txt.write_text(text)
    # oxrt parse keeps the entries; their location is relative to the model written: beside far.bin it runs
    out = os.path.join(os.path.dirname(far_model), "parsed.onnx")
    try:
        run_cli(oxrt_bin, "parse", str(txt), out)
        w = onnx.load(out, load_external_data=False).graph.initializer[0]
        assert w == ref and external_locations(out)["w"] == {"location": "far.bin", "offset": str(OFFSET),
                                                             "length": str(W.nbytes)}
        onnx.checker.check_model(out, full_check=True)
        np.testing.assert_allclose(ort_run(out), WANT)
    finally:
        if os.path.exists(out):
            os.unlink(out)


@pytest.mark.parametrize("command", [["optimize", "--passes", "eliminate_identity"], ["convert", "--opset", "18"]])
def test_optimize_and_convert_write_external_data(oxrt_bin, far_model, tmp_path, command):
    out = str(tmp_path / "out.onnx")
    run_cli(oxrt_bin, command[0], far_model, out, *command[1:], "--external-data", "16")
    loc = external_locations(out)["w"]
    assert loc["location"] == "out.onnx.data" and os.path.getsize(out + ".data") == W.nbytes
    m = onnx.load(out, load_external_data=False)
    if command[0] == "optimize":
        assert [n.op_type for n in m.graph.node] == ["Add", "Relu"]
    else:
        assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [18]
    onnx.checker.check_model(out, full_check=True)
    np.testing.assert_allclose(ort_run(out), WANT)


def test_run_dump_diff_graph(oxrt_bin, far_model, tmp_path):
    np.save(tmp_path / "x.npy", X)
    run_cli(oxrt_bin, "run", far_model, "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path))
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), WANT)
    dump = str(tmp_path / "dump")
    run_cli(oxrt_bin, "run", far_model, "--input", f"x={tmp_path / 'x.npy'}", "--dump-all", dump)
    assert "all 4 values present in both dumps match" in run_cli(oxrt_bin, "diff", far_model, dump).stdout
    dot = str(tmp_path / "far.dot")
    run_cli(oxrt_bin, "graph", far_model, "-o", dot)
    assert "w float[8]" in open(dot).read()


def test_python_checker_and_optimizer_take_the_path(far_model):
    checker = pytest.importorskip("oxrt.checker")
    optimizer = pytest.importorskip("oxrt.optimizer")
    checker.check_model(far_model, full_check=True)
    out = optimizer.optimize(far_model, ["eliminate_identity"])  # a path in, bytes out (the weights inline)
    assert [n.op_type for n in onnx.load_from_string(out).graph.node] == ["Add", "Relu"]
    np.testing.assert_allclose(ort_run(out), WANT)


def test_python_optimizer_path_past_bytes(far_model, monkeypatch):
    """A path whose optimized weights go to a data file (the C library does so past 1.5 GiB, forced here with a
    16-byte threshold) comes back as a ModelProto with its weights read in, as onnxoptimizer returns; without onnx
    it is refused (bytes cannot hold it). A real 1.6 GiB table took 16 s and 3.5 GB of memory: not in this file."""
    optimizer = pytest.importorskip("oxrt.optimizer")
    real = optimizer._oxrt.optimize_passes
    monkeypatch.setattr(optimizer._oxrt, "optimize_passes", lambda i, o, p, fp, t: real(i, o, p, fp, 16))
    m = optimizer.optimize(far_model, ["eliminate_identity"])
    assert isinstance(m, onnx.ModelProto) and [n.op_type for n in m.graph.node] == ["Add", "Relu"]
    assert m.graph.initializer[0].data_location != T.EXTERNAL
    np.testing.assert_allclose(ort_run(m.SerializeToString()), WANT)
    monkeypatch.setattr(optimizer, "_onnx", lambda: None)
    with pytest.raises(ValueError, match="1.5 GiB"):
        optimizer.optimize(far_model, ["eliminate_identity"])


@pytest.mark.parametrize("entry", ["infer_shapes_path", "to_text", "convert_version"])
def test_python_wrappers_take_the_path(far_model, tmp_path, entry, monkeypatch):
    monkeypatch.chdir(tmp_path)  # far.bin is beside the model, not in the current folder
    if entry == "infer_shapes_path":
        out = str(tmp_path / "inferred.onnx")
        pytest.importorskip("oxrt.shape_inference").infer_shapes_path(far_model, out)
        assert {v.name for v in onnx.load(out, load_external_data=False).graph.value_info} >= {"i", "a"}
    elif entry == "to_text":
        assert FAR_ENTRIES in pytest.importorskip("oxrt.printer").to_text(far_model)
    else:
        m = pytest.importorskip("oxrt.version_converter").convert_version(far_model, 18)
        assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [18]
