"""Float16 Conv followed by Relu or Clip is fused into FusedConv (fuse_conv_activation), and the fused result is
bit-identical to the two nodes run separately: FusedConv rounds to half once after the activation, and rounding
commutes with Relu and with a Clip whose bounds are half values. Other activations stay separate on float16."""
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
oxrt = pytest.importorskip("oxrt")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def conv_model(act, rng, opset=17, groups=1, bias=True):
    c_in, c_out = 8, 16
    w = (rng.standard_normal((c_out, c_in // groups, 3, 3)) * 0.5).astype(np.float16)
    inits = [numpy_helper.from_array(w, "W")]
    ins = ["X", "W"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(c_out).astype(np.float16), "B"))
        ins.append("B")
    nodes = [helper.make_node("Conv", ins, ["C"], pads=[1, 1, 1, 1], group=groups)]
    if act == "Clip":
        inits += [numpy_helper.from_array(np.array(0, np.float16), "lo"),
                  numpy_helper.from_array(np.array(6, np.float16), "hi")]
        nodes.append(helper.make_node("Clip", ["C", "lo", "hi"], ["Y"]))
    elif act == "ClipMaxOnly":
        inits.append(numpy_helper.from_array(np.array(1.5, np.float16), "hi"))
        nodes.append(helper.make_node("Clip", ["C", "", "hi"], ["Y"]))
    else:
        nodes.append(helper.make_node(act, ["C"], ["Y"]))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT16, [1, c_in, 9, 11])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT16, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def op_types_after_optimize(oxrt_bin, model, tmp_path):
    src, dst = str(tmp_path / "m.onnx"), str(tmp_path / "opt.onnx")
    onnx.save(model, src)
    subprocess.run([oxrt_bin, "optimize", src, dst], check=True, capture_output=True)
    return [n.op_type for n in onnx.load(dst).graph.node]


@pytest.mark.parametrize("act", ["Relu", "Clip", "ClipMaxOnly"])
@pytest.mark.parametrize("groups", [1, 8])
def test_fp16_conv_relu_clip_fused_and_bit_identical(oxrt_bin, act, groups, tmp_path, monkeypatch):
    monkeypatch.setenv("OXRT_WIDEN_FLOAT16", "0")  # the float16 FusedConv itself (sessions widen otherwise)
    rng = np.random.default_rng(5 + groups)
    model = conv_model(act, rng, groups=groups)
    assert op_types_after_optimize(oxrt_bin, model, tmp_path) == ["FusedConv"]
    x = (rng.standard_normal((1, 8, 9, 11)) * 3).astype(np.float16)
    x.flat[:4] = [np.inf, -np.inf, 0.0, -0.0]
    data = model.SerializeToString()
    fused = oxrt.InferenceSession(data).run(None, {"X": x})[0]
    apart = oxrt.InferenceSession(data, disabled_optimizers=["fuse_conv_activation"]).run(None, {"X": x})[0]
    assert fused.dtype == np.float16
    np.testing.assert_array_equal(fused.view(np.uint16), apart.view(np.uint16))


@pytest.mark.parametrize("act", ["Sigmoid", "Tanh", "LeakyRelu"])
def test_fp16_inexact_activations_stay_separate(oxrt_bin, act, tmp_path):
    ops = op_types_after_optimize(oxrt_bin, conv_model(act, np.random.default_rng(1)), tmp_path)
    assert ops == ["Conv", act]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_relu_lets_nan_through_like_onnxruntime(dtype):
    """Relu is max(0, x): NaN stays NaN (as in ONNX Runtime and in FusedConv's output pass, which the fusion above
    must match bit for bit)."""
    ort = pytest.importorskip("onnxruntime")
    t = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", t, [6])],
                          [helper.make_tensor_value_info("y", t, [6])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, -1.5, 2.0], dtype)
    got = oxrt.InferenceSession(m).run(None, {"x": x})[0]
    want = ort.InferenceSession(m, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])
