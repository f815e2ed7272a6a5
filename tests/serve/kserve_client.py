"""Runs kserve's v2 REST client (InferenceRESTClient) against a server: URL MODEL INPUT.npy.
Prints one JSON line: liveness, readiness and the output of a JSON and of a binary-data request."""

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def main(url, model, path):
    x = np.load(path)
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
    out = {"live": await client.is_server_live(url), "ready": await client.is_server_ready(url),
           "model_ready": await client.is_model_ready(url, model)}
    for key, binary in (("json", False), ("binary", True)):
        i = InferInput("x", list(x.shape), "FP32")
        i.set_data_from_numpy(x, binary_data=binary)
        req = InferRequest(model_name=model, infer_inputs=[i], request_id=key)
        res = await client.infer(url, req, model_name=model)
        out[key] = res.outputs[0].as_numpy().reshape(-1).tolist()
    await client.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
