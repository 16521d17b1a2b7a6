"""The application the HTTP server calls: routing, errors, CORS, metrics, access log.

``build_app(router, ...)`` returns an :class:`App`, a callable ``request -> response``
that the server (``ranvier.http.server.HttpServer``) awaits for each request. The chain
is written out in one method rather than as a list of middleware objects, because each
layer is a few lines and a fixed chain costs no per-request indirection:

1. ``OPTIONS`` on a routed path is a CORS preflight: answered 204 with the CORS headers
   without calling any handler (client-server API, "Web Browser Clients": the server
   must not perform the endpoint's logic for OPTIONS).
2. The router resolves the handler; 404/405 come back as :class:`MatrixError`.
3. The handler runs. A :class:`MatrixError` becomes the standard error JSON
   (client-server API, "Standard error response"); any other exception is logged with
   its traceback and answered ``500 M_UNKNOWN`` without any detail.
4. Paths under ``/_matrix`` and ``/.well-known`` get the CORS headers the spec lists
   (``Access-Control-Allow-Origin: *`` and the allowed methods and headers; see
   ``ranvier.http.cors``).
5. Metrics per route name and status, and one access-log line with the
   ``access_token`` query parameter redacted.

``App.precheck`` lets the server refuse an ``Expect: 100-continue`` upload to an
unknown path before the body is sent.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

from ranvier.http.cors import add_cors_headers, is_cors_path
from ranvier.http.metrics import Metrics
from ranvier.http.router import Router
from ranvier.http.types import MatrixError, Request, Response, json_response

logger = logging.getLogger(__name__)

_REDACTED_PARAMS = frozenset({"access_token"})
_UNMATCHED = "<unmatched>"


def _internal_error() -> Response:
    return json_response({"errcode": "M_UNKNOWN", "error": "Internal server error"}, 500)


def redacted_target(request: Request) -> str:
    """The request path and query for logs, with ``access_token`` values replaced."""
    if not request.query:
        return request.raw_path
    pairs = []
    for key, values in request.query.items():
        for value in values:
            shown = "<redacted>" if key in _REDACTED_PARAMS else quote(value, safe="")
            pairs.append(f"{quote(key, safe='')}={shown}")
    return request.raw_path + "?" + "&".join(pairs)


class App:
    """Routes a request and runs its handler with the fixed middleware chain."""

    def __init__(
        self,
        router: Router,
        *,
        cors: bool = True,
        metrics: Metrics | None = None,
        access_log: logging.Logger | None = None,
        real_ip_header: str = "",
    ) -> None:
        self.router = router
        self.cors = cors
        self.metrics = metrics
        self.access_log = access_log
        self.real_ip_header = real_ip_header.lower()

    async def __call__(self, request: Request) -> Response:
        """Answer one request; never raises (except cancellation)."""
        start = time.perf_counter()
        route_name = _UNMATCHED
        if self.real_ip_header:
            _apply_real_ip(request, self.real_ip_header)
        try:
            if request.method == "OPTIONS" and self.cors:
                if not self.router.allowed_methods(request.raw_path):
                    raise MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request")
                route_name = "OPTIONS"
                response = Response(status=204)
            else:
                handler, params, route_name = self.router.resolve(request.method, request.raw_path)
                request.path_params = params
                response = await handler(request)
        except MatrixError as error:
            response = error.to_response()
        except Exception:
            logger.exception("handler error on %s %s", request.method, redacted_target(request))
            response = _internal_error()
        if self.cors and is_cors_path(request.raw_path):
            add_cors_headers(response)
        elapsed = time.perf_counter() - start
        if self.metrics is not None:
            self.metrics.observe_request(
                route_name, request.method, response.status, elapsed, len(response.body)
            )
        log = self.access_log
        if log is not None and log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %s %d %dB %.1fms",
                request.client_ip,
                request.method,
                redacted_target(request),
                response.status,
                len(response.body),
                elapsed * 1000.0,
            )
        return response

    def body_limit(self, method: str, raw_path: str) -> int | None:
        """Per-route body limit for the server (see ``Router.add(max_body_bytes=...)``)."""
        return self.router.body_limit(method, raw_path)

    def precheck(self, method: str, raw_path: str) -> Response | None:
        """For ``Expect: 100-continue``: the error response if the request is unroutable."""
        try:
            self.router.resolve(method, raw_path)
        except MatrixError as error:
            response = error.to_response()
            if self.cors and is_cors_path(raw_path):
                add_cors_headers(response)
            return response
        return None


def build_app(
    router: Router,
    *,
    cors: bool = True,
    metrics: Metrics | None = None,
    access_log: logging.Logger | None = None,
    real_ip_header: str = "",
) -> App:
    """The app for :class:`~ranvier.http.server.HttpServer`: see the module docstring.

    ``real_ip_header`` (config ``sync_api.real_ip_header``, e.g. ``X-Forwarded-For``)
    names a header set by a trusted reverse proxy; its value replaces the socket peer as
    ``request.client_ip`` (for logs, rate limits and device last-seen addresses).
    """
    return App(
        router, cors=cors, metrics=metrics, access_log=access_log, real_ip_header=real_ip_header
    )


def _apply_real_ip(request: Request, header: str) -> None:
    """Take the client address from the proxy's header when present.

    With ``X-Forwarded-For: client, proxy1, proxy2`` the left-most entry is the client
    as the first proxy saw it; the nginx sample overwrites the header, so it holds one
    address. A missing or empty header leaves the socket peer in place.
    """
    value = request.headers.get(header)
    if value:
        first = value.split(",", 1)[0].strip()
        if first:
            request.client_ip = first
