"""Activation fusions of the optimizer (fuse_gelu, fuse_silu): the element-by-element GELU, SiLU and
HardSwish subgraphs that exporters write become one node (com.microsoft Gelu, FastGelu, BiasGelu,
QuickGelu; ai.onnx HardSwish). For each pattern: the fused node appears in the model `oxrt optimize`
writes, that model runs in ONNX Runtime with the original's outputs, and oxrt (optimized, and with the
pass disabled) agrees with ONNX Runtime on the original. Near misses must be left alone."""
import io
import math
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import ort_outputs, oxrt_outputs, run_cli

TOL = {np.float32: 1e-5, np.float16: 2e-3}
NP = {TensorProto.FLOAT: np.float32, TensorProto.FLOAT16: np.float16}
SQRT2 = math.sqrt(2.0)


# ----------------------------------------------------------------------------------------------- helpers
def _oxrt(oxrt_bin, model, feeds, out_dir, disable=None):
    env = {"OXRT_OPT_LEVEL": None}
    if disable:
        env["OXRT_OPT_DISABLE"] = disable
    return oxrt_outputs(oxrt_bin, model, feeds, out_dir, env)


def _close(got, ref, what):
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape and got.dtype == ref.dtype, f"{what}: {got.shape} {got.dtype} vs {ref.shape} {ref.dtype}"
    tol = TOL[ref.dtype.type]
    np.testing.assert_allclose(got.astype(np.float64), ref.astype(np.float64), rtol=tol, atol=tol, err_msg=what)


def _c(name, value, dtype=TensorProto.FLOAT, shape=()):
    return numpy_helper.from_array(np.full(shape, value, dtype=NP[dtype]), name)


def _save(path, nodes, inputs, outputs, inits, opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def _vi(name, dtype=TensorProto.FLOAT, shape=(2, 3, 16)):
    return helper.make_tensor_value_info(name, dtype, list(shape))


def _feeds(dtype=TensorProto.FLOAT, shape=(2, 3, 16), name="x", seed=0):
    # covers the erf/tanh tails, zero and large magnitudes
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    x.flat[:4] = [0.0, -7.5, 9.0, -0.25]
    return {name: x.astype(NP[dtype])}


def _ops(path):
    return [(n.domain or "", n.op_type) for n in onnx.load(path).graph.node]


def _check(oxrt_bin, tmp_path, src, feeds, expect, pass_name):
    """Optimizes src; the optimized model must contain the `expect` ops ((domain, op) pairs, nothing else
    but the listed ones), run in ORT like the original, and oxrt must agree with ORT on the original,
    both optimized and with `pass_name` disabled. Returns the optimized model's path."""
    dst = str(tmp_path / "opt.onnx")
    out = run_cli(oxrt_bin, "optimize", src, dst).stdout
    assert pass_name in out, out
    ops = _ops(dst)
    assert sorted(ops) == sorted(expect), ops
    ref = ort_outputs(src, feeds)
    got_ort = ort_outputs(dst, feeds)
    for name, arr in ref.items():
        _close(got_ort[name], arr, f"onnxruntime on the optimized model, output {name}")
        assert [o.name for o in onnx.load(dst).graph.output] == [o.name for o in onnx.load(src).graph.output]
    opt = _oxrt(oxrt_bin, src, feeds, str(tmp_path / "opt_out"))
    plain = _oxrt(oxrt_bin, src, feeds, str(tmp_path / "plain_out"), disable=pass_name)
    saved = _oxrt(oxrt_bin, dst, feeds, str(tmp_path / "saved_out"))
    for name, arr in ref.items():
        _close(opt[name], arr, f"oxrt optimized vs onnxruntime, output {name}")
        _close(plain[name], arr, f"oxrt without {pass_name} vs onnxruntime, output {name}")
        _close(saved[name], arr, f"oxrt on the saved optimized model vs onnxruntime, output {name}")
    return dst


def _unchanged(oxrt_bin, tmp_path, src, feeds):
    """The optimizer must not fuse anything: same node list, same outputs."""
    dst = str(tmp_path / "opt.onnx")
    run_cli(oxrt_bin, "optimize", src, dst)
    assert _ops(dst) == _ops(src), _ops(dst)
    ref = ort_outputs(src, feeds)
    for name, arr in _oxrt(oxrt_bin, src, feeds, str(tmp_path / "out")).items():
        _close(arr, ref[name], f"oxrt vs onnxruntime, output {name}")


MS = "com.microsoft"


# ----------------------------------------------------------------------------------------- GELU, erf form
def _gelu_erf_nodes(variant, x="x", y="y", dt=TensorProto.FLOAT):
    """torch's erf-form GELU in the given association order; returns (nodes, initializers)."""
    inits = [_c("one", 1.0, dt), _c("half", 0.5, dt)]
    if variant == "mul_rsqrt2":
        inits.append(_c("k", 1.0 / SQRT2, dt))
        head = [helper.make_node("Mul", ["k", x], ["d"])]
    else:
        inits.append(_c("k", SQRT2, dt))
        head = [helper.make_node("Div", [x, "k"], ["d"])]
    add = "Sum" if variant == "onnx_function" else "Add"  # ONNX's Gelu function body uses Sum
    mid = [helper.make_node("Erf", ["d"], ["e"]), helper.make_node(add, ["one", "e"], ["a"])]
    if variant in ("torch", "mul_rsqrt2"):  # (x * a) * 0.5
        tail = [helper.make_node("Mul", [x, "a"], ["m"]), helper.make_node("Mul", ["m", "half"], [y])]
    elif variant in ("half_first", "onnx_function"):  # (x * 0.5) * a, the 0.5 computed first
        tail = [helper.make_node("Mul", ["half", x], ["m"]), helper.make_node("Mul", ["a", "m"], [y])]
    elif variant == "half_on_a":  # x * (a * 0.5)
        tail = [helper.make_node("Mul", ["a", "half"], ["m"]), helper.make_node("Mul", ["m", x], [y])]
    else:
        raise ValueError(variant)
    order = head + tail[:1] + mid + tail[1:] if variant == "half_first" else head + mid + tail
    return order, inits


@pytest.mark.parametrize("variant", ["torch", "mul_rsqrt2", "half_first", "half_on_a", "onnx_function"])
def test_gelu_erf(variant, oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    nodes, inits = _gelu_erf_nodes(variant)
    _save(src, nodes, [_vi("x")], [_vi("y")], inits)
    _check(oxrt_bin, tmp_path, src, _feeds(), [(MS, "Gelu")], "fuse_gelu")


def test_gelu_erf_float16(oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    nodes, inits = _gelu_erf_nodes("torch", dt=TensorProto.FLOAT16)
    _save(src, nodes, [_vi("x", TensorProto.FLOAT16)], [_vi("y", TensorProto.FLOAT16)], inits)
    _check(oxrt_bin, tmp_path, src, _feeds(TensorProto.FLOAT16), [(MS, "Gelu")], "fuse_gelu")


def _bias_model(path, bias_shape=(16,), extra_output=False, x_dims=(2, 3, 8), act="erf"):
    rng = np.random.default_rng(3)
    n = 16
    inits = [numpy_helper.from_array(rng.standard_normal((x_dims[-1], n)).astype(np.float32) * 0.5, "w"),
             numpy_helper.from_array(rng.standard_normal(bias_shape).astype(np.float32), "b")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]), helper.make_node("Add", ["b", "mm"], ["h"])]
    if act == "erf":
        g, gi = _gelu_erf_nodes("torch", x="h")
    else:
        g, gi = _gelu_tanh_nodes("torch", x="h")
    outputs = [_vi("y", shape=(*x_dims[:-1], n))]
    if extra_output:
        outputs.append(_vi("h", shape=(*x_dims[:-1], n)))
    _save(path, nodes + g, [_vi("x", shape=x_dims)], outputs, inits + gi)
    return _feeds(shape=x_dims)


def test_bias_gelu(oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    feeds = _bias_model(src)
    _check(oxrt_bin, tmp_path, src, feeds, [("", "MatMul"), (MS, "BiasGelu")], "fuse_gelu")


def test_fast_gelu_with_bias(oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    feeds = _bias_model(src, act="tanh")
    dst = _check(oxrt_bin, tmp_path, src, feeds, [("", "MatMul"), (MS, "FastGelu")], "fuse_gelu")
    assert len(onnx.load(dst).graph.node[-1].input) == 2  # the bias moved into FastGelu


def test_bias_gelu_near_misses(oxrt_bin, tmp_path):
    # the Add's output is also a graph output: the Add stays, Gelu alone is fused
    src = str(tmp_path / "m.onnx")
    feeds = _bias_model(src, extra_output=True)
    _check(oxrt_bin, tmp_path, src, feeds, [("", "MatMul"), ("", "Add"), (MS, "Gelu")], "fuse_gelu")
    # a one-element bias broadcasts differently from BiasGelu's row: Add stays
    src2 = str(tmp_path / "m2.onnx")
    feeds = _bias_model(src2, bias_shape=(1,))
    d = tmp_path / "b"
    d.mkdir()
    _check(oxrt_bin, d, src2, feeds, [("", "MatMul"), ("", "Add"), (MS, "Gelu")], "fuse_gelu")


@pytest.mark.parametrize("case", ["wrong_sqrt2", "wrong_one", "wrong_half", "extra_reader", "output_in_middle",
                                  "const_rank_too_high", "double"])
def test_gelu_near_misses(case, oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    dt = TensorProto.DOUBLE if case == "double" else TensorProto.FLOAT
    nodes, inits = _gelu_erf_nodes("torch")
    outputs = [_vi("y")]
    if case == "wrong_sqrt2":
        inits[2] = _c("k", 1.5)
    elif case == "wrong_one":
        inits[0] = _c("one", 1.01)
    elif case == "wrong_half":
        inits[1] = _c("half", 0.55)
    elif case == "extra_reader":  # the Erf output also feeds another node
        nodes.append(helper.make_node("Neg", ["e"], ["z"]))
        outputs.append(_vi("z"))
    elif case == "output_in_middle":  # the intermediate (x * a) is a graph output
        outputs.append(_vi("m"))
    elif case == "const_rank_too_high":  # a [1,1,1,1] constant makes the output rank 4
        inits[1] = _c("half", 0.5, shape=(1, 1, 1, 1))
        outputs = [_vi("y", shape=(1, 2, 3, 16))]
    elif case == "double":  # ORT's CPU kernels do not take double: leave it alone
        nodes, inits = _gelu_erf_nodes("torch")
        inits = [numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name) for t in inits]
        outputs = [_vi("y", dt)]
    _save(src, nodes, [_vi("x", dt)], outputs, inits)
    feeds = _feeds()
    if case == "double":
        feeds = {"x": feeds["x"].astype(np.float64)}
        dst = str(tmp_path / "opt.onnx")
        run_cli(oxrt_bin, "optimize", src, dst)
        assert _ops(dst) == _ops(src)
        return
    _unchanged(oxrt_bin, tmp_path, src, feeds)


# ---------------------------------------------------------------------------------------- GELU, tanh form
def _gelu_tanh_nodes(variant, x="x", y="y"):
    inits = [_c("kappa", 0.044715), _c("beta", math.sqrt(2.0 / math.pi)), _c("one", 1.0), _c("half", 0.5),
             _c("three", 3.0)]
    if variant == "torch":  # x * (x * x), as torch exports F.gelu(approximate="tanh")
        cube = [helper.make_node("Mul", [x, x], ["sq"]), helper.make_node("Mul", [x, "sq"], ["cube"])]
    else:  # Pow(x, 3), as the "gelu_new" formula of GPT-2 implementations exports
        cube = [helper.make_node("Pow", [x, "three"], ["cube"])]
    nodes = cube + [
        helper.make_node("Mul", ["kappa", "cube"], ["k"]),
        helper.make_node("Add", [x, "k"], ["s"]),
        helper.make_node("Mul", ["s", "beta"], ["p"]),
        helper.make_node("Tanh", ["p"], ["t"]),
        helper.make_node("Add", ["t", "one"], ["a"]),
        helper.make_node("Mul", [x, "a"], ["m"]),
        helper.make_node("Mul", ["half", "m"], [y]),
    ]
    return nodes, inits


@pytest.mark.parametrize("variant", ["torch", "pow"])
def test_fast_gelu(variant, oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    nodes, inits = _gelu_tanh_nodes(variant)
    _save(src, nodes, [_vi("x")], [_vi("y")], inits)
    _check(oxrt_bin, tmp_path, src, _feeds(), [(MS, "FastGelu")], "fuse_gelu")


def test_fast_gelu_wrong_kappa(oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    nodes, inits = _gelu_tanh_nodes("torch")
    inits[0] = _c("kappa", 0.05)
    _save(src, nodes, [_vi("x")], [_vi("y")], inits)
    _unchanged(oxrt_bin, tmp_path, src, _feeds())


# ------------------------------------------------------------------------------------- SiLU and HardSwish
@pytest.mark.parametrize("order", ["x_first", "sigmoid_first"])
@pytest.mark.parametrize("dt", [TensorProto.FLOAT, TensorProto.FLOAT16])
def test_silu(order, dt, oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    mul_in = ["x", "s"] if order == "x_first" else ["s", "x"]
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", mul_in, ["y"])]
    _save(src, nodes, [_vi("x", dt)], [_vi("y", dt)], [])
    dst = _check(oxrt_bin, tmp_path, src, _feeds(dt), [(MS, "QuickGelu")], "fuse_silu")
    alpha = [a for a in onnx.load(dst).graph.node[0].attribute if a.name == "alpha"]
    assert len(alpha) == 1 and alpha[0].f == 1.0


@pytest.mark.parametrize("case", ["gate_of_other_value", "gate_is_output", "gate_read_twice"])
def test_silu_near_misses(case, oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    outputs = [_vi("y")]
    inputs = [_vi("x")]
    if case == "gate_of_other_value":  # squeeze-excitation: x * Sigmoid(z), z another value
        nodes = [helper.make_node("Sigmoid", ["z"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])]
        inputs.append(_vi("z"))
    else:
        nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])]
        if case == "gate_is_output":
            outputs.append(_vi("s"))
        else:
            nodes.append(helper.make_node("Neg", ["s"], ["z"]))
            outputs.append(_vi("z"))
    _save(src, nodes, inputs, outputs, [])
    feeds = _feeds()
    if case == "gate_of_other_value":
        feeds.update(_feeds(name="z", seed=1))
    _unchanged(oxrt_bin, tmp_path, src, feeds)


def _hardswish_model(path, opset, alpha=1.0 / 6.0):
    nodes = [helper.make_node("HardSigmoid", ["x"], ["s"], alpha=alpha, beta=0.5),
             helper.make_node("Mul", ["x", "s"], ["y"])]
    _save(path, nodes, [_vi("x")], [_vi("y")], [], opset=opset)


def test_hardswish(oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    _hardswish_model(src, 14)
    _check(oxrt_bin, tmp_path, src, _feeds(), [("", "HardSwish")], "fuse_silu")


@pytest.mark.parametrize("case", ["opset13", "alpha"])
def test_hardswish_near_misses(case, oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    if case == "opset13":  # HardSwish does not exist before opset 14
        _hardswish_model(src, 13)
    else:
        _hardswish_model(src, 14, alpha=0.2)
    _unchanged(oxrt_bin, tmp_path, src, _feeds())


# ------------------------------------------------------------------------------- torch-exported modules
def _export(module, path, shape=(2, 5, 24), opset=13):
    torch = pytest.importorskip("torch")
    f = io.BytesIO()
    torch.onnx.export(module, torch.zeros(shape), f, opset_version=opset, input_names=["x"], output_names=["y"])
    onnx.save(onnx.load_from_string(f.getvalue()), path)
    return _feeds(shape=shape)


def test_torch_modules(oxrt_bin, tmp_path):
    torch = pytest.importorskip("torch")

    class Mlp(torch.nn.Module):  # transformer feed-forward block: Linear -> GELU -> Linear, then SiLU
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.a = torch.nn.Linear(24, 32)
            self.b = torch.nn.Linear(32, 24)

        def forward(self, x):
            h = torch.nn.functional.gelu(self.a(x))
            t = torch.nn.functional.gelu(self.b(h), approximate="tanh")
            return torch.nn.functional.silu(t) + 0.5 * t * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) *
                                                                            (t + 0.044715 * torch.pow(t, 3.0))))

    src = str(tmp_path / "mlp.onnx")
    feeds = _export(Mlp().eval(), src)
    dst = str(tmp_path / "opt.onnx")
    run_cli(oxrt_bin, "optimize", src, dst)
    ops = [op for _, op in _ops(dst)]
    assert ops.count("BiasGelu") == 1 and ops.count("FastGelu") == 2 and ops.count("QuickGelu") == 1, ops
    assert not {"Erf", "Tanh", "Sigmoid", "Pow"} & set(ops), ops
    ref = ort_outputs(src, feeds)
    _close(ort_outputs(dst, feeds)["y"], ref["y"], "onnxruntime on the optimized model")
    _close(_oxrt(oxrt_bin, src, feeds, str(tmp_path / "o"))["y"], ref["y"], "oxrt vs onnxruntime")


def test_torch_hardswish_opset14(oxrt_bin, tmp_path):
    torch = pytest.importorskip("torch")

    class HS(torch.nn.Module):
        def forward(self, x):
            return x * torch.nn.functional.hardsigmoid(x)

    src = str(tmp_path / "hs.onnx")
    feeds = _export(HS(), src, opset=14)
    _check(oxrt_bin, tmp_path, src, feeds, [("", "HardSwish")], "fuse_silu")


# ------------------------------------------------------------------------------ contrib-op kernels alone
def _ms_model(path, op, dt, with_bias=False, **attrs):
    inputs = [_vi("x", dt, ("n", "m", 16))]
    names = ["x"]
    if with_bias:
        inputs.append(_vi("b", dt, ("k",)))
        names.append("b")
    node = helper.make_node(op, names, ["y"], domain=MS, **attrs)
    graph = helper.make_graph([node], "g", inputs, [_vi("y", dt, ("n", "m", 16))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    onnx.save(model, path)


@pytest.mark.parametrize("op,with_bias,attrs", [("Gelu", False, {}), ("FastGelu", False, {}), ("FastGelu", True, {}),
                                                ("BiasGelu", True, {}), ("QuickGelu", False, {}),
                                                ("QuickGelu", False, {"alpha": -0.5})])
@pytest.mark.parametrize("dt", [TensorProto.FLOAT, TensorProto.FLOAT16])
def test_contrib_kernels_match_onnxruntime(op, with_bias, attrs, dt, oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    _ms_model(src, op, dt, with_bias, **attrs)
    feeds = _feeds(dt, shape=(3, 700, 16))  # several parallel chunks, rows of the bias across chunk borders
    if with_bias:
        feeds["b"] = np.linspace(-1, 1, 16).astype(NP[dt])
    ref = ort_outputs(src, feeds)
    for isa in ["portable", "avx2", "avx512"]:
        os.environ["OXRT_ISA"] = isa
        try:
            got = _oxrt(oxrt_bin, src, feeds, str(tmp_path / isa))
        finally:
            del os.environ["OXRT_ISA"]
        _close(got["y"], ref["y"], f"{op} ({isa})")


def test_contrib_kernel_errors(oxrt_bin, tmp_path):
    src = str(tmp_path / "m.onnx")
    _ms_model(src, "BiasGelu", TensorProto.FLOAT, True)
    d = str(tmp_path / "in")
    os.makedirs(d)
    np.save(os.path.join(d, "x.npy"), np.zeros((2, 3, 16), np.float32))
    np.save(os.path.join(d, "b.npy"), np.zeros((15,), np.float32))  # wrong length
    p = run_cli(oxrt_bin, "run", src, "--input", f"x={d}/x.npy", "--input", f"b={d}/b.npy", check=False)
    assert p.returncode != 0 and "BiasGelu" in p.stderr and "last dimension" in p.stderr, p.stderr


def test_python_optimized_model_path(tmp_path):
    """The Python binding's SessionOptions.optimized_model_filepath writes the fused model too."""
    oxrt = pytest.importorskip("oxrt")
    src = str(tmp_path / "m.onnx")
    nodes, inits = _gelu_erf_nodes("torch")
    _save(src, nodes, [_vi("x")], [_vi("y")], inits)
    so = oxrt.SessionOptions()
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    sess = oxrt.InferenceSession(src, so)
    feeds = _feeds()
    got = sess.run(None, feeds)[0]
    assert _ops(str(tmp_path / "opt.onnx")) == [(MS, "Gelu")]
    _close(got, ort_outputs(src, feeds)["y"], "oxrt Python vs onnxruntime")
    _close(ort_outputs(str(tmp_path / "opt.onnx"), feeds)["y"], got, "onnxruntime on the saved model")
