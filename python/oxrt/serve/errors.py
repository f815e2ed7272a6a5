"""Protocol-neutral errors of the server: each carries its HTTP status and gRPC code."""

import grpc

# kind -> (HTTP status, gRPC status code)
_KINDS = {
    "invalid": (400, grpc.StatusCode.INVALID_ARGUMENT),
    "not_found": (404, grpc.StatusCode.NOT_FOUND),
    "too_large": (413, grpc.StatusCode.RESOURCE_EXHAUSTED),
    "unavailable": (503, grpc.StatusCode.UNAVAILABLE),
    "timeout": (504, grpc.StatusCode.DEADLINE_EXCEEDED),
    "internal": (500, grpc.StatusCode.INTERNAL),
}


class ServeError(Exception):
    """An error reported to the client: `kind` picks the status, `message` says what was wrong."""

    def __init__(self, kind, message):
        super().__init__(message)
        if kind not in _KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        self.kind = kind
        self.message = message

    @property
    def http_status(self):
        return _KINDS[self.kind][0]

    @property
    def grpc_code(self):
        return _KINDS[self.kind][1]


def invalid(message):
    return ServeError("invalid", message)


def not_found(message):
    return ServeError("not_found", message)
