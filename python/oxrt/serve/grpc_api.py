"""gRPC front end of the Open Inference Protocol (service inference.GRPCInferenceService) on grpc.aio.

The messages are the ones tritonclient[grpc] generates from Triton's grpc_service.proto, a superset
of KServe's grpc_predict_v2.proto with the same wire format (it adds the repository RPCs)."""

import json
import logging

import grpc
from google.protobuf.message import DecodeError
from tritonclient.grpc import service_pb2 as pb

from .errors import ServeError, invalid
from .tensors import from_grpc_contents, from_raw, numpy_to_v2, to_raw

log = logging.getLogger("oxrt.serve")


def _param(p):
    kind = p.WhichOneof("parameter_choice")
    return getattr(p, kind) if kind else None


def _decoder(req):
    def decode(model):
        if req.raw_input_contents and len(req.raw_input_contents) != len(req.inputs):
            raise invalid(f"raw_input_contents has {len(req.raw_input_contents)} entries for {len(req.inputs)} "
                          "inputs (one per input, in order)")
        inputs = {}
        for i, t in enumerate(req.inputs):
            if t.name in inputs:
                raise invalid(f"input '{t.name}' is given twice")
            shape = list(t.shape)
            if req.raw_input_contents:
                inputs[t.name] = from_raw(t.name, t.datatype, shape, req.raw_input_contents[i])
            else:
                inputs[t.name] = from_grpc_contents(t.name, t.datatype, shape, t.contents)
        return inputs, [o.name for o in req.outputs] or None
    return decode


class Servicer:
    def __init__(self, core):
        self.core = core

    async def _call(self, context, fn):
        try:
            return await fn()
        except ServeError as e:
            await context.abort(e.grpc_code, e.message)
        except Exception as e:  # noqa: BLE001 - a bug must not take the server down
            if isinstance(e, grpc.aio.AbortError):
                raise
            log.exception("unexpected error")
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(e).__name__}: {e}")

    async def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=self.core.live())

    async def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=self.core.ready())

    async def ServerMetadata(self, request, context):
        md = self.core.server_metadata()
        return pb.ServerMetadataResponse(name=md["name"], version=md["version"], extensions=md["extensions"])

    async def ModelReady(self, request, context):
        async def go():
            try:
                self.core.repository.get(request.name, request.version)
            except ServeError as e:
                if e.kind != "unavailable":
                    raise
                return pb.ModelReadyResponse(ready=False)
            return pb.ModelReadyResponse(ready=self.core.ready())
        return await self._call(context, go)

    async def ModelMetadata(self, request, context):
        async def go():
            md = self.core.repository.get(request.name, request.version).metadata()
            tm = pb.ModelMetadataResponse.TensorMetadata
            return pb.ModelMetadataResponse(
                name=md["name"], versions=md["versions"], platform=md["platform"],
                inputs=[tm(name=t["name"], datatype=t["datatype"], shape=t["shape"]) for t in md["inputs"]],
                outputs=[tm(name=t["name"], datatype=t["datatype"], shape=t["shape"]) for t in md["outputs"]])
        return await self._call(context, go)

    async def ModelInfer(self, request, context):
        async def go():
            timeout = context.time_remaining()
            p = request.parameters.get("timeout")
            if p is not None:
                us = _param(p)
                if isinstance(us, bool) or not isinstance(us, (int, float)):
                    raise invalid("parameter 'timeout' must be a number of microseconds")
                timeout = us / 1e6 if timeout is None else min(timeout, us / 1e6)
            model, results = await self.core.infer("grpc", request.model_name, request.model_version,
                                                   _decoder(request), timeout)
            out = pb.ModelInferResponse(model_name=model.name, model_version=str(model.version), id=request.id)
            for name, arr in results.items():
                out.outputs.add(name=name, datatype=numpy_to_v2(arr.dtype), shape=list(arr.shape))
                out.raw_output_contents.append(to_raw(arr))
            return out
        return await self._call(context, go)

    async def RepositoryIndex(self, request, context):
        models = [m for m in self.core.repository.index() if not request.ready or m["state"] == "READY"]
        return pb.RepositoryIndexResponse(models=[pb.RepositoryIndexResponse.ModelIndex(**m) for m in models])

    async def RepositoryModelLoad(self, request, context):
        async def go():
            cfg = request.parameters.get("config")
            overrides = None
            if cfg is not None:
                try:
                    overrides = json.loads(cfg.string_param)
                except ValueError as e:
                    raise invalid(f"parameter 'config' is not valid JSON: {e}")
            await self.core.run_blocking(self.core.repository.load, request.model_name, overrides)
            return pb.RepositoryModelLoadResponse()
        return await self._call(context, go)

    async def RepositoryModelUnload(self, request, context):
        async def go():
            await self.core.run_blocking(self.core.repository.unload, request.model_name)
            return pb.RepositoryModelUnloadResponse()
        return await self._call(context, go)


def _parsing(method, request_cls):
    """The handler of one RPC: parses the request itself so that a malformed message gets
    INVALID_ARGUMENT with the parser's reason (grpcio would answer UNKNOWN)."""
    async def handler(raw, context):
        try:
            request = request_cls.FromString(raw)
        except DecodeError as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"the request is not a valid {request_cls.DESCRIPTOR.full_name} message: {e}")
        return await method(request, context)
    return handler


def make_server(core):
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", core.max_body_bytes),
        ("grpc.max_send_message_length", -1),
    ])
    servicer = Servicer(core)
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    handlers = {}
    for m in service.methods:
        # only the unary RPCs implemented here; the others answer UNIMPLEMENTED
        if m.name in vars(Servicer) and not m.client_streaming and not m.server_streaming:
            request_cls, response_cls = getattr(pb, m.input_type.name), getattr(pb, m.output_type.name)
            handlers[m.name] = grpc.unary_unary_rpc_method_handler(
                _parsing(getattr(servicer, m.name), request_cls), response_serializer=response_cls.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    return server
