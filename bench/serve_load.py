"""Bounded load test of `oxrt serve` on loopback: N concurrent clients x M requests each.

Against a running server (REST, binary tensor data):
    python bench/serve_load.py --url 127.0.0.1:8000 --model cnn --clients 8 --requests 50

Or with and without dynamic batching on one CNN: starts a server on loopback with the model twice
(max_batch_size 0 and N), loads each in turn, samples the server's RSS from /proc and prints a table:
    python bench/serve_load.py --onnx model.onnx --clients 16 --requests 40 [--max-batch 16] [--protocol grpc]

Reports throughput, p50/p99 latency, failed requests and RSS over time. Every loop is bounded.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def input_for(url, model):
    c = httpclient.InferenceServerClient(url)
    md = c.get_model_metadata(model)
    c.close()
    inp = md["inputs"][0]
    shape = [1 if d < 0 else d for d in inp["shape"]]
    dt = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32}[inp["datatype"]]
    return inp["name"], inp["datatype"], np.random.default_rng(0).standard_normal(shape).astype(dt)


def run_load(url, model, clients, requests, pid=None, sample_s=0.25, grpc_url=None):
    """REST clients on `url`, or gRPC clients on `grpc_url` when given."""
    name, datatype, x = input_for(url, model)
    lat, failures, lock = [], [], threading.Lock()
    rss, stop = [], threading.Event()

    def sampler():
        t0 = time.monotonic()
        while not stop.is_set():
            rss.append((round(time.monotonic() - t0, 2), round(rss_mib(pid), 1)))
            stop.wait(sample_s)

    def client(_):
        if grpc_url:
            c = grpcclient.InferenceServerClient(grpc_url)
            i = grpcclient.InferInput(name, list(x.shape), datatype)
            i.set_data_from_numpy(x)
        else:
            c = httpclient.InferenceServerClient(url, connection_timeout=30, network_timeout=60)
            i = httpclient.InferInput(name, list(x.shape), datatype)
            i.set_data_from_numpy(x, binary_data=True)
        mine, bad = [], []
        for _ in range(requests):
            t = time.perf_counter()
            try:
                c.infer(model, [i])
                mine.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001 - counted and reported
                bad.append(str(e)[:200])
        c.close()
        with lock:
            lat.extend(mine)
            failures.extend(bad)

    if pid:
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        list(ex.map(client, range(clients)))
    wall = time.perf_counter() - t0
    stop.set()
    if pid:
        th.join()
        rss.append((round(wall, 2), round(rss_mib(pid), 1)))
    ms = np.array(lat) * 1000 if lat else np.array([0.0])
    return {"model": model, "protocol": "grpc" if grpc_url else "http", "clients": clients, "requests": requests,
            "ok": len(lat), "failed": len(failures),
            "errors": sorted(set(failures))[:3], "seconds": round(wall, 2),
            "throughput": round(len(lat) / wall, 1), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "rss_mib": rss}


def start_server(repo, tmp):
    """A server on loopback with a port the OS picks (read from its "server started" log line)."""
    log_path = os.path.join(tmp, "server.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "oxrt.serve", repo, "--host", "127.0.0.1", "--http-port", "0",
                             "--grpc-port", "0"], stdout=log, stderr=subprocess.STDOUT)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(open(log_path).read())
        for line in open(log_path, errors="replace"):
            if '"server started"' in line:
                ev = json.loads(line)
                return proc, f"127.0.0.1:{ev['http_port']}", f"127.0.0.1:{ev['grpc_port']}"
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start in 120 s")


def compare(args):
    tmp = tempfile.mkdtemp(prefix="oxrt-serve-load-")
    try:
        repo = os.path.join(tmp, "repo")
        for name, cfg in (("nobatch", {"max_batch_size": 0, "instance_count": 1, "threads": args.threads}),
                          ("batch", {"max_batch_size": args.max_batch, "max_queue_delay_ms": args.delay_ms,
                                     "instance_count": 1, "threads": args.threads})):
            os.makedirs(os.path.join(repo, name, "1"))
            shutil.copy(args.onnx, os.path.join(repo, name, "1", "model.onnx"))
            cfg["max_queue_size"] = max(64, args.clients * 2)
            with open(os.path.join(repo, name, "config.json"), "w") as f:
                json.dump(cfg, f)
        proc, url, grpc_url = start_server(repo, tmp)
        grpc_url = grpc_url if args.protocol == "grpc" else None
        try:
            reports = []
            for model in ("nobatch", "batch"):
                run_load(url, model, args.clients, 2, None, grpc_url=grpc_url)  # warm-up
                reports.append(run_load(url, model, args.clients, args.requests, proc.pid, grpc_url=grpc_url))
        finally:
            proc.terminate()
            proc.wait(60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return reports


def table(reports):
    lines = ["| model config | protocol | clients x requests | ok | failed | req/s | p50 ms | p99 ms "
             "| RSS MiB start -> max -> end |", "|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        rs = [v for _, v in r["rss_mib"]] or [float("nan")]
        lines.append(f"| {r['model']} | {r['protocol']} | {r['clients']} x {r['requests']} | {r['ok']} | {r['failed']} | "
                     f"{r['throughput']} | {r['p50_ms']} | {r['p99_ms']} | {rs[0]} -> {max(rs)} -> {rs[-1]} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="host:port of a running server's REST endpoint")
    ap.add_argument("--model", help="model name (with --url)")
    ap.add_argument("--onnx", help="compare batching on this model (starts its own server)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=50, help="requests per client")
    ap.add_argument("--max-batch", type=int, default=16)
    ap.add_argument("--delay-ms", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads per session (0: one per core)")
    ap.add_argument("--protocol", choices=["http", "grpc"], default="http", help="client protocol (default http)")
    ap.add_argument("--grpc-url", help="host:port of the server's gRPC endpoint (with --url and --protocol grpc)")
    ap.add_argument("--pid", type=int, help="server process to sample RSS of (with --url)")
    ap.add_argument("--json", action="store_true", help="print one JSON line per run")
    a = ap.parse_args()
    if a.clients < 1 or a.requests < 1 or a.clients * a.requests > 200000:
        ap.error("--clients and --requests must be >= 1 and their product at most 200000")
    if a.onnx:
        reports = compare(a)
    elif a.url and a.model:
        if a.protocol == "grpc" and not a.grpc_url:
            ap.error("--protocol grpc with --url needs --grpc-url")
        reports = [run_load(a.url, a.model, a.clients, a.requests, a.pid,
                            grpc_url=a.grpc_url if a.protocol == "grpc" else None)]
    else:
        ap.error("give --url and --model, or --onnx")
    for r in reports:
        if a.json:
            print(json.dumps(r))
    if not a.json:
        print(table(reports))
        for r in reports:
            print(f"{r['model']}: RSS samples (s, MiB): {r['rss_mib']}")
    return 1 if any(r["failed"] for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
