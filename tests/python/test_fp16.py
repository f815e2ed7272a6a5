"""oxrt.float16 / `oxrt convert --to fp16|bf16`, and the bf16 compute session option: converted models run in
ONNX Runtime and in oxrt with the same results, within float16 rounding of the float32 model."""
import os
import subprocess

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
import oxrt  # noqa: E402
from oxrt.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_bfloat16, convert_float_to_float16  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "examples", "digits")
MODEL = os.path.join(DIGITS, "model.onnx")
X = np.load(os.path.join(DIGITS, "test_x.npy"))
Y = np.load(os.path.join(DIGITS, "test_y.npy"))


def run(rt, model, x, so=None):
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    s = rt.InferenceSession(model, so, providers=["CPUExecutionProvider"]) if so else rt.InferenceSession(
        model, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


REF = run(ort, MODEL, X)


@pytest.mark.parametrize("source", ["path", "bytes", "proto"])
def test_fp16_keep_io_types_both_runtimes(source):
    arg = {"path": MODEL, "bytes": open(MODEL, "rb").read(), "proto": onnx.load(MODEL)}[source]
    m = convert_float_to_float16(arg, keep_io_types=True)
    assert isinstance(m, onnx.ModelProto)
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert all(t.data_type != onnx.TensorProto.FLOAT for t in m.graph.initializer)
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in m.graph.initializer)
    onnx.checker.check_model(m)
    a, b = run(ort, m, X), run(oxrt, m, X)
    scale = np.abs(REF).max()
    np.testing.assert_allclose(b, a, rtol=0, atol=4e-3 * scale)  # both compute in (or through) float16
    assert np.abs(b - REF).max() < 1e-2 * scale
    assert (b.argmax(1) == REF.argmax(1)).mean() >= 0.99


def test_fp16_io_in_half():
    m = convert_float_to_float16(MODEL)
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    x16 = X.astype(np.float16)
    a, b = run(ort, m, x16), run(oxrt, m, x16)
    assert a.dtype == b.dtype == np.float16
    np.testing.assert_allclose(b.astype(np.float32), a.astype(np.float32), rtol=0, atol=4e-3 * np.abs(REF).max())


def test_block_ops_keeps_float32_with_casts():
    m = convert_float_to_float16(MODEL, keep_io_types=True, op_block_list=["Gemm"])
    gemm_inputs = [i for n in m.graph.node if n.op_type == "Gemm" for i in n.input]
    init = {t.name: t.data_type for t in m.graph.initializer}
    assert all(init.get(i, onnx.TensorProto.FLOAT) == onnx.TensorProto.FLOAT for i in gemm_inputs)
    assert sum(n.op_type == "Cast" for n in m.graph.node) >= 4
    np.testing.assert_allclose(run(oxrt, m, X), run(ort, m, X), rtol=0, atol=4e-3 * np.abs(REF).max())
    assert "Resize" in DEFAULT_OP_BLOCK_LIST


def test_bf16_model_runs_in_oxrt():
    m = convert_float_to_bfloat16(MODEL, keep_io_types=True)
    assert any(t.data_type == onnx.TensorProto.BFLOAT16 for t in m.graph.initializer)
    b = run(oxrt, m, X)
    assert np.abs(b - REF).max() < 0.05 * np.abs(REF).max()
    assert (b.argmax(1) == REF.argmax(1)).mean() >= 0.97


def test_bf16_compute_session_option():
    info = oxrt._oxrt.bf16_info()
    so = oxrt.SessionOptions()
    so.add_session_config_entry("session.bf16_compute", "emulate")
    emu = run(oxrt, MODEL, X, so)
    so1 = oxrt.SessionOptions()
    so1.add_session_config_entry("session.bf16_compute", "1")
    hw = run(oxrt, MODEL, X, so1)
    fp32 = run(oxrt, MODEL, X)
    err = np.abs(emu - fp32).max()
    # bfloat16 inputs (8 bits of mantissa): visibly different from float32, still the same predictions
    assert 1e-5 * np.abs(fp32).max() < err < 0.05 * np.abs(fp32).max()
    assert (emu.argmax(1) == fp32.argmax(1)).mean() >= 0.98
    if not info["native_kernel"]:
        np.testing.assert_array_equal(hw, fp32)  # the documented fallback: float32
    else:
        # AVX512_BF16: the weights packed in bfloat16 and the activations converted while packed round exactly as
        # the emulation's Casts do; only the float32 summation order differs
        assert np.abs(hw - fp32).max() > 1e-5 * np.abs(fp32).max()
        assert np.abs(hw - emu).max() < 1e-4 * np.abs(fp32).max()
        assert (hw.argmax(1) == Y).mean() >= (fp32.argmax(1) == Y).mean() - 0.01


def test_cli_convert(tmp_path):
    exe = os.environ.get("OXRT_CLI") or os.path.join(ROOT, "build", "oxrt")
    if not os.path.exists(exe):
        pytest.skip("oxrt command not built")
    out = str(tmp_path / "m16.onnx")
    r = subprocess.run([exe, "convert", MODEL, out, "--to", "fp16", "--keep-io-types", "--block-ops", "Gemm"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(run(ort, out, X), run(oxrt, out, X), rtol=0, atol=4e-3 * np.abs(REF).max())
    r = subprocess.run([exe, "convert", MODEL, out, "--to", "fp8"], capture_output=True, text=True)
    assert r.returncode == 2 and "fp16 or bf16" in r.stderr


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "bert_small", "gpt2_small"])
def test_bf16_mode1_gives_the_emulation_numbers(name, model_dir):
    """Mode 1 on AVX512_BF16 (packed bfloat16 weights, VDPBF16PS) against mode 2's Cast pairs, on the small bench
    variants: every conv path that multiplies in bfloat16 (im2col, pointwise, 1-4 output positions) must round
    exactly the conv inputs, so the two differ by float32 summation order only; the transformers' tiny products
    stay float32, so there mode 1 must be no further from float32 than the emulation."""
    if not oxrt._oxrt.bf16_info()["native_kernel"]:
        pytest.skip("no AVX512_BF16 on this CPU: mode 1 is float32 (test_bf16_compute_session_option checks that)")
    import generate  # bench/models, on sys.path through conftest

    path = generate.generate(name, model_dir, small=True)
    feeds = dict(np.load(path.replace(".onnx", ".inputs.npz")))

    def outs(mode):
        so = oxrt.SessionOptions()
        if mode:
            so.add_session_config_entry("session.bf16_compute", mode)
        return oxrt.InferenceSession(path, so).run(None, feeds)[0].astype(np.float64)

    fp32, emu, hw = outs(None), outs("emulate"), outs("1")
    scale, emu_err = np.abs(fp32).max(), np.abs(emu - fp32).max()
    assert np.abs(hw - fp32).max() > 1e-5 * scale
    if name in ("resnet18", "mobilenet_v2"):  # every conv with constant weights goes through the bfloat16 GEMM
        assert np.abs(hw - emu).max() < 2e-3 * max(emu_err, 1e-3 * scale)
    else:  # products under 64K multiply-adds (these small variants have several) stay float32 in mode 1
        assert np.abs(hw - fp32).max() < 2 * emu_err
