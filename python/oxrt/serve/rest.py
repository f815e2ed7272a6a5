"""REST front end of the Open Inference Protocol (KServe v2) on aiohttp, with the binary tensor data
extension, the repository extension, GET /metrics and POST /v2/models/NAME/profile (oxrt's)."""

import json
import logging

from aiohttp import web

from .errors import ServeError, invalid
from .tensors import from_json, from_raw, numpy_to_v2, to_json_data, to_raw

log = logging.getLogger("oxrt.serve")
HEADER_LEN = "Inference-Header-Content-Length"


def _error(e):
    return web.json_response({"error": e.message}, status=e.http_status)


async def _body(request, core):
    """The request body; 413 past the limit (aiohttp enforces client_max_size)."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ServeError("too_large", f"request body is larger than the server's limit of {core.max_body_bytes} "
                         "bytes (--max-body-bytes)")


def _json(raw, what):
    try:
        doc = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError) as e:
        raise invalid(f"{what} is not valid JSON: {e}")
    if not isinstance(doc, dict):
        raise invalid(f"{what} must be a JSON object, got {type(doc).__name__}")
    return doc


def _split(request, raw):
    """(JSON header, binary tail) of an inference body."""
    hlen = request.headers.get(HEADER_LEN)
    if hlen is None:
        return _json(raw, "the request body"), b""
    try:
        n = int(hlen)
    except ValueError:
        n = -1
    if not 0 <= n <= len(raw):
        raise invalid(f"{HEADER_LEN} is {hlen!r}, the body has {len(raw)} bytes")
    return _json(raw[:n], "the request's JSON header"), memoryview(raw)[n:]


def _params(doc, what):
    p = doc.get("parameters", {})
    if not isinstance(p, dict):
        raise invalid(f"'parameters' of {what} must be a JSON object")
    return p


def _decoder(doc, binary):
    """decode(model) for Core.infer: inputs as arrays, requested output names."""
    def decode(model):
        items = doc.get("inputs")
        if not isinstance(items, list):
            raise invalid("the request needs an 'inputs' list")
        inputs, pos = {}, 0
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise invalid(f"inputs[{i}] must be an object with a 'name'")
            name = item["name"]
            if name in inputs:
                raise invalid(f"input '{name}' is given twice")
            datatype, shape = item.get("datatype"), item.get("shape")
            if not isinstance(datatype, str) or shape is None:
                raise invalid(f"input '{name}' needs 'datatype' and 'shape'")
            size = _params(item, f"input '{name}'").get("binary_data_size")
            if size is not None:
                if isinstance(size, bool) or not isinstance(size, int) or size < 0 or pos + size > len(binary):
                    raise invalid(f"input '{name}': binary_data_size {size!r} does not fit the {len(binary) - pos} "
                                  "binary bytes left in the body")
                inputs[name] = from_raw(name, datatype, shape, binary[pos:pos + size])
                pos += size
            elif "data" in item:
                inputs[name] = from_json(name, datatype, shape, item["data"])
            else:
                raise invalid(f"input '{name}' has neither 'data' nor parameters.binary_data_size")
        if pos != len(binary):
            raise invalid(f"the body has {len(binary)} binary bytes, the inputs' binary_data_size add up to {pos}")
        outs = doc.get("outputs")
        names = None
        if outs is not None:
            if not isinstance(outs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                     for o in outs):
                raise invalid("'outputs' must be a list of objects with a 'name'")
            names = [o["name"] for o in outs]
        return inputs, names
    return decode


def _response(model, doc, results, request_id):
    binary_default = bool(_params(doc, "the request").get("binary_data_output", False))
    per_output = {o["name"]: bool(_params(o, f"output '{o['name']}'").get("binary_data", binary_default))
                  for o in doc.get("outputs") or ()}
    outputs, chunks = [], []
    for name, arr in results.items():
        entry = {"name": name, "datatype": numpy_to_v2(arr.dtype), "shape": list(arr.shape)}
        if per_output.get(name, binary_default):
            raw = to_raw(arr)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = to_json_data(arr)
        outputs.append(entry)
    body = {"model_name": model.name, "model_version": str(model.version), "outputs": outputs}
    if request_id is not None:
        body["id"] = request_id
    text = json.dumps(body).encode()
    if not chunks:
        return web.Response(body=text, content_type="application/json")
    return web.Response(body=text + b"".join(chunks), content_type="application/octet-stream",
                        headers={HEADER_LEN: str(len(text))})


def make_app(core):
    routes = web.RouteTableDef()

    def handler(fn):  # protocol errors -> {"error": message}; unexpected ones -> 500, still serving
        async def wrapped(request):
            try:
                return await fn(request)
            except ServeError as e:
                return _error(e)
            except Exception as e:  # noqa: BLE001 - a bug must not take the server down
                log.exception("unexpected error", extra={"path": request.path})
                return _error(ServeError("internal", f"internal error: {type(e).__name__}: {e}"))
        return wrapped

    @routes.get("/v2/health/live")
    @handler
    async def live(request):
        return web.json_response({"live": core.live()}, status=200 if core.live() else 503)

    @routes.get("/v2/health/ready")
    @handler
    async def ready(request):
        return web.json_response({"ready": core.ready()}, status=200 if core.ready() else 503)

    @routes.get("/v2")
    @handler
    async def server_metadata(request):
        return web.json_response(core.server_metadata())

    @routes.get("/metrics")
    async def metrics(request):
        return web.Response(body=core.metrics.render(), content_type="text/plain", charset="utf-8")

    def model_of(request):
        return core.repository.get(request.match_info["name"], request.match_info.get("version"))

    @routes.get("/v2/models/{name}")
    @routes.get("/v2/models/{name}/versions/{version}")
    @handler
    async def model_metadata(request):
        return web.json_response(model_of(request).metadata())

    @routes.get("/v2/models/{name}/ready")
    @routes.get("/v2/models/{name}/versions/{version}/ready")
    @handler
    async def model_ready(request):
        m = model_of(request)
        return web.json_response({"name": m.name, "ready": core.ready()}, status=200 if core.ready() else 503)

    @routes.get("/v2/models/{name}/config")
    @routes.get("/v2/models/{name}/versions/{version}/config")
    @handler
    async def model_config(request):
        m = model_of(request)
        return web.json_response({"name": m.name, "platform": "onnx_onnxv1", "max_batch_size":
                                  m.config["max_batch_size"] if m.batchable else 0, "oxrt": m.config})

    async def parse(request):
        raw = await _body(request, core)
        return _split(request, raw)

    @routes.post("/v2/models/{name}/infer")
    @routes.post("/v2/models/{name}/versions/{version}/infer")
    @handler
    async def infer(request):
        doc, binary = await parse(request)
        timeout = _params(doc, "the request").get("timeout")  # microseconds, as tritonclient sends it
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
            raise invalid(f"parameters.timeout must be a number of microseconds, got {timeout!r}")
        model, results = await core.infer("http", request.match_info["name"], request.match_info.get("version"),
                                          _decoder(doc, binary), timeout / 1e6 if timeout else None)
        return _response(model, doc, results, doc.get("id"))

    @routes.post("/v2/models/{name}/profile")
    @routes.post("/v2/models/{name}/versions/{version}/profile")
    @handler
    async def profile(request):
        doc, binary = await parse(request)
        model, (trace, results) = await core.profile(request.match_info["name"], request.match_info.get("version"),
                                                     _decoder(doc, binary))
        return web.json_response({"model_name": model.name, "model_version": str(model.version),
                                  "trace": trace})

    @routes.post("/v2/repository/index")
    @handler
    async def repo_index(request):
        doc = _json(await _body(request, core), "the request body")
        ready_only = bool(doc.get("ready", False))
        return web.json_response([m for m in core.repository.index() if not ready_only or m["state"] == "READY"])

    @routes.post("/v2/repository/models/{name}/load")
    @handler
    async def repo_load(request):
        doc = _json(await _body(request, core), "the request body")
        cfg = _params(doc, "the load request").get("config")
        if isinstance(cfg, str):
            cfg = _json(cfg.encode(), "parameters.config")
        await core.run_blocking(core.repository.load, request.match_info["name"], cfg)
        return web.json_response({})

    @routes.post("/v2/repository/models/{name}/unload")
    @handler
    async def repo_unload(request):
        await _body(request, core)
        await core.run_blocking(core.repository.unload, request.match_info["name"])
        return web.json_response({})

    @web.middleware
    async def unknown_route(request, handler):  # 404/405 in the protocol's JSON shape
        try:
            return await handler(request)
        except web.HTTPException as e:
            if e.status >= 400:
                return web.json_response({"error": f"{request.method} {request.path}: {e.reason}"}, status=e.status)
            raise

    app = web.Application(client_max_size=core.max_body_bytes, middlewares=[unknown_route])
    app.add_routes(routes)
    return app
