"""Side-by-side benchmark: oxrt and ONNX Runtime in the same run, same machine, same inputs.

For each model (full-size variants from bench/models/generate.py, and real trained models from public PyPI
packages, bench/models/public.py) and each thread count, a fresh process per runtime measures: session load
time, latency median and p90 over N runs after warm-up, and peak RSS above the process's own baseline. Then
oxrt's per-operator profile of every model where oxrt is slower. Writes bench/RESULTS.md and the chart
bench/ratios.png.

    python bench/run_bench.py --oxrt build/oxrt [--runs 20] [--threads 1 2] [names...]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "models"))
import generate  # noqa: E402
import public  # noqa: E402

ORT_CHILD = r"""
import json, sys, time
import numpy as np
import onnxruntime as ort
def status_mb(key):  # this process's own resident memory (VmHWM: peak, VmRSS: now)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return float(line.split()[1]) / 1024.0
    return 0.0
model, feeds_path, threads, runs, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
feeds = dict(np.load(feeds_path))
base = status_mb("VmRSS")
so = ort.SessionOptions()
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
so.intra_op_num_threads = threads
so.inter_op_num_threads = 1
t0 = time.perf_counter()
s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
load = time.perf_counter() - t0
times = []
for i in range(warmup + runs):
    t0 = time.perf_counter()
    s.run(None, feeds)
    if i >= warmup:
        times.append(time.perf_counter() - t0)
times.sort()
peak = status_mb("VmHWM")
print(json.dumps({"load_ms": load * 1e3, "median_ms": times[len(times) // 2] * 1e3,
                  "p90_ms": times[min(len(times) - 1, (len(times) * 9) // 10)] * 1e3,
                  "rss_mb": peak - base}))
"""


def run_ort(model, feeds_path, threads, runs, warmup):
    p = subprocess.run([sys.executable, "-c", ORT_CHILD, model, feeds_path, str(threads), str(runs), str(warmup)],
                       capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "onnxruntime failed")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_oxrt(oxrt, model, feeds, tmp, threads, runs, warmup):
    args = [oxrt, "bench", model, "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup)]
    for name, arr in feeds.items():
        path = os.path.join(tmp, f"{os.path.basename(model)}.{name}.npy")
        np.save(path, arr)
        args += ["--input", f"{name}={path}"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError((p.stderr.strip() or p.stdout.strip()).splitlines()[-1])
    vals = {}
    for line in p.stdout.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            vals[k.strip()] = v.strip().split()[0]
    return {"load_ms": float(vals["load_ms"]), "median_ms": float(vals["median_ms"]), "p90_ms": float(vals["p90_ms"]),
            "rss_mb": float(vals["peak_rss_mb"]) - float(vals.get("baseline_rss_mb", 0))}


def profile_oxrt(oxrt, model, feeds, tmp, threads, top=6):
    """oxrt's per-operator table for one model: the `top` operator types by time, as `oxrt bench --profile`
    prints them."""
    args = [oxrt, "bench", model, "--threads", str(threads), "--runs", "5", "--warmup", "2", "--profile"]
    for name, arr in feeds.items():
        path = os.path.join(tmp, f"{os.path.basename(model)}.{name}.npy")
        np.save(path, arr)
        args += ["--input", f"{name}={path}"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    lines, on = [], False
    for line in p.stdout.splitlines():
        if line.startswith("operator"):
            on = True
            continue
        if on:
            if not line.strip():
                break
            w = line.split()
            if len(w) >= 4:
                lines.append((w[0], w[1], w[2], w[3]))
    return lines[:top]


def draw_chart(a, rows):
    """bench/ratios.png: oxrt/ORT median latency per model at each thread count (below 1: oxrt faster)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing: no chart (pip install matplotlib)")
        return
    models = list(dict.fromkeys(row["model"] for row in rows))
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(models) * len(a.threads) + 1.5))
    height = 0.8 / len(a.threads)
    for k, t in enumerate(a.threads):
        vals = []
        for m in models:
            row = next((r for r in rows if r["model"] == m and r["threads"] == t), None)
            ok = row and "error" not in row["oxrt"] and "error" not in row["ort"]
            vals.append(row["oxrt"]["median_ms"] / row["ort"]["median_ms"] if ok else 0.0)
        ys = [i + k * height for i in range(len(models))]
        ax.barh(ys, vals, height=height, label=f"{t} thread{'s' if t > 1 else ''}")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(models))])
    ax.set_yticklabels(models)
    ax.invert_yaxis()
    ax.set_xlabel("median latency, oxrt / ONNX Runtime (below 1: oxrt faster)")
    ax.set_title(f"oxrt vs ONNX Runtime, {time.strftime('%Y-%m-%d')}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    out = os.path.join(os.path.dirname(a.output), "ratios.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
            f"onnxruntime {onnxruntime.__version__}, Python {platform.python_version()}")


def timed_runs(a, model, feeds, threads):
    """Runs and warm-up runs per process for both runtimes: at least --runs, and for models of a few ms enough to
    fill --min-ms (a 10-run median of a 1 ms model at 2 threads is mostly how the pool's threads happened to wake)."""
    try:
        est = run_oxrt(a.oxrt, model, feeds, a.models_dir, threads, 3, 1)["median_ms"]
    except Exception:
        return a.runs, a.warmup
    runs = max(a.runs, min(2000, int(a.min_ms / max(est, 1e-3))))
    return runs, max(a.warmup, runs // 10)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oxrt", default=os.path.join(HERE, "..", "build", "oxrt"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--min-ms", type=float, default=300.0,
                    help="timed runs per process fill at least this many ms (runs = max(--runs, min-ms / median))")
    ap.add_argument("--rounds", type=int, default=3, help="alternating oxrt/ORT rounds per cell; the best round counts")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--models-dir", default=os.path.join(HERE, "models", "out"))
    ap.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--precision", action="store_true",
                    help="also run bench/quant_bench.py (int8) and bench/fp16_bench.py (16-bit files) and add their "
                         "tables to RESULTS.md (the bf16 compute mode is bench/bf16_bench.py -> BF16.md)")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    names = a.names or list(public.PUBLIC) + list(generate.MODELS)
    os.makedirs(a.models_dir, exist_ok=True)
    rows = []
    for name in names:
        model = os.path.join(a.models_dir, name + ".onnx")
        if name in public.PUBLIC:
            model = public.fetch(name, a.models_dir)
        elif not os.path.exists(model):
            print(f"generating {name} ...", flush=True)
            generate.generate(name, a.models_dir, small=False)
        feeds_path = os.path.join(a.models_dir, name + ".inputs.npz")
        feeds = dict(np.load(feeds_path))
        for t in a.threads:
            row = {"model": name, "threads": t}
            # Rounds alternate the two runtimes (fresh processes each time) so that a burst of load from other
            # processes hits both; each runtime keeps its least disturbed round (lowest median).
            results = {"oxrt": [], "ort": []}
            runs, warmup = timed_runs(a, model, feeds, t)
            for _ in range(a.rounds):
                for rt, fn in (("oxrt", lambda: run_oxrt(a.oxrt, model, feeds, a.models_dir, t, runs, warmup)),
                               ("ort", lambda: run_ort(model, feeds_path, t, runs, warmup))):
                    try:
                        results[rt].append(fn())
                    except Exception as e:  # a failure is reported in the table, not hidden
                        results[rt].append({"error": str(e)[:120]})
            for rt, got in results.items():
                errs = [g for g in got if "error" in g]
                row[rt] = errs[0] if errs else min(got, key=lambda g: g["median_ms"])
                if not errs:
                    row[rt]["load_ms"] = min(g["load_ms"] for g in got)
            rows.append(row)
            o, r = row["oxrt"], row["ort"]
            print(name, t, json.dumps(o), json.dumps(r), flush=True)
    profiles = {}
    for name in dict.fromkeys(row["model"] for row in rows):  # where oxrt is slower: what its time goes to
        slow = [row for row in rows if row["model"] == name and ratio(row["oxrt"], row["ort"], "median_ms") != "-"
                and row["oxrt"]["median_ms"] > row["ort"]["median_ms"]]
        if slow:
            model = os.path.join(a.models_dir, name + ".onnx")
            profiles[name] = profile_oxrt(a.oxrt, model, dict(np.load(os.path.join(a.models_dir, name + ".inputs.npz"))),
                                          a.models_dir, slow[0]["threads"])
    precision = precision_tables(a) if a.precision else []
    write_results(a, rows, profiles, precision)
    draw_chart(a, rows)


def precision_tables(a):
    """(title, command, table text) of the int8 and 16-bit float benchmarks, each run in its own process."""
    out = []
    for title, script, args in (
            ("int8: ORT-quantized and oxrt-quantized files, 1 thread (CPU-time minima)", "quant_bench.py",
             ["--runs", str(max(a.runs, 10))]),
            ("float16 / bfloat16 files, 1 thread (CPU-time minima)", "fp16_bench.py",
             ["--models-dir", a.models_dir, "--out", os.path.join(a.models_dir, "fp16"), "--runs",
              str(max(a.runs, 10))])):
        cmd = [sys.executable, os.path.join(HERE, script)] + args
        print("running", " ".join(cmd[1:]), flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True)
        # keep the table: drop the libraries' warnings and progress lines
        keep = [ln for ln in r.stdout.splitlines() if ln.strip() and "onnxruntime:" not in ln and "Warning" not in ln
                and not ln.startswith("WARNING") and not ln.startswith("converted ")]
        if r.returncode != 0:
            keep.append(f"(exit {r.returncode}: {(r.stderr.strip().splitlines() or ['?'])[-1][:200]})")
        out.append((title, "python bench/" + script + " " + " ".join(args), "\n".join(keep)))
    return out


def ratio(o, r, key):
    if "error" in o or "error" in r or not r.get(key):
        return "-"
    return f"{o[key] / r[key]:.2f}"


def fmt(d, key, digits=2):
    return "fail" if "error" in d else f"{d[key]:.{digits}f}"


def write_results(a, rows, profiles=None, precision=None):
    lines = ["# Benchmark: oxrt vs ONNX Runtime", "",
             f"Machine: {machine()}  ", f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
             f"Command: `python bench/run_bench.py --runs {a.runs} --warmup {a.warmup} --min-ms {a.min_ms:g} "
             f"--rounds {a.rounds} --threads {' '.join(map(str, a.threads))}` (or `make bench`)", "",
             "Each cell comes from fresh processes per runtime: the two runtimes alternate for the given number of "
             "rounds and each keeps its round with the lowest median (load time: the lowest of its rounds); both time the same "
             "number of runs per process, at least --runs and enough to fill --min-ms. Ratios "
             "are oxrt / ONNX Runtime: below 1.00 means oxrt is faster (or smaller). ONNX Runtime runs with graph "
             "optimization level ALL and the same intra-op thread count. RSS is the peak resident memory above the process's baseline before loading.", "",
             "| model | threads | load ms oxrt | load ms ORT | load ratio | median ms oxrt | median ms ORT | "
             "median ratio | p90 ms oxrt | p90 ms ORT | p90 ratio | RSS MB oxrt | RSS MB ORT | RSS ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        o, r = row["oxrt"], row["ort"]
        lines.append(f"| {row['model']} | {row['threads']} | {fmt(o, 'load_ms')} | {fmt(r, 'load_ms')} | "
                     f"{ratio(o, r, 'load_ms')} | {fmt(o, 'median_ms', 3)} | {fmt(r, 'median_ms', 3)} | "
                     f"{ratio(o, r, 'median_ms')} | {fmt(o, 'p90_ms', 3)} | {fmt(r, 'p90_ms', 3)} | "
                     f"{ratio(o, r, 'p90_ms')} | {fmt(o, 'rss_mb', 1)} | {fmt(r, 'rss_mb', 1)} | "
                     f"{ratio(o, r, 'rss_mb')} |")
    errs = [(row["model"], rt, row[rt]["error"]) for row in rows for rt in ("oxrt", "ort") if "error" in row[rt]]
    if errs:
        lines += ["", "Failures:", ""] + [f"- {m} ({rt}): {e}" for m, rt, e in errs]
    lines += ["", "![oxrt / ONNX Runtime median latency per model](ratios.png)", "",
              "Models from public packages (bench/models/public.py): " +
              ", ".join(f"{n} ({public.PUBLIC[n][0]})" for n in public.PUBLIC) + "."]
    if profiles:
        lines += ["", "## Where oxrt is slower: its time per operator type", "",
                  "From `oxrt bench MODEL --profile` at the thread count where it loses (ms per run inside kernels)."]
        for name, ops in profiles.items():
            lines += ["", f"**{name}**: " + "; ".join(f"{op} {ms} ms ({share})" for op, ms, share, _ in ops)]
    if precision:
        lines += ["", "## Reduced precision", "",
                  "The bf16 compute mode of float32 models (session.bf16_compute=1, AVX512_BF16) against OpenVINO's "
                  "bf16 is in [BF16.md](BF16.md) (`make bench-bf16`)."]
        for title, cmd, table in precision:
            lines += ["", f"### {title}", "", f"`{cmd}`", "", "```", table, "```"]
    with open(a.output, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
