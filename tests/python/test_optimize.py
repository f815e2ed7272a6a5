"""Graph optimizer and model writer: `oxrt optimize` writes models that onnx.checker accepts and
ONNX Runtime runs with the same outputs; optimized sessions give the same outputs as unoptimized
ones (OXRT_OPT_LEVEL=0) and as ONNX Runtime; node counts drop where a fusion applies."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import generate
from conftest import ROOT, ort_outputs, oxrt_outputs, run_cli

RTOL, ATOL = 1e-3, 1e-4


def _oxrt(oxrt_bin, model, feeds, out_dir, level=None):
    return oxrt_outputs(oxrt_bin, model, feeds, out_dir, None if level is None else {"OXRT_OPT_LEVEL": str(level)})


def _close(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=RTOL, atol=ATOL, err_msg=what)


def _conv_bn_model(path):
    """x -> Conv -> BatchNormalization -> Identity -> Add(bias) -> Relu -> Dropout -> Conv -> BN -> y,
    plus a Shape-free constant chain (Unsqueeze of a constant, Mul of constants) feeding a second output."""
    rng = np.random.default_rng(0)
    c1, c2 = 8, 4

    def init(name, arr):
        return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)

    inits = [
        init("w1", rng.standard_normal((c1, 3, 3, 3)) * 0.3), init("b1", rng.standard_normal(c1) * 0.1),
        init("s1", rng.uniform(0.5, 1.5, c1)), init("t1", rng.standard_normal(c1) * 0.1),
        init("m1", rng.standard_normal(c1) * 0.1), init("v1", rng.uniform(0.5, 2.0, c1)),
        init("add_c", rng.standard_normal((c1, 1, 1)) * 0.1),
        init("w2", rng.standard_normal((c2, c1, 1, 1)) * 0.3),
        init("s2", rng.uniform(0.5, 1.5, c2)), init("t2", rng.standard_normal(c2) * 0.1),
        init("m2", rng.standard_normal(c2) * 0.1), init("v2", rng.uniform(0.5, 2.0, c2)),
        init("k", [1.0, 2.0, 3.0]),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axes"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "s1", "t1", "m1", "v1"], ["bn1"], epsilon=1e-3),
        helper.make_node("Identity", ["bn1"], ["id1"]),
        helper.make_node("Add", ["id1", "add_c"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["r1"]),
        helper.make_node("Dropout", ["r1"], ["d1"]),
        helper.make_node("Conv", ["d1", "w2"], ["c2"]),
        helper.make_node("BatchNormalization", ["c2", "s2", "t2", "m2", "v2"], ["y"]),
        helper.make_node("Unsqueeze", ["k", "axes"], ["k2"]),
        helper.make_node("Mul", ["k2", "k2"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes, "conv_bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", c2, 6, 6]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return {"x": rng.standard_normal((2, 3, 6, 6)).astype(np.float32)}


def _matmul_model(path):
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((5, 4)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([0, 1], dtype=np.int64), "perm_unused")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
             helper.make_node("Transpose", ["a"], ["t1"], perm=[1, 0]),
             helper.make_node("Transpose", ["t1"], ["y"], perm=[1, 0])]
    graph = helper.make_graph(nodes, "mm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return {"x": rng.standard_normal((3, 5)).astype(np.float32)}


def _optimize(oxrt_bin, src, dst, *extra):
    p = run_cli(oxrt_bin, "optimize", src, dst, *extra)
    onnx.checker.check_model(onnx.load(dst), full_check=True)
    return p.stdout


def test_conv_bn_fusion_drops_nodes(oxrt_bin, tmp_path):
    src, dst = str(tmp_path / "conv_bn.onnx"), str(tmp_path / "conv_bn_opt.onnx")
    feeds = _conv_bn_model(src)
    out = _optimize(oxrt_bin, src, dst)
    assert "fuse_conv_bn" in out and "nodes: 10 -> " in out, out
    before, after = onnx.load(src), onnx.load(dst)
    ops = [n.op_type for n in after.graph.node]
    assert "BatchNormalization" not in ops and "Identity" not in ops and "Dropout" not in ops, ops
    assert ops == ["FusedConv", "Conv"], ops  # Conv + BN + Add folded, then Relu fused (com.microsoft)
    assert len(after.graph.node) < len(before.graph.node)
    assert [o.name for o in after.graph.output] == ["y", "z"]
    ref = ort_outputs(src, feeds)
    got = ort_outputs(dst, feeds)
    for name in ref:
        _close(got[name], ref[name], f"onnxruntime on the optimized model, output {name}")
    # oxrt: optimized (default level) and unoptimized sessions agree with each other and with onnxruntime
    opt = _oxrt(oxrt_bin, src, feeds, str(tmp_path / "o99"))
    plain = _oxrt(oxrt_bin, src, feeds, str(tmp_path / "o0"), level=0)
    for name in ref:
        _close(opt[name], ref[name], f"oxrt optimized vs onnxruntime, output {name}")
        _close(plain[name], opt[name], f"oxrt unoptimized vs optimized, output {name}")


def test_levels(oxrt_bin, tmp_path):
    src = str(tmp_path / "mm.onnx")
    feeds = _matmul_model(src)
    counts = {}
    for level in ["disable", "basic", "extended", "all"]:
        dst = str(tmp_path / f"mm_{level}.onnx")
        _optimize(oxrt_bin, src, dst, "--level", level)
        m = onnx.load(dst)
        counts[level] = [n.op_type for n in m.graph.node]
        _close(ort_outputs(dst, feeds)["y"], ort_outputs(src, feeds)["y"], f"level {level}")
    assert counts["disable"] == ["MatMul", "Add", "Transpose", "Transpose"]
    assert counts["basic"] == ["MatMul", "Add"]
    assert counts["extended"] == ["Gemm"] and counts["all"] == ["Gemm"]
    p = run_cli(oxrt_bin, "optimize", src, str(tmp_path / "x.onnx"), "--level", "bogus", check=False)
    assert p.returncode == 2 and "--level" in p.stderr


def test_external_data(oxrt_bin, tmp_path):
    src, dst = str(tmp_path / "conv_bn.onnx"), str(tmp_path / "ext.onnx")
    feeds = _conv_bn_model(src)
    _optimize(oxrt_bin, src, dst, "--external-data", "64")
    assert os.path.getsize(dst + ".data") > 0
    m = onnx.load(dst, load_external_data=False)
    assert any(t.data_location == TensorProto.EXTERNAL for t in m.graph.initializer)
    ref = ort_outputs(src, feeds)
    for name, arr in ort_outputs(dst, feeds).items():
        _close(arr, ref[name], f"external data model, output {name}")
    for name, arr in _oxrt(oxrt_bin, dst, feeds, str(tmp_path / "ext_out")).items():
        _close(arr, ref[name], f"oxrt on the external data model, output {name}")


def test_round_trip_examples(oxrt_bin, tmp_path):
    for name in ["digits", "iris"]:
        src = os.path.join(ROOT, "examples", name, "model.onnx")
        x = np.load(os.path.join(ROOT, "examples", name, "test_x.npy"))
        m = onnx.load(src)
        feeds = {m.graph.input[0].name: x.astype(np.float32)}
        for level in ["disable", "all"]:
            dst = str(tmp_path / f"{name}_{level}.onnx")
            _optimize(oxrt_bin, src, dst, "--level", level)
            ref = ort_outputs(src, feeds)
            got = ort_outputs(dst, feeds)
            for out, arr in ref.items():
                if isinstance(arr, np.ndarray):
                    _close(got[out], arr, f"{name} level {level}: {out}")
                else:  # ZipMap: a list of {label: probability}
                    assert len(got[out]) == len(arr)
                    for g, r in zip(got[out], arr):
                        assert g.keys() == r.keys() and all(abs(g[k] - r[k]) <= 1e-5 for k in r)


@pytest.mark.parametrize("name", ["mobilenet_v2", "bert_small"])
def test_generated_models(name, oxrt_bin, model_dir, tmp_path):
    path = os.path.join(model_dir, name + ".onnx")
    if not os.path.exists(path) or not os.path.exists(os.path.join(model_dir, name + ".inputs.npz")):
        try:
            generate.generate(name, model_dir, small=True)
        except ImportError as e:
            pytest.fail(f"cannot generate {name}: {e}")
    feeds = dict(np.load(os.path.join(model_dir, name + ".inputs.npz")))
    dst = str(tmp_path / (name + "_opt.onnx"))
    out = _optimize(oxrt_bin, path, dst)
    assert "nodes:" in out
    assert len(onnx.load(dst).graph.node) <= len(onnx.load(path).graph.node)
    ref = ort_outputs(path, feeds)
    for out_name, arr in ort_outputs(dst, feeds).items():
        _close(arr, ref[out_name], f"{name}: onnxruntime on the optimized model, {out_name}")
    opt = _oxrt(oxrt_bin, path, feeds, str(tmp_path / "o99"))
    plain = _oxrt(oxrt_bin, path, feeds, str(tmp_path / "o0"), level=0)
    for out_name in ref:
        _close(opt[out_name], ref[out_name], f"{name}: oxrt optimized vs onnxruntime, {out_name}")
        _close(plain[out_name], opt[out_name], f"{name}: oxrt unoptimized vs optimized, {out_name}")
