"""The `oxrt` command as a user meets it: info, run, bench, and its error messages."""
import os

import numpy as np

from conftest import ROOT, run_cli

DIGITS = os.path.join(ROOT, "examples", "digits", "model.onnx")
IRIS = os.path.join(ROOT, "examples", "iris", "model.onnx")


def test_info_describes_model(oxrt_bin):
    out = run_cli(oxrt_bin, "info", DIGITS).stdout
    assert "ir_version: 8" in out
    assert "image" in out and "tensor(float) [batch, 1, 8, 8]" in out
    assert "Conv" in out and "runnable:   yes" in out
    assert "parameters:" in out


def test_info_iris_sequence_of_maps(oxrt_bin):
    out = run_cli(oxrt_bin, "info", IRIS).stdout
    assert "seq(map(int64,tensor(float)))" in out
    assert "ai.onnx.ml:TreeEnsembleClassifier" in out


def test_run_random_inputs_and_dims(oxrt_bin, tmp_path):
    out = run_cli(oxrt_bin, "run", DIGITS, "--dim", "batch=3", "--output-dir", str(tmp_path)).stdout
    assert "logits: float[3,10]" in out
    assert np.load(tmp_path / "logits.npy").shape == (3, 10)


def test_run_given_input_matches_demo_data(oxrt_bin, tmp_path):
    x = np.load(os.path.join(ROOT, "examples", "digits", "test_x.npy"))[:20]
    y = np.load(os.path.join(ROOT, "examples", "digits", "test_y.npy"))[:20]
    np.save(tmp_path / "x.npy", x)
    run_cli(oxrt_bin, "run", DIGITS, "--input", f"image={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path))
    pred = np.load(tmp_path / "logits.npy").argmax(1)
    assert (pred == y).mean() >= 0.9


def test_run_wrong_input_name_is_clear(oxrt_bin, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    p = run_cli(oxrt_bin, "run", DIGITS, "--input", f"img={tmp_path / 'x.npy'}", check=False)
    assert p.returncode != 0
    assert "no input named 'img'" in p.stderr and "'image'" in p.stderr


def test_run_wrong_shape_and_dtype_are_clear(oxrt_bin, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 7, 8), np.float32))
    p = run_cli(oxrt_bin, "run", DIGITS, "--input", f"image={tmp_path / 'x.npy'}", check=False)
    assert p.returncode != 0 and "dimension 2 must be 8" in p.stderr
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float64))
    p = run_cli(oxrt_bin, "run", DIGITS, "--input", f"image={tmp_path / 'x.npy'}", check=False)
    assert p.returncode != 0 and "expected element type float, got double" in p.stderr


def test_corrupt_and_truncated_models_are_clear(oxrt_bin, tmp_path):
    data = open(DIGITS, "rb").read()
    (tmp_path / "trunc.onnx").write_bytes(data[: len(data) // 2])
    p = run_cli(oxrt_bin, "run", str(tmp_path / "trunc.onnx"), check=False)
    assert p.returncode == 1 and "invalid model" in p.stderr
    (tmp_path / "text.onnx").write_bytes(b"hello world, not a model")
    p = run_cli(oxrt_bin, "info", str(tmp_path / "text.onnx"), check=False)
    assert p.returncode == 1 and "error:" in p.stderr
    p = run_cli(oxrt_bin, "run", str(tmp_path / "missing.onnx"), check=False)
    assert p.returncode == 1 and "cannot open" in p.stderr


def test_corrupt_weight_file_external_data(oxrt_bin, tmp_path):
    """A model whose weights live in a side file: a truncated weight file gives a clear error."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "W")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    path = str(tmp_path / "ext.onnx")
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
                    size_threshold=0)
    np.save(tmp_path / "x.npy", np.ones((2, 3), np.float32))
    out = run_cli(oxrt_bin, "run", path, "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path)).stdout
    assert np.allclose(np.load(tmp_path / "y.npy"), np.ones((2, 3)) @ np.arange(12).reshape(3, 4))
    with open(tmp_path / "weights.bin", "r+b") as f:
        f.truncate(20)
    p = run_cli(oxrt_bin, "run", path, check=False)
    assert p.returncode == 1 and "'W'" in p.stderr and "weights.bin" in p.stderr


def test_bench_reports_latency(oxrt_bin):
    out = run_cli(oxrt_bin, "bench", DIGITS, "--runs", "5", "--warmup", "1", "--threads", "1").stdout
    for key in ("load_ms:", "median_ms:", "p90_ms:", "min_ms:", "peak_rss_mb:"):
        assert key in out


def test_shape_contradiction_reported_at_load(oxrt_bin, tmp_path):
    """Static shape inference names the node whose fixed shapes contradict each other."""
    import onnx
    from onnx import helper, TensorProto
    g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"], name="mm1")], "g",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 3]),
                           helper.make_tensor_value_info("b", TensorProto.FLOAT, [4, 5])],
                          [helper.make_tensor_value_info("c", TensorProto.FLOAT, None)])
    path = str(tmp_path / "bad.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    p = run_cli(oxrt_bin, "run", path, check=False)
    assert p.returncode == 1
    assert "node 'mm1' (MatMul)" in p.stderr and "inner dimensions differ" in p.stderr


def test_inferred_output_shape_in_info(oxrt_bin, tmp_path):
    import onnx
    from onnx import helper, TensorProto
    nodes = [helper.make_node("MatMul", ["a", "b"], ["c"]), helper.make_node("Relu", ["c"], ["d"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3]),
                                       helper.make_tensor_value_info("b", TensorProto.FLOAT, [3, 5])],
                          [helper.make_tensor_value_info("d", TensorProto.UNDEFINED, None)])
    path = str(tmp_path / "ok.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    out = run_cli(oxrt_bin, "info", path).stdout
    assert "tensor(float) [batch, 5]" in out


def test_install_then_build_example_with_pkg_config(tmp_path):
    """`make install` layout + pkg-config are enough to build the minimal C example."""
    import shutil
    import subprocess
    from conftest import INSTALL_BUILD
    if not shutil.which("pkg-config"):
        import pytest
        pytest.fail("pkg-config is missing (make deps installs it)")
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", INSTALL_BUILD, "--prefix", str(prefix)], check=True, capture_output=True)
    pc_dir = next(p for p in prefix.rglob("oxrt.pc")).parent
    env = dict(os.environ, PKG_CONFIG_PATH=str(pc_dir))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "oxrt"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    exe = tmp_path / "classify"
    subprocess.run(["cc", os.path.join(ROOT, "examples", "c", "classify.c"), *flags, "-o", str(exe)], check=True)
    libdir = str(next(p for p in prefix.rglob("liboxrt.so*")).parent)
    out = subprocess.run([str(exe), DIGITS], env=dict(os.environ, LD_LIBRARY_PATH=libdir), check=True,
                         capture_output=True, text=True).stdout
    assert out.startswith("logits (tensor(float)):") and len(out.split()) == 12
