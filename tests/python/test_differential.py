"""Differential tests: every generated model (small variants) runs in oxrt and in ONNX Runtime
on the same seeded inputs; outputs must agree with each other and with the source framework."""
import os

import numpy as np
import onnxruntime
import pytest

import generate
from conftest import run_cli

# oxrt vs ONNX Runtime: both are float32 CPU runtimes, so they must agree tightly.
RTOL, ATOL = 1e-3, 1e-4


def _run_oxrt(oxrt_bin, model, feeds, out_dir):
    args = ["run", model, "--output-dir", out_dir]
    for name, arr in feeds.items():
        path = os.path.join(out_dir, f"in_{name}.npy")
        np.save(path, arr)
        args += ["--input", f"{name}={path}"]
    run_cli(oxrt_bin, *args)
    return out_dir


def _load_out(out_dir, name):
    safe = name.replace("/", "_").replace(":", "_")
    return np.load(os.path.join(out_dir, safe + ".npy"))


def _close(a, b, rtol, atol, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    if a.dtype.kind in "iub":
        assert np.array_equal(a, b), f"{what}: {np.sum(a != b)} of {a.size} values differ"
    else:
        # atol is relative to the output's scale: two correct float32 runtimes of a deep net whose
        # activations sit near unit scale (calibrated BatchNorm) differ by ~1e-5 of the largest output
        # (ONNX Runtime itself is that far from a float64 run), while a real bug moves outputs by O(scale).
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        atol = atol * max(1.0, scale)
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("name", sorted(generate.MODELS))
def test_model_matches_onnxruntime_and_framework(name, oxrt_bin, model_dir, tmp_path):
    try:
        model = generate.generate(name, model_dir, small=True)
    except ImportError as e:  # a framework missing on this machine is a setup failure, not a pass
        pytest.fail(f"cannot generate {name}: {e}")
    feeds = dict(np.load(os.path.join(model_dir, name + ".inputs.npz")))
    expected = dict(np.load(os.path.join(model_dir, name + ".expected.npz")))

    sess = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    out_names = [o.name for o in sess.get_outputs()]
    ort_outs = dict(zip(out_names, sess.run(None, feeds)))

    out_dir = _run_oxrt(oxrt_bin, model, feeds, str(tmp_path))
    fw_rtol, fw_atol = generate.MODELS[name][1]
    for out in out_names:
        mine = _load_out(out_dir, out)
        _close(mine, ort_outs[out], RTOL, ATOL, f"{name}: output '{out}' vs onnxruntime")
        if out in expected:
            _close(mine, expected[out].reshape(mine.shape) if expected[out].size == mine.size else expected[out],
                   fw_rtol, fw_atol, f"{name}: output '{out}' vs the source framework")
