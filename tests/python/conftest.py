"""Shared fixtures: paths to the built `oxrt` command and a cache of generated models."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("OXRT_BUILD", os.path.join(ROOT, "build"))
# What the install tests install: the plain build, also when OXRT_BUILD names the sanitizer build (its library
# needs the sanitizer runtime in every program that links it)
INSTALL_BUILD = os.environ.get("OXRT_INSTALL_BUILD", BUILD)
sys.path.insert(0, os.path.join(ROOT, "bench", "models"))


@pytest.fixture(scope="session")
def oxrt_bin():
    path = os.path.join(BUILD, "oxrt")
    assert os.path.exists(path), f"{path} is missing: build first (make build)"
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("models"))


def run_cli(oxrt_bin, *args, check=True, env=None):
    """Runs the oxrt command; `env` overrides environment variables (a None value removes one)."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        for k, v in env.items():
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = v
    p = subprocess.run([oxrt_bin, *args], capture_output=True, text=True, timeout=600, env=full_env)
    if check and p.returncode != 0:
        raise AssertionError(f"oxrt {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def oxrt_outputs(oxrt_bin, model, feeds, out_dir, env=None):
    """`oxrt run` on `feeds` (saved as .npy in out_dir); the outputs by name, read back from out_dir."""
    import numpy as np
    import onnx

    os.makedirs(out_dir, exist_ok=True)
    args = ["run", model, "--output-dir", out_dir]
    for name, arr in feeds.items():
        path = os.path.join(out_dir, f"in_{name}.npy")
        np.save(path, arr)
        args += ["--input", f"{name}={path}"]
    run_cli(oxrt_bin, *args, env=env)
    outs = {}
    for o in onnx.load(model, load_external_data=False).graph.output:
        outs[o.name] = np.load(os.path.join(out_dir, o.name.replace("/", "_").replace(":", "_") + ".npy"))
    return outs


def ort_outputs(path, feeds):
    """ONNX Runtime's outputs by name, with its own graph optimizations off (the reference)."""
    import onnxruntime

    so = onnxruntime.SessionOptions()
    so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = onnxruntime.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
