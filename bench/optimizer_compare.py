"""Side by side: onnxoptimizer.optimize(model) against `oxrt optimize MODEL OUT --passes <the same list>`.

For each model of the corpus (bench/models/generate.py's small variants, generated once into a cache folder,
plus any .onnx files named on the command line), both run onnxoptimizer's default pass list
(get_fuse_and_elimination_passes(); oxrt runs the names it implements, in the same order). Reported: node count
before and after, file size after, time taken (median of a few runs; onnxoptimizer's includes its
(de)serialization, oxrt's the whole command: load, optimize, save), and whether both optimized models load in ONNX
Runtime and give the original model's outputs.

    python bench/optimizer_compare.py [--oxrt build/oxrt] [--cache DIR] [--runs 3] [--write-doc] [MODEL.onnx ...]

--write-doc replaces the table in docs/optimizer.md.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxoptimizer
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = ["resnet18", "mobilenet_v2", "squeezenet1_1", "efficientnet_b0", "bert_small", "gpt2_small", "lstm",
          "sk_scaler_pipeline", "lightgbm_classifier"]
DOC = os.path.join(ROOT, "docs", "optimizer.md")
BEGIN, END = "<!-- optimizer_compare: begin -->", "<!-- optimizer_compare: end -->"


def corpus(cache):
    os.makedirs(cache, exist_ok=True)
    missing = [n for n in CORPUS if not os.path.exists(os.path.join(cache, n + ".onnx"))]
    if missing:
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "models", "generate.py"), "--size", "small",
                        "--out", cache, *missing], check=False)
    return [os.path.join(cache, n + ".onnx") for n in CORPUS if os.path.exists(os.path.join(cache, n + ".onnx"))]


def feeds(path):
    npz = path[:-5] + ".inputs.npz"
    if os.path.exists(npz):
        return dict(np.load(npz))
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.RandomState(0)
    out = {}
    for i in s.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        t = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}.get(i.type, np.float32)
        out[i.name] = (rng.rand(*shape) * 4).astype(t)
    return out


def outputs(path, f):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, f)


def same(a, b):
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype.kind in "fc":
            if not np.allclose(x, y, rtol=1e-3, atol=1e-4, equal_nan=True):
                return False
        elif x.dtype != object and not np.array_equal(x, y):
            return False
    return True


def count(path):
    return len(onnx.load(path, load_external_data=False).graph.node)


def median_time(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def compare(path, oxrt, passes, runs, tmp):
    name = os.path.basename(path)[:-5]
    m = onnx.load(path)
    ours_path, theirs_path = os.path.join(tmp, name + ".oxrt.onnx"), os.path.join(tmp, name + ".onnxopt.onnx")
    have = subprocess.run([oxrt, "optimize", "--list"], capture_output=True, text=True, check=True).stdout
    ours_passes = [p for p in passes if f"  {p} " in have]

    def run_ours():
        subprocess.run([oxrt, "optimize", path, ours_path, "--passes", ",".join(ours_passes)], check=True,
                       capture_output=True)

    def run_theirs():
        onnx.save(onnxoptimizer.optimize(m, passes), theirs_path)

    row = {"model": name, "nodes": len(m.graph.node), "size": os.path.getsize(path)}
    row["oxrt_s"] = median_time(run_ours, runs)
    try:
        row["onnxopt_s"] = median_time(run_theirs, runs)
        row["onnxopt_nodes"], row["onnxopt_size"] = count(theirs_path), os.path.getsize(theirs_path)
    except Exception as e:  # onnxoptimizer fails on some models: say so in the table
        row["onnxopt_error"] = f"{type(e).__name__}"
    row["oxrt_nodes"], row["oxrt_size"] = count(ours_path), os.path.getsize(ours_path)
    f = feeds(path)
    want = outputs(path, f)
    row["oxrt_ok"] = same(outputs(ours_path, f), want)
    if "onnxopt_error" not in row:
        try:
            row["onnxopt_ok"] = same(outputs(theirs_path, f), want)
        except Exception as e:
            row["onnxopt_ok"] = f"does not load in ORT ({type(e).__name__})"
    return row


def table(rows, n_passes, n_ours):
    lines = [f"onnxoptimizer {onnxoptimizer.__version__} default list ({n_passes} passes; oxrt runs the {n_ours} it "
             f"implements, in the same order). Times are medians of the runs, on the machine that wrote this table.",
             "",
             "| model | nodes | onnxoptimizer nodes | oxrt nodes | size (KB) | onnxoptimizer size | oxrt size "
             "| onnxoptimizer time (ms) | oxrt time (ms) | outputs match ORT (onnxoptimizer / oxrt) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        err = r.get("onnxopt_error")
        t_size = "-" if err else "%.0f" % (r["onnxopt_size"] / 1024)
        t_time = "-" if err else "%.0f" % (r["onnxopt_s"] * 1e3)
        t_ok = "-" if err else r["onnxopt_ok"]
        lines.append(f"| {r['model']} | {r['nodes']} | {err or r['onnxopt_nodes']} | {r['oxrt_nodes']} "
                     f"| {r['size'] / 1024:.0f} | {t_size} | {r['oxrt_size'] / 1024:.0f} | {t_time} "
                     f"| {r['oxrt_s'] * 1e3:.0f} | {t_ok} / {r['oxrt_ok']} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oxrt", default=os.path.join(ROOT, "build", "oxrt"))
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "oxrt_optimizer_corpus"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write-doc", action="store_true")
    ap.add_argument("models", nargs="*")
    a = ap.parse_args()
    passes = onnxoptimizer.get_fuse_and_elimination_passes()
    have = subprocess.run([a.oxrt, "optimize", "--list"], capture_output=True, text=True, check=True).stdout
    n_ours = sum(f"  {p} " in have for p in passes)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in a.models or corpus(a.cache):
            rows.append(compare(path, a.oxrt, passes, a.runs, tmp))
            print(rows[-1], flush=True)
    text = table(rows, len(passes), n_ours)
    print(text)
    if a.write_doc:
        doc = open(DOC).read()
        i, j = doc.index(BEGIN) + len(BEGIN), doc.index(END)
        open(DOC, "w").write(doc[:i] + "\n" + text + "\n" + doc[j:])
    bad = [r["model"] for r in rows if r["oxrt_ok"] is not True]
    if bad:
        sys.exit(f"oxrt's optimized models differ from the originals: {bad}")


if __name__ == "__main__":
    main()
