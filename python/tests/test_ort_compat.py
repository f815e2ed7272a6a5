"""A script written for onnxruntime gives the same results with `import oxrt as ort`."""

import json
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).with_name("ort_script.py")


def _run(script_text, tmp_path, name):
    path = tmp_path / name
    path.write_text(script_text)
    work = tmp_path / (name + ".work")
    work.mkdir()
    proc = subprocess.run([sys.executable, str(path), str(work)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _as_oxrt(text):
    out = text.replace("import onnxruntime as ort", "import oxrt as ort")
    out = out.replace("from onnxruntime.capi.", "from oxrt.capi.")
    # Nothing else of onnxruntime is left for the script to import.
    assert "import onnxruntime" not in out and "from onnxruntime" not in out
    return out


def test_script_same_results(tmp_path):
    pytest.importorskip("onnxruntime")
    text = SCRIPT.read_text()
    with_ort = _run(text, tmp_path, "with_onnxruntime.py")
    with_oxrt = _run(_as_oxrt(text), tmp_path, "with_oxrt.py")
    assert set(with_ort) == set(with_oxrt)
    for key in with_ort:
        assert with_oxrt[key] == with_ort[key], key


def test_script_runs_without_onnxruntime(tmp_path):
    # The oxrt half alone, so the script is exercised where onnxruntime is absent.
    rec = _run(_as_oxrt(SCRIPT.read_text()), tmp_path, "with_oxrt.py")
    assert rec["providers"] == ["CPUExecutionProvider"]
    assert rec["errors"]["dtype"] == "InvalidArgument"
    assert rec["errors"]["no_file"] == "NoSuchFile"
