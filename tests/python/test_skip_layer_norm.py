"""SkipLayerNormalization: the com.microsoft op against ONNX Runtime's, and fuse_skip_layer_norm on hand-built
residual blocks (post-LN, pre-LN with the sum read again, the MatMul bias folded) and near misses that must stay
unfused. Fused graphs must give ONNX Runtime's (unoptimized) outputs, in oxrt and, saved, in ONNX Runtime."""
import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto as TP
from onnx import helper as oh
from onnx import numpy_helper as nh

import oxrt
from conftest import run_cli

RTOL, ATOL = 1e-4, 1e-5


def _ort(data, feeds):
    so = onnxruntime.SessionOptions()
    so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onnxruntime.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, feeds)


def _close(got, ref):
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("skip_shape,beta,bias,want_sum", [
    ((2, 5, 16), True, True, True), ((2, 5, 16), False, False, False), ((1, 5, 16), True, False, True),
    ((5, 16), False, True, False), ((2, 5, 16), True, True, False)])
def test_op_matches_ort(skip_shape, beta, bias, want_sum):
    rng = np.random.default_rng(len(skip_shape) + 2 * beta + 4 * bias + 8 * want_sum)
    H = 16
    feeds = {"x": rng.standard_normal((2, 5, H), dtype=np.float32) * 3,
             "skip": rng.standard_normal(skip_shape, dtype=np.float32)}
    inits = [nh.from_array(rng.standard_normal(H).astype(np.float32), "gamma")]
    ins = ["x", "skip", "gamma", "beta" if beta else "", "bias" if bias else ""]
    if beta:
        inits.append(nh.from_array(rng.standard_normal(H).astype(np.float32), "beta"))
    if bias:
        inits.append(nh.from_array(rng.standard_normal(H).astype(np.float32), "bias"))
    while ins[-1] == "":
        ins.pop()
    outs = ["y", "", "", "sum"] if want_sum else ["y"]
    node = oh.make_node("SkipLayerNormalization", ins, outs, domain="com.microsoft", epsilon=1e-5)
    g = oh.make_graph([node], "sln", [oh.make_tensor_value_info(n, TP.FLOAT, feeds[n].shape) for n in ("x", "skip")],
                      [oh.make_tensor_value_info(n, TP.FLOAT, None) for n in outs if n], inits)
    data = oh.make_model(g, opset_imports=[oh.make_opsetid("", 17), oh.make_opsetid("com.microsoft", 1)]
                         ).SerializeToString()
    _close(oxrt.InferenceSession(data).run(None, feeds), _ort(data, feeds))


H, F = 8, 12


def _block(variant):
    """x [B,S,H] -> MatMul + bias -> residual Add with x -> LayerNorm -> (pre-LN: second block reading the sum)."""
    rng = np.random.default_rng(7)
    c = lambda name, *shape: nh.from_array(rng.standard_normal(shape).astype(np.float32), name)  # noqa: E731
    inits = [c("W", H, H), c("b", H), c("g", H), c("beta", H), c("W2", H, F), c("W3", F, H), c("b3", H)]
    nodes = [oh.make_node("MatMul", ["x", "W"], ["mm"]), oh.make_node("Add", ["mm", "b"], ["mmb"]),
             oh.make_node("Add", ["x", "mmb"] if variant != "swapped" else ["mmb", "x"], ["sum"])]
    ln_attrs = {"axis": 1} if variant == "axis1" else {"epsilon": 1e-6}
    nodes.append(oh.make_node("LayerNormalization", ["sum", "g", "beta"], ["ln"], **ln_attrs))
    outputs = ["ln"]
    if variant == "bias_read_twice":
        outputs.append("mmb")
    if variant in ("pre_ln", "swapped"):  # the sum is the residual of the next block too
        nodes += [oh.make_node("MatMul", ["ln", "W2"], ["h1"]), oh.make_node("Relu", ["h1"], ["h2"]),
                  oh.make_node("MatMul", ["h2", "W3"], ["h3"]), oh.make_node("Add", ["h3", "b3"], ["h3b"]),
                  oh.make_node("Add", ["sum", "h3b"], ["sum2"]),
                  oh.make_node("LayerNormalization", ["sum2", "g"], ["out"])]
        outputs = ["out", "sum2"]
    x = oh.make_tensor_value_info("x", TP.FLOAT, ["batch", "seq", H])
    g = oh.make_graph(nodes, "blk", [x], [oh.make_tensor_value_info(o, TP.FLOAT, None) for o in outputs], inits)
    return oh.make_model(g, opset_imports=[oh.make_opsetid("", 17)])


@pytest.mark.parametrize("variant,want", [("post_ln", 1), ("pre_ln", 2), ("swapped", 2), ("axis1", 0),
                                          ("bias_read_twice", 1)])
def test_fusion(variant, want, oxrt_bin, tmp_path):
    path, out = str(tmp_path / "m.onnx"), str(tmp_path / "opt.onnx")
    onnx.save(_block(variant), path)
    run_cli(oxrt_bin, "optimize", path, out)
    fused = onnx.load(out).graph.node
    n = sum(nd.op_type == "SkipLayerNormalization" for nd in fused)
    assert n == want, f"{n} SkipLayerNormalization nodes, want {want}"
    if variant == "bias_read_twice":  # the bias Add has another reader: it stays, the residual Add is fused
        assert sum(nd.op_type == "Add" for nd in fused) == 1
    feeds = {"x": np.random.default_rng(1).standard_normal((2, 3, H)).astype(np.float32)}
    ref = _ort(open(path, "rb").read(), feeds)
    _close(oxrt.InferenceSession(path).run(None, feeds), ref)
    _close(_ort(open(out, "rb").read(), feeds), ref)
