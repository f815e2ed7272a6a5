"""Quantized models as ONNX Runtime's tools write them, run in oxrt and compared with ONNX Runtime on the same file.

Models are generated here (a small CNN with residual Add / Concat / pooling / Sigmoid, an MLP, a BERT-style
attention block, an LSTM) and quantized with onnxruntime.quantization: quantize_static in QDQ and QOperator
formats, per tensor and per channel, uint8 / int8 activations and weights; quantize_dynamic (MatMulInteger,
DynamicQuantizeLSTM, QAttention). ONNX Runtime's own optimized files (ORT_ENABLE_EXTENDED, saved with
optimized_model_filepath) supply the com.microsoft operators its optimizer emits (QLinearConv, QLinearAdd,
DynamicQuantizeMatMul, MatMulIntegerToFloat, ...). Single-node models cover the rest of the com.microsoft family.

Tolerances: outputs of a quantized graph are dequantized 8-bit values, so they are compared in units of the
output's quantization step (the scale of the DequantizeLinear / QLinear op feeding it): oxrt must be within
QSTEPS steps of ONNX Runtime (rounding ties and float32 multiplier order differ by one step in a few elements,
which can add up over a few layers). int8 weights are quantized with reduce_range (7 bits) for the comparison
with ONNX Runtime's kernels: without a VNNI CPU, its u8s8 kernel (VPMADDUBSW) saturates 16-bit pair sums of
full-range weights and lands ~20 steps away from the exact result, while oxrt's kernels are exact (a full-range
file is compared with ONNX Runtime's unoptimized, float QDQ evaluation instead). Dynamic
quantization (float outputs) is compared with a relative tolerance because ONNX Runtime quantizes activations
inside its kernels differently (DynamicQuantizeLSTM per step).
"""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ort = pytest.importorskip("onnxruntime")
quant = pytest.importorskip("onnxruntime.quantization")
oxrt = pytest.importorskip("oxrt")

QSTEPS = 3
RNG = np.random.default_rng(1234)


def _init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def _save(model, path):
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _cnn(path):
    """Conv/Relu -> (Conv, Conv) -> Add -> Concat -> MaxPool / AveragePool -> Sigmoid * ... -> GAP -> Gemm."""
    w = lambda *s: (RNG.standard_normal(s) * 0.3).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "w3", "b3"], ["c3"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c3", "r1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["r3"]),
        helper.make_node("Conv", ["r3", "w4", "b4"], ["c4"], strides=[2, 2]),  # 1x1, stride 2
        helper.make_node("MaxPool", ["r3"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Concat", ["c4", "p1"], ["cat"], axis=1),
        helper.make_node("AveragePool", ["cat"], ["ap"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Sigmoid", ["ap"], ["sg"]),
        helper.make_node("Mul", ["sg", "ap"], ["sw"]),
        helper.make_node("LeakyRelu", ["sw"], ["lr"], alpha=0.1),
        helper.make_node("Conv", ["lr", "w5", "b5"], ["c5"], group=4, pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["c5"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["fl"]),
        helper.make_node("Gemm", ["fl", "wf", "bf"], ["y"], transB=1),
    ]
    inits = [_init("w1", w(16, 3, 3, 3)), _init("b1", w(16)), _init("w2", w(16, 16, 3, 3)), _init("b2", w(16)),
             _init("w3", w(16, 16, 3, 3)), _init("b3", w(16)), _init("w4", w(16, 16, 1, 1)), _init("b4", w(16)),
             _init("w5", w(32, 8, 3, 3)), _init("b5", w(32)), _init("wf", w(10, 32)), _init("bf", w(10))]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 10])], inits)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def _mlp(path, batch=4):
    w = lambda *s: (RNG.standard_normal(s) * 0.2).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["m1"]),
        helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["r1"]),
        helper.make_node("MatMul", ["r1", "w2"], ["m2"]),
        helper.make_node("Add", ["m2", "b2"], ["y"]),
    ]
    inits = [_init("w1", w(64, 96)), _init("b1", w(96)), _init("w2", w(96, 10)), _init("b2", w(10))]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3, 10])], inits)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def _attention(path, hidden=32, heads=4, seq=7):
    w = (RNG.standard_normal((hidden, 3 * hidden)) * 0.2).astype(np.float32)
    b = (RNG.standard_normal(3 * hidden) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Attention", ["x", "w", "b", "mask"], ["att"], domain="com.microsoft", num_heads=heads),
             helper.make_node("MatMul", ["att", "wo"], ["y"])]
    inits = [_init("w", w), _init("b", b), _init("wo", (RNG.standard_normal((hidden, hidden)) * 0.2).astype(np.float32))]
    g = helper.make_graph(nodes, "bert", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, seq, hidden]),
                                          helper.make_tensor_value_info("mask", TensorProto.INT32, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, seq, hidden])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    return _save(m, path)


def _lstm(path, inp=12, hid=16, seq=5, batch=3, dirs=2):
    w = lambda *s: (RNG.standard_normal(s) * 0.3).astype(np.float32)  # noqa: E731
    node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["y", "yh", "yc"], hidden_size=hid,
                            direction="bidirectional" if dirs == 2 else "forward")
    inits = [_init("W", w(dirs, 4 * hid, inp)), _init("R", w(dirs, 4 * hid, hid)), _init("B", w(dirs, 8 * hid))]
    g = helper.make_graph([node], "lstm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [seq, batch, inp])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [seq, dirs, batch, hid]),
                           helper.make_tensor_value_info("yh", TensorProto.FLOAT, [dirs, batch, hid]),
                           helper.make_tensor_value_info("yc", TensorProto.FLOAT, [dirs, batch, hid])], inits)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


class _Reader(quant.CalibrationDataReader):
    def __init__(self, feeds):
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)


def _ort(path, feeds, level=None, save=None):
    so = ort.SessionOptions()
    if level is not None:
        so.graph_optimization_level = level
    if save:
        so.optimized_model_filepath = save
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)


def _oxrt(path, feeds, save=None):
    so = oxrt.SessionOptions()
    if save:
        so.optimized_model_filepath = save
    return oxrt.InferenceSession(path, so).run(None, feeds)


def _oxrt_ran(path, feeds):
    """(outputs, the op types the session ran, in order): the session's own operators (QLinearConvAdd,
    QLinearLookup) exist only there, never in a saved optimized model, so the profile is where they show."""
    so = oxrt.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(os.path.dirname(path), "profile")  # beside the model, not in the cwd
    sess = oxrt.InferenceSession(path, so)
    out = sess.run(None, feeds)
    ops = [e[1] for e in sess.get_profile_events()]
    os.remove(sess.end_profiling())
    return out, ops


def _out_step(path):
    """Scale of the quantized value behind the graph's first output (DequantizeLinear or a QLinear op's y_scale)."""
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    by_out = {o: n for n in m.graph.node for o in n.output}
    name = m.graph.output[0].name
    for _ in range(4):
        n = by_out.get(name)
        if n is None:
            break
        if n.op_type == "DequantizeLinear":
            return float(np.max(inits[n.input[1]]))
        if n.op_type in ("QGemm", "QLinearMatMul") and len(n.input) > 7:
            return float(np.max(inits[n.input[7] if n.op_type == "QGemm" else n.input[6]]))
        name = n.input[0]
    return None


def _steps(a, b, step):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))) / step)


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    d = tmp_path_factory.mktemp("qcnn")
    path = _cnn(str(d / "cnn.onnx"))
    calib = [{"x": RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)} for _ in range(4)]
    return d, path, calib


STATIC_CASES = [  # format, per_channel, activation type, weight type
    ("qdq", False, "u8", "s8"),
    ("qdq", True, "u8", "s8"),
    ("qdq", True, "s8", "s8"),
    ("qdq", True, "u8", "u8"),
    ("qoperator", False, "u8", "u8"),
    ("qoperator", True, "u8", "s8"),
    ("qoperator", True, "s8", "s8"),
]


def _quantize_cnn(cnn, fmt, per_channel, act, wt, reduce_range):
    d, path, calib = cnn
    qt = {"u8": quant.QuantType.QUInt8, "s8": quant.QuantType.QInt8}
    out = str(d / f"cnn_{fmt}_{per_channel}_{act}{wt}_{reduce_range}.onnx")
    quant.quantize_static(path, out, _Reader(calib),
                          quant_format=quant.QuantFormat.QDQ if fmt == "qdq" else quant.QuantFormat.QOperator,
                          per_channel=per_channel, activation_type=qt[act], weight_type=qt[wt],
                          reduce_range=reduce_range, extra_options={"ActivationSymmetric": act == "s8"})
    return out


def test_static_full_range_is_exact(cnn):
    out = _quantize_cnn(cnn, "qdq", True, "u8", "s8", False)
    feeds = {"x": RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)}
    want = _ort(out, feeds, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)[0]  # float evaluation of the QDQ graph
    steps = _steps(_oxrt(out, feeds)[0], want, _out_step(out))
    print(f"full-range int8 weights: max |oxrt - ORT float QDQ| = {steps:.2f} output steps")
    assert steps <= QSTEPS


@pytest.mark.parametrize("fmt,per_channel,act,wt", STATIC_CASES)
def test_static_cnn_matches_ort(cnn, fmt, per_channel, act, wt):
    d = cnn[0]
    out = _quantize_cnn(cnn, fmt, per_channel, act, wt, wt == "s8")
    ops = {n.op_type for n in onnx.load(out).graph.node}
    if fmt == "qoperator":
        assert {"QLinearConv", "QLinearAdd", "QLinearConcat", "QLinearGlobalAveragePool"} <= ops, ops
    feeds = {"x": RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)}
    step = _out_step(out)
    assert step, "no quantized output found"
    want = _ort(out, feeds)[0]
    mine = str(d / f"oxrtopt_{os.path.basename(out)}")
    got = _oxrt(out, feeds, save=mine)[0]
    if fmt == "qdq":  # the QDQ groups became integer operators: no float convolution left. (The saved file is
        # the portable stage: the session then joins the residual QLinearAdd to its convolution's output stage,
        # oxrt's own QLinearConvAdd, which is never written to a file.)
        ops = [n.op_type for n in onnx.load(mine).graph.node]
        assert "Conv" not in ops and ops.count("QLinearConv") == 5 and "QLinearConvAdd" not in ops, ops
        assert "QGemm" in ops and "Add" not in ops, ops
    steps = _steps(got, want, step)
    print(f"{os.path.basename(out)}: max |oxrt - ORT| = {steps:.2f} output steps")
    assert steps <= QSTEPS
    # ONNX Runtime's own rewrite of the file (QDQ groups become QLinear* / com.microsoft operators) runs too.
    opt = str(d / f"ortopt_{os.path.basename(out)}")
    _ort(out, feeds, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, save=opt)
    got2 = _oxrt(opt, feeds)[0]
    assert _steps(got2, want, step) <= QSTEPS


def test_dynamic_mlp_and_ort_fusions(tmp_path):
    path = _mlp(str(tmp_path / "mlp.onnx"))
    feeds = {"x": RNG.standard_normal((4, 3, 64)).astype(np.float32)}
    ref = _ort(path, feeds)[0]
    for wt in (quant.QuantType.QInt8, quant.QuantType.QUInt8):
        for pc in (False, True):
            out = str(tmp_path / f"mlp_dyn_{wt}_{pc}.onnx")
            # reduce_range: ONNX Runtime's AVX2 u8s8 kernel saturates on full-range int8 weights (see above)
            quant.quantize_dynamic(path, out, weight_type=wt, per_channel=pc, reduce_range=wt == quant.QuantType.QInt8)
            assert "MatMulInteger" in {n.op_type for n in onnx.load(out).graph.node}
            want = _ort(out, feeds)[0]
            mine = str(tmp_path / f"oxrtopt_{os.path.basename(out)}")
            got = _oxrt(out, feeds, save=mine)[0]
            ops = [n.op_type for n in onnx.load(mine).graph.node]
            assert ops.count("MatMulIntegerToFloat") == 2 and "Cast" not in ops, ops  # the dynamic chains fused
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
            assert np.abs(got - ref).max() < 0.1 * np.abs(ref).max()  # still the float model, roughly
            opt = str(tmp_path / f"ortopt_{os.path.basename(out)}")
            _ort(out, feeds, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, save=opt)
            ops = {n.op_type for n in onnx.load(opt).graph.node}
            assert ops & {"DynamicQuantizeMatMul", "MatMulIntegerToFloat"}, ops
            np.testing.assert_allclose(_oxrt(opt, feeds)[0], want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_static_mlp_qgemm_and_qlinearmatmul(tmp_path):
    path = _mlp(str(tmp_path / "mlp.onnx"))
    calib = [{"x": RNG.standard_normal((4, 3, 64)).astype(np.float32)} for _ in range(4)]
    feeds = {"x": RNG.standard_normal((4, 3, 64)).astype(np.float32)}
    out = str(tmp_path / "mlp_qop.onnx")
    quant.quantize_static(path, out, _Reader(calib), quant_format=quant.QuantFormat.QOperator, per_channel=True,
                          reduce_range=True)
    assert "QLinearMatMul" in {n.op_type for n in onnx.load(out).graph.node}
    want = _ort(out, feeds)[0]
    assert _steps(_oxrt(out, feeds)[0], want, _out_step(out) or 1.0) <= QSTEPS


def test_dynamic_attention_qattention(tmp_path):
    path = _attention(str(tmp_path / "att.onnx"))
    out = str(tmp_path / "att_dyn.onnx")
    quant.quantize_dynamic(path, out, weight_type=quant.QuantType.QInt8)
    assert "QAttention" in {n.op_type for n in onnx.load(out).graph.node}
    feeds = {"x": RNG.standard_normal((2, 7, 32)).astype(np.float32), "mask": np.array([7, 4], np.int32)}
    want = _ort(out, feeds)[0]
    got = _oxrt(out, feeds)[0]
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_dynamic_lstm(tmp_path):
    path = _lstm(str(tmp_path / "lstm.onnx"))
    out = str(tmp_path / "lstm_dyn.onnx")
    quant.quantize_dynamic(path, out, weight_type=quant.QuantType.QInt8, op_types_to_quantize=["LSTM"])
    qm = onnx.load(out)
    node = [n for n in qm.graph.node if n.op_type == "DynamicQuantizeLSTM"]
    assert node, [n.op_type for n in qm.graph.node]
    # Reference: ONNX LSTM with the file's weights dequantized (W [D, I, 4H] -> [D, 4H, I]), in ONNX Runtime.
    inits = {i.name: numpy_helper.to_array(i) for i in qm.graph.initializer}
    ins = list(node[0].input)

    def deq(q, s, z):
        s, z = inits[s].reshape(q.shape[0], 1, -1), inits[z].astype(np.float32).reshape(q.shape[0], 1, -1)
        return ((q.astype(np.float32) - z) * s).transpose(0, 2, 1).copy()

    ref = onnx.load(path)
    for i in ref.graph.initializer:
        if i.name == "W":
            i.CopyFrom(_init("W", deq(inits[ins[1]], ins[8], ins[9])))
        if i.name == "R":
            i.CopyFrom(_init("R", deq(inits[ins[2]], ins[10], ins[11])))
    ref_path = _save(ref, str(tmp_path / "lstm_deq.onnx"))
    feeds = {"x": RNG.standard_normal((5, 3, 12)).astype(np.float32)}
    got, want, ortq = _oxrt(out, feeds), _ort(ref_path, feeds), _ort(out, feeds)
    for g, w, q in zip(got, want, ortq):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
        # ONNX Runtime's own kernel also quantizes X and H to uint8 per step: a few 1e-2 away
        assert np.abs(g - q).max() < 0.1


def _single(op, inputs, outputs, inits, attrs=None):
    g = helper.make_graph([helper.make_node(op, [i[0] for i in inputs], [o[0] for o in outputs],
                                            domain="com.microsoft", **(attrs or {}))], op,
                          [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs if n and n not in inits],
                          [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
                          [_init(k, v) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    return m


SINGLE = ["QLinearSoftmax", "QLinearWhere", "QLinearAveragePool", "QLinearLeakyRelu", "QLinearSigmoid",
          "QLinearGlobalAveragePool", "QLinearMul", "QLinearAdd"]


@pytest.mark.parametrize("op", SINGLE)
@pytest.mark.parametrize("dt", [TensorProto.UINT8, TensorProto.INT8])
def test_single_ms_ops(tmp_path, op, dt):
    npdt = np.uint8 if dt == TensorProto.UINT8 else np.int8
    lo, hi = (0, 256) if dt == TensorProto.UINT8 else (-128, 128)
    x = RNG.integers(lo, hi, (2, 4, 5, 6)).astype(npdt)
    zp = lambda v: np.array(v if dt == TensorProto.UINT8 else v - 128, npdt)  # noqa: E731
    inits = {"xs": np.array(0.05, np.float32), "xz": zp(120), "ys": np.array(0.03, np.float32), "yz": zp(130)}
    xin = ("x", dt, list(x.shape))
    attrs = {}
    feeds = {"x": x}
    if op in ("QLinearSoftmax",):
        inits["ys"], inits["yz"] = np.array(1 / 256, np.float32), zp(0) if dt == TensorProto.UINT8 else zp(128 - 128)
        attrs = {"axis": -1, "opset": 13}
        ins, yshape = [xin, ("xs",) * 3, ("xz",) * 3, ("ys",) * 3, ("yz",) * 3], x.shape
    elif op == "QLinearAveragePool":
        attrs = {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 1, 1], "count_include_pad": 1}
        ins, yshape = [xin, ("xs",) * 3, ("xz",) * 3, ("ys",) * 3, ("yz",) * 3], [2, 4, 3, 6]
    elif op == "QLinearGlobalAveragePool":
        ins, yshape = [xin, ("xs",) * 3, ("xz",) * 3, ("ys",) * 3, ("yz",) * 3], [2, 4, 1, 1]
    elif op in ("QLinearLeakyRelu", "QLinearSigmoid"):
        attrs = {"alpha": 0.2} if op == "QLinearLeakyRelu" else {}
        ins, yshape = [xin, ("xs",) * 3, ("xz",) * 3, ("ys",) * 3, ("yz",) * 3], x.shape
    elif op == "QLinearWhere":
        b = RNG.integers(lo, hi, (4, 1, 6)).astype(npdt)
        c = RNG.random((5, 1)) > 0.5
        feeds.update(b=b, c=c)
        inits.update(bs=np.array(0.07, np.float32), bz=zp(100))
        ins = [("c", TensorProto.BOOL, [5, 1]), xin, ("xs",) * 3, ("xz",) * 3, ("b", dt, [4, 1, 6]), ("bs",) * 3,
               ("bz",) * 3, ("ys",) * 3, ("yz",) * 3]
        yshape = x.shape
    else:  # QLinearAdd / QLinearMul with broadcasting
        b = RNG.integers(lo, hi, (4, 1, 6)).astype(npdt)
        feeds["b"] = b
        inits.update(bs=np.array(0.07, np.float32), bz=zp(100))
        if op == "QLinearMul":
            inits["ys"] = np.array(0.5, np.float32)
        ins = [xin, ("xs",) * 3, ("xz",) * 3, ("b", dt, [4, 1, 6]), ("bs",) * 3, ("bz",) * 3, ("ys",) * 3, ("yz",) * 3]
        yshape = x.shape
    m = _single(op, [(i[0], i[1], i[2]) if len(i) == 3 and isinstance(i[1], int) else (i[0], None, None) for i in ins],
                [("y", dt, yshape)], inits, attrs)
    path = _save(m, str(tmp_path / f"{op}.onnx"))
    want = _ort(path, feeds)[0]
    got = _oxrt(path, feeds)[0]
    assert got.dtype == want.dtype and got.shape == want.shape
    diff = np.abs(got.astype(np.int32) - want.astype(np.int32)).max()
    assert diff <= 1, f"{op}: {diff} steps"


def test_qlinearconcat_and_ms_qdq(tmp_path):
    a = RNG.integers(0, 256, (2, 3, 4)).astype(np.uint8)
    b = RNG.integers(0, 256, (2, 5, 4)).astype(np.uint8)
    inits = {"ys": np.array(0.04, np.float32), "yz": np.array(128, np.uint8), "as": np.array(0.02, np.float32),
             "az": np.array(100, np.uint8), "bs": np.array(0.04, np.float32), "bz": np.array(128, np.uint8)}
    m = _single("QLinearConcat", [("ys", None, None), ("yz", None, None), ("a", TensorProto.UINT8, [2, 3, 4]),
                                   ("as", None, None), ("az", None, None), ("b", TensorProto.UINT8, [2, 5, 4]),
                                   ("bs", None, None), ("bz", None, None)],
                [("y", TensorProto.UINT8, [2, 8, 4])], inits, {"axis": 1})
    path = _save(m, str(tmp_path / "concat.onnx"))
    feeds = {"a": a, "b": b}
    want = _ort(path, feeds)[0]
    assert np.abs(_oxrt(path, feeds)[0].astype(int) - want.astype(int)).max() <= 1
    # com.microsoft QuantizeLinear / DequantizeLinear, per axis, 16-bit
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], domain="com.microsoft", axis=1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], domain="com.microsoft", axis=1)]
    g = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4]),
                           helper.make_tensor_value_info("q", TensorProto.INT16, [3, 4])],
                          [_init("s", np.array([0.01, 0.02, 0.03, 0.04], np.float32)),
                           _init("z", np.array([0, 10, -10, 5], np.int16))])
    path = _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                                      helper.make_opsetid("com.microsoft", 1)]),
                 str(tmp_path / "msqdq.onnx"))
    want = _ort(path, {"x": x})
    got = _oxrt(path, {"x": x})
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)


def _qdq_alias_model(path, conv_out_is_output, dq_shared, q_out_is_output):
    """Q -> DQ -> Conv -> Q -> DQ -> Add(DQ'd residual) -> Q -> DQ, with the fusion's aliasing hazards on demand."""
    w = np.clip(np.round(RNG.standard_normal((8, 4, 3, 3)) * 30), -64, 63).astype(np.int8)
    inits = [_init("s_x", np.float32(0.02)), _init("z_x", np.uint8(128)), _init("w", w),
             _init("s_w", (RNG.random(8) * 0.01 + 0.005).astype(np.float32)), _init("z_w", np.zeros(8, np.int8)),
             _init("s_y", np.float32(0.05)), _init("z_y", np.uint8(120)), _init("s_o", np.float32(0.06)),
             _init("z_o", np.uint8(125))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s_x", "z_x"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s_x", "z_x"], ["xd"]),
             helper.make_node("DequantizeLinear", ["w", "s_w", "z_w"], ["wd"], axis=0),
             helper.make_node("Conv", ["xd", "wd"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "s_y", "z_y"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "s_y", "z_y"], ["cd"]),
             helper.make_node("Slice", ["xd", "st", "en", "ax"], ["xs"]),
             helper.make_node("Concat", ["xs", "xs"], ["xr"], axis=1),
             helper.make_node("QuantizeLinear", ["xr", "s_x", "z_x"], ["xrq"]),
             helper.make_node("DequantizeLinear", ["xrq", "s_x", "z_x"], ["xrd"]),
             helper.make_node("Add", ["cd", "xrd"], ["a"]),
             helper.make_node("QuantizeLinear", ["a", "s_o", "z_o"], ["aq"]),
             helper.make_node("DequantizeLinear", ["aq", "s_o", "z_o"], ["y"])]
    inits += [_init("st", np.array([0], np.int64)), _init("en", np.array([4], np.int64)), _init("ax", np.array([1], np.int64))]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 6, 6])]
    if conv_out_is_output:
        outs.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 8, 6, 6]))
    if dq_shared:
        nodes.append(helper.make_node("Relu", ["xd"], ["xrelu"]))
        outs.append(helper.make_tensor_value_info("xrelu", TensorProto.FLOAT, [1, 4, 6, 6]))
    if q_out_is_output:
        outs.append(helper.make_tensor_value_info("cq", TensorProto.UINT8, [1, 8, 6, 6]))
    g = helper.make_graph(nodes, "alias", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])], outs,
                          inits)
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


@pytest.mark.parametrize("case", [(False, False, False), (True, False, False), (False, True, True), (True, True, True)])
def test_qdq_fusion_aliasing(tmp_path, case):
    path = _qdq_alias_model(str(tmp_path / "alias.onnx"), *case)
    feeds = {"x": RNG.standard_normal((1, 4, 6, 6)).astype(np.float32)}
    want = _ort(path, feeds, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so = oxrt.SessionOptions()
    so.graph_optimization_level = oxrt.GraphOptimizationLevel.ORT_DISABLE_ALL
    plain = oxrt.InferenceSession(path, so).run(None, feeds)
    fused, ops = _oxrt_ran(path, feeds)
    conv_out_is_output, q_out_is_output = case[0], case[2]
    # the convolution's quantized result t joins the Add (QLinearConvAdd) only while nothing else reads t
    into_add = not conv_out_is_output and not q_out_is_output
    assert ("Conv" in ops) == conv_out_is_output, ops
    assert ("QLinearConv" in ops) == (not conv_out_is_output and not into_add), ops
    assert ("QLinearConvAdd" in ops) == into_add and ("QLinearAdd" in ops) != into_add, ops
    for i, (f, p, w) in enumerate(zip(fused, plain, want)):
        assert f.dtype == w.dtype and f.shape == w.shape
        if f.dtype == np.float32 and i > 0 and not np.issubdtype(w.dtype, np.integer):
            np.testing.assert_allclose(f, w, rtol=1e-5, atol=1e-5)  # float values other readers see are unchanged
            np.testing.assert_allclose(p, w, rtol=1e-5, atol=1e-5)
        else:
            step = 1.0 if np.issubdtype(w.dtype, np.integer) else 0.06
            assert _steps(f, w, step) <= 1.001 and _steps(p, w, step) <= 1.001  # one step (float rounding of it)


@pytest.mark.parametrize("geom", [dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),  # rows-first kernel
                                  dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]),
                                  dict(kernel_shape=[2, 2], strides=[2, 2]),
                                  dict(kernel_shape=[3, 2], strides=[2, 3], pads=[0, 1, 2, 0], ceil_mode=1),
                                  dict(kernel_shape=[5, 4], strides=[3, 1], pads=[2, 0, 1, 3]),
                                  dict(kernel_shape=[2, 3], strides=[1, 2], pads=[0, 1, 1, 0], dilations=[2, 1])])
@pytest.mark.parametrize("dt", [np.uint8, np.int8])
def test_qdq_maxpool_runs_on_bytes(tmp_path, dt, geom):
    """DQ -> MaxPool -> Q with one scale and zero point becomes an 8-bit MaxPool (Pool.c's byte paths): exact."""
    z = np.array(3 if dt == np.int8 else 130, dt)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("MaxPool", ["xd"], ["p"], **geom),
             helper.make_node("QuantizeLinear", ["p", "s", "z"], ["pq"]),
             helper.make_node("DequantizeLinear", ["pq", "s", "z"], ["y"])]
    g = helper.make_graph(nodes, "mp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 11, 9])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [_init("s", np.float32(0.03)), _init("z", z)])
    path = str(tmp_path / "mp.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    feeds = {"x": (RNG.standard_normal((2, 5, 11, 9)) * 2).astype(np.float32)}
    want = _ort(path, feeds, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    got = _oxrt(path, feeds, save=str(tmp_path / "fused.onnx"))
    fused = onnx.load(str(tmp_path / "fused.onnx")).graph
    mp = [n for n in fused.node if n.op_type == "MaxPool"]
    assert len(mp) == 1 and mp[0].input[0] not in {n.output[0] for n in fused.node if n.op_type == "DequantizeLinear"}
    np.testing.assert_array_equal(got[0], want[0])


def _conv_add_model(path, dt, conv_first, r_shape, relu_lo):
    """QLinearConv -> com.microsoft QLinearAdd with a quantized residual input R (QOperator form, as ONNX Runtime's
    quantizer writes ResNet's blocks): oxrt's fuse_qdq makes one QLinearConvAdd of it."""
    w = (RNG.integers(-60, 61, (8, 4, 3, 3))).astype(np.int8)
    b = RNG.integers(-500, 500, 8).astype(np.int32)
    zx, zy = np.array(5 if dt == np.int8 else 120, dt), np.array(relu_lo if relu_lo is not None else 3, dt)
    conv = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["t"],
                            pads=[1, 1, 1, 1])
    ins = ["t", "ys", "yz", "r", "rs", "rz"] if conv_first else ["r", "rs", "rz", "t", "ys", "yz"]
    add = helper.make_node("QLinearAdd", ins + ["cs", "cz"], ["y"], domain="com.microsoft")
    tt = TensorProto.INT8 if dt == np.int8 else TensorProto.UINT8
    g = helper.make_graph([conv, add], "ca",
                          [helper.make_tensor_value_info("x", tt, [2, 4, 9, 7]),
                           helper.make_tensor_value_info("r", tt, r_shape)],
                          [helper.make_tensor_value_info("y", tt, None)],
                          [_init("xs", np.float32(0.02)), _init("xz", zx), _init("w", w),
                           _init("ws", (RNG.random(8) * 0.01 + 0.002).astype(np.float32)), _init("wz", np.zeros(8, np.int8)),
                           _init("ys", np.float32(0.05)), _init("yz", zy), _init("b", b),
                           _init("rs", np.float32(0.03)), _init("rz", np.array(-7 if dt == np.int8 else 140, dt)),
                           _init("cs", np.float32(0.07)), _init("cz", np.array(2 if dt == np.int8 else 100, dt))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    onnx.save(m, path)
    return path


_ISA_SCRIPT = """
import sys, numpy as np, oxrt
path, feeds_path, out_path = sys.argv[1:4]
feeds = dict(np.load(feeds_path))
res = {}
for name, level in (("fused", oxrt.GraphOptimizationLevel.ORT_ENABLE_ALL),
                    ("unfused", oxrt.GraphOptimizationLevel.ORT_DISABLE_ALL)):
    so = oxrt.SessionOptions()
    so.graph_optimization_level = level
    res[name] = oxrt.InferenceSession(path, so).run(None, feeds)[0]
np.savez(out_path, **res)
"""


def _isa_runs(tmp_path, path, feeds):
    """{isa: (fused, unfused)} from a fresh process per OXRT_ISA level (the level is fixed at process start)."""
    import subprocess
    import sys
    fp, script = str(tmp_path / "feeds.npz"), str(tmp_path / "run_isa.py")
    np.savez(fp, **feeds)
    with open(script, "w") as f:
        f.write(_ISA_SCRIPT)
    out = {}
    for isa in ("portable", "avx2", "avx512"):
        op = str(tmp_path / f"out_{isa}.npz")
        env = dict(os.environ, OXRT_ISA=isa)
        subprocess.run([sys.executable, script, path, fp, op], check=True, env=env)
        r = np.load(op)
        out[isa] = (r["fused"], r["unfused"])
    return out


@pytest.mark.parametrize("r_shape", [[2, 8, 9, 7], [1, 8, 1, 1]])  # the fused output stage / the broadcast fallback
@pytest.mark.parametrize("conv_first", [True, False])
@pytest.mark.parametrize("dt,relu_lo", [(np.uint8, None), (np.int8, None), (np.uint8, 0)])
def test_qlinearconv_add_fusion_is_exact(tmp_path, dt, relu_lo, conv_first, r_shape):
    """QLinearConv -> QLinearAdd becomes QLinearConvAdd (the Add in the convolution's output stage): bit-identical to
    the two operators run one after the other (opt level 0) at every ISA level, and to ONNX Runtime within one step
    (its QLinearAdd rounds in its own order)."""
    path = _conv_add_model(str(tmp_path / "ca.onnx"), dt, conv_first, r_shape, relu_lo)
    lo, hi = (-128, 128) if dt == np.int8 else (0, 256)
    feeds = {"x": RNG.integers(lo, hi, (2, 4, 9, 7)).astype(dt), "r": RNG.integers(lo, hi, r_shape).astype(dt)}
    saved = str(tmp_path / "fused.onnx")
    outs, ran = _oxrt_ran(path, feeds)
    got = outs[0]
    assert ran == ["QLinearConvAdd"], ran
    _oxrt(path, feeds, save=saved)  # the saved file keeps ONNX Runtime's operators
    assert "QLinearConvAdd" not in [n.op_type for n in onnx.load(saved).graph.node]
    for isa, (fused, unfused) in _isa_runs(tmp_path, path, feeds).items():
        assert fused.dtype == dt and fused.shape == unfused.shape
        np.testing.assert_array_equal(fused, unfused, err_msg=f"OXRT_ISA={isa}")
        np.testing.assert_array_equal(fused, got)
    want = _ort(path, feeds)[0]
    assert np.max(np.abs(got.astype(np.int32) - want.astype(np.int32))) <= 1


LUT_CASES = [("Tanh", {}, []), ("HardSwish", {}, []), ("Relu", {}, []), ("Elu", {"alpha": 0.7}, []),
             ("Clip", {}, [np.float32(-0.5), np.float32(1.5)]), ("Softplus", {}, []), ("Erf", {}, []),
             ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, [])]


@pytest.mark.parametrize("xt,yt", [(np.uint8, np.uint8), (np.int8, np.int8), (np.uint8, np.int8)])
@pytest.mark.parametrize("op,attrs,extra", LUT_CASES, ids=[c[0] for c in LUT_CASES])
def test_qdq_unary_lookup_table(tmp_path, op, attrs, extra, xt, yt):
    """DQ -> unary op -> Q becomes QLinearLookup (a 256-entry table made at session creation by running the op on
    every input byte): equal to the unfused graph (opt level 0) at every ISA level, allowing one step where the op's
    vector and scalar float paths differ in a last bit that decides a rounding (counted, and must be rare), and
    within one step of ONNX Runtime's float evaluation of the same file."""
    zx, zy = np.array(7 if xt == np.int8 else 130, xt), np.array(-3 if yt == np.int8 else 120, yt)
    extra_names = [f"e{i}" for i in range(len(extra))]
    nodes = [helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"]),
             helper.make_node(op, ["xd"] + extra_names, ["f"], **attrs),
             helper.make_node("QuantizeLinear", ["f", "sy", "zy"], ["y"])]
    tt = {np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8}
    g = helper.make_graph(nodes, "lut", [helper.make_tensor_value_info("xq", tt[xt], [3, 50, 41])],
                          [helper.make_tensor_value_info("y", tt[yt], None)],
                          [_init("sx", np.float32(0.031)), _init("zx", zx), _init("sy", np.float32(0.017)),
                           _init("zy", zy)] + [_init(nm, v) for nm, v in zip(extra_names, extra)])
    path = str(tmp_path / "lut.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    lo, hi = (-128, 128) if xt == np.int8 else (0, 256)
    feeds = {"xq": RNG.integers(lo, hi, (3, 50, 41)).astype(xt)}
    outs, ran = _oxrt_ran(path, feeds)
    got = outs[0]
    assert ran == ["QLinearLookup"], ran
    for isa, (fused, unfused) in _isa_runs(tmp_path, path, feeds).items():
        assert fused.dtype == yt and fused.shape == unfused.shape
        diff = np.abs(fused.astype(np.int32) - unfused.astype(np.int32))
        assert diff.max() <= 1 and np.count_nonzero(diff) <= diff.size // 1000, (isa, np.count_nonzero(diff))
        np.testing.assert_array_equal(fused, got)
    want = _ort(path, feeds, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)[0]
    assert np.max(np.abs(got.astype(np.int32) - want.astype(np.int32))) <= 1


@pytest.mark.parametrize("tool", ["ort", "oxrt"])
@pytest.mark.parametrize("mode", ["dynamic", "qdq", "qoperator"])
def test_quantized_graph_shapes_inferred(tmp_path, tool, mode):
    """oxrt's static inference through the quantized operators (DynamicQuantizeLinear, MatMulInteger,
    QuantizeLinear, DequantizeLinear, QLinearMatMul; in the optimized file MatMulIntegerToFloat) agrees with
    onnx.shape_inference on every value, value_info stripped: passes that need shapes (SkipLayerNormalization
    fusion) then work on files without it, as oxrt.quantization writes them."""
    from onnx import shape_inference
    q = quant if tool == "ort" else pytest.importorskip("oxrt.quantization")
    path = _mlp(str(tmp_path / "mlp.onnx"), batch="batch")
    out = str(tmp_path / f"mlp_{tool}_{mode}.onnx")
    if mode == "dynamic":
        q.quantize_dynamic(path, out, weight_type=q.QuantType.QInt8)
    else:
        calib = [{"x": RNG.standard_normal((4, 3, 64)).astype(np.float32)} for _ in range(2)]
        q.quantize_static(path, out, _Reader(calib), reduce_range=True,
                          quant_format=q.QuantFormat.QDQ if mode == "qdq" else q.QuantFormat.QOperator)
    m = onnx.load(out)
    del m.graph.value_info[:]

    def shapes(model):
        def dims(t):
            return tuple(d.dim_value if d.HasField("dim_value") else d.dim_param for d in t.shape.dim)
        return {v.name: (v.type.tensor_type.elem_type, dims(v.type.tensor_type)) for v in model.graph.value_info}

    ref = shapes(shape_inference.infer_shapes(m, data_prop=True))
    got = shapes(onnx.load_from_string(oxrt._oxrt.infer_shapes(m.SerializeToString())))
    ops = {n.op_type for n in m.graph.node}
    assert ops & {"MatMulInteger", "QLinearMatMul", "QuantizeLinear"}, ops
    # (onnx stops at the com.microsoft operators of ONNX Runtime's QOperator files)
    assert len(ref) >= (2 if mode == "qoperator" else 6) and all(got.get(k) == v for k, v in ref.items()), (ref, got)
    if mode == "dynamic":  # the optimized file's MatMulIntegerToFloat outputs: [batch, 3, N] float
        saved = str(tmp_path / "opt.onnx")
        _oxrt(out, {"x": RNG.standard_normal((2, 3, 64)).astype(np.float32)}, save=saved)
        om = onnx.load(saved)
        del om.graph.value_info[:]
        got = shapes(onnx.load_from_string(oxrt._oxrt.infer_shapes(om.SerializeToString())))
        mm = [n for n in om.graph.node if n.op_type == "MatMulIntegerToFloat"]
        assert len(mm) == 2
        for n, width in zip(mm, (96, 10)):
            if n.output[0] in got:
                assert got[n.output[0]] == (TensorProto.FLOAT, ("batch", 3, width))
            else:  # a graph output
                assert n.output[0] == "y"


def _oxrt_threads(path, feeds, threads):
    so = oxrt.SessionOptions()
    so.intra_op_num_threads = threads
    return oxrt.InferenceSession(path, so).run(None, feeds)


@pytest.mark.parametrize("qt", [TensorProto.UINT8, TensorProto.INT8, TensorProto.INT4])
def test_quantizelinear_per_tensor_split_over_threads(tmp_path, qt):
    """A per-tensor QuantizeLinear over 150K floats runs in chunks over the pool (an int4 output packs two per byte:
    chunks must not share one): the same values at 1 and 3 threads, and numpy's round half to even."""
    x = (RNG.standard_normal((1, 3, 224, 225)) * 4).astype(np.float32)
    x.flat[::97] = np.float32(0.5) * RNG.integers(-40, 40, x.size // 97 + 1)  # exact halves: ties to even
    zp = {TensorProto.UINT8: (np.uint8, 128, 0, 255), TensorProto.INT8: (np.int8, -3, -128, 127),
          TensorProto.INT4: (None, 1, -8, 7)}[qt]
    scale = np.float32(0.5 if qt != TensorProto.INT4 else 1.5)
    zinit = helper.make_tensor("z", qt, [], [zp[1]])
    g = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], "q",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("y", qt, list(x.shape))], [_init("s", scale), zinit])
    path = _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]), str(tmp_path / "q.onnx"))
    want = np.clip(np.rint(x / scale) + zp[1], zp[2], zp[3])
    for t in (1, 3):
        got = _oxrt_threads(path, {"x": x}, t)[0]
        assert got.shape == x.shape
        np.testing.assert_array_equal(got.astype(np.int32), want.astype(np.int32), err_msg=f"{t} threads")


@pytest.mark.parametrize("channels_last", [0, 1])
@pytest.mark.parametrize("dt", [TensorProto.UINT8, TensorProto.INT8])
def test_qlinear_global_average_pool_over_threads(tmp_path, channels_last, dt):
    """QLinearGlobalAveragePool on a classifier's 2 x 1280 x 7 x 7 splits over the pool: the same bytes at 1 and 2
    threads, within one step of ONNX Runtime."""
    npdt = np.uint8 if dt == TensorProto.UINT8 else np.int8
    shape = [2, 7, 7, 1280] if channels_last else [2, 1280, 7, 7]
    x = RNG.integers(0, 256, shape).astype(np.int32)
    x = (x if dt == TensorProto.UINT8 else x - 128).astype(npdt)
    off = 0 if dt == TensorProto.UINT8 else -128
    inits = {"xs": np.array(0.05, np.float32), "xz": np.array(120 + off, npdt), "ys": np.array(0.03, np.float32),
             "yz": np.array(130 + off, npdt)}
    yshape = [2, 1, 1, 1280] if channels_last else [2, 1280, 1, 1]
    m = _single("QLinearGlobalAveragePool", [("x", dt, shape), ("xs", None, None), ("xz", None, None),
                                             ("ys", None, None), ("yz", None, None)], [("y", dt, yshape)], inits,
                {"channels_last": channels_last})
    path = _save(m, str(tmp_path / "gap.onnx"))
    one, two = _oxrt_threads(path, {"x": x}, 1)[0], _oxrt_threads(path, {"x": x}, 2)[0]
    np.testing.assert_array_equal(one, two)
    want = _ort(path, {"x": x})[0]
    assert one.shape == want.shape
    assert np.abs(one.astype(np.int32) - want.astype(np.int32)).max() <= 1
