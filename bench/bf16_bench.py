"""bfloat16 compute mode side by side: oxrt's session.bf16_compute=1 against OpenVINO's bf16 inference precision
(its default on CPUs with AVX512_BF16 or AMX), with both runtimes' float32 and ONNX Runtime's float32 as the
baseline, in the same run. Each cell is a fresh process; the runtimes alternate for --rounds rounds and each keeps
its lowest median. Also the accuracy cost: the largest difference of each bf16 output from oxrt's float32 output,
relative to the largest |float32| value. Writes bench/BF16.md.

    python bench/bf16_bench.py [--runs 10] [--rounds 2] [--threads 1 2] [names...]

Models come from bench/run_bench.py's corpus (bench/models/out; generated or fetched when missing).
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "models"))

CHILD = r"""
import json, sys, time
import numpy as np
rt, model, feeds_path, threads, runs, warmup, out = sys.argv[1:8]
threads, runs, warmup = int(threads), int(runs), int(warmup)
feeds = dict(np.load(feeds_path))
t0 = time.perf_counter()
if rt.startswith("ov"):
    import openvino as ov
    core = ov.Core()
    m = core.read_model(model)
    m.reshape({p.get_any_name(): feeds[p.get_any_name()].shape for p in m.inputs})
    c = core.compile_model(m, "CPU", {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
                                      "INFERENCE_PRECISION_HINT": "bf16" if rt == "ov_bf16" else "f32"})
    req = c.create_infer_request()
    names = [p.get_any_name() for p in m.inputs]
    def run():
        req.infer({n: feeds[n] for n in names})
        return req.get_output_tensor(0).data.copy()
else:
    if rt.startswith("oxrt"):
        import oxrt as lib
    else:
        import onnxruntime as lib
    so = lib.SessionOptions()
    so.intra_op_num_threads = threads
    if rt == "oxrt_bf16":
        so.add_session_config_entry("session.bf16_compute", "1")
    s = lib.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    def run():
        return s.run(None, {n: feeds[n] for n in names})[0]
load_ms = (time.perf_counter() - t0) * 1e3
for _ in range(warmup):
    y = run()
ts, cs = [], []
for _ in range(runs):
    t, c = time.perf_counter(), time.process_time()
    y = run()
    ts.append((time.perf_counter() - t) * 1e3)
    cs.append((time.process_time() - c) * 1e3)
np.save(out, np.asarray(y, dtype=np.float32))
print(json.dumps({"load_ms": load_ms, "median_ms": float(np.median(ts)), "cpu_ms": float(np.median(cs))}))
"""

RUNTIMES = ["ort_fp32", "ov_fp32", "ov_bf16", "oxrt_fp32", "oxrt_bf16"]


def child(rt, model, feeds_path, threads, runs, warmup, out, oxrt_path=None):
    env = dict(os.environ)
    if oxrt_path and rt.startswith("oxrt"):
        env["PYTHONPATH"] = oxrt_path + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", CHILD, rt, model, feeds_path, str(threads), str(runs), str(warmup), out],
                       capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["?"])[-1][:120]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def model_path(name, models_dir):
    import generate
    import public
    if name in public.PUBLIC:
        return public.fetch(name, models_dir)
    path = os.path.join(models_dir, name + ".onnx")
    if not os.path.exists(path):
        generate.generate(name, models_dir, small=False)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--models-dir", default=os.path.join(HERE, "models", "out"))
    ap.add_argument("--output", default=os.path.join(HERE, "BF16.md"), help="'-': print the cells only")
    ap.add_argument("--runtimes", nargs="+", default=RUNTIMES, choices=RUNTIMES,
                    help="a subset for quick A/B runs (the table needs oxrt_fp32 for the err column)")
    ap.add_argument("--oxrt-path", help="import oxrt from this folder (A/B of two builds)")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    import oxrt
    info = oxrt._oxrt.bf16_info()
    names = a.names or ["resnet50", "bert_base", "gpt2_small", "ppocr_det", "ppocr_rec", "layout_cdla"]
    tmp = tempfile.mkdtemp(prefix="oxrt-bf16-bench-")
    rows = []
    a.load_before = os.getloadavg()
    for name in names:
        model = model_path(name, a.models_dir)
        feeds_path = os.path.join(a.models_dir, name + ".inputs.npz")
        for t in a.threads:
            best = {rt: {"error": "not run"} for rt in RUNTIMES}
            for _ in range(a.rounds):
                for rt in a.runtimes:
                    got = child(rt, model, feeds_path, t, a.runs, a.warmup, os.path.join(tmp, f"{name}.{rt}.npy"),
                                a.oxrt_path)
                    b = best[rt]
                    if "error" in b or ("error" in b and "error" not in got) or (
                            "error" not in got and got["median_ms"] < b["median_ms"]):
                        best[rt] = got
            ref_path = os.path.join(tmp, f"{name}.oxrt_fp32.npy")
            ref = np.load(ref_path) if os.path.exists(ref_path) else None
            scale = float(np.abs(ref).max()) or 1.0 if ref is not None else 1.0
            for rt in RUNTIMES if ref is not None else []:
                out = os.path.join(tmp, f"{name}.{rt}.npy")
                if "error" not in best[rt] and os.path.exists(out):
                    y = np.load(out)
                    d = np.abs(y.reshape(ref.shape).astype(np.float64) - ref) if y.size == ref.size else None
                    best[rt]["err"] = float(d.max()) / scale if d is not None else None
                    best[rt]["err_mean"] = float(d.mean()) / scale if d is not None else None
            rows.append((name, t, best))
            print(name, t, json.dumps(best), flush=True)
    a.load_after = os.getloadavg()
    shutil.rmtree(tmp, ignore_errors=True)
    if a.output != "-":
        write(a, rows, info)


def write(a, rows, info):
    cpu = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import onnxruntime
    import openvino
    lines = ["# bfloat16 compute mode: oxrt vs OpenVINO", "",
             f"Machine: {cpu}, {os.cpu_count()} cores; AVX512_BF16: {info['cpu_has_bf16']}, oxrt native bfloat16 "
             f"kernel: {info['native_kernel']}; onnxruntime {onnxruntime.__version__}, openvino "
             f"{openvino.__version__}, Python {platform.python_version()}  ",
             f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
             f"Command: `python bench/bf16_bench.py --runs {a.runs} --rounds {a.rounds} --threads "
             f"{' '.join(map(str, a.threads))}`  ",
             f"Load average (1, 5, 15 min) at the start {', '.join(f'{x:.1f}' for x in a.load_before)}, at the end "
             f"{', '.join(f'{x:.1f}' for x in a.load_after)} (other work on the machine: above about 1, latencies "
             "and especially the 2-thread cells are inflated)", "",
             "Median latency in ms (fresh process per cell, runtimes alternating, lowest median of the rounds). "
             "oxrt bf16 is `session.bf16_compute=1`; OpenVINO bf16 is `INFERENCE_PRECISION_HINT=bf16` (LATENCY hint, "
             "one stream). Ratios are against ONNX Runtime float32 and against OpenVINO bf16 (below 1.00: oxrt "
             "faster). CPU: the same ratio of the median process CPU time per run (all threads): at 1 thread it measures the "
             "work and is robust to time slices lost to other processes; at 2 threads it is the total work, not the "
             "latency. err: largest |output - oxrt float32 output| / largest |oxrt float32 output|; mean err: the mean "
             "|output - oxrt float32 output| over the same scale (the largest difference is one element's rounding "
             "lottery: BERT-base's went 6.9e-3 -> 7.5e-3 when only the order of the bfloat16 GEMM's two products "
             "per pair changed, its mean 6.1e-3 -> 5.9e-3; the mean is the steadier measure).", "",
             "| model | threads | ORT fp32 | OpenVINO fp32 | OpenVINO bf16 | oxrt fp32 | oxrt bf16 | oxrt bf16 / ORT fp32 "
             "| OpenVINO bf16 / ORT fp32 | oxrt bf16 / OpenVINO bf16 | CPU oxrt bf16 / OpenVINO bf16 | err oxrt bf16 "
             "| err OpenVINO bf16 | mean err oxrt bf16 | mean err OpenVINO bf16 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def ms(d):
        return "fail" if "error" in d else f"{d['median_ms']:.2f}"

    def ratio(x, y):
        return "-" if "error" in x or "error" in y else f"{x['median_ms'] / y['median_ms']:.2f}"

    def cpu_ratio(x, y):
        ok = "error" not in x and "error" not in y and x.get("cpu_ms") and y.get("cpu_ms")
        return f"{x['cpu_ms'] / y['cpu_ms']:.2f}" if ok else "-"

    def err(d, key="err"):
        return "-" if "error" in d or d.get(key) is None else f"{d[key]:.2e}"

    for name, t, b in rows:
        lines.append(f"| {name} | {t} | {ms(b['ort_fp32'])} | {ms(b['ov_fp32'])} | {ms(b['ov_bf16'])} | "
                     f"{ms(b['oxrt_fp32'])} | {ms(b['oxrt_bf16'])} | {ratio(b['oxrt_bf16'], b['ort_fp32'])} | "
                     f"{ratio(b['ov_bf16'], b['ort_fp32'])} | {ratio(b['oxrt_bf16'], b['ov_bf16'])} | "
                     f"{cpu_ratio(b['oxrt_bf16'], b['ov_bf16'])} | "
                     f"{err(b['oxrt_bf16'])} | {err(b['ov_bf16'])} | {err(b['oxrt_bf16'], 'err_mean')} | "
                     f"{err(b['ov_bf16'], 'err_mean')} |")
    fails = [(n, t, rt, b[rt]["error"]) for n, t, b in rows for rt in RUNTIMES if "error" in b[rt]]
    if fails:
        lines += ["", "Failures:", ""] + [f"- {n} ({t} threads, {rt}): {e}" for n, t, rt, e in fails]
    with open(a.output, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
