"""Weights at byte offsets that are no multiple of 4, in the model file and in an external data file: the session
copies them (pread from the file, tensor_reader.c) before packing, so the results must equal ONNX Runtime's on the
same model. The models hold packed convolutions (Winograd-sized 3x3, 1x1, strided), a Gemm and a constant Add
read at run time; each test first checks that the weights really are misaligned in the file."""
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import oxrt_outputs
from onnx import TensorProto, helper, numpy_helper


def _weights(rng, pad):
    # names padded by `pad` characters move every raw_data field after them by as many bytes
    return {
        "w0" + "_" * pad: rng.standard_normal((32, 16, 3, 3)).astype(np.float32) * 0.2,
        "w1": rng.standard_normal((32, 32, 3, 3)).astype(np.float32) * 0.1,
        "w2": rng.standard_normal((48, 32, 1, 1)).astype(np.float32) * 0.2,
        "w3": rng.standard_normal((48, 48, 3, 3)).astype(np.float32) * 0.05,
        "b1": rng.standard_normal(32).astype(np.float32),
        "c": rng.standard_normal((1, 48, 12, 12)).astype(np.float32),
        "g": rng.standard_normal((10, 48)).astype(np.float32),
    }


def _model(w):
    n0 = next(k for k in w if k.startswith("w0"))
    nodes = [
        helper.make_node("Conv", ["x", n0], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["ar"]),
        helper.make_node("Conv", ["ar", "w1", "b1"], ["b"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["b", "w2"], ["c2"]),
        helper.make_node("Conv", ["c2", "w3"], ["d"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Add", ["d", "c"], ["e"]),
        helper.make_node("GlobalAveragePool", ["e"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "g"], ["y"], transB=1),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 24, 24])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
                              initializer=[numpy_helper.from_array(v, name=k) for k, v in w.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def _offsets(data, w):
    return {k: data.find(v.tobytes()) for k, v in w.items()}


def _check(path, tmp_path, oxrt_bin, x):
    want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = oxrt_outputs(oxrt_bin, path, {"x": x}, str(tmp_path / "out"))["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_misaligned_initializers_in_the_model_file(tmp_path, oxrt_bin):
    rng = np.random.default_rng(3)
    for pad in range(8):  # a padding that leaves most weights misaligned
        w = _weights(rng, pad)
        data = _model(w).SerializeToString()
        offs = _offsets(data, w)
        assert all(o > 0 for o in offs.values())
        if sum(o % 4 != 0 for o in offs.values()) >= 5:
            break
    assert sum(o % 4 != 0 for o in offs.values()) >= 5, offs
    path = str(tmp_path / "m.onnx")
    with open(path, "wb") as f:
        f.write(data)
    _check(path, tmp_path, oxrt_bin, rng.standard_normal((1, 16, 24, 24)).astype(np.float32))


def test_misaligned_external_data(tmp_path, oxrt_bin):
    rng = np.random.default_rng(4)
    w = _weights(rng, 0)
    m = _model(w)
    blob = bytearray()
    for t in m.graph.initializer:
        blob += b"\x01" * (4 - len(blob) % 4 + 1)  # every tensor at 1 (mod 4)
        off = len(blob)
        blob += t.raw_data
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "w.bin"), ("offset", str(off)), ("length", str(len(blob) - off))):
            e = t.external_data.add()
            e.key, e.value = k, v
        assert off % 4 == 1
    with open(tmp_path / "w.bin", "wb") as f:
        f.write(bytes(blob))
    path = str(tmp_path / "m.onnx")
    onnx.save(m, path)
    assert os.path.getsize(path) < 4096
    _check(path, tmp_path, oxrt_bin, rng.standard_normal((1, 16, 24, 24)).astype(np.float32))


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.999])
def test_truncated_model_file_is_an_error(tmp_path, oxrt_bin, cut):
    w = _weights(np.random.default_rng(5), 1)
    data = _model(w).SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: int(len(data) * cut)])
    from conftest import run_cli

    p = run_cli(oxrt_bin, "run", str(path), check=False)
    assert p.returncode != 0 and p.returncode < 128, (p.returncode, p.stderr)
    assert "truncated" in p.stderr or "corrupt" in p.stderr or "needs" in p.stderr, p.stderr
