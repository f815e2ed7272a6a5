"""The server through real clients: tritonclient[http], tritonclient[grpc] and kserve's v2 REST client,
with results equal to a direct oxrt run; and the README's three-line client call as written."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from conftest import ROOT, direct

HERE = os.path.dirname(os.path.abspath(__file__))
X = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)


def test_http_health_and_metadata(server):
    c = httpclient.InferenceServerClient(server.http)
    assert c.is_server_live() and c.is_server_ready()
    md = c.get_server_metadata()
    assert md["name"] == "oxrt" and "binary_tensor_data" in md["extensions"]
    assert c.is_model_ready("dense") and c.is_model_ready("dense", "1")
    mm = c.get_model_metadata("dense")
    assert mm["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert mm["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 3]}]
    assert not c.is_model_ready("nosuchmodel")


def _http_infer(c, model, arrays, binary_in, binary_out, version=""):
    ins = []
    for name, (dt, arr) in arrays.items():
        i = httpclient.InferInput(name, list(arr.shape), dt)
        i.set_data_from_numpy(arr, binary_data=binary_in)
        ins.append(i)
    return c.infer(model, ins, model_version=version)


def test_http_infer_json_and_binary(server, repo):
    c = httpclient.InferenceServerClient(server.http)
    want = direct(repo, "dense", {"x": X})["y"]
    for binary_in in (False, True):
        for binary_out in (False, True):
            ins = [httpclient.InferInput("x", [3, 4], "FP32")]
            ins[0].set_data_from_numpy(X, binary_data=binary_in)
            outs = [httpclient.InferRequestedOutput("y", binary_data=binary_out)]
            r = c.infer("dense", ins, outputs=outs, request_id="r1")
            np.testing.assert_array_equal(r.as_numpy("y"), want)
            assert r.get_response()["id"] == "r1" and r.get_response()["model_version"] == "2"
    # version 1 has other weights
    r = _http_infer(c, "dense", {"x": ("FP32", X)}, True, True, version="1")
    np.testing.assert_array_equal(r.as_numpy("y"), direct(repo, "dense", {"x": X}, version=1)["y"])


def test_http_cnn(server, repo):
    c = httpclient.InferenceServerClient(server.http)
    x = np.random.default_rng(6).standard_normal((2, 3, 16, 16)).astype(np.float32)
    r = _http_infer(c, "cnn", {"x": ("FP32", x)}, True, True)
    np.testing.assert_array_equal(r.as_numpy("logits"), direct(repo, "cnn", {"x": x})["logits"])


def test_http_bytes_and_int64(server, repo):
    c = httpclient.InferenceServerClient(server.http)
    n = np.array([3, -7], dtype=np.int64)
    s = np.array(["héllo", "", "world"], dtype=object)
    for binary in (False, True):
        r = _http_infer(c, "mixed", {"n": ("INT64", n), "s": ("BYTES", s)}, binary, binary)
        np.testing.assert_array_equal(r.as_numpy("n2"), n + n)
        assert [v.decode() if isinstance(v, bytes) else v for v in r.as_numpy("s2")] == list(s)


def test_bool_fp16_and_gzip(server):
    b = np.array([True, False, True])
    f = np.array([0.5, -1.25, 3.0], dtype=np.float16)
    c = httpclient.InferenceServerClient(server.http)
    for binary in (False, True):
        r = _http_infer(c, "flags", {"b": ("BOOL", b), "h": ("FP16", f)}, binary, binary)
        np.testing.assert_array_equal(r.as_numpy("nb"), ~b)
        np.testing.assert_array_equal(r.as_numpy("h2"), f + f)
    ins = [httpclient.InferInput("b", [3], "BOOL"), httpclient.InferInput("h", [3], "FP16")]
    ins[0].set_data_from_numpy(b)
    ins[1].set_data_from_numpy(f)
    r = c.infer("flags", ins, request_compression_algorithm="gzip")  # Content-Encoding: gzip
    np.testing.assert_array_equal(r.as_numpy("h2"), f + f)
    g = grpcclient.InferenceServerClient(server.grpc)
    ins = [grpcclient.InferInput("b", [3], "BOOL"), grpcclient.InferInput("h", [3], "FP16")]
    ins[0].set_data_from_numpy(b)
    ins[1].set_data_from_numpy(f)
    r = g.infer("flags", ins)
    np.testing.assert_array_equal(r.as_numpy("nb"), ~b)
    np.testing.assert_array_equal(r.as_numpy("h2"), f + f)


def test_grpc_infer_and_metadata(server, repo):
    c = grpcclient.InferenceServerClient(server.grpc)
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("cnn")
    assert c.get_server_metadata().name == "oxrt"
    mm = c.get_model_metadata("dense", as_json=True)
    assert mm["inputs"][0]["datatype"] == "FP32" and mm["inputs"][0]["shape"] == ["-1", "4"]
    i = grpcclient.InferInput("x", [3, 4], "FP32")
    i.set_data_from_numpy(X)
    r = c.infer("dense", [i], outputs=[grpcclient.InferRequestedOutput("y")], request_id="g1")
    np.testing.assert_array_equal(r.as_numpy("y"), direct(repo, "dense", {"x": X})["y"])
    assert r.get_response().id == "g1"
    n = np.array([1, 2], dtype=np.int64)
    s = np.array([b"a", b"bc"], dtype=object)
    ins = [grpcclient.InferInput("n", [2], "INT64"), grpcclient.InferInput("s", [2], "BYTES")]
    ins[0].set_data_from_numpy(n)
    ins[1].set_data_from_numpy(s)
    r = c.infer("mixed", ins)
    np.testing.assert_array_equal(r.as_numpy("n2"), [2, 4])
    assert list(r.as_numpy("s2")) == [b"a", b"bc"]


def test_kserve_rest_client(server, repo):
    # kserve's and tritonclient.grpc's generated protobuf modules both define package "inference" and
    # cannot share a process, so kserve's client runs in its own.
    x = np.random.default_rng(7).standard_normal((2, 3, 16, 16)).astype(np.float32)
    np.save(os.path.join(repo, "..", "kserve_x.npy"), x)
    out = subprocess.run([sys.executable, os.path.join(HERE, "kserve_client.py"), f"http://{server.http}", "cnn",
                          os.path.join(repo, "..", "kserve_x.npy")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["live"] and got["ready"] and got["model_ready"]
    want = direct(repo, "cnn", {"x": x})["logits"]
    for key in ("json", "binary"):
        np.testing.assert_array_equal(np.array(got[key], dtype=np.float32).reshape(want.shape), want)


def test_readme_client_call(server, repo):
    # its model name and address swapped for the tests' `dense` model on this server's port
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## Serving"):]
    assert "oxrt serve models/" in section.split("```")[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) == 3, code
    code = code.replace("localhost:8000", server.http).replace('"mymodel"', '"dense"')
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the project's own README
    np.testing.assert_array_equal(scope["y"], direct(repo, "dense", {"x": scope["x"]})["y"])
