"""`oxrt run --dump-all`, `oxrt diff` and the symbolic-dimension guesses of `oxrt run`."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import run_cli

F = TensorProto.FLOAT


def mlp(w2, batch="batch"):
    rng = np.random.RandomState(0)
    nodes = [helper.make_node("Gemm", ["X", "W1"], ["h1"], transB=1, name="fc1"),
             helper.make_node("Relu", ["h1"], ["h/2"], name="act"),  # '/' must be sanitized in file names
             helper.make_node("Gemm", ["h/2", "W2"], ["h3"], transB=1, name="fc2"),
             helper.make_node("Softmax", ["h3"], ["Y"], name="sm")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", F, [batch, 3])],
                          [helper.make_tensor_value_info("Y", F, [batch, 5])],
                          [numpy_helper.from_array(rng.randn(4, 3).astype(np.float32), "W1"),
                           numpy_helper.from_array(w2, "W2")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


W2 = np.random.RandomState(1).randn(5, 4).astype(np.float32)


def read_index(d):
    rows = [line.rstrip("\n").split("\t") for line in open(os.path.join(d, "index.tsv")) if not line.startswith("#")]
    return rows


def test_dump_all_writes_every_value(oxrt_bin, tmp_path):
    src, d = str(tmp_path / "a.onnx"), str(tmp_path / "dump")
    onnx.save(mlp(W2), src)
    run_cli(oxrt_bin, "run", src, "--dump-all", d, "--dim", "batch=2")
    rows = read_index(d)
    assert [r[3] for r in rows] == ["X", "h1", "h/2", "h3", "Y"]
    assert [r[2] for r in rows] == ["<input>", "Gemm", "Relu", "Gemm", "Softmax"]
    for r in rows:
        assert "/" not in r[4] and os.path.exists(os.path.join(d, r[4]))
    x, h1, h2 = (np.load(os.path.join(d, rows[i][4])) for i in range(3))
    w1 = numpy_helper.to_array(mlp(W2).graph.initializer[0])
    np.testing.assert_allclose(h1, x @ w1.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h2, np.maximum(h1, 0), rtol=1e-6)


def test_diff_names_the_first_departing_node(oxrt_bin, tmp_path):
    a, b = str(tmp_path / "a.onnx"), str(tmp_path / "b.onnx")
    onnx.save(mlp(W2), a)
    w2b = W2.copy()
    w2b[2, 1] += 0.5  # injected difference: fc2's weights
    onnx.save(mlp(w2b), b)
    da, db = str(tmp_path / "da"), str(tmp_path / "db")
    run_cli(oxrt_bin, "run", a, "--dump-all", da, "--dim", "batch=2")
    run_cli(oxrt_bin, "run", b, "--dump-all", db, "--input", f"X={da}/00000_X.npy")
    p = run_cli(oxrt_bin, "diff", da, db, check=False)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "node 'fc2' (Gemm), value 'h3'" in p.stdout and "3 earlier values matched" in p.stdout
    # a model against a reference dump: runs it on the dump's inputs
    p = run_cli(oxrt_bin, "diff", b, da, check=False)
    assert p.returncode == 1 and "node 'fc2' (Gemm)" in p.stdout
    p = run_cli(oxrt_bin, "diff", a, da)
    assert "all 5 values present in both dumps match" in p.stdout


def test_diff_against_onnxruntime_dump(oxrt_bin, tmp_path):
    """A reference dump written from ONNX Runtime (every value made a graph output) in the index format."""
    ort = pytest.importorskip("onnxruntime")
    m = mlp(W2)
    src = str(tmp_path / "a.onnx")
    onnx.save(m, src)
    ref = tmp_path / "ort"
    ref.mkdir()
    names = ["h1", "h/2", "h3", "Y"]
    full = onnx.ModelProto()
    full.CopyFrom(m)
    del full.graph.output[:]
    full.graph.output.extend([helper.make_tensor_value_info(n, F, None) for n in names])
    x = np.random.RandomState(3).randn(2, 3).astype(np.float32)
    outs = ort.InferenceSession(full.SerializeToString(), providers=["CPUExecutionProvider"]).run(names, {"X": x})
    lines = ["# oxrt dump: order\tnode\top\tvalue\tfile\ttype\tshape"]
    for i, (n, v) in enumerate([("X", x)] + list(zip(names, outs))):
        fname = f"r{i}.npy"
        np.save(str(ref / fname), v)
        lines.append(f"{i}\t\t{'<input>' if i == 0 else 'op'}\t{n}\t{fname}\tfloat\t")
    (ref / "index.tsv").write_text("\n".join(lines) + "\n")
    p = run_cli(oxrt_bin, "diff", src, str(ref))
    assert "all 5 values present in both dumps match" in p.stdout


def detector(meta=None):
    """[batch,3,height,width] -> Conv -> Concat with a branch of the same spatial size (as detectors' FPNs do)."""
    w = np.random.RandomState(0).randn(4, 3, 3, 3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["images", "W"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("MaxPool", ["images"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Concat", ["c", "p"], ["out"], axis=1)]
    g = helper.make_graph(nodes, "det", [helper.make_tensor_value_info("images", F, ["batch", 3, "height", "width"])],
                          [helper.make_tensor_value_info("out", F, None)], [numpy_helper.from_array(w, "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    for k, v in (meta or {}).items():
        m.metadata_props.add(key=k, value=v)
    return m


def test_symbolic_dims_are_named_and_settable(oxrt_bin, tmp_path):
    src = str(tmp_path / "det.onnx")
    onnx.save(detector(), src)
    p = run_cli(oxrt_bin, "run", src)
    assert "height=640" in p.stderr and "width=640" in p.stderr and "batch=1" in p.stderr
    assert "--dim NAME=VALUE" in p.stderr
    assert "out: float[1,7,320,320]" in p.stdout
    p = run_cli(oxrt_bin, "run", src, "--dim", "height=64", "--dim", "width=32")
    assert "height=" not in p.stderr and "batch=1" in p.stderr
    assert "out: float[1,7,32,16]" in p.stdout


def test_symbolic_dims_from_metadata(oxrt_bin, tmp_path):
    src = str(tmp_path / "det_meta.onnx")
    onnx.save(detector({"imgsz": "[96, 128]", "batch": "2"}), src)
    p = run_cli(oxrt_bin, "run", src)
    assert "height=96" in p.stderr and "width=128" in p.stderr and "batch=2" in p.stderr and "metadata" in p.stderr
    assert "out: float[2,7,48,64]" in p.stdout


def declared_detector(r_shape, r2_shape=None):
    """detector() behind a Relu whose output r the model declares in value_info (as exporters leave it); with
    r2_shape also a second output r2 = Relu(r) declared so."""
    m = detector()
    g = m.graph
    relu = helper.make_node("Relu", ["images"], ["r"])
    for n in g.node:
        n.input[0] = "r" if n.input[0] == "images" else n.input[0]
    g.node.insert(0, relu)
    g.value_info.append(helper.make_tensor_value_info("r", F, r_shape))
    if r2_shape:
        g.node.append(helper.make_node("Relu", ["r"], ["r2"]))
        g.output.append(helper.make_tensor_value_info("r2", F, r2_shape))
    return m


def test_symbolic_dims_from_declared_shapes(oxrt_bin, tmp_path):
    """Sizes the model states elsewhere: where inference carries an input's dim name (batch, height, width) to a
    value or output the model declares with a number there, that number is taken, before the image default."""
    src = str(tmp_path / "det_vi.onnx")
    onnx.save(declared_detector([2, 3, 96, 128]), src)
    p = run_cli(oxrt_bin, "run", src)
    for dim, v, axis in (("batch", 2, 0), ("height", 96, 2), ("width", 128, 3)):
        note = f"{dim}={v}  (input 'images' axis {axis}: stated by the model: 'r' is declared with {v} at axis {axis})"
        assert note in p.stderr, p.stderr
    assert "out: float[2,7,48,64]" in p.stdout
    p = run_cli(oxrt_bin, "run", src, "--dim", "height=64")  # --dim still decides
    assert "height=" not in p.stderr and "width=128" in p.stderr and "out: float[2,7,32,64]" in p.stdout
    # an output declared too, in agreement for batch and height, in disagreement for width: width is taken from
    # neither
    onnx.save(declared_detector([2, 3, 96, 128], [2, "c", 96, 100]), src)
    p = run_cli(oxrt_bin, "run", src)
    assert "batch=2  (input 'images' axis 0: stated by the model" in p.stderr and "height=96" in p.stderr
    assert "width=640  (input 'images' axis 3: image input" in p.stderr, p.stderr
    # metadata naming the dim comes first; bench takes the same guesses
    m = declared_detector([2, 3, 96, 128])
    m.metadata_props.add(key="height", value="32")
    onnx.save(m, src)
    p = run_cli(oxrt_bin, "bench", src, "--runs", "1")
    assert "height=32  (input 'images' axis 2: stated in the model's metadata)" in p.stderr
    assert "batch=2  (input 'images' axis 0: stated by the model" in p.stderr and "median_ms" in p.stdout


def test_failure_after_guess_says_so(oxrt_bin, tmp_path):
    """A model that only works at its real size: the error comes with the hint to set the dims."""
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"])]
    g = helper.make_graph(nodes, "r", [helper.make_tensor_value_info("x", F, ["n", 3, "h", "w"])],
                          [helper.make_tensor_value_info("y", F, None)],
                          [numpy_helper.from_array(np.array([1, 3 * 32 * 32], np.int64), "s")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    src = str(tmp_path / "r.onnx")
    onnx.save(m, src)
    for cmd in ("run", "bench"):
        p = run_cli(oxrt_bin, cmd, src, check=False)
        assert p.returncode != 0 and "hint:" in p.stderr and "--dim" in p.stderr, cmd
        run_cli(oxrt_bin, cmd, src, "--dim", "h=32", "--dim", "w=32")


def test_bench_names_guessed_dims(oxrt_bin, tmp_path):
    """`oxrt bench` takes the same guesses as `oxrt run`, says so, and takes --dim."""
    src = str(tmp_path / "det_bench.onnx")
    onnx.save(detector({"imgsz": "[96, 128]"}), src)
    p = run_cli(oxrt_bin, "bench", src, "--runs", "2")
    assert "3 symbolic dimensions guessed" in p.stderr and "--dim NAME=VALUE" in p.stderr
    assert "height=96" in p.stderr and "width=128" in p.stderr and "batch=1" in p.stderr and "imgsz" in p.stderr
    assert "median_ms" in p.stdout
    p = run_cli(oxrt_bin, "bench", src, "--runs", "2", "--dim", "batch=2", "--dim", "height=32", "--dim", "width=32")
    assert "guessed" not in p.stderr and "median_ms" in p.stdout
