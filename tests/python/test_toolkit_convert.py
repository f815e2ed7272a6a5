"""`oxrt convert --opset N` (onnx.version_converter's adapters): old-opset conformance models are upgraded, pass
onnx.checker, and still give the expected outputs when run (oxrt test, with the suite's data sets)."""
import glob
import os
import subprocess

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402

SUITES = ["/usr/include/onnx/backend/test/data/pytorch-converted", "/usr/include/onnx/backend/test/data/pytorch-operator",
          "/usr/include/onnx/backend/test/data/simple", "/usr/include/onnx/backend/test/data/node"]
# models whose op has a semantic change the converter refuses (Scan-8's batch axis), or that fail unconverted too
EXPECTED_REFUSALS = {"test_scan_sum"}
FAILS_UNCONVERTED = {"test_cast_FLOAT_to_BFLOAT16", "test_castlike_BFLOAT16_to_FLOAT",
                     "test_castlike_BFLOAT16_to_FLOAT_expanded", "test_castlike_FLOAT_to_BFLOAT16",
                     "test_castlike_FLOAT_to_BFLOAT16_expanded", "test_mvn"}


def old_models(max_opset):
    out = []
    for s in SUITES:
        for d in sorted(glob.glob(os.path.join(s, "*", ""))):
            m = onnx.load(os.path.join(d, "model.onnx"), load_external_data=False)
            doms = {o.domain for o in m.opset_import}
            v = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
            if v and v[0] <= max_opset and doms <= {"", "ai.onnx"}:
                out.append(d.rstrip("/"))
    return out


@pytest.mark.parametrize("target", [13, 18])
def test_upgraded_models_run(oxrt_bin, tmp_path, target):
    dirs = old_models(12 if target == 18 else 10)
    dirs = [d for d in dirs if "/node/" not in d] + [d for d in dirs if "/node/" in d][:: 2 if target == 18 else 3]
    assert len(dirs) > 100
    ok, bad = 0, []
    for d in dirs:
        name = os.path.basename(d)
        out = tmp_path / name
        out.mkdir()
        for ds in glob.glob(os.path.join(d, "test_data_set_*")):
            os.symlink(ds, out / os.path.basename(ds))
        p = subprocess.run([oxrt_bin, "convert", os.path.join(d, "model.onnx"), str(out / "model.onnx"), "--opset",
                            str(target)], capture_output=True, text=True, timeout=60)
        if p.returncode:
            if name not in EXPECTED_REFUSALS:
                bad.append((name, "convert", p.stderr))
            continue
        conv = onnx.load(str(out / "model.onnx"))
        assert [o.version for o in conv.opset_import if o.domain in ("", "ai.onnx")] == [target]
        if name not in FAILS_UNCONVERTED:
            try:
                onnx.checker.check_model(str(out / "model.onnx"), full_check=True)
            except Exception as e:
                bad.append((name, "checker", str(e)[:300]))
                continue
        r = subprocess.run([oxrt_bin, "test", str(out)], capture_output=True, text=True, timeout=120)
        if r.returncode and name not in FAILS_UNCONVERTED:
            bad.append((name, "run", r.stdout[-300:]))
        elif not r.returncode:
            ok += 1
    print(f"convert --opset {target}: {ok} of {len(dirs)} upgraded models pass their test data")
    assert not bad, bad[:10]


def test_adapters_rewrite_signatures(oxrt_bin, tmp_path):
    x = h.make_tensor_value_info("x", T.FLOAT, [1, 2, 3, 4])
    nodes = [h.make_node("Unsqueeze", ["x"], ["u"], axes=[0]), h.make_node("Squeeze", ["u"], ["s"], axes=[0]),
             h.make_node("Clip", ["s"], ["c"], min=-1.0, max=1.0),
             h.make_node("Pad", ["c"], ["p"], pads=[0, 0, 1, 1, 0, 0, 1, 1], mode="constant", value=0.5),
             h.make_node("ReduceMean", ["p"], ["r"], axes=[3], keepdims=1),
             h.make_node("Split", ["r"], ["a", "b"], axis=1, split=[1, 1]),
             h.make_node("Concat", ["b", "a"], ["y"], axis=1)]
    g = h.make_graph(nodes, "g", [x], [h.make_tensor_value_info("y", T.FLOAT, [1, 2, 5, 1])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 10)])
    m.ir_version = 5
    src, out = str(tmp_path / "m.onnx"), str(tmp_path / "o.onnx")
    onnx.save(m, src)
    subprocess.run([oxrt_bin, "convert", src, out, "--opset", "18"], check=True, timeout=60)
    conv = onnx.load(out)
    onnx.checker.check_model(conv, full_check=True)
    for n in conv.graph.node:  # every attribute that became an input is gone
        assert not {a.name for a in n.attribute} & {"axes", "min", "max", "pads", "value", "split"}, n
    import numpy as np
    ort = pytest.importorskip("onnxruntime")
    feed = {"x": np.random.RandomState(0).randn(1, 2, 3, 4).astype(np.float32)}
    want = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, feed)[0]
    got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, feed)[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    p = subprocess.run([oxrt_bin, "convert", out, src, "--opset", "9"], capture_output=True, text=True)
    assert p.returncode != 0 and "only upgrades" in p.stderr


def test_external_data_in_and_out(oxrt_bin, tmp_path):
    # weights stored next to the model in a .data file are read from the model's folder and written out again
    import numpy as np
    w = h.make_tensor("w", T.FLOAT, [64, 64], np.random.RandomState(1).randn(64 * 64).astype(np.float32))
    x = h.make_tensor_value_info("x", T.FLOAT, [1, 64])
    m = h.make_model(h.make_graph([h.make_node("MatMul", ["x", "w"], ["t"]),
                                   h.make_node("Softmax", ["t"], ["y"], axis=1)], "g", [x],
                                  [h.make_tensor_value_info("y", T.FLOAT, [1, 64])], [w]),
                     opset_imports=[h.make_opsetid("", 11)])
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    onnx.save(m, str(src_dir / "m.onnx"), save_as_external_data=True, location="m.bin", size_threshold=0)
    out = str(tmp_path / "up.onnx")
    subprocess.run([oxrt_bin, "convert", str(src_dir / "m.onnx"), out, "--opset", "18", "--external-data", "1024"],
                   check=True, timeout=60)
    assert os.path.getsize(out + ".data") >= 64 * 64 * 4 and os.path.getsize(out) < 4096
    onnx.checker.check_model(out, full_check=True)
    subprocess.run([oxrt_bin, "check", "--full", out], check=True, timeout=60)
    shaped = str(tmp_path / "shaped.onnx")
    subprocess.run([oxrt_bin, "infer-shapes", out, shaped], check=True, timeout=60)
    assert "t" in {v.name for v in onnx.load(shaped).graph.value_info}
    ort = pytest.importorskip("onnxruntime")
    feed = {"x": np.random.RandomState(0).randn(1, 64).astype(np.float32)}
    want = ort.InferenceSession(str(src_dir / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, feed)[0]
    got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, feed)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5)
