"""int8 speed: oxrt int8 vs oxrt fp32 vs ONNX Runtime int8 (and fp32) on the same files, one thread.

Models come from bench/models/generate.py (full sizes: ResNet-18 and mobilenet_v2 at 224x224, BERT-small with 128
tokens) and are quantized with onnxruntime.quantization the way the issue measured them, and with oxrt.quantization
(same calls, rows marked "(oxrt)"):
  resnet18, mobilenet_v2  quantize_static, QDQ, per channel, uint8 activations / int8 weights (reduce_range: 7-bit weights,
            so ONNX Runtime's AVX2 kernel does not saturate; --full-range to drop it) and QOperator
  bert_small quantize_dynamic, int8 weights
Each latency is the minimum CPU time of the calling thread over --runs runs after --warmup runs (one thread: both
runtimes compute on the caller; the machine is shared, and CPU-time minima are the stable statistic there). Prints one row per model and the ratios the issue's targets are stated in.
With --threads 1 2 (the default) the int8 files also run with two intra-op threads: those latencies are wall-time
minima (the workers' time is not the caller's), so on a machine shared with other jobs they move much more than the
one-thread CPU times.
ORT and oxrt run in --rounds interleaved rounds of --runs runs (minimum over all), the order rotated each round and
with a 30 ms pause before each session's runs: ONNX Runtime's workers spin for a while after a run, and on a 2-core
machine a session timed right after ORT's found its second core taken (mobilenet_v2 at 2 threads read 1.4-1.6x ORT
that way, 1.12-1.16x rotated and paused).

    python bench/quant_bench.py [--out /tmp/qbench] [--runs 10] [--rounds 3] [--models resnet18 mobilenet_v2 bert_small]
                                [--tools ort oxrt] [--threads 1 2]
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "models"))


def _time(run, runs, warmup, threads=1):
    """Minimum CPU time of this thread per run (both runtimes compute on the calling thread at one thread), in
    ms: on a shared machine it ignores the time other processes hold the core, which wall time would count.
    With more threads, the minimum wall time (the work is spread over the runtime's workers)."""
    clock = time.thread_time if threads == 1 else time.perf_counter
    for _ in range(warmup):
        run()
    best = float("inf")
    for _ in range(runs):
        t = clock()
        run()
        best = min(best, clock() - t)
    return best * 1e3


def ort_session(path, threads=1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def oxrt_session(path, threads=1):
    import oxrt
    so = oxrt.SessionOptions()
    so.intra_op_num_threads = threads
    return oxrt.InferenceSession(path, so)


def both_ms(path, feeds, runs, warmup, rounds, threads=1):
    """(ORT ms, oxrt ms, ORT outputs, oxrt outputs): the two sessions timed in interleaved rounds, the order rotated
    each round, a pause before each batch (see the module's help)."""
    ss = [ort_session(path, threads), oxrt_session(path, threads)]
    best = [float("inf")] * 2
    for r in range(max(1, rounds)):
        for i in ((0, 1) if r % 2 == 0 else (1, 0)):
            time.sleep(0.03)
            best[i] = min(best[i], _time(lambda: ss[i].run(None, feeds), runs, warmup if r == 0 else 0, threads))
    return best[0], best[1], ss[0].run(None, feeds), ss[1].run(None, feeds)


def quantized(name, path, feeds, out_dir, fmt, full_range, tool="ort"):
    """The quantized file of `name` made by onnxruntime.quantization (tool "ort") or oxrt.quantization ("oxrt"),
    which has the same names and signatures."""
    if tool == "ort":
        from onnxruntime import quantization as q
    else:
        from oxrt import quantization as q
    tag = "" if tool == "ort" else ".oxrt"
    if name.startswith("bert"):
        out = os.path.join(out_dir, f"{name}{tag}.dyn.onnx")
        if not os.path.exists(out):
            q.quantize_dynamic(path, out, weight_type=q.QuantType.QInt8)
        return out
    out = os.path.join(out_dir, f"{name}{tag}.{fmt}{'.full' if full_range else ''}.onnx")
    if not os.path.exists(out):
        rng = np.random.default_rng(0)
        calib = [{k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in feeds.items()} for _ in range(4)]

        class Reader(q.CalibrationDataReader):
            def __init__(self):
                self.it = iter(calib)

            def get_next(self):
                return next(self.it, None)

        reader = Reader()
        q.quantize_static(path, out, reader, quant_format=q.QuantFormat.QDQ if fmt == "qdq" else q.QuantFormat.QOperator,
                          per_channel=True, activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                          reduce_range=not full_range)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/oxrt_quant_bench")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of --runs runs per runtime")
    ap.add_argument("--models", nargs="*", default=["resnet18", "mobilenet_v2", "bert_small"])
    ap.add_argument("--tools", nargs="*", default=["ort", "oxrt"], choices=["ort", "oxrt"],
                    help="who quantizes: onnxruntime.quantization and/or oxrt.quantization (QDQ and dynamic only)")
    ap.add_argument("--full-range", action="store_true", help="8-bit weights without reduce_range")
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2],
                    help="intra-op threads of the int8 runs: 1 (CPU time, always) and more (wall time) as columns")
    a = ap.parse_args()
    more = [t for t in a.threads if t > 1]
    os.makedirs(a.out, exist_ok=True)
    import generate
    print(f"{'model':24s} {'ORT fp32':>9s} {'oxrt fp32':>9s} {'ORT int8':>9s} {'oxrt int8':>9s}  "
          f"{'fp32/int8 (oxrt)':>16s} {'oxrt/ORT int8':>13s} {'max|diff| vs ORT':>16s}"
          + "".join(f" {f'ORT {t}T':>9s} {f'oxrt {t}T':>9s} {f'ratio {t}T':>9s}" for t in more))
    for name in a.models:
        path = os.path.join(a.out, name + ".onnx")
        if not os.path.exists(path):
            generate.generate(name, a.out, small=False)
        feeds = dict(np.load(os.path.join(a.out, name + ".inputs.npz")))
        of, xf, _, _ = both_ms(path, feeds, a.runs, a.warmup, a.rounds)
        for tool in a.tools:
            for fmt in (["dyn"] if name.startswith("bert") else ["qdq", "qoperator"] if tool == "ort" else ["qdq"]):
                qpath = quantized(name, path, feeds, a.out, fmt, a.full_range, tool)
                oq, xq, ro, rx = both_ms(qpath, feeds, a.runs, a.warmup, a.rounds)
                diff = float(np.max(np.abs(np.asarray(ro[0], np.float64) - np.asarray(rx[0], np.float64))))
                label = f"{name} {fmt} ({tool})"
                cols = ""
                for t in more:
                    o2, x2, _, _ = both_ms(qpath, feeds, a.runs, a.warmup, a.rounds, t)
                    cols += f" {o2:9.2f} {x2:9.2f} {x2 / o2:8.2f}x"
                print(f"{label:24s} {of:9.2f} {xf:9.2f} {oq:9.2f} {xq:9.2f}  {xf / xq:16.2f}x "
                      f"{xq / oq:12.2f}x {diff:16.4g}{cols}", flush=True)


if __name__ == "__main__":
    main()
