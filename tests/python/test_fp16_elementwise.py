"""float16 element-wise ops (unary and broadcast binary) against their float32 twin: oxrt computes float16 through
float32 a block at a time (bulk conversions, F16C where the CPU has it). The result must equal widening each half
exactly, running the float32 op, and rounding to nearest even (numpy's float16 cast) -- bit for bit, on random bit
patterns that include NaN, infinities and subnormals, with the F16C path and with OXRT_ISA=portable. Sessions
widen float16 graphs to float32 (test_fp16_widen.py); OXRT_WIDEN_FLOAT16=0 keeps the float16 kernels under test
here (subgraph bodies still run them)."""
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from conftest import run_cli  # noqa: E402

MS_OPS = {"QuickGelu", "FastGelu", "Gelu"}  # com.microsoft activations (ms_activation.h), same block conversions
UNARY = ["QuickGelu", "FastGelu", "Gelu", "Relu", "Abs", "Neg", "Sigmoid", "Tanh", "Exp", "Sqrt", "Floor", ("LeakyRelu", {"alpha": 0.1})]
# (op, shape of A, shape of B): lengths above the 512-element block, every broadcast kind of the driver
BINARY = [
    ("Add", (3, 1, 5, 700), (4, 1, 700)),
    ("Sub", (2, 1300), (1300,)),
    ("Mul", (2, 1300), (2, 1)),
    ("Div", (1, 1030), ()),
    ("Add", (), (3, 1029)),
    ("Max", (2, 3, 600), (2, 3, 600)),
    ("Pow", (5, 300), (300,)),
    ("PRelu", (2, 3, 40, 40), (3, 1, 1)),
]


def random_half(rng, shape):
    """Random bit patterns: every class of half (NaN, +-inf, subnormals, zeros) shows up."""
    bits = rng.integers(0, 1 << 16, size=shape, dtype=np.uint32).astype(np.uint16)
    flat = bits.reshape(-1)
    if flat.size > 8:
        flat[:8] = [0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x0001, 0x83FF, 0x7D01]  # +-0, +-inf, NaNs, subnormals
    return bits.view(np.float16)


def save_model(path, op, attrs, shapes, elem):
    names = ["A", "B"][: len(shapes)]
    inputs = [helper.make_tensor_value_info(n, elem, list(s)) for n, s in zip(names, shapes)]
    domain = "com.microsoft" if op in MS_OPS else ""
    node = helper.make_node(op, names, ["Y"], domain=domain, **attrs)
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("Y", elem, None)])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    onnx.save(model, path)


def run_model(oxrt_bin, tmp, tag, op, attrs, arrays, isa):
    elem = TensorProto.FLOAT16 if arrays[0].dtype == np.float16 else TensorProto.FLOAT
    model = os.path.join(tmp, f"{tag}.onnx")
    save_model(model, op, attrs, [a.shape for a in arrays], elem)
    os.makedirs(os.path.join(tmp, tag), exist_ok=True)
    args = ["run", model, "--threads", "1", "--output-dir", os.path.join(tmp, tag)]
    for name, a in zip(["A", "B"], arrays):
        f = os.path.join(tmp, f"{tag}_{name}.npy")
        np.save(f, a)
        args += ["--input", f"{name}={f}"]
    run_cli(oxrt_bin, *args, env={"OXRT_ISA": isa, "OXRT_WIDEN_FLOAT16": "0"})
    return np.load(os.path.join(tmp, tag, "Y.npy"))


def check_case(oxrt_bin, tmp, op, attrs, halves, isa):
    got = run_model(oxrt_bin, tmp, "h", op, attrs, halves, isa)
    ref32 = run_model(oxrt_bin, tmp, "f", op, attrs, [h.astype(np.float32) for h in halves], isa)
    with np.errstate(over="ignore"):
        want = ref32.astype(np.float16)  # round to nearest even
    assert got.dtype == np.float16 and got.shape == want.shape
    g, w = got.view(np.uint16), want.view(np.uint16)
    nan = np.isnan(want)
    # NaN: numpy's cast keeps a signalling payload where oxrt quiets it; NaN-ness and sign must agree
    assert np.array_equal(np.isnan(got), nan), f"{op}: NaN positions differ"
    assert np.array_equal(g[nan] >> 15, w[nan] >> 15), f"{op}: NaN signs differ"
    bad = np.flatnonzero((g != w) & ~nan)
    assert bad.size == 0, f"{op}: {bad.size} values differ, first at {bad[0]}: 0x{g.flat[bad[0]]:04x} vs 0x{w.flat[bad[0]]:04x}"


@pytest.mark.parametrize("isa", ["avx512", "portable"])
@pytest.mark.parametrize("case", UNARY, ids=lambda c: c if isinstance(c, str) else c[0])
def test_fp16_unary_matches_float32_twin(oxrt_bin, tmp_path, case, isa):
    op, attrs = (case, {}) if isinstance(case, str) else case
    rng = np.random.default_rng(sum(map(ord, op)))
    check_case(oxrt_bin, str(tmp_path), op, attrs, [random_half(rng, (3, 1100))], isa)


@pytest.mark.parametrize("isa", ["avx512", "portable"])
@pytest.mark.parametrize("case", BINARY, ids=lambda c: f"{c[0]}-{len(c[1])}-{len(c[2])}")
def test_fp16_binary_broadcast_matches_float32_twin(oxrt_bin, tmp_path, case, isa):
    op, sa, sb = case
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    check_case(oxrt_bin, str(tmp_path), op, {}, [random_half(rng, sa), random_half(rng, sb)], isa)


@pytest.mark.parametrize("isa", ["avx512", "portable"])
@pytest.mark.parametrize("op", ["ReduceMean", "ReduceMax", "ReduceL1"])
def test_fp16_reduce_matches_exact_sum(oxrt_bin, tmp_path, op, isa):
    """float16 reductions widen in blocks; a sum of 3 halves is exact in double, so the expected value is
    order-free: numpy's float64 result rounded once to float16 (nearest even), as oxrt's double -> float16 does."""
    rng = np.random.default_rng(7)
    x = random_half(rng, (3, 2400))
    got = run_model(oxrt_bin, str(tmp_path), "h", op, {"axes": [0], "keepdims": 0}, [x], isa)
    x64 = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        ref = {"ReduceMean": x64.mean(0), "ReduceMax": x64.max(0), "ReduceL1": np.abs(x64).sum(0)}[op]
        want = ref.astype(np.float16)
    assert got.dtype == np.float16 and got.shape == want.shape
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    assert np.array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan]), (got, want)


@pytest.mark.parametrize("isa", ["avx512", "portable"])
@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_fp16_resize_matches_float32_twin(oxrt_bin, tmp_path, mode, isa):
    """Resize widens float16 and narrows its result in blocks: equal to the float32 twin rounded to nearest even."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((1, 3, 20, 30)) * 100).astype(np.float16)
    results = []
    for elem, xs in ((TensorProto.FLOAT16, x), (TensorProto.FLOAT, x.astype(np.float32))):
        scales = numpy_helper.from_array(np.array([1, 1, 2.0, 1.5], np.float32), "scales")
        node = helper.make_node("Resize", ["X", "", "scales"], ["Y"], mode=mode)
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", elem, list(x.shape))],
                                  [helper.make_tensor_value_info("Y", elem, None)], initializer=[scales])
        tag = "h" if elem == TensorProto.FLOAT16 else "f"
        model, out, inp = (os.path.join(str(tmp_path), f"{tag}{s}") for s in (".onnx", "", ".npy"))
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), model)
        os.makedirs(out, exist_ok=True)
        np.save(inp, xs)
        run_cli(oxrt_bin, "run", model, "--threads", "1", "--output-dir", out, "--input", f"X={inp}",
                env={"OXRT_ISA": isa, "OXRT_WIDEN_FLOAT16": "0"})
        results.append(np.load(os.path.join(out, "Y.npy")))
    got, want = results[0], results[1].astype(np.float16)
    assert got.dtype == np.float16 and got.shape == (1, 3, 40, 45)
    assert np.array_equal(got.view(np.uint16), want.view(np.uint16))
