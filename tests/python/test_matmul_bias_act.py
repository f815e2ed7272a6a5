"""The session-only fusion fuse_matmul_bias_act: MatMul(A, constant W) -> Add(bias) -> GELU, which fuse_gelu turns into
MatMul -> com.microsoft BiasGelu (FastGelu for the tanh form), becomes oxrt.session MatMulBiasAct: the GEMM adds the
bias and applies the GELU in its output pass (likewise MatMul -> [Add(bias) ->] Relu). oxrt with the fusion (the
profile shows MatMulBiasAct alone) and without it (disabled_optimizers) must match ONNX Runtime; a model the session
saves keeps the ONNX Runtime ops; with session.bf16_compute=1 the fused op packs W in bfloat16 and must match the
emulated mode where the CPU has AVX512_BF16 (float32 elsewhere). Shapes take each GEMM path: plain loops (tiny),
matrix-vector (one row), W packed at session creation, and W packed per run (rows unknown)."""
import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
import oxrt  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

PASS = "fuse_matmul_bias_act"
TOL = 1e-5  # as test_fusions.py's float32 GELU patterns


def gelu_model(a_shape, n, form="erf", mm_output=False, seed=0):
    """x [a_shape] @ W [K, n] + bias, then GELU written out element by element (erf or tanh form), or Relu (relu; also
    without the bias: relu_nobias)."""
    rng = np.random.default_rng(seed)
    k = a_shape[-1]
    inits = [numpy_helper.from_array((rng.standard_normal((k, n)) / math.sqrt(k)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "bias")]
    c = {"half": 0.5, "one": 1.0, "sqrt2": math.sqrt(2.0), "s2pi": math.sqrt(2.0 / math.pi), "k3": 0.044715,
         "three": 3.0}
    inits += [numpy_helper.from_array(np.array(v, np.float32), name) for name, v in c.items()]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["mm"]), helper.make_node("Add", ["bias", "mm"], ["z"])]
    if form == "relu_nobias":
        nodes = [nodes[0], helper.make_node("Relu", ["mm"], ["y"])]
    elif form == "relu":
        nodes.append(helper.make_node("Relu", ["z"], ["y"]))
    elif form == "erf":
        nodes += [helper.make_node("Div", ["z", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                  helper.make_node("Add", ["e", "one"], ["p"])]
    else:
        nodes += [helper.make_node("Pow", ["z", "three"], ["z3"]), helper.make_node("Mul", ["z3", "k3"], ["kz3"]),
                  helper.make_node("Add", ["z", "kz3"], ["in"]), helper.make_node("Mul", ["in", "s2pi"], ["t"]),
                  helper.make_node("Tanh", ["t"], ["e"]), helper.make_node("Add", ["e", "one"], ["p"])]
    if form in ("erf", "tanh"):
        nodes += [helper.make_node("Mul", ["z", "p"], ["zp"]), helper.make_node("Mul", ["zp", "half"], ["y"])]
    y_shape = list(a_shape[:-1]) + [n]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)]
    if mm_output:
        outputs.append(helper.make_tensor_value_info("mm", TensorProto.FLOAT, y_shape))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(a_shape))],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def feeds(a_shape, seed=1):
    shape = [2 if isinstance(d, str) else d for d in a_shape]
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    x.flat[:3] = [0.0, -9.0, 7.5]  # GELU's tails
    return {"x": x}


def run_oxrt(model, fd, disable=None, bf16=None, save=None):
    so = oxrt.SessionOptions()
    so.enable_profiling = True
    if bf16:
        so.add_session_config_entry("session.bf16_compute", bf16)
    if save:
        so.optimized_model_filepath = save
    kw = {"disabled_optimizers": [disable]} if disable else {}
    s = oxrt.InferenceSession(model, so, providers=["CPUExecutionProvider"], **kw)
    out = s.run(None, fd)
    ops = [e[1] for e in s._sess.profile_events()]
    return out, ops


def ort_run(model, fd):
    s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return s.run(None, fd)


SHAPES = {"tiny": [2, 5, 24], "one_row": [1, 1, 64], "packed": [2, 17, 64], "rows_unknown": ["N", 17, 64]}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("form", ["erf", "tanh", "relu", "relu_nobias"])
def test_fused_matches_ort(shape, form):
    a_shape = SHAPES[shape]
    n = 40 if shape == "tiny" else 96
    model = gelu_model(a_shape, n, form)
    fd = feeds(a_shape)
    ref = ort_run(model, fd)
    fused, ops = run_oxrt(model, fd)
    plain, plain_ops = run_oxrt(model, fd, disable=PASS)
    unfused = {"erf": "BiasGelu", "tanh": "FastGelu", "relu": "Relu", "relu_nobias": "Relu"}[form]
    assert ops == ["MatMulBiasAct"], ops
    assert "MatMulBiasAct" not in plain_ops and unfused in plain_ops, plain_ops
    for got, what in [(fused, "fused"), (plain, "pass disabled")]:
        assert got[0].shape == ref[0].shape
        np.testing.assert_allclose(got[0], ref[0], rtol=TOL, atol=TOL, err_msg=f"{what} vs onnxruntime")


@pytest.mark.parametrize("form", ["erf", "relu"])
def test_matmul_output_read_elsewhere_not_fused(form):
    """The MatMul's result is also a graph output: it must stay (and be right)."""
    a_shape = SHAPES["packed"]
    model = gelu_model(a_shape, 96, form, mm_output=True)
    fd = feeds(a_shape)
    ref = ort_run(model, fd)
    got, ops = run_oxrt(model, fd)
    assert "MatMulBiasAct" not in ops and ("BiasGelu" if form == "erf" else "Relu") in ops, ops
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=TOL, atol=TOL)


def test_saved_model_keeps_ort_ops(tmp_path):
    """A session that saves its optimized model saves BiasGelu (ONNX Runtime runs it) and still runs fused."""
    a_shape = SHAPES["packed"]
    model = gelu_model(a_shape, 96)
    fd = feeds(a_shape)
    path = str(tmp_path / "opt.onnx")
    got, ops = run_oxrt(model, fd, save=path)
    saved = onnx.load(path)
    types = [(nd.domain, nd.op_type) for nd in saved.graph.node]
    assert ("com.microsoft", "BiasGelu") in types and all(d != "oxrt.session" for d, _ in types), types
    assert "oxrt.session" not in [o.domain for o in saved.opset_import]
    np.testing.assert_allclose(ort_run(path, fd)[0], ort_run(model, fd)[0], rtol=TOL, atol=TOL)
    assert "MatMulBiasAct" in ops, ops
    np.testing.assert_allclose(got[0], ort_run(model, fd)[0], rtol=TOL, atol=TOL)


def test_bf16_compute():
    """bf16 mode 1: W packed in bfloat16 by the fused op's prepare; the emulation rounds A and W of the fused op."""
    a_shape = SHAPES["packed"]
    model = gelu_model(a_shape, 96)
    fd = feeds(a_shape)
    fp32, _ = run_oxrt(model, fd)
    emu, emu_ops = run_oxrt(model, fd, bf16="emulate")
    hw, hw_ops = run_oxrt(model, fd, bf16="1")
    hw_plain, plain_ops = run_oxrt(model, fd, bf16="1", disable=PASS)
    assert "MatMulBiasAct" in emu_ops and "MatMulBiasAct" in hw_ops and "MatMulBiasAct" not in plain_ops
    fp32, emu, hw, hw_plain = fp32[0], emu[0], hw[0], hw_plain[0]
    scale = float(np.abs(fp32).max())
    err = float(np.abs(emu - fp32).max())
    assert 1e-5 * scale < err < 0.05 * scale, err  # bfloat16 inputs: visibly not float32, still close
    if not oxrt._oxrt.bf16_info()["native_kernel"]:
        np.testing.assert_array_equal(hw, fp32)  # the documented fallback: float32
    else:
        assert np.abs(hw - fp32).max() > 1e-5 * scale
        # the same roundings as the emulation's Casts; only the float32 summation order differs
        assert np.abs(hw - emu).max() < 1e-4 * scale
        np.testing.assert_allclose(hw, hw_plain, rtol=1e-5, atol=1e-5 * scale)
