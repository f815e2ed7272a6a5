"""oxrt.quantization / `oxrt quantize`: files oxrt writes run in ONNX Runtime with the same results as in oxrt,
and stay within a quantization tolerance of the float model (digits CNN from examples/, a small MLP)."""
import os
import shutil
import subprocess

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
import oxrt  # noqa: E402
from oxrt.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,  # noqa: E402
                               quantize_dynamic, quantize_static)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "examples", "digits")


@pytest.fixture(scope="module")
def digits():
    return os.path.join(DIGITS, "model.onnx"), np.load(os.path.join(DIGITS, "test_x.npy")), np.load(
        os.path.join(DIGITS, "test_y.npy"))


class Reader(CalibrationDataReader):
    def __init__(self, x, bs=32, n=128):
        self.batches = iter([{"image": x[i:i + bs]} for i in range(0, n, bs)])

    def get_next(self):
        return next(self.batches, None)


def ort_run(path, x, optimize=True):
    so = ort.SessionOptions()
    if not optimize:  # the QDQ graph as written, without ORT's integer fusions
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]


def ox_run(path, x):
    return oxrt.InferenceSession(path).run(None, {"image": x})[0]


CASES = [  # (static?, format, per_channel)
    (False, QuantFormat.QOperator, False),
    (False, QuantFormat.QOperator, True),
    (True, QuantFormat.QDQ, False),
    (True, QuantFormat.QDQ, True),
    (True, QuantFormat.QOperator, True),
]


@pytest.mark.parametrize("static,fmt,per_channel", CASES)
def test_digits_oxrt_quantized_runs_in_ort(tmp_path, digits, static, fmt, per_channel):
    model, x, y = digits
    out = str(tmp_path / "q.onnx")
    # reduce_range: 7-bit weights, so ORT's AVX2 u8s8 kernels (saturating int16 pairs) are exact too
    if static:
        quantize_static(model, out, Reader(x), quant_format=fmt, per_channel=per_channel, reduce_range=True,
                        activation_type=QuantType.QUInt8)
    else:
        quantize_dynamic(model, out, per_channel=per_channel, reduce_range=True)
    ref = ort_run(model, x)
    a, b = ort_run(out, x), ox_run(out, x)
    # both runtimes compute the same integer arithmetic: equal up to float rounding of the scales
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-3 * np.abs(ref).max())
    agree = (a.argmax(1) == ref.argmax(1)).mean()
    assert agree >= 0.97, agree
    assert (b.argmax(1) == y).mean() >= 0.95
    assert np.abs(b - ref).max() < 0.15 * np.abs(ref).max()
    # an 8-bit model really: integer weights, quantization ops
    import onnx
    m = onnx.load(out)
    ops = {n.op_type for n in m.graph.node}
    assert ops & {"DequantizeLinear", "MatMulInteger", "ConvInteger", "QLinearConv"}, ops
    assert any(t.data_type in (2, 3) for t in m.graph.initializer)


def test_static_qdq_matches_ort_unfused_full_range(tmp_path, digits):
    """Full 8-bit range (where 16-bit pair sums could saturate): oxrt equals ORT's fused execution of the QDQ graph
    and its reference (unfused) execution but for rounding ties. An intermediate value on a tie between two 8-bit
    steps may round either way when a QuantizeLinear follows a float product or the integer kernel's requantization;
    ORT's own fused and unfused runs differ there too (with the scales calibrated on this build: 9 of 3600 outputs,
    by one step, 0.0108). Saturation would be off on many outputs, by far more."""
    model, x, _ = digits
    out = str(tmp_path / "q.onnx")
    quantize_static(model, out, Reader(x), per_channel=True, activation_type=QuantType.QUInt8,
                    calibrate_method=CalibrationMethod.Percentile)
    ox, ref = ox_run(out, x), ort_run(out, x, optimize=False)
    np.testing.assert_allclose(ox, ort_run(out, x), rtol=0, atol=1e-4)
    off = np.abs(ox - ref) > 1e-4
    assert off.mean() <= 0.01 and np.abs(ox - ref).max() <= 0.01 * np.abs(ref).max(), (off.sum(), np.abs(ox - ref).max())


def test_entropy_and_int8_activations(tmp_path, digits):
    model, x, _ = digits
    out = str(tmp_path / "q.onnx")
    quantize_static(model, out, Reader(x), activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.Entropy, reduce_range=True)
    ref, b = ort_run(model, x), ox_run(out, x)
    np.testing.assert_allclose(b, ort_run(out, x), rtol=0, atol=1e-3 * np.abs(ref).max())
    assert (b.argmax(1) == ref.argmax(1)).mean() >= 0.95


def test_exclude_nodes_and_op_types(tmp_path, digits):
    import onnx
    model, x, _ = digits
    m = onnx.load(model)
    conv_names = [n.name for n in m.graph.node if n.op_type == "Conv"]
    out = str(tmp_path / "q.onnx")
    quantize_dynamic(model, out, op_types_to_quantize=["Conv", "Gemm"], nodes_to_exclude=conv_names[:1])
    q = onnx.load(out)
    assert conv_names[0] in [n.name for n in q.graph.node if n.op_type == "Conv"]  # left in float
    assert sum(n.op_type == "ConvInteger" for n in q.graph.node) == len(conv_names) - 1
    np.testing.assert_allclose(ox_run(out, x), ort_run(out, x), rtol=0, atol=0.05)


def test_ort_quantized_model_runs_in_oxrt(tmp_path, digits):
    """The other direction: onnxruntime.quantization's file, oxrt against ORT."""
    oq = pytest.importorskip("onnxruntime.quantization")
    model, x, _ = digits

    class R(oq.CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"image": x[i:i + 32]} for i in range(0, 128, 32)])

        def get_next(self):
            return next(self.it, None)

    out = str(tmp_path / "ort_q.onnx")
    oq.quantize_static(model, out, R(), quant_format=oq.QuantFormat.QDQ, per_channel=True, reduce_range=True)
    np.testing.assert_allclose(ox_run(out, x), ort_run(out, x), rtol=0, atol=0.05)


def test_matmul_mlp_uint8_weights(tmp_path):
    """Gemm/MatMul with uint8 (asymmetric) weights, both formats, on a small MLP built with onnx.helper."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    w1, b1 = rng.standard_normal((16, 32)).astype(np.float32), rng.standard_normal(32).astype(np.float32)
    w2 = rng.standard_normal((32, 4)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["image", "w1", "b1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["y"])], "mlp",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"), numpy_helper.from_array(w2, "w2")])
    path = str(tmp_path / "mlp.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = rng.standard_normal((64, 16)).astype(np.float32)
    ref = ort_run(path, x)
    for fmt in (QuantFormat.QDQ, QuantFormat.QOperator):
        out = str(tmp_path / f"mlp_{fmt}.onnx")
        quantize_static(path, out, Reader(x, 16, 64), quant_format=fmt, weight_type=QuantType.QUInt8,
                        activation_type=QuantType.QUInt8, reduce_range=True)
        a, b = ort_run(out, x), ox_run(out, x)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-3 * np.abs(ref).max())
        assert np.abs(b - ref).max() < 0.1 * np.abs(ref).max()


def oxrt_cli():
    if os.environ.get("OXRT_CLI"):
        return os.environ["OXRT_CLI"]
    for d in ("build-quanttools", "build"):
        p = os.path.join(ROOT, d, "oxrt")
        if os.path.exists(p):
            return p
    return shutil.which("oxrt")


def test_cli_quantize_with_calibration_dir(tmp_path, digits):
    exe = oxrt_cli()
    if not exe:
        pytest.skip("oxrt command not built")
    model, x, _ = digits
    calib = tmp_path / "calib"
    calib.mkdir()
    np.save(calib / "image.npy", x[:96])
    out = str(tmp_path / "q.onnx")
    r = subprocess.run([exe, "quantize", model, out, "--mode", "static", "--format", "qdq", "--per-channel",
                        "--reduce-range", "--calibration", str(calib), "--batch-size", "32", "--progress"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "3/3 batches" in r.stderr  # the progress bar over calibration batches
    ref = ort_run(model, x)
    np.testing.assert_allclose(ox_run(out, x), ort_run(out, x), rtol=0, atol=1e-3 * np.abs(ref).max())
    r = subprocess.run([exe, "quantize", model, out, "--mode", "static"], capture_output=True, text=True)
    assert r.returncode == 2 and "--calibration" in r.stderr


def _act_ops_model(path):
    """Conv+Relu, then every activation op type static QDQ covers beyond Conv/MatMul/Gemm, on one [1, 8, 8, 8]
    stream: Add, Mul, Concat, MaxPool, AveragePool, Sigmoid, LeakyRelu, Resize, Transpose, Reshape, Split,
    Squeeze/Unsqueeze, Gather, Clip, GlobalAveragePool, Flatten, Softmax."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(5)
    c = lambda name, a: numpy_helper.from_array(np.asarray(a), name)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Sigmoid", ["r"], ["sg"]),
        helper.make_node("Mul", ["r", "sg"], ["m"]),
        helper.make_node("LeakyRelu", ["x8"], ["lr"], alpha=0.1),
        helper.make_node("Add", ["m", "lr"], ["a0"]),
        helper.make_node("Relu", ["a0"], ["a"]),  # a residual's Relu: folded into the Add's output quantization
        helper.make_node("MaxPool", ["a"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("AveragePool", ["a"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Concat", ["mp", "ap"], ["cat"], axis=1),
        helper.make_node("Resize", ["cat", "", "scales"], ["rs"], mode="nearest"),
        helper.make_node("Transpose", ["rs"], ["t"], perm=[0, 1, 3, 2]),
        helper.make_node("Split", ["t", "split"], ["s0", "s1"], axis=1),
        helper.make_node("Reshape", ["s0", "shape"], ["rh"]),
        helper.make_node("Unsqueeze", ["rh", "ax0"], ["us"]),
        helper.make_node("Squeeze", ["us", "ax0"], ["sq"]),
        helper.make_node("Gather", ["sq", "idx"], ["ga"], axis=1),
        helper.make_node("Clip", ["s1", "lo", "hi"], ["cl"]),
        helper.make_node("GlobalAveragePool", ["cl"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["fl"]),
        helper.make_node("Softmax", ["fl"], ["y2"], axis=1),
        helper.make_node("Identity", ["ga"], ["y1"]),
    ]
    inits = [c("w", (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32)),
             c("b", (rng.standard_normal(8) * 0.1).astype(np.float32)),
             c("scales", np.array([1, 1, 2, 2], np.float32)), c("split", np.array([8, 8], np.int64)),
             c("shape", np.array([1, 8, 64], np.int64)), c("ax0", np.array([0], np.int64)),
             c("idx", np.array([0, 3, 5], np.int64)), c("lo", np.float32(0)), c("hi", np.float32(1.5))]
    g = helper.make_graph(nodes, "acts", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8]),
                                          helper.make_tensor_value_info("x8", TensorProto.FLOAT, [1, 8, 8, 8])],
                          [helper.make_tensor_value_info("y1", TensorProto.FLOAT, [1, 8, 3]),
                           helper.make_tensor_value_info("y2", TensorProto.FLOAT, [1, 8])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return path


ACT_OPS = ["Add", "Mul", "Concat", "MaxPool", "AveragePool", "Sigmoid", "LeakyRelu", "Resize", "Transpose",
           "Reshape", "Split", "Unsqueeze", "Squeeze", "Gather", "Clip", "GlobalAveragePool", "Flatten", "Softmax"]


@pytest.mark.parametrize("act", [QuantType.QUInt8, QuantType.QInt8])
def test_static_qdq_activation_ops_match_ort(tmp_path, act):
    """Every activation op type reads dequantized 8-bit values and writes a quantized one; Relu after Conv is folded;
    the file runs in ORT and oxrt with the same results, near the float model."""
    import onnx
    model = _act_ops_model(str(tmp_path / "acts.onnx"))
    rng = np.random.default_rng(6)
    feeds = lambda: {"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32),  # noqa: E731
                     "x8": rng.standard_normal((1, 8, 8, 8)).astype(np.float32)}

    class R(CalibrationDataReader):
        def __init__(self):
            self.it = iter([feeds() for _ in range(8)])

        def get_next(self):
            return next(self.it, None)

    out = str(tmp_path / "q.onnx")
    quantize_static(model, out, R(), quant_format=QuantFormat.QDQ, activation_type=act, weight_type=QuantType.QInt8)
    g = onnx.load(out).graph
    producer = {o: n for n in g.node for o in n.output}
    ops = [n.op_type for n in g.node]
    assert "Relu" not in ops, ops  # folded into the Conv's and the Add's output quantization
    for n in g.node:
        if n.op_type in ACT_OPS:
            p = producer.get(n.input[0])
            assert p is not None and p.op_type == "DequantizeLinear", (n.op_type, n.input[0])
            readers = [r.op_type for r in g.node if n.output[0] in r.input]
            assert readers and set(readers) == {"QuantizeLinear"}, (n.op_type, readers)
    assert {n.op_type for n in g.node} >= set(ACT_OPS)
    x = feeds()
    s = oxrt.InferenceSession(out)
    got = s.run(None, x)
    want = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, x)
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, x)
    for a, b, f in zip(got, want, ref):
        np.testing.assert_allclose(a, b, rtol=0, atol=0.02 * np.abs(f).max() + 1e-6)  # a step or two at most
        assert np.abs(a - f).max() < 0.15 * np.abs(f).max() + 0.02
    # oxrt's fusion runs the value-moving ops on the bytes: the shared scale makes MaxPool / Reshape ... fusable
    fused = str(tmp_path / "fused.onnx")
    so = oxrt.SessionOptions()
    so.optimized_model_filepath = fused
    oxrt.InferenceSession(out, so)
    fops = [n.op_type for n in onnx.load(fused).graph.node]
    assert "QLinearConv" in fops and "QLinearAdd" in fops and "QLinearMul" in fops, fops
    fg = onnx.load(fused).graph
    fprod = {o: n for n in fg.node for o in n.output}
    for op in ("MaxPool", "Transpose", "Reshape"):
        node = next(n for n in fg.node if n.op_type == op)
        assert fprod[node.input[0]].op_type != "DequantizeLinear", op


def test_static_qdq_folds_relu6_with_constant_bounds(tmp_path):
    """Conv -> Clip(0, 6) with the bounds as Constant nodes (as exporters write mobilenet's ReLU6): folded."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(8)
    nodes = [helper.make_node("Constant", [], ["lo"], value=numpy_helper.from_array(np.array(0, np.float32))),
             helper.make_node("Constant", [], ["hi"], value=numpy_helper.from_array(np.array(6, np.float32))),
             helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["c", "lo", "hi"], ["r"]),
             helper.make_node("Sigmoid", ["r"], ["y"])]
    g = helper.make_graph(nodes, "r6", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
                          [numpy_helper.from_array((rng.standard_normal((4, 3, 3, 3)) * 2).astype(np.float32), "w")])
    model = str(tmp_path / "r6.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), model)
    xs = [rng.standard_normal((1, 3, 6, 6)).astype(np.float32) for _ in range(4)]

    class R(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": x} for x in xs])

        def get_next(self):
            return next(self.it, None)

    out = str(tmp_path / "q.onnx")
    quantize_static(model, out, R(), quant_format=QuantFormat.QDQ)
    ops = [n.op_type for n in onnx.load(out).graph.node]
    assert "Clip" not in ops and "Constant" not in ops and "Sigmoid" in ops, ops
    got = oxrt.InferenceSession(out).run(None, {"x": xs[0]})[0]
    want = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, {"x": xs[0]})[0]
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": xs[0]})[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert got.min() >= 0.5 - 1e-2 and np.abs(got - ref).max() < 0.05  # sigmoid of a clipped value: >= 1/2
