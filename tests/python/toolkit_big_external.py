"""Models over 2 GB with external data through the toolkit commands (`make test-toolkit-big`; needs ~7 GB of
disk and a minute or two, too big for the test command).

The model: Gather from a 2.25 GB float table (36M rows x 16) stored in an external data file written in chunks,
plus an Identity and an Add so that the optimizer has work. Checks: oxrt info, check --full, run, run --dump-all +
diff, graph, and optimize / infer-shapes / convert --opset with --external-data, each writing a > 2 GB model that
oxrt and ONNX Runtime load with the same output (each written model is removed once checked, so that at most two
copies of the table are on disk). `oxrt print` is left out: it prints the table's 600M values inline.
The test command runs the same commands on a model whose weights lie 4.5 GiB into a sparse data file
(tests/python/test_toolkit_external.py).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROWS, COLS = 36 * 1024 * 1024, 16  # 2.25 GiB of float32
BUILD = os.environ.get("OXRT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
OXRT = os.path.join(BUILD, "oxrt")


def write_model(d):
    data = os.path.join(d, "big.onnx.data")
    with open(data, "wb") as f:  # row r holds r + column / 100, so any gathered row can be checked
        col = np.arange(COLS, dtype=np.float32) / 100
        step = 1 << 20
        for r0 in range(0, ROWS, step):
            rows = np.arange(r0, min(ROWS, r0 + step)).astype(np.float32)[:, None]
            f.write((rows + col).astype(np.float32).tobytes())
    table = TensorProto(name="table", data_type=TensorProto.FLOAT, dims=[ROWS, COLS])
    table.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "big.onnx.data"), ("offset", "0"), ("length", str(ROWS * COLS * 4))):
        table.external_data.add(key=k, value=v)
    nodes = [helper.make_node("Identity", ["idx"], ["i2"]), helper.make_node("Gather", ["table", "i2"], ["g"]),
             helper.make_node("Add", ["g", "bias"], ["y"])]
    g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("idx", TensorProto.INT64, [3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, COLS])],
                          [table, numpy_helper.from_array(np.ones(COLS, np.float32), "bias")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    path = os.path.join(d, "big.onnx")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


def sh(*args):
    p = subprocess.run([OXRT, *args], capture_output=True, text=True)
    print(f"$ oxrt {' '.join(args)}\n{p.stdout}{p.stderr}", flush=True)
    if p.returncode:
        sys.exit(f"FAILED: oxrt {' '.join(args)}")
    return p.stdout


def main():
    with tempfile.TemporaryDirectory(prefix="oxrt_big_", dir=os.environ.get("TMPDIR", "/tmp")) as d:
        src = write_model(d)
        idx = np.array([0, 12345678, ROWS - 1], np.int64)
        np.save(os.path.join(d, "idx.npy"), idx)
        want = idx[:, None].astype(np.float32) + np.arange(COLS, dtype=np.float32) / 100 + 1
        sh("info", src)
        assert "valid (full check)" in sh("check", "--full", src)
        sh("run", src, "--input", f"idx={d}/idx.npy", "--output-dir", d)
        np.testing.assert_allclose(np.load(os.path.join(d, "y.npy")), want, rtol=1e-6)
        sh("run", src, "--input", f"idx={d}/idx.npy", "--dump-all", os.path.join(d, "dump"))
        assert "all 4 values present in both dumps match" in sh("diff", src, os.path.join(d, "dump"))
        sh("graph", src, "-o", os.path.join(d, "big.dot"))
        import onnxruntime as ort
        writers = [("optimize", ["--passes", "eliminate_identity,eliminate_deadend"], ["Gather", "Add"]),
                   ("infer-shapes", [], ["Identity", "Gather", "Add"]),
                   ("convert", ["--opset", "18"], ["Identity", "Gather", "Add"])]
        for cmd, args, ops in writers:
            out = os.path.join(d, f"{cmd}.onnx")
            sh(cmd, src, out, *args, "--external-data", "1024")
            assert os.path.getsize(out + ".data") > 2 ** 31 and os.path.getsize(out) < 2 ** 20, cmd
            m = onnx.load(out, load_external_data=False)
            assert [n.op_type for n in m.graph.node] == ops, cmd
            if cmd == "infer-shapes":
                assert {v.name for v in m.graph.value_info} >= {"i2", "g"}, cmd
            if cmd == "convert":
                assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [18], cmd
            sh("run", out, "--input", f"idx={d}/idx.npy", "--output-dir", os.path.join(d))
            np.testing.assert_allclose(np.load(os.path.join(d, "y.npy")), want, rtol=1e-6)
            got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, {"idx": idx})[0]
            np.testing.assert_allclose(got, want, rtol=1e-6)
            os.remove(out + ".data")
        print("big external data model: check --full, run, dump/diff, graph, optimize / infer-shapes / convert "
              "--external-data and ONNX Runtime agree")


if __name__ == "__main__":
    main()
