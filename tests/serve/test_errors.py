"""Bad requests get the protocol's error with a clear message, and the server keeps serving."""

import http.client
import json
import struct

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2 as pb
from tritonclient.utils import InferenceServerException


def post(server, path, body, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    c.request("POST", path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def still_serving(server):
    status, data = post(server, "/v2/models/dense/infer", json.dumps(
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}))
    assert status == 200, data


def good_input(**over):
    item = {"name": "x", "datatype": "FP32", "shape": [2, 4], "data": list(range(8))}
    item.update(over)
    return item


HTTP_CASES = [
    # (name, path, body, headers, status, words in the message)
    ("unknown model", "/v2/models/nope/infer", json.dumps({"inputs": [good_input()]}), None, 404, ["nope"]),
    ("unknown version", "/v2/models/dense/versions/9/infer", json.dumps({"inputs": [good_input()]}), None, 404,
     ["version 9"]),
    ("wrong dtype", "/v2/models/dense/infer", json.dumps({"inputs": [good_input(datatype="INT32")]}), None, 400,
     ["expected datatype FP32", "INT32"]),
    ("unknown dtype", "/v2/models/dense/infer", json.dumps({"inputs": [good_input(datatype="FP99")]}), None, 400,
     ["FP99"]),
    ("wrong shape", "/v2/models/dense/infer", json.dumps({"inputs": [good_input(shape=[4, 2])]}), None, 400,
     ["expected shape [-1, 4]", "[4, 2]"]),
    ("data count", "/v2/models/dense/infer", json.dumps({"inputs": [good_input(shape=[3, 4])]}), None, 400,
     ["needs 12 elements", "has 8"]),
    ("negative dim", "/v2/models/dense/infer", json.dumps({"inputs": [good_input(shape=[-2, 4])]}), None, 400,
     ["non-negative"]),
    ("unknown input", "/v2/models/dense/infer", json.dumps({"inputs": [good_input(name="z")]}), None, 400,
     ["no input 'z'"]),
    ("no inputs", "/v2/models/dense/infer", json.dumps({"id": "1"}), None, 400, ["'inputs'"]),
    ("unknown output", "/v2/models/dense/infer", json.dumps({"inputs": [good_input()], "outputs": [{"name": "q"}]}),
     None, 400, ["no output 'q'"]),
    ("text in data", "/v2/models/dense/infer", json.dumps({"inputs": [good_input(data=["a"] * 8)]}), None, 400,
     ["FP32"]),
    ("malformed JSON", "/v2/models/dense/infer", b'{"inputs": [', None, 400, ["not valid JSON"]),
    ("JSON not an object", "/v2/models/dense/infer", b"[1, 2]", None, 400, ["JSON object"]),
    ("batch too large", "/v2/models/dense/infer",
     json.dumps({"inputs": [good_input(shape=[17, 4], data=[0.0] * 68)]}), None, 400, ["max_batch_size 16"]),
    ("unknown route", "/v2/nothing/here", b"{}", None, 404, ["/v2/nothing/here"]),
]


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_http_bad_request(server, case):
    _, path, body, headers, status, words = case
    got, data = post(server, path, body, headers)
    assert got == status, data
    msg = json.loads(data)["error"]
    for w in words:
        assert w in msg, msg
    still_serving(server)


def binary_body(header, payload):
    text = json.dumps(header).encode()
    return text + payload, {"Inference-Header-Content-Length": str(len(text)),
                            "Content-Type": "application/octet-stream"}


@pytest.mark.parametrize("size, payload, words", [
    (32, b"\0" * 16, ["does not fit"]),               # declares more than the body has
    (16, b"\0" * 16, ["needs 32 bytes", "got 16"]),   # shape [2,4] FP32 needs 32 bytes
    (32, b"\0" * 40, ["40 binary bytes", "add up to 32"]),  # bytes left over
    (-1, b"", ["binary_data_size -1"]),
])
def test_http_binary_wrong_sizes(server, size, payload, words):
    hdr = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 4], "parameters": {"binary_data_size": size}}]}
    body, headers = binary_body(hdr, payload)
    status, data = post(server, "/v2/models/dense/infer", body, headers)
    assert status == 400, data
    msg = json.loads(data)["error"]
    for w in words:
        assert w in msg, msg
    still_serving(server)


def test_http_binary_bad_header_length_and_bytes(server):
    status, data = post(server, "/v2/models/dense/infer", b"{}", {"Inference-Header-Content-Length": "99"})
    assert status == 400 and b"Inference-Header-Content-Length" in data
    # a BYTES element whose length prefix runs past the data
    hdr = {"inputs": [{"name": "n", "datatype": "INT64", "shape": [2], "data": [1, 2]},
                      {"name": "s", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 6}}]}
    body, headers = binary_body(hdr, struct.pack("<I", 10) + b"ab")
    status, data = post(server, "/v2/models/mixed/infer", body, headers)
    assert status == 400 and b"runs past the end" in data, data
    still_serving(server)


def test_http_oversized_body(server):
    body = json.dumps({"inputs": [good_input(shape=[1, 4], data=[0.5] * 4)], "pad": "x" * (2 << 20)})
    status, data = post(server, "/v2/models/dense/infer", body)
    assert status == 413 and b"larger than the server's limit" in data, data
    still_serving(server)


GRPC_CASES = [
    # (name, model, datatype, shape, status, words in the message)
    ("unknown model", "nope", "FP32", [2, 4], "NOT_FOUND", "nope"),
    ("wrong dtype", "dense", "INT32", [2, 4], "INVALID_ARGUMENT", "expected datatype FP32"),
    ("wrong shape", "dense", "FP32", [2, 5], "INVALID_ARGUMENT", "expected shape"),
    ("over the 1 MiB limit", "dense", "FP32", [70000, 4], "RESOURCE_EXHAUSTED", ""),
]


@pytest.mark.parametrize("case", GRPC_CASES, ids=[c[0] for c in GRPC_CASES])
def test_grpc_errors(server, case):
    _, model, datatype, shape, status, words = case
    c = grpcclient.InferenceServerClient(server.grpc)
    x = grpcclient.InferInput("x", shape, datatype)
    x.set_data_from_numpy(np.zeros(shape, np.float32 if datatype == "FP32" else np.int32))
    with pytest.raises(InferenceServerException) as e:
        c.infer(model, [x])
    assert e.value.status() == f"StatusCode.{status}" and words in e.value.message(), e.value
    ok = grpcclient.InferInput("x", [2, 4], "FP32")
    ok.set_data_from_numpy(np.zeros((2, 4), np.float32))
    assert c.infer("dense", [ok]).as_numpy("y").shape == (2, 3)


def test_grpc_malformed_protobuf_and_raw_count(server):
    with grpc.insecure_channel(server.grpc) as ch:
        call = ch.unary_unary("/inference.GRPCInferenceService/ModelInfer")  # bytes in, bytes out
        with pytest.raises(grpc.RpcError) as e:
            call(b"\xff\xff\xff\xff\x0f garbage", timeout=10)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not a valid" in e.value.details()
        req = pb.ModelInferRequest(model_name="dense")
        req.inputs.add(name="x", datatype="FP32", shape=[1, 4])
        req.raw_input_contents.extend([b"\0" * 16, b"\0" * 16])
        with pytest.raises(grpc.RpcError) as e:
            call(req.SerializeToString(), timeout=10)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "raw_input_contents has 2" in e.value.details()
        req = pb.ModelInferRequest(model_name="dense")
        req.inputs.add(name="x", datatype="FP32", shape=[1, 4])
        req.raw_input_contents.append(b"\0" * 12)
        with pytest.raises(grpc.RpcError) as e:
            call(req.SerializeToString(), timeout=10)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "needs 16 bytes" in e.value.details()
        req = pb.ModelInferRequest(model_name="dense")
        t = req.inputs.add(name="x", datatype="FP32", shape=[1, 4])
        t.contents.fp32_contents.extend([1, 2, 3, 4])
        resp = pb.ModelInferResponse.FromString(call(req.SerializeToString(), timeout=10))
        assert resp.outputs[0].shape == [1, 3] and len(resp.raw_output_contents[0]) == 12
    still_serving(server)


def test_logs_are_json(server):
    events = server.events()
    assert events and all(e.get("msg") != "NOT JSON" for e in events), [e for e in events if e["msg"] == "NOT JSON"]
    assert any(e.get("msg") == "infer failed" and e.get("model") == "dense" for e in events)
