"""Per-call cost of InferenceSession.run through Python: oxrt and ONNX Runtime in the same process, on models so
small that the call itself is what is measured (an Add of two 1x4 tensors, a one-row random forest from skl2onnx
with and without ZipMap). Rounds alternate between the runtimes; each keeps its fastest round (shared machines).
Writes bench/CALL_OVERHEAD.md.

    python bench/call_overhead.py [--rounds 15] [--calls 2000] [--output bench/CALL_OVERHEAD.md]
"""
import argparse
import os
import platform
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

import oxrt

HERE = os.path.dirname(os.path.abspath(__file__))


def add_model():
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in "abc"]
    g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["c"])], "add", vi[:2], vi[2:])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    return m.SerializeToString(), {"a": x, "b": x}


def forest_model(zipmap):
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    clf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, y)
    opts = None if zipmap else {id(clf): {"zipmap": False}}
    m = to_onnx(clf, X[:1], options=opts, target_opset={"": 17, "ai.onnx.ml": 3})
    return m.SerializeToString(), {"X": X[:1]}


def per_call_us(sessions, feed, rounds, calls):
    best = {name: float("inf") for name in sessions}
    for _ in range(rounds):
        for name, s in sessions.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                s.run(None, feed)
            best[name] = min(best[name], (time.perf_counter() - t0) / calls * 1e6)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--output", default=os.path.join(HERE, "CALL_OVERHEAD.md"))
    args = ap.parse_args()
    cases = [("Add of two 1x4 tensors", add_model)]
    try:
        import skl2onnx  # noqa: F401
        import sklearn  # noqa: F401
        cases += [("random forest, one row, ZipMap", lambda: forest_model(True)),
                  ("random forest, one row, no ZipMap", lambda: forest_model(False))]
    except ImportError:
        print("skl2onnx / scikit-learn not installed: the random-forest rows are left out")
    rows = []
    for label, make in cases:
        model, feed = make()
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        xo = oxrt.SessionOptions()
        xo.intra_op_num_threads = 1
        sessions = {"onnxruntime": ort.InferenceSession(model, so, providers=["CPUExecutionProvider"]),
                    "oxrt": oxrt.InferenceSession(model, xo)}
        best = per_call_us(sessions, feed, args.rounds, args.calls)
        rows.append((label, best["oxrt"], best["onnxruntime"]))
        print(f"{label:36s} oxrt {best['oxrt']:6.2f} us  onnxruntime {best['onnxruntime']:6.2f} us  "
              f"ratio {best['oxrt'] / best['onnxruntime']:.2f}")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open(args.output, "w") as f:
        f.write("# Per-call cost through Python\n\n")
        f.write(f"`make bench` (bench/call_overhead.py): `InferenceSession.run(None, feed)` on tiny models, oxrt and "
                f"onnxruntime {ort.__version__} in one process, 1 intra-op thread, fastest of {args.rounds} "
                f"alternating rounds of {args.calls} calls. CPU: {cpu}.\n\n")
        f.write("| model | oxrt us/call | onnxruntime us/call | oxrt/ORT |\n|---|---:|---:|---:|\n")
        for label, a, b in rows:
            f.write(f"| {label} | {a:.2f} | {b:.2f} | {a / b:.2f} |\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
