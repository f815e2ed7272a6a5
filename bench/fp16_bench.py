"""fp16 / bf16 speed and accuracy: oxrt on 16-bit files vs oxrt fp32 vs ONNX Runtime on the same files, one thread.

Files are made from the bench models (bench/models/generate.py --size full, or --models-dir) with `oxrt convert`
(--to fp16, --to fp16 --keep-io-types, --to bf16 --keep-io-types) and, where installed, onnxconverter-common's
float16 converter (keep_io_types both ways). Every variant runs interleaved in one process; each latency is the
minimum CPU time of the calling thread over --runs rounds (the machine is shared: CPU-time minima are the stable
statistic). "per-op" rows run the io-f32 file with OXRT_WIDEN_FLOAT16=0 (16-bit kernels, no widening).
--accuracy prints max |y - y_fp32| per variant instead (oxrt widened, oxrt per-op, ORT).

    python bench/fp16_bench.py --models-dir /work/main/bench/models/out --out /tmp/fp16-models \\
        [--models resnet18 mobilenet_v2 ...] [--runs 10] [--accuracy]
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = ["resnet18", "mobilenet_v2", "efficientnet_b0", "bert_small", "gpt2_small"]
OXRT_KINDS = {"fp16": ["--to", "fp16"], "fp16io": ["--to", "fp16", "--keep-io-types"],
              "bf16": ["--to", "bf16", "--keep-io-types"]}


def make_files(src, out, name, exe):
    paths = {}
    for kind, args in OXRT_KINDS.items():
        p = os.path.join(out, f"{name}.{kind}.onnx")
        if not os.path.exists(p):
            subprocess.run([exe, "convert", src, p, *args], check=True)
        paths[kind] = p
    try:
        import onnx
        from onnxconverter_common import float16
    except ImportError:
        return paths
    for kind, keep in (("occ", False), ("occio", True)):
        p = os.path.join(out, f"{name}.{kind}.onnx")
        if not os.path.exists(p):
            onnx.save(float16.convert_float_to_float16(onnx.load(src), keep_io_types=keep), p)
        paths[kind] = p
    return paths


def feeds(models_dir, name, path):
    import onnx
    z = np.load(os.path.join(models_dir, name + ".inputs.npz"))
    types = {i.name: i.type.tensor_type.elem_type for i in onnx.load(path, load_external_data=False).graph.input}
    return {k: z[k].astype(np.float16) if types.get(k) == onnx.TensorProto.FLOAT16 else z[k] for k in z.files}


def oxrt_session(path, widen=True):
    import oxrt
    os.environ["OXRT_WIDEN_FLOAT16"] = "1" if widen else "0"  # read when the session is created
    so = oxrt.SessionOptions()
    so.intra_op_num_threads = 1
    s = oxrt.InferenceSession(path, so)
    os.environ["OXRT_WIDEN_FLOAT16"] = "1"
    return s


def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def variants(models_dir, name, files):
    src = os.path.join(models_dir, name + ".onnx")
    v = [("oxrt fp32", oxrt_session, src, True)]
    v += [(f"oxrt {k}", oxrt_session, p, True) for k, p in files.items()]
    v.append(("oxrt fp16io per-op", oxrt_session, files["fp16io"], False))
    v.append(("ORT fp32", ort_session, src, None))
    v += [(f"ORT {k}", ort_session, files[k], None) for k in ("fp16io", "occio") if k in files]
    return v


def open_all(models_dir, name, files):
    out = []
    for label, make, path, widen in variants(models_dir, name, files):
        try:
            s = make(path) if widen is None else make(path, widen)
        except Exception as e:  # e.g. onnxconverter-common's invalid transformer files in ORT
            print(f"{name:16s} {label:24s} cannot run: {str(e).splitlines()[0][:100]}")
            continue
        out.append((label, s, feeds(models_dir, name, path)))
    return out


def bench(models_dir, name, files, runs):
    sess = open_all(models_dir, name, files)
    for _, s, f in sess:
        s.run(None, f)
    best = {label: float("inf") for label, _, _ in sess}
    for _ in range(runs):
        for label, s, f in sess:
            t = time.thread_time()
            s.run(None, f)
            best[label] = min(best[label], time.thread_time() - t)
    base = best["oxrt fp32"]
    for label, _, _ in sess:
        print(f"{name:16s} {label:24s} {best[label] * 1e3:9.2f} ms  {best[label] / base:5.2f}x of oxrt fp32", flush=True)


def accuracy(models_dir, name, files):
    sess = open_all(models_dir, name, files)
    ref = [np.asarray(o, np.float64) for o in sess[0][1].run(None, sess[0][2])]
    scale = max(float(np.abs(r).max()) for r in ref)
    for label, s, f in sess[1:]:
        outs = [np.asarray(o).astype(np.float64) for o in s.run(None, f)]
        err = max(float(np.abs(a - r).max()) for a, r in zip(outs, ref))
        print(f"{name:16s} {label:24s} max|y - y_fp32| {err:.3g}  (max|y_fp32| {scale:.3g})", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--out", default="/tmp/fp16-models")
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--accuracy", action="store_true")
    ap.add_argument("--oxrt", default=os.path.join(ROOT, "build", "oxrt"), help="the oxrt command (for convert)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name in a.models:
        files = make_files(os.path.join(a.models_dir, name + ".onnx"), a.out, name, a.oxrt)
        if a.accuracy:
            accuracy(a.models_dir, name, files)
        else:
            bench(a.models_dir, name, files, a.runs)


if __name__ == "__main__":
    sys.exit(main())
