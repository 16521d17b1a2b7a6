"""The request/response values passed between the HTTP server and handlers.

Handlers are ``async def handler(request: Request) -> Response``. They never see
sockets or the parser: the server (``ranvier.http.server``) builds a
:class:`Request` from a complete HTTP/1.1 message, and writes the returned
:class:`Response`. Errors are raised as :class:`MatrixError` and rendered as the
spec's standard error JSON (client-server-api "Standard error response").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Request:
    """One parsed HTTP request."""

    method: str
    """Upper-case method, e.g. ``"GET"``."""
    path: str
    """Percent-decoded path (``/_matrix/client/v3/...``)."""
    raw_path: str
    """Path as sent, still percent-encoded (routing splits on ``/`` before decoding)."""
    query: dict[str, list[str]]
    """Decoded query parameters; repeated keys keep every value in order."""
    headers: dict[str, str]
    """Header names lower-cased; repeated headers joined with ``", "``."""
    body: bytes
    client_ip: str
    path_params: dict[str, str] = field(default_factory=dict)
    """Filled by the router from ``{name}`` segments of the route pattern (decoded)."""
    context: dict[str, Any] = field(default_factory=dict)
    """Per-request scratch space for middleware (e.g. the authenticated requester)."""
    raw_query: str = ""
    """The query string as sent (after ``?``, still percent-encoded): X-Matrix request
    signatures cover the request target byte for byte (server-server-api "Request
    Authentication")."""

    def query_one(self, name: str, default: str | None = None) -> str | None:
        """First value of query parameter ``name`` or ``default``."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass(slots=True)
class Response:
    """An HTTP response. ``body`` is sent as is; use :func:`json_response` for JSON."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"


def json_response(
    obj: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
) -> Response:
    """Serialise ``obj`` with orjson into a JSON :class:`Response`."""
    return Response(status=status, body=orjson.dumps(obj), headers=headers or [])


class MatrixError(Exception):
    """An error with a Matrix ``errcode``, rendered as ``{"errcode", "error", **extra}``."""

    def __init__(self, status: int, errcode: str, error: str, **extra: Any) -> None:
        super().__init__(f"{status} {errcode}: {error}")
        self.status = status
        self.errcode = errcode
        self.error = error
        self.extra = extra
        self.headers: list[tuple[str, str]] = []

    def to_response(self) -> Response:
        """Render as a JSON :class:`Response` (with any extra headers, e.g. Retry-After)."""
        body = {"errcode": self.errcode, "error": self.error, **self.extra}
        return json_response(body, self.status, list(self.headers))
