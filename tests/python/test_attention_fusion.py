"""fuse_attention: exported BERT/GPT-2-like attention becomes com.microsoft MultiHeadAttention where the pattern is
proven, and nowhere else. Checks oxrt optimized == oxrt unoptimized == ONNX Runtime, and that the model saved by
`oxrt optimize` runs in ONNX Runtime with the same outputs."""
import os

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto as TP
from onnx import helper as oh
from onnx import numpy_helper as nh

import generate
import oxrt
from conftest import run_cli

RTOL, ATOL = 1e-4, 1e-5


def _ort(model_bytes, feeds):
    so = onnxruntime.SessionOptions()
    so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onnxruntime.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"]).run(None, feeds)


def _oxrt(model_bytes, feeds, optimize):
    so = oxrt.SessionOptions()
    if not optimize:
        so.graph_optimization_level = oxrt.GraphOptimizationLevel.ORT_DISABLE_ALL
    return oxrt.InferenceSession(model_bytes, so).run(None, feeds)


def _check(model_path, feeds, oxrt_bin, tmp_path, want_fused):
    """Optimizes with the CLI, counts fused nodes, compares the four ways of running the model."""
    out = str(tmp_path / "opt.onnx")
    run_cli(oxrt_bin, "optimize", model_path, out)
    fused = [n for n in onnx.load(out).graph.node if n.op_type == "MultiHeadAttention"]
    assert len(fused) == want_fused, f"{len(fused)} MultiHeadAttention nodes, want {want_fused}"
    data = open(model_path, "rb").read()
    ref = _ort(data, feeds)
    for got in (_oxrt(data, feeds, True), _oxrt(data, feeds, False), _ort(open(out, "rb").read(), feeds)):
        for r, g in zip(ref, got):
            np.testing.assert_allclose(g, r, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name,layers", [("bert_small", 2), ("gpt2_small", 2)])
def test_exported_transformer(name, layers, model_dir, oxrt_bin, tmp_path):
    path = generate.generate(name, model_dir, small=True)
    feeds = dict(np.load(os.path.join(model_dir, name + ".inputs.npz")))
    _check(path, feeds, oxrt_bin, tmp_path, layers)


# --------------------------------------------------------------- hand-built graphs with near misses
B, S, H, D = 2, 7, 2, 4
C = H * D


def _attention(variant=""):
    """x [B,S,C] -> packed QKV MatMul + bias -> Split -> heads -> attention with a [B,1,1,S] additive mask."""
    rng = np.random.default_rng(1)
    inits = [nh.from_array(rng.standard_normal((C, 3 * C)).astype(np.float32), "W"),
             nh.from_array(rng.standard_normal(3 * C).astype(np.float32), "bqkv"),
             nh.from_array(np.array([C, C, C], np.int64), "split"),
             nh.from_array(np.array([0, 0, H, -1], np.int64), "shp4"),
             nh.from_array(np.array([0, 0, C], np.int64), "shp3"),
             nh.from_array(np.array(np.sqrt(D) if variant != "scale" else 3.0, np.float32), "sq")]
    nodes = [oh.make_node("MatMul", ["x", "W"], ["xw"]), oh.make_node("Add", ["xw", "bqkv"], ["qkv"]),
             oh.make_node("Split", ["qkv", "split"], ["q3", "k3", "v3"], axis=2)]
    shp4 = "shp4"
    if variant == "reshape":  # target shape from a graph input: not proven
        shp4 = "dyn_shape"
    for t in "qkv":
        nodes.append(oh.make_node("Reshape", [t + "3", shp4], [t + "4"]))
    nodes += [oh.make_node("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
              oh.make_node("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
              oh.make_node("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3]),
              oh.make_node("MatMul", ["qh", "kt"], ["s0"]), oh.make_node("Div", ["s0", "sq"], ["s1"]),
              oh.make_node("Add", ["s1", "mask"], ["s2"]),
              oh.make_node("Softmax", ["s2"], ["p"], axis=2 if variant == "axis" else -1),
              oh.make_node("MatMul", ["p", "vh"], ["c4"]), oh.make_node("Transpose", ["c4"], ["c3"], perm=[0, 2, 1, 3]),
              oh.make_node("Reshape", ["c3", "shp3"], ["y"])]
    outs = [oh.make_tensor_value_info("y", TP.FLOAT, None)]
    if variant == "scores_read":  # an intermediate read elsewhere: must stay
        outs.append(oh.make_tensor_value_info("s2", TP.FLOAT, None))
    ins = [oh.make_tensor_value_info("x", TP.FLOAT, [B, S, C]), oh.make_tensor_value_info("mask", TP.FLOAT, [B, 1, 1, S])]
    if variant == "reshape":
        ins.append(oh.make_tensor_value_info("dyn_shape", TP.INT64, [4]))
    g = oh.make_graph(nodes, "attn", ins, outs, inits)
    m = oh.make_model(g, opset_imports=[oh.make_opsetid("", 17)])
    m.ir_version = 8
    rng = np.random.default_rng(2)
    mask = np.zeros((B, 1, 1, S), np.float32)
    mask[1, 0, 0, -2:] = -10000.0
    feeds = {"x": rng.standard_normal((B, S, C)).astype(np.float32), "mask": mask}
    if variant == "reshape":
        feeds["dyn_shape"] = np.array([0, 0, H, -1], np.int64)
    return m, feeds


@pytest.mark.parametrize("variant,want", [("", 1), ("scale", 1), ("scores_read", 0), ("reshape", 0), ("axis", 0)])
def test_hand_built(variant, want, oxrt_bin, tmp_path):
    m, feeds = _attention(variant)
    path = str(tmp_path / "m.onnx")
    onnx.save(m, path)
    _check(path, feeds, oxrt_bin, tmp_path, want)
