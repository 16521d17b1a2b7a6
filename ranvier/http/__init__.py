"""The HTTP layer: the only web-server code in ranvier.

How it fits together: :class:`~ranvier.http.server.HttpServer` (asyncio + httptools)
parses HTTP/1.1, enforces size limits and timeouts, and awaits an *app* for each
request. :func:`~ranvier.http.app.build_app` makes that app from the one route table,
:class:`~ranvier.http.router.Router`, adding error rendering, CORS, metrics and the
access log. Handlers are ``async def handler(request: Request) -> Response``
(``ranvier.http.types``) and use ``ranvier.http.parse`` to read JSON bodies and query
parameters; ``wire`` serialises response heads; ``ratelimit``, ``metrics``, ``cors``
and ``tls`` are small helpers for the composer.
"""

from ranvier.http.app import App, build_app
from ranvier.http.router import Handler, Router
from ranvier.http.server import HttpLimits, HttpServer
from ranvier.http.types import MatrixError, Request, Response, json_response

__all__ = [
    "App",
    "Handler",
    "HttpLimits",
    "HttpServer",
    "MatrixError",
    "Request",
    "Response",
    "Router",
    "build_app",
    "json_response",
]
